"""Fading, arrays, Doppler, bounded CSI error (quantum-DRL Eq. 11-14, 21, 24-25).

Monte-Carlo tolerances come from the sample size: z = 5 standard errors (false-alarm
probability ~ 6e-7 per check), or the Kolmogorov-Smirnov critical value at alpha = 1e-3
(1.949 / sqrt(n)).
"""

import math

import numpy as np
import pytest
from scipy import stats

from models.fading import (
    bounded_csi_error,
    doppler_shift_hz,
    draw_doppler_angle,
    mrc_gain,
    rayleigh,
    rician,
    shadowing_db,
    simo_channel,
    steering_vector,
)

N = 40_000
Z = 5.0
KS_CRIT = 1.949 / math.sqrt(N)


def test_rayleigh_unit_mean_power_and_rayleigh_envelope():
    h = rayleigh(np.random.default_rng(1), N)
    # |h|^2 ~ Exp(1): mean 1, standard deviation 1
    assert abs(np.mean(np.abs(h) ** 2) - 1.0) < Z / math.sqrt(N)
    ks = stats.kstest(np.abs(h), stats.rayleigh(scale=1 / math.sqrt(2)).cdf).statistic
    assert ks < KS_CRIT


def test_rician_k6_unit_mean_power_and_rice_envelope():
    k = 6.0
    h = rician(np.random.default_rng(2), N, k)
    # Var(|h|^2) = (2K + 1) / (K + 1)^2 for unit mean power
    sd = math.sqrt((2 * k + 1) / (k + 1) ** 2)
    assert abs(np.mean(np.abs(h) ** 2) - 1.0) < Z * sd / math.sqrt(N)
    # envelope: Rice with nu = sqrt(K/(K+1)), per-dimension sigma^2 = 1 / (2(K+1))
    sigma = math.sqrt(1.0 / (2 * (k + 1)))
    nu = math.sqrt(k / (k + 1))
    ks = stats.kstest(np.abs(h), stats.rice(nu / sigma, scale=sigma).cdf).statistic
    assert ks < KS_CRIT


def test_rician_k_factor_recovered_with_known_los_phase():
    k = 6.0
    h = rician(np.random.default_rng(3), N, k, los_phase_rad=0.0)
    los = np.mean(h)  # E[h] = sqrt(K/(K+1))
    diffuse = np.mean(np.abs(h - los) ** 2)  # 1/(K+1)
    se_los = math.sqrt(1 / (k + 1) / N)
    se_diffuse = (1 / (k + 1)) / math.sqrt(N)
    assert abs(los.real - math.sqrt(k / (k + 1))) < Z * se_los
    assert abs(diffuse - 1 / (k + 1)) < Z * se_diffuse
    k_hat = abs(los) ** 2 / diffuse
    # first-order error propagation of the two standard errors
    tol = Z * k * (2 * se_los / math.sqrt(k / (k + 1)) + se_diffuse * (k + 1))
    assert abs(k_hat - k) < tol


def test_rician_finite_paths_eq25_keeps_unit_power():
    h = rician(np.random.default_rng(4), N, 6.0, n_paths=8)
    sd = 1.0  # |h|^2 bounded by (sqrt(6/7) + sqrt(8/7))^2 < 4; sd below 1 (loose)
    assert abs(np.mean(np.abs(h) ** 2) - 1.0) < Z * sd / math.sqrt(N)


def test_rician_k0_is_rayleigh_and_large_k_is_deterministic():
    h0 = rician(np.random.default_rng(5), N, 0.0)
    assert stats.kstest(np.abs(h0), stats.rayleigh(scale=1 / math.sqrt(2)).cdf).statistic < KS_CRIT
    h_inf = rician(np.random.default_rng(5), 1000, 1e12, los_phase_rad=0.3)
    np.testing.assert_allclose(h_inf, np.exp(0.3j), atol=1e-5)


def test_rician_doppler_rotates_los_term():
    h = rician(np.random.default_rng(6), 10, 1e12, los_phase_rad=0.0, doppler_hz=2500.0, tau_s=1e-4)
    np.testing.assert_allclose(np.angle(h), 2 * math.pi * 2500.0 * 1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="k_factor"):
        rician(np.random.default_rng(0), 3, -1.0)


def test_steering_vector_hand_values_table2_geometry():
    # delta = 0.005 m, lambda = 0.009 m (Table II), theta = 30 deg: step = 2 pi (5/9) 0.5 rad
    a = steering_vector(4, math.radians(30.0), 0.005, 0.009)
    step = 2 * math.pi * 0.005 / 0.009 * 0.5
    np.testing.assert_allclose(a, [np.exp(1j * step * m) for m in range(4)])
    assert np.sum(np.abs(a) ** 2) == pytest.approx(4.0)
    np.testing.assert_allclose(steering_vector(3, 0.0, 0.005, 0.009), [1, 1, 1])  # broadside
    assert steering_vector(4, np.zeros((2, 5)), 0.005, 0.009).shape == (2, 5, 4)


def test_doppler_shift_hand_value_and_angle_range():
    # 20 m/s vehicle (Table II), lambda = 0.009 m, along the LoS: 2222.2 Hz; perpendicular: 0
    np.testing.assert_allclose(doppler_shift_hz(20.0, [0.0, math.pi / 2], 0.009), [20 / 0.009, 0.0], atol=1e-9)
    phi = draw_doppler_angle(np.random.default_rng(7), 1000)
    assert (np.abs(phi) <= math.pi / 2).all()


def test_bounded_csi_error_norm_bound_zero_mean_and_entry_variance():
    m, var = 4, 0.05
    eps = bounded_csi_error(np.random.default_rng(8), N, m, var)
    tau = math.sqrt((m + 1) * var)
    assert eps.shape == (N, m)
    assert (np.linalg.norm(eps, axis=-1) <= tau + 1e-12).all()
    # |eps_i|^2 lies in [0, tau^2]: Hoeffding at alpha = 1e-6 bounds the error of its mean
    hoeffding = tau**2 * math.sqrt(math.log(2 / 1e-6) / (2 * N))
    assert np.abs(np.mean(np.abs(eps) ** 2, axis=0) - var).max() < hoeffding
    assert np.abs(np.mean(eps, axis=0)).max() < Z * math.sqrt(var / N)


def test_bounded_csi_error_explicit_bound_and_validation():
    eps = bounded_csi_error(np.random.default_rng(9), (10, 3), 2, bound=0.1)
    assert (np.linalg.norm(eps, axis=-1) <= 0.1 + 1e-12).all()
    with pytest.raises(ValueError, match="n_antennas"):
        bounded_csi_error(np.random.default_rng(9), 3, 0)


def test_mrc_gain_perfect_and_mismatched():
    h = np.array([1.0, 1j, 1 + 1j])
    assert mrc_gain(h) == pytest.approx(4.0)  # 1 + 1 + 2
    assert mrc_gain(h, h) == pytest.approx(4.0)
    assert mrc_gain(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(0.0)
    rng = np.random.default_rng(10)
    hh = rayleigh(rng, (100, 4))
    he = hh + 0.3 * rayleigh(rng, (100, 4))
    assert (mrc_gain(hh, he) <= mrc_gain(hh) + 1e-12).all()  # Cauchy-Schwarz


def test_simo_channel_array_gain_is_m_times_path_gain_with_perfect_csi():
    h, h_est = simo_channel(np.random.default_rng(11), np.array([1e-10, 4e-10]), 0.4, 4,
                            spacing_m=0.005, wavelength_m=0.009)
    np.testing.assert_allclose(mrc_gain(h), [4e-10, 16e-10])
    np.testing.assert_allclose(h, h_est)


def test_simo_channel_with_csi_error_has_mean_gain_m_times_one_plus_variance():
    var = 0.1
    h, h_est = simo_channel(np.random.default_rng(12), np.ones(N), 0.0, 4, spacing_m=0.005,
                            wavelength_m=0.009, csi_variance=var)
    # E||a + eps||^2 = M (1 + var) since E[eps] = 0 and ||a||^2 = M; ||a + eps||^2 <= (2 + sqrt(5 var))^2
    g = mrc_gain(h)
    bound = (2 + math.sqrt(5 * var)) ** 2
    assert abs(g.mean() - 4 * (1 + var)) < bound * math.sqrt(math.log(2 / 1e-6) / (2 * N))
    assert (mrc_gain(h, h_est) <= g + 1e-12).all()


def test_shadowing_standard_deviation():
    s = shadowing_db(np.random.default_rng(13), 4.0, N)
    # sample sd of a normal: standard error sigma / sqrt(2 n)
    assert abs(s.std() - 4.0) < Z * 4.0 / math.sqrt(2 * N)


# --- small_scale_gain: per-link power gains for the kernel (Eq. 22, 24-25, 34, 36) -----------
# References: |CN(0,1)|^2 ~ Exp(1); a sum of M i.i.d. ones ~ Gamma(M, 1); a unit-mean Rician
# power with factor K is ncx2(df=2, nc=2K) / (2(K+1)), and a sum of M i.i.d. ones
# ncx2(df=2M, nc=2MK) / (2(K+1)).


def _ncx2(m, k):
    return stats.ncx2(df=2 * m, nc=2 * m * k, scale=1 / (2 * (k + 1)))


def test_small_scale_gain_rayleigh_single_antenna_is_exp1():
    from models.fading import small_scale_gain

    g = small_scale_gain("rayleigh", np.random.default_rng(20), N)
    assert g.shape == (N,) and g.dtype == np.float64
    assert abs(g.mean() - 1.0) < Z / math.sqrt(N)
    assert stats.kstest(g, stats.expon.cdf).statistic < KS_CRIT


def test_small_scale_gain_rayleigh_mrc_four_antennas_is_gamma4():
    from models.fading import small_scale_gain

    g = small_scale_gain("rayleigh", np.random.default_rng(21), (N,), antennas=4)
    assert abs(g.mean() - 4.0) < Z * 2.0 / math.sqrt(N)  # sd of Gamma(4, 1) is 2
    assert stats.kstest(g, stats.gamma(4).cdf).statistic < KS_CRIT


def test_small_scale_gain_rician_k6_distribution_and_k_factor():
    from models.fading import small_scale_gain

    k = 6.0
    g = small_scale_gain("rician", np.random.default_rng(22), N)  # K = 6 by default (Table II)
    sd = math.sqrt((2 * k + 1) / (k + 1) ** 2)
    assert abs(g.mean() - 1.0) < Z * sd / math.sqrt(N)
    assert stats.kstest(g, _ncx2(1, k).cdf).statistic < KS_CRIT
    # K from the moments: Var/mean^2 = (2K + 1)/(K + 1)^2 -> K = (1 - r + sqrt(1 - r)) / r
    r = g.var() / g.mean() ** 2
    k_hat = (1 - r + math.sqrt(1 - r)) / r
    assert abs(k_hat - k) < 0.3  # ~10 standard errors at N = 40,000
    # against a different K the KS test rejects: the test can fail
    assert stats.kstest(g, _ncx2(1, 3.0).cdf).statistic > KS_CRIT


def test_small_scale_gain_per_server_antennas_on_a_link_matrix():
    from models.fading import small_scale_gain

    n_v = N // 2
    ant = np.array([4, 1])  # a BS with M = 4, a single-antenna UAV
    g = small_scale_gain("rician", np.random.default_rng(23), (n_v, 2), k_factor=6.0, antennas=ant)
    assert g.shape == (n_v, 2)
    crit = 1.949 / math.sqrt(n_v)
    assert stats.kstest(g[:, 0], _ncx2(4, 6.0).cdf).statistic < crit
    assert stats.kstest(g[:, 1], _ncx2(1, 6.0).cdf).statistic < crit
    assert abs(g[:, 0].mean() - 4.0) < Z * math.sqrt(4 * 13 / 49) / math.sqrt(n_v)


def test_small_scale_gain_draws_a_fixed_number_of_uniforms():
    from models.fading import small_scale_gain

    shape, ant = (3, 5), np.array([4, 4, 1, 1, 1])
    ref = np.random.default_rng(24)
    ref.random(2 * 15 * 4)
    expect = ref.bit_generator.state
    for model, k in (("rayleigh", 6.0), ("rician", 0.0), ("rician", 6.0), ("rician", np.arange(5.0) * 100)):
        rng = np.random.default_rng(24)
        small_scale_gain(model, rng, shape, k_factor=k, antennas=ant)
        assert rng.bit_generator.state == expect, (model, k)
    rng = np.random.default_rng(24)
    before = rng.bit_generator.state
    np.testing.assert_array_equal(small_scale_gain("none", rng, shape, antennas=ant), np.broadcast_to(ant, shape))
    assert rng.bit_generator.state == before  # "none" draws nothing


def test_small_scale_gain_rician_k0_equals_rayleigh_draw_for_draw_and_large_k_is_flat():
    from models.fading import small_scale_gain

    a = small_scale_gain("rayleigh", np.random.default_rng(25), (50, 4), antennas=[1, 2, 3, 4])
    b = small_scale_gain("rician", np.random.default_rng(25), (50, 4), k_factor=0.0, antennas=[1, 2, 3, 4])
    np.testing.assert_allclose(a, b, rtol=1e-12)
    flat = small_scale_gain("rician", np.random.default_rng(25), (50, 4), k_factor=1e12, antennas=[1, 2, 3, 4])
    np.testing.assert_allclose(flat, np.broadcast_to([1.0, 2.0, 3.0, 4.0], (50, 4)), rtol=1e-5)


def test_small_scale_gain_rejects_bad_input_in_one_line():
    from models.fading import FADING_MODELS, small_scale_gain

    assert FADING_MODELS == ("none", "rayleigh", "rician")
    rng = np.random.default_rng(26)
    with pytest.raises(ValueError, match="allowed: none, rayleigh, rician"):
        small_scale_gain("nakagami", rng, 3)
    for bad in (0, 1.5, -2, True):
        with pytest.raises(ValueError, match="antennas"):
            small_scale_gain("rayleigh", rng, 3, antennas=bad)
    with pytest.raises(ValueError, match="broadcast"):
        small_scale_gain("rayleigh", rng, (3, 2), antennas=[1, 2, 3])
    with pytest.raises(ValueError, match="k_factor"):
        small_scale_gain("rician", rng, 3, k_factor=-1.0)
    with pytest.raises(ValueError, match="k_factor"):
        small_scale_gain("rician", rng, 3, k_factor=float("nan"))
