"""Path loss models against hand computations from the standards' formulas."""

import math

import numpy as np
import pytest

from models.pathloss import (
    MODELS,
    free_space_gain,
    gain,
    gain_from_path_loss_db,
    path_loss_db,
)


def test_free_space_gain_hand_value_2g4_100m():
    # lambda = 3e8 / 2.4e9 = 0.125 m; (0.125 / (4 pi 100))^2 = 9.8946e-9
    expected = (0.125 / (4.0 * math.pi * 100.0)) ** 2
    assert expected == pytest.approx(9.8946e-9, rel=1e-4)
    assert free_space_gain(100.0, 2.4e9) == pytest.approx(expected, rel=1e-12)
    assert free_space_gain(100.0, 2.4e9, coefficient=2.0) == pytest.approx(2 * expected)


def test_free_space_db_matches_textbook_km_mhz_form():
    # FSPL = 20 log10(d_km) + 20 log10(f_MHz) + 20 log10(4 pi 1e9 / 3e8) (= 32.4418 with c = 3e8)
    const = 20 * math.log10(4 * math.pi * 1e9 / 3e8)
    assert const == pytest.approx(32.4418, abs=1e-4)
    expected = 20 * math.log10(0.1) + 20 * math.log10(2400.0) + const  # 80.046 dB
    assert path_loss_db("free_space", 100.0, 2.4e9) == pytest.approx(expected, abs=1e-9)
    assert expected == pytest.approx(80.046, abs=1e-3)


def test_free_space_inverse_square_law():
    g = free_space_gain(np.array([10.0, 20.0, 40.0]), 3.5e9)
    np.testing.assert_allclose(g[1:] / g[:-1], 0.25)


def test_gain_and_loss_are_reciprocal():
    assert gain_from_path_loss_db(3.0) == pytest.approx(0.501187, rel=1e-6)
    assert gain("free_space", 250.0, 5.9e9) == pytest.approx(free_space_gain(250.0, 5.9e9), rel=1e-12)


def test_unknown_model_lists_allowed_names():
    with pytest.raises(ValueError, match="allowed: free_space, log_distance, okumura_hata, uav_los"):
        path_loss_db("cost231", 100.0, 2e9)
    assert set(MODELS) >= {"free_space", "log_distance", "okumura_hata", "uma_los", "uma_nlos", "uav_los", "uav_nlos"}


def test_negative_distance_rejected():
    with pytest.raises(ValueError, match="non-negative"):
        free_space_gain(-1.0, 2e9)
    with pytest.raises(ValueError, match="freq_hz"):
        free_space_gain(1.0, 0.0)


# --- Okumura-Hata (quantum-DRL Eq. 15) -----------------------------------------------------
# Published reference: ns-3 okumura-hata test suite (values from its octave reference scripts):
# 869 MHz, d = 2 km, h_bs = 30 m, h_ut = 1 m: urban small city 137.88 dB, large city 137.93 dB.


def test_okumura_hata_matches_published_ns3_reference():
    assert path_loss_db("okumura_hata", 2000.0, 869e6, h_bs=30.0, h_ut=1.0) == pytest.approx(137.88, abs=0.01)
    assert path_loss_db("okumura_hata", 2000.0, 869e6, h_bs=30.0, h_ut=1.0, city="large") == pytest.approx(137.93, abs=0.01)


def test_okumura_hata_hand_computed_900mhz():
    # f = 900 MHz, h_bs = 50 m, h_ut = 1.5 m, d = 5 km, Eq. 15 by hand
    lf = math.log10(900.0)
    a_h = (1.1 * lf - 0.7) * 1.5 - (1.56 * lf - 0.8)
    expected = 69.55 + 26.16 * lf - 13.82 * math.log10(50.0) - a_h + (44.9 - 6.55 * math.log10(50.0)) * math.log10(5.0)
    assert path_loss_db("okumura_hata", 5000.0, 900e6, h_bs=50.0, h_ut=1.5) == pytest.approx(expected, abs=1e-9)


def test_okumura_hata_slope_per_decade_is_44_9_minus_6_55_log_hbs():
    pl = path_loss_db("okumura_hata", np.array([1000.0, 10000.0]), 900e6, h_bs=30.0)
    assert pl[1] - pl[0] == pytest.approx(44.9 - 6.55 * math.log10(30.0))


def test_okumura_hata_strict_rejects_outside_validity():
    with pytest.raises(ValueError, match="150-1500 MHz"):
        path_loss_db("okumura_hata", 2000.0, 3.5e9, strict=True)
    with pytest.raises(ValueError, match="h_bs"):
        path_loss_db("okumura_hata", 2000.0, 900e6, h_bs=25.0, strict=True)
    # default extrapolates silently
    assert np.isfinite(path_loss_db("okumura_hata", 200.0, 3.5e9, h_bs=25.0))
    with pytest.raises(ValueError, match="city"):
        path_loss_db("okumura_hata", 2000.0, 900e6, city="village")


# --- 3GPP TR 38.901 UMa (quantum-DRL Eq. 16-20) --------------------------------------------
# Published reference: ns-3 three-gpp-propagation-loss-model test suite (TR 38.901 Table
# 7.4.1-1, h_BS = 25 m, h_UT = 1.5 m, 5 GHz, no shadowing), path loss = -received power (dBm)
# for 0 dBm transmitted, tolerance 0.05 dB.
NS3_UMA = [  # (d2D m, LOS?, PL dB)
    (10.0, True, 72.9380), (100.0, True, 86.2362), (1000.0, True, 109.7252), (5000.0, True, 137.6794),
    (10.0, False, 82.5131), (100.0, False, 106.1356), (1000.0, False, 144.7641), (5000.0, False, 172.0753),
]


@pytest.mark.parametrize(("d2d", "los", "pl"), NS3_UMA)
def test_uma_matches_published_ns3_reference(d2d, los, pl):
    d3d = math.hypot(d2d, 25.0 - 1.5)
    got = path_loss_db("uma_los" if los else "uma_nlos", d3d, 5e9, h_bs=25.0, h_ut=1.5)
    assert got == pytest.approx(pl, abs=0.05)


def test_uma_breakpoint_hand_computed():
    from models.pathloss import uma_breakpoint_m

    # d'_BP = 4 (25 - 1)(1.5 - 1) 3.5e9 / 3e8 = 560 m (h_E = 1 m)
    assert uma_breakpoint_m(3.5e9, 25.0, 1.5) == pytest.approx(560.0)


def test_uma_los_both_branches_hand_computed_at_3g5():
    dh = 25.0 - 1.5
    # 300 m < 560 m: PL1 = 28 + 22 log10(d3D) + 20 log10(3.5)
    d3 = math.hypot(300.0, dh)
    pl1 = 28.0 + 22.0 * math.log10(d3) + 20.0 * math.log10(3.5)
    assert path_loss_db("uma_los", d3, 3.5e9) == pytest.approx(pl1, abs=1e-9)
    # 2 km > 560 m: PL2 = 28 + 40 log10(d3D) + 20 log10(3.5) - 9 log10(560^2 + 23.5^2)
    d3 = math.hypot(2000.0, dh)
    pl2 = 28.0 + 40.0 * math.log10(d3) + 20.0 * math.log10(3.5) - 9.0 * math.log10(560.0**2 + dh**2)
    assert path_loss_db("uma_los", d3, 3.5e9) == pytest.approx(pl2, abs=1e-9)


def test_uma_los_is_continuous_at_the_breakpoint():
    dh = 23.5
    eps = 1e-6
    lo = path_loss_db("uma_los", math.hypot(560.0 - eps, dh), 3.5e9)
    hi = path_loss_db("uma_los", math.hypot(560.0 + eps, dh), 3.5e9)
    assert hi - lo == pytest.approx(0.0, abs=1e-3)


def test_uma_breakpoint_override_papers_100m():
    # Table III setting: d'_BP = 100 m, h_BS = 25 m, h_UT = 1.5 m
    d3 = math.hypot(1000.0, 23.5)
    expected = 28.0 + 40.0 * math.log10(d3) + 20.0 * math.log10(2.0) - 9.0 * math.log10(100.0**2 + 23.5**2)
    assert path_loss_db("uma_los", d3, 2e9, breakpoint_m=100.0) == pytest.approx(expected, abs=1e-9)


def test_uma_nlos_never_below_los_and_held_below_10m():
    d = np.geomspace(24.0, 6000.0, 50)
    assert (path_loss_db("uma_nlos", d, 3.5e9) >= path_loss_db("uma_los", d, 3.5e9)).all()
    # 3-D distance shorter than the height difference: held at d2D = 10 m
    assert path_loss_db("uma_los", 5.0, 3.5e9) == pytest.approx(path_loss_db("uma_los", math.hypot(10.0, 23.5), 3.5e9))


def test_uma_strict_rejects_beyond_5km():
    with pytest.raises(ValueError, match="5 km"):
        path_loss_db("uma_los", 6000.0, 3.5e9, strict=True)


# --- 3GPP TR 36.777 air-to-ground (quantum-DRL Eq. 27-29) ----------------------------------


def test_uav_los_hand_computed():
    # 28 + 22 log10(500) + 20 log10(2) = 28 + 59.3768 + 6.0206 = 93.397 dB
    assert path_loss_db("uav_los", 500.0, 2e9, h_uav=60.0) == pytest.approx(93.397, abs=1e-3)


def test_uav_nlos_hand_computed_tr36777():
    # -17.5 + (46 - 7 log10(100)) log10(1000) + 20 log10(40 pi 2 / 3) = -17.5 + 96 + 38.462
    expected = -17.5 + (46.0 - 14.0) * 3.0 + 20.0 * math.log10(40.0 * math.pi * 2.0 / 3.0)
    assert expected == pytest.approx(116.962, abs=1e-3)
    assert path_loss_db("uav_nlos", 1000.0, 2e9, h_uav=100.0) == pytest.approx(expected, abs=1e-9)


def test_uav_strict_height_range():
    with pytest.raises(ValueError, match="22.5"):
        path_loss_db("uav_nlos", 100.0, 2e9, h_uav=150.0, strict=True)


def test_los_probability_is_one_below_d1_and_eq29_above():
    from models.pathloss import los_probability

    p = los_probability(np.array([0.0, 50.0, 100.0, 200.0]), d1_m=100.0, p1_m=63.0)
    np.testing.assert_allclose(p[:3], 1.0)
    assert p[3] == pytest.approx(0.5 + 0.5 * math.exp(-200.0 / 63.0))


def test_los_probability_tr36777_uma_av_parameters():
    from models.pathloss import los_probability

    h = 50.0
    p1 = 4300.0 * math.log10(h) - 3800.0  # 3505.5 m
    d1 = max(460.0 * math.log10(h) - 700.0, 18.0)  # 81.5 m
    assert los_probability(d1 - 1.0, h_uav=h) == 1.0
    assert los_probability(1000.0, h_uav=h) == pytest.approx(d1 / 1000.0 + (1 - d1 / 1000.0) * math.exp(-1000.0 / p1))
    assert los_probability(5000.0, h_uav=150.0) == 1.0  # above 100 m always LOS
    # at or below 22.5 m: TR 38.901 UMa terrestrial d1 = 18 m, p1 = 63 m
    assert los_probability(100.0, h_uav=10.0) == pytest.approx(0.18 + 0.82 * math.exp(-100.0 / 63.0))


def test_los_probability_decreases_with_distance_and_validates():
    from models.pathloss import los_probability

    p = los_probability(np.linspace(0.0, 5000.0, 200), h_uav=40.0)
    assert (np.diff(p) <= 1e-15).all() and (p > 0).all() and (p <= 1).all()
    with pytest.raises(ValueError, match="h_uav"):
        los_probability(10.0)
    with pytest.raises(ValueError, match="both"):
        los_probability(10.0, d1_m=10.0)


def test_uav_mixed_between_los_and_nlos():
    d = np.array([60.0, 300.0, 2000.0])
    mixed = path_loss_db("uav_mixed", d, 2e9, h_uav=50.0)
    lo = path_loss_db("uav_los", d, 2e9, h_uav=50.0)
    hi = path_loss_db("uav_nlos", d, 2e9, h_uav=50.0)
    assert (mixed >= np.minimum(lo, hi) - 1e-9).all() and (mixed <= np.maximum(lo, hi) + 1e-9).all()
    # 60 m 3-D at 48.5 m height difference: horizontal 35 m < d1 = 81.5 m -> pure LOS
    assert mixed[0] == pytest.approx(lo[0])


# --- log-distance (quantum-DRL Eq. 26) -----------------------------------------------------


def test_log_distance_reference_and_exponent():
    # PL0 = Friis at d0 = 1 m, 2 GHz: 20 log10(4 pi 2e9 / 3e8) = 38.4624 dB; alpha = 2.5
    pl0 = 20 * math.log10(4 * math.pi * 2e9 / 3e8)
    assert path_loss_db("log_distance", 100.0, 2e9, exponent=2.5) == pytest.approx(pl0 + 25.0 * 2.0)
    assert path_loss_db("log_distance", 50.0, 2e9, exponent=2.5, d0_m=10.0, pl0_db=70.0) == pytest.approx(
        70.0 + 25.0 * math.log10(5.0)
    )
    # exponent 2 with Friis PL0 is free space
    assert path_loss_db("log_distance", 321.0, 2e9) == pytest.approx(path_loss_db("free_space", 321.0, 2e9))


def test_every_registered_model_is_monotone_in_distance_and_broadcasts():
    d = np.geomspace(30.0, 4000.0, 40)[:, None]
    f = np.array([1e9, 2e9])
    for name in MODELS:
        pl = path_loss_db(name, d, f)
        assert pl.shape == (40, 2), name
        assert (np.diff(pl, axis=0) >= -1e-9).all(), name


# --- TR 38.901 UMa LOS probability with C'(h_UT) (Table 7.4.2-1), used by TR 36.777 B-1 ---------
# P = [18/d + exp(-d/63)(1 - 18/d)] (1 + C'(h) 5/4 (d/100)^3 exp(-d/150)),
# C'(h) = 0 (h <= 13 m), ((h - 13)/10)^1.5 (13 < h <= 23 m). Hand values:
#   d = 100, h = 18: C' = 0.5^1.5 = 0.35355; base = 0.18 + 0.82 e^-1.5873 = 0.34767;
#     boost = 1 + 0.35355 * 1.25 * 1 * e^-0.6667 = 1.22690 -> 0.42656
#   d = 200, h = 23: C' = 1; base = 0.09 + 0.91 e^-3.1746 = 0.12805; boost = 1 + 10 e^-1.3333 = 3.63597
#     -> 0.46558
#   d = 300, h = 20: C' = 0.7^1.5 = 0.58566; base = 0.06 + 0.94 e^-4.7619 = 0.06803;
#     boost = 1 + 0.58566 * 1.25 * 27 e^-2 = 3.67543 -> 0.25004
UMA_LOS_PROB = [  # (d2D m, h_UT m, P)
    (100.0, 1.5, 0.34767), (100.0, 13.0, 0.34767), (100.0, 18.0, 0.42656),
    (200.0, 23.0, 0.46558), (300.0, 20.0, 0.25004), (10.0, 20.0, 1.0), (18.0, 23.0, 1.0),
]


@pytest.mark.parametrize(("d", "h", "p"), UMA_LOS_PROB)
def test_uma_los_probability_hand_values_with_c_prime(d, h, p):
    from models.pathloss import uma_los_probability

    assert uma_los_probability(d, h) == pytest.approx(p, abs=2e-5)


def test_uma_los_probability_vectorised_clipped_and_validated():
    from models.pathloss import uma_los_probability

    d = np.array([[100.0], [200.0], [300.0]])
    h = np.array([1.5, 18.0, 23.0])
    p = uma_los_probability(d, h)
    assert p.shape == (3, 3)
    assert p[0, 1] == pytest.approx(0.42656, abs=2e-5) and p[1, 2] == pytest.approx(0.46558, abs=2e-5)
    # just past d = 18 m the published product is 1.0052 at h = 23 m: a probability, clipped
    assert uma_los_probability(18.1, 23.0) == 1.0
    assert (uma_los_probability(np.linspace(0, 3000, 301), 23.0) <= 1.0).all()
    with pytest.raises(ValueError, match="23 m"):
        uma_los_probability(100.0, 30.0)


def test_tr36777_low_uav_uses_tr38901_uma_with_c_prime():
    from models.pathloss import los_probability

    # TR 36.777 Table B-1: h <= 22.5 m -> TR 38.901 UMa, so C'(18 m) applies
    assert los_probability(100.0, h_uav=18.0) == pytest.approx(0.42656, abs=2e-5)
    assert los_probability(300.0, h_uav=20.0) == pytest.approx(0.25004, abs=2e-5)


# --- heights as arrays broadcast like distance and frequency -------------------------------

HEIGHT_CASES = [  # (model, {param: heights}, fixed params)
    ("okumura_hata", {"h_bs": [30.0, 45.0, 60.0], "h_ut": [1.0, 1.5, 3.0]}, {}),
    ("uma_los", {"h_bs": [20.0, 25.0, 35.0], "h_ut": [1.5, 5.0, 12.0]}, {}),
    ("uma_nlos", {"h_bs": [20.0, 25.0, 35.0], "h_ut": [1.5, 5.0, 12.0]}, {}),
    ("uav_los", {"h_uav": [30.0, 60.0, 120.0]}, {}),
    ("uav_nlos", {"h_uav": [30.0, 60.0, 90.0]}, {}),
    ("uav_mixed", {"h_uav": [15.0, 40.0, 90.0], "h_ut": [1.5, 10.0, 20.0]}, {}),
    ("uav_mixed", {"h_uav": [15.0, 40.0, 90.0]}, {"d1_m": 100.0, "p1_m": 63.0}),
]


@pytest.mark.parametrize(("name", "heights", "fixed"), HEIGHT_CASES)
def test_array_heights_match_scalar_calls(name, heights, fixed):
    d = np.array([[150.0], [800.0], [3000.0]])  # (3, 1) distances x (3,) heights -> (3, 3)
    pl = path_loss_db(name, d, 2e9, **{k: np.array(v) for k, v in heights.items()}, **fixed)
    assert pl.shape == (3, 3)
    for i in range(3):
        for j in range(3):
            one = path_loss_db(name, float(d[i, 0]), 2e9, **{k: v[j] for k, v in heights.items()}, **fixed)
            assert pl[i, j] == pytest.approx(float(one), abs=1e-9), (name, i, j)


def test_array_heights_in_breakpoint_and_los_probability():
    from models.pathloss import los_probability, uma_breakpoint_m

    h_ut = np.array([1.5, 2.0, 11.0])
    np.testing.assert_allclose(uma_breakpoint_m(3.5e9, 25.0, h_ut), 4 * 24 * (h_ut - 1) * 3.5e9 / 3e8)
    h = np.array([10.0, 18.0, 50.0, 150.0])
    p = los_probability(np.array([[100.0], [1000.0]]), h_uav=h)
    assert p.shape == (2, 4)
    for i, d in enumerate((100.0, 1000.0)):
        for j in range(4):
            assert p[i, j] == pytest.approx(float(los_probability(d, h_uav=h[j])))
    with pytest.raises(ValueError, match="h_ut"):
        path_loss_db("uma_los", 100.0, 3.5e9, h_ut=np.array([1.5, -1.0]))
    with pytest.raises(ValueError, match="h_e"):
        uma_breakpoint_m(3.5e9, 25.0, np.array([1.5, 0.5]))
    with pytest.raises(ValueError, match="h_bs"):
        path_loss_db("okumura_hata", 2000.0, 900e6, h_bs=np.array([25.0, 40.0]), strict=True)


def test_every_model_returns_float64_scalar_for_scalars_and_arrays_for_arrays():
    for name in MODELS:
        r = path_loss_db(name, 300.0, 2e9)
        assert type(r) is np.float64, (name, type(r))
        a = path_loss_db(name, np.array([300.0]), 2e9)
        assert isinstance(a, np.ndarray) and a.dtype == np.float64 and a.shape == (1,), name
