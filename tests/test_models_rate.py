"""Rates: Shannon, finite-blocklength normal approximation, noise and unit conversions."""

import math

import numpy as np
import pytest

from models.rate import (
    RATES,
    channel_dispersion,
    db_to_linear,
    dbm_to_w,
    fbl_rate_bps,
    linear_to_db,
    shannon_bps,
    sinr_linear,
    sinr_linear_dbm,
    snr_linear,
    thermal_noise_w,
    transmission_latency_s,
    w_to_dbm,
)

Q_INV_1E6 = 4.753424308822899  # Phi^-1(1 - 1e-6), standard normal tables
Q_INV_1E3 = 3.090232306167813  # Phi^-1(1 - 1e-3)


def test_shannon_uses_log_base_2():
    # B log2(1 + 3) = 2 B
    assert shannon_bps(1e6, 3.0) == pytest.approx(2e6)
    assert shannon_bps(300e6, 0.0) == 0.0
    np.testing.assert_allclose(shannon_bps(np.array([1e6, 2e6]), np.array([[1.0], [15.0]])),
                               [[1e6, 2e6], [4e6, 8e6]])


def test_unit_conversions_known_points():
    assert dbm_to_w(30.0) == pytest.approx(1.0)
    assert dbm_to_w(0.0) == pytest.approx(1e-3)
    assert w_to_dbm(0.1) == pytest.approx(20.0)
    assert db_to_linear(-90.0) == pytest.approx(1e-9)
    assert linear_to_db(1000.0) == pytest.approx(30.0)
    assert w_to_dbm(0.0) == -math.inf


def test_scenario_units_use_the_same_dbm_converter():
    from desim_iov.config.units import UnitError, parse_quantity

    # 23 dBm = 10^(-0.7) W = 0.19953 W; -10 dBW = 0.1 W; -90 dBm = 1e-12 W
    assert parse_quantity("23 dBm", "W") == pytest.approx(0.199526, rel=1e-5)
    assert parse_quantity("-10 dBW", "W") == pytest.approx(0.1)
    assert parse_quantity("-90 dBm", "W") == pytest.approx(1e-12)
    assert dbm_to_w(1e300) == math.inf  # overflow is inf, without a warning
    with pytest.raises(UnitError, match="not finite"):
        parse_quantity("1e300 dBm", "W")


def test_thermal_noise_matches_kT_and_minus_114_dbm_per_mhz():
    k_b, t0 = 1.380649e-23, 290.0  # Boltzmann constant (J/K), reference temperature (K)
    assert thermal_noise_w(1.0) == pytest.approx(k_b * t0, rel=1e-3)  # -174 dBm/Hz ~ kT0
    # -174 + 10 log10(1e6) + 7 dB noise figure = -107 dBm
    assert w_to_dbm(thermal_noise_w(1e6, noise_figure_db=7.0)) == pytest.approx(-107.0)


def test_snr_and_sinr_from_powers():
    # 1000 W, gain 1e-12, noise 1e-9 W -> SNR 1 (twin-migration Eq. 4 style numbers)
    assert snr_linear(1000.0, 1e-12, 1e-9) == pytest.approx(1.0)
    assert sinr_linear(2e-9, 1e-9, 1e-9) == pytest.approx(1.0)
    assert sinr_linear_dbm(-60.0, -90.0) == pytest.approx(1000.0)
    assert sinr_linear_dbm(-60.0, -90.0, -90.0) == pytest.approx(500.0)
    with pytest.raises(ValueError, match="noise_w"):
        snr_linear(1.0, 1.0, 0.0)
    with pytest.raises(ValueError, match="tx_power_w"):
        snr_linear(-1.0, 1.0, 1.0)


def test_dispersion_formula_points():
    # V = 1 - (1 + g)^-2: g = 1 -> 3/4; g -> inf -> 1; g = 0 -> 0
    np.testing.assert_allclose(channel_dispersion([0.0, 1.0, 1e12]), [0.0, 0.75, 1.0])


def test_fbl_rate_hand_computed_at_0db_n100_eps1e6():
    # log2(2) - sqrt(0.75 / 100) * 4.753424 / ln 2 = 1 - 0.0866025 * 6.8577 = 0.406102
    expected = 1.0 - math.sqrt(0.75 / 100.0) * Q_INV_1E6 / math.log(2.0)
    assert expected == pytest.approx(0.406102, abs=1e-6)
    assert fbl_rate_bps(10e6, 1.0, 100, 1e-6) == pytest.approx(10e6 * expected, rel=1e-9)


def test_fbl_rate_hand_computed_at_20db_n1000_eps1e3():
    g = 100.0
    v = 1.0 - 1.0 / 101.0**2
    expected = math.log2(101.0) - math.sqrt(v / 1000.0) * Q_INV_1E3 / math.log(2.0)
    assert fbl_rate_bps(1.0, g, 1000, 1e-3) == pytest.approx(expected, rel=1e-9)


def test_fbl_tends_to_shannon_as_blocklength_grows():
    g = np.array([0.1, 1.0, 10.0, 1000.0])
    sh = shannon_bps(1e6, g)
    gaps = [np.max(sh - fbl_rate_bps(1e6, g, n, 1e-6)) for n in (1e2, 1e4, 1e6, 1e8)]
    assert all(a > b for a, b in zip(gaps, gaps[1:], strict=False))  # gap shrinks like 1/sqrt(n)
    assert gaps[1] / gaps[2] == pytest.approx(10.0, rel=1e-6)
    np.testing.assert_allclose(fbl_rate_bps(1e6, g, np.inf, 1e-6), sh)
    assert (fbl_rate_bps(1e6, g, 100, 1e-6) < sh).all()


def test_fbl_clipped_at_zero_at_low_snr():
    # at g = 0.01 (-20 dB): log2(1.01) = 0.01436 < sqrt(0.0197/100) * 6.86 = 0.0963
    assert fbl_rate_bps(1e6, 0.01, 100, 1e-6) == 0.0
    assert fbl_rate_bps(1e6, 0.0, 100, 1e-6) == 0.0


def test_fbl_validates_blocklength_and_error_probability():
    with pytest.raises(ValueError, match="blocklength"):
        fbl_rate_bps(1e6, 1.0, 0, 1e-6)
    with pytest.raises(ValueError, match="error_prob"):
        fbl_rate_bps(1e6, 1.0, 100, 1.5)


def test_transmission_latency_size_over_rate_and_inf_at_zero_rate():
    # 60 MB twin (4.8e8 bit) at 4.8e8 bit/s -> 1 s (twin-migration Eq. 12)
    np.testing.assert_allclose(transmission_latency_s([4.8e8, 8e6, 0.0], [4.8e8, 0.0, 0.0]),
                               [1.0, math.inf, 0.0])


def test_rate_registry_names():
    assert set(RATES) == {"shannon", "fbl"}
    assert RATES["fbl"](1.0, 1.0, np.inf, 1e-6) == pytest.approx(1.0)
