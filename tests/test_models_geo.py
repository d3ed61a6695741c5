"""Geometry: haversine great-circle distance, local ENU projection, 3-D distances."""

import math

import numpy as np
import pytest

from models.geo import (
    EARTH_RADIUS_M,
    enu_from_lonlat,
    haversine_m,
    lonlat_from_enu,
    pairwise_distance_m,
    slant_distance_m,
)

R = 6_371_393.0  # twin-migration Sec. III-A: 6,371.393 km


def _law_of_cosines_m(lat1, lon1, lat2, lon2):
    """Independent spherical-law-of-cosines distance (fine away from tiny separations)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    c = math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(dl)
    return R * math.acos(max(-1.0, min(1.0, c)))


def test_earth_radius_is_papers_value():
    assert EARTH_RADIUS_M == R


def test_haversine_one_degree_of_meridian_and_equator_is_arc_length():
    one_deg = R * math.pi / 180.0  # 111,201.8 m on this sphere
    assert haversine_m(10.0, 116.0, 11.0, 116.0) == pytest.approx(one_deg, rel=1e-12)
    assert haversine_m(0.0, 0.0, 0.0, 1.0) == pytest.approx(one_deg, rel=1e-12)
    # at 60 deg latitude the 1 deg arc along the parallel is cos(60 deg) * one_deg; the great
    # circle between its ends is slightly shorter (by ~ a millionth here)
    d60 = haversine_m(60.0, 0.0, 60.0, 1.0)
    assert 0.4999 * one_deg < d60 < 0.5 * one_deg


def test_haversine_quarter_and_half_circumference():
    assert haversine_m(0.0, 0.0, 90.0, 0.0) == pytest.approx(R * math.pi / 2, rel=1e-12)
    assert haversine_m(0.0, 0.0, 0.0, 180.0) == pytest.approx(R * math.pi, rel=1e-12)


def test_haversine_agrees_with_law_of_cosines_on_beijing_scale_pairs():
    rng = np.random.default_rng(1)
    lat1 = rng.uniform(39.7, 40.1, 50)
    lon1 = rng.uniform(116.2, 116.6, 50)
    lat2 = rng.uniform(-60, 60, 50)
    lon2 = rng.uniform(-179, 179, 50)
    got = haversine_m(lat1, lon1, lat2, lon2)
    ref = [_law_of_cosines_m(*args) for args in zip(lat1, lon1, lat2, lon2, strict=True)]
    np.testing.assert_allclose(got, ref, rtol=1e-9)


def test_haversine_broadcasts_and_is_symmetric():
    lat = np.array([[39.9], [40.0]])
    lon = np.array([116.3, 116.4, 116.5])
    d = haversine_m(lat, lon, 39.95, 116.45)
    assert d.shape == (2, 3)
    np.testing.assert_allclose(d, haversine_m(39.95, 116.45, lat, lon))
    assert haversine_m(40.0, 116.0, 40.0, 116.0) == 0.0


def test_haversine_rejects_latitude_out_of_range():
    with pytest.raises(ValueError, match="lat1"):
        haversine_m(91.0, 0.0, 0.0, 0.0)


def test_slant_distance_pythagoras_uav_altitude():
    # twin-migration Eq. 2 UAV case: sqrt((R eta)^2 + h_u^2), h_u = 50 m (Table I)
    assert slant_distance_m(120.0, 50.0) == pytest.approx(130.0)
    with pytest.raises(ValueError):
        slant_distance_m(-1.0, 50.0)


def test_enu_point_due_north_maps_to_its_arc_length():
    lat0, lon0 = 39.9, 116.4
    lat = lat0 + math.degrees(1000.0 / R)  # 1 km of meridian arc
    x, y = enu_from_lonlat(lon0, lat, lon0, lat0)
    assert x == pytest.approx(0.0, abs=1e-9)
    assert y == pytest.approx(1000.0, abs=1e-6)


def test_enu_round_trip_is_exact_to_micrometres():
    rng = np.random.default_rng(2)
    x = rng.uniform(-20_000, 20_000, 200)
    y = rng.uniform(-20_000, 20_000, 200)
    lon, lat = lonlat_from_enu(x, y, 116.4, 39.9)
    x2, y2 = enu_from_lonlat(lon, lat, 116.4, 39.9)
    np.testing.assert_allclose(x2, x, atol=1e-6)
    np.testing.assert_allclose(y2, y, atol=1e-6)
    assert enu_from_lonlat(116.4, 39.9, 116.4, 39.9) == (0.0, 0.0)


def test_enu_distances_agree_with_haversine_within_10cm_over_20km():
    rng = np.random.default_rng(3)
    lon0, lat0 = 116.4, 39.9
    lat = lat0 + rng.uniform(-0.09, 0.09, 100)  # about +-10 km
    lon = lon0 + rng.uniform(-0.117, 0.117, 100)
    x, y = enu_from_lonlat(lon, lat, lon0, lat0)
    # from the origin: equidistant projection, exact
    np.testing.assert_allclose(np.hypot(x, y), haversine_m(lat0, lon0, lat, lon), atol=1e-6)
    # between any two points (up to ~28 km apart): < 0.1 m
    planar = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    sphere = haversine_m(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    assert np.abs(planar - sphere).max() < 0.1


def test_pairwise_distance_3d_hand_values_and_shape():
    p = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    q = np.array([[3.0, 4.0, 12.0], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
    d = pairwise_distance_m(p, q)
    assert d.shape == (2, 3)
    assert d[0, 0] == pytest.approx(13.0)  # 3-4-12-13
    assert d[1, 1] == 0.0
    assert d[1, 2] == pytest.approx(math.sqrt(3.0))


def test_pairwise_distance_rejects_wrong_shapes():
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        pairwise_distance_m(np.zeros((2, 2)), np.zeros((1, 3)))
