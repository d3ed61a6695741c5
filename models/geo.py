"""Geometry: great-circle distances, local east/north projection, 3-D distances.

All angles at the API are in degrees, all lengths in metres.  The Earth is a sphere of
radius ``EARTH_RADIUS_M`` (twin-migration Sec. III-A: R = 6,371.393 km).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from models._checks import FloatArray
from models._checks import as_float as _as_float

EARTH_RADIUS_M = 6_371_393.0
"""Earth radius used by the twin-migration paper (Eq. 2), metres."""



def _check_latitude(lat: FloatArray, name: str) -> None:
    if (np.abs(lat) > 90.0).any():
        raise ValueError(f"{name} must lie in [-90, 90] degrees, got {lat[np.abs(lat) > 90.0].ravel()[:3]}")


def haversine_m(
    lat1: ArrayLike,
    lon1: ArrayLike,
    lat2: ArrayLike,
    lon2: ArrayLike,
    radius_m: float = EARTH_RADIUS_M,
) -> FloatArray:
    """Great-circle distance between points given in degrees, metres (twin-migration Eq. 1-2).

    Standard haversine: ``hav(eta) = sin^2(dphi/2) + cos(phi1) cos(phi2) sin^2(dlambda/2)``,
    ``eta = 2 asin(sqrt(hav))``, distance ``R eta``.  The extracted Eq. 1 of the paper swaps
    latitude and longitude and drops the halves; this is the textbook form.  Broadcasts.
    """
    if not radius_m > 0:
        raise ValueError(f"radius_m must be positive, got {radius_m}")
    p1 = _as_float(lat1, "lat1")
    p2 = _as_float(lat2, "lat2")
    l1 = _as_float(lon1, "lon1")
    l2 = _as_float(lon2, "lon2")
    _check_latitude(p1, "lat1")
    _check_latitude(p2, "lat2")
    p1r, p2r = np.radians(p1), np.radians(p2)
    dphi = p2r - p1r
    dlam = np.radians(l2 - l1)
    hav = np.sin(dphi / 2.0) ** 2 + np.cos(p1r) * np.cos(p2r) * np.sin(dlam / 2.0) ** 2
    eta = 2.0 * np.arcsin(np.sqrt(np.clip(hav, 0.0, 1.0)))
    return radius_m * eta


def slant_distance_m(ground_distance_m: ArrayLike, height_diff_m: ArrayLike) -> FloatArray:
    """3-D distance from a ground distance and an altitude difference, metres (twin-migration Eq. 2).

    ``sqrt(d^2 + h^2)``; the paper uses it for vehicle-UAV links with h = UAV cruise altitude.
    """
    d = _as_float(ground_distance_m, "ground_distance_m")
    if (d < 0).any():
        raise ValueError("ground_distance_m must be non-negative")
    h = _as_float(height_diff_m, "height_diff_m")
    return np.hypot(d, h)


def enu_from_lonlat(
    lon: ArrayLike, lat: ArrayLike, lon0: float, lat0: float
) -> tuple[FloatArray, FloatArray]:
    """Project lon/lat (degrees) to local east/north metres about (lon0, lat0).

    Spherical azimuthal equidistant projection on ``EARTH_RADIUS_M``: the distance from the
    origin equals the haversine distance exactly, and distances between two points within
    20 km of the origin agree with haversine to < 0.1 m (scale error ~ c^2/6, c the angular
    radius).  Supports the twin-migration Eq. 2 distances in a local frame.  Broadcasts.
    """
    lam = np.radians(_as_float(lon, "lon"))
    phi_deg = _as_float(lat, "lat")
    _check_latitude(phi_deg, "lat")
    _check_latitude(np.asarray(float(lat0)), "lat0")
    phi = np.radians(phi_deg)
    lam0, phi0 = np.radians(float(lon0)), np.radians(float(lat0))
    dlam = lam - lam0
    # angular distance c via haversine (well conditioned for small c); (east, north) is
    # sin(c) times the unit azimuth vector, so x = R c sin(az), y = R c cos(az).
    hav = np.sin((phi - phi0) / 2.0) ** 2 + np.cos(phi0) * np.cos(phi) * np.sin(dlam / 2.0) ** 2
    c = 2.0 * np.arcsin(np.sqrt(np.clip(hav, 0.0, 1.0)))
    east = np.cos(phi) * np.sin(dlam)
    north = np.cos(phi0) * np.sin(phi) - np.sin(phi0) * np.cos(phi) * np.cos(dlam)
    az_norm = np.hypot(east, north)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(az_norm > 0, EARTH_RADIUS_M * c / az_norm, 0.0)
    return east * scale, north * scale


def lonlat_from_enu(
    x: ArrayLike, y: ArrayLike, lon0: float, lat0: float
) -> tuple[FloatArray, FloatArray]:
    """Inverse of :func:`enu_from_lonlat`: local east/north metres to lon/lat degrees."""
    xa = _as_float(x, "x")
    ya = _as_float(y, "y")
    _check_latitude(np.asarray(float(lat0)), "lat0")
    lam0, phi0 = np.radians(float(lon0)), np.radians(float(lat0))
    rho = np.hypot(xa, ya)
    if (rho > np.pi * EARTH_RADIUS_M).any():
        raise ValueError("points farther than half the Earth's circumference from the origin")
    c = rho / EARTH_RADIUS_M
    sin_c, cos_c = np.sin(c), np.cos(c)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(rho > 0, ya * sin_c * np.cos(phi0) / rho, 0.0)
    phi = np.arcsin(np.clip(cos_c * np.sin(phi0) + ratio, -1.0, 1.0))
    lam = lam0 + np.arctan2(xa * sin_c, rho * np.cos(phi0) * cos_c - ya * np.sin(phi0) * sin_c)
    lon = (np.degrees(lam) + 180.0) % 360.0 - 180.0
    return lon, np.degrees(phi)


def pairwise_distance_m(p: ArrayLike, q: ArrayLike) -> FloatArray:
    """3-D Euclidean distances between rows of p (N,3) and q (M,3), metres -> (N,M).

    Local-coordinate form of twin-migration Eq. 2 (altitude as the third coordinate).
    """
    pa = _as_float(p, "p")
    qa = _as_float(q, "q")
    if pa.ndim != 2 or pa.shape[-1] != 3:
        raise ValueError(f"p must have shape (N, 3), got {pa.shape}")
    if qa.ndim != 2 or qa.shape[-1] != 3:
        raise ValueError(f"q must have shape (M, 3), got {qa.shape}")
    diff = pa[:, None, :] - qa[None, :, :]
    return np.sqrt(np.einsum("nmk,nmk->nm", diff, diff))
