"""Computing latency and service rates (twin-migration Eq. 9; quantum-DRL Eq. 5)."""

import math

import numpy as np
import pytest
from _ieee import BAD, EDGES, error_of, same_bits

from models.compute import (
    computing_latency_s,
    processing_latency_s,
    processing_latency_scalar_s,
    service_rate_bps,
)

MB = 8e6  # bits per megabyte (1e6 bytes)


def test_service_rate_is_cpu_over_cycles_per_bit():
    # Table I: C_m = 32e9 Hz, e_v = 1000 cycles/bit -> 3.2e7 bit/s
    assert service_rate_bps(32e9, 1000.0) == pytest.approx(3.2e7)
    with pytest.raises(ValueError, match="cycles_per_bit"):
        service_rate_bps(32e9, 0.0)


def test_computing_latency_under_cache_uses_server_cpu():
    # 60 MB at 1000 cycles/bit on 32 GHz: 4.8e8 * 1000 / 32e9 = 15 s
    assert computing_latency_s(60 * MB, 1000.0, 32e9, 300 * MB, 80e9) == pytest.approx(15.0)


def test_computing_latency_overflow_uses_satellite_cpu():
    # 320 MB > 300 MB cache: 2.56e9 * 1000 / 80e9 = 32 s
    assert computing_latency_s(320 * MB, 1000.0, 32e9, 300 * MB, 80e9) == pytest.approx(32.0)


def test_computing_latency_boundary_and_broadcast():
    loads = np.array([300 * MB, 300 * MB + 1.0])
    out = computing_latency_s(loads, 1000.0, np.array([[32e9], [16e9]]), 300 * MB, 80e9)
    assert out.shape == (2, 2)
    # S' = L_max stays on the server (Eq. 9 uses <=)
    assert out[0, 0] == pytest.approx(2.4e9 * 1000 / 32e9)
    assert out[1, 0] == pytest.approx(2.4e9 * 1000 / 16e9)
    assert out[0, 1] == pytest.approx((2.4e9 + 1) * 1000 / 80e9)


def test_computing_latency_rejects_negative_load():
    with pytest.raises(ValueError, match="load_bits"):
        computing_latency_s(-1.0, 1000.0, 32e9, 300 * MB, 80e9)


def test_processing_latency_cycles_over_frequency():
    # 1 MB at 330 cycles/byte (41.25 cycles/bit) on 10 GHz: 3.3e8 / 1e10 = 0.033 s
    assert processing_latency_s(8e6, 330 / 8, 10e9) == pytest.approx(0.033)
    assert processing_latency_s(0.0, 41.25, 0.0) == 0.0


def test_hop_latency_eq5_transmission_plus_processing():
    from models.compute import hop_latency_s

    # 1 MB over 100 Mbit/s (0.08 s) + 41.25 cycles/bit * 8e6 bit / 10 GHz (0.033 s)
    assert hop_latency_s(8e6, 1e8, 41.25, 10e9) == pytest.approx(0.113)
    assert hop_latency_s(8e6, 1e8, 41.25, 10e9, processed=False) == pytest.approx(0.08)


def test_multihop_eq6_sums_active_hops_and_uses_fastest_cpu():
    from models.compute import multihop_latency_s

    rates = np.array([1e8, 5e7, 0.0, 2e8])  # v->b, b->u, (u->u' inactive), u->b
    mask = np.array([1, 1, 0, 1])
    cpus = np.array([8e9, 10e9, 9e9])
    expected = 8e6 / 1e8 + 8e6 / 5e7 + 8e6 / 2e8 + 41.25 * 8e6 / 10e9
    assert multihop_latency_s(8e6, rates, 41.25, cpus, mask) == pytest.approx(expected)
    batch = multihop_latency_s(np.array([8e6, 0.0]), np.stack([rates, rates]), 41.25, cpus, mask)
    np.testing.assert_allclose(batch, [expected, 0.0])


def test_cpu_frequency_eq4_and_c7_clipping():
    from models.compute import cpu_frequency_hz

    np.testing.assert_allclose(cpu_frequency_hz(10e9, [0.0, 0.015, -0.015, 2.0]), [10e9, 9.85e9, 10e9, 0.0])
    assert cpu_frequency_hz(10e9, 0.9, f_min_hz=2e9) == pytest.approx(2e9)


def test_cpu_deviation_distributions_moments():
    from models.compute import draw_cpu_deviation

    rng = np.random.default_rng(0)
    n = 40_000
    a = draw_cpu_deviation(rng, n)  # |CN(0, 0.1)|: Rayleigh, mean sqrt(pi * 0.1) / 2
    mean = math.sqrt(math.pi * 0.1) / 2
    sd = math.sqrt(0.1 * (1 - math.pi / 4))
    assert (a >= 0).all() and abs(a.mean() - mean) < 5 * sd / math.sqrt(n)
    r = draw_cpu_deviation(rng, n, distribution="cn_real")  # N(0, 0.05)
    assert abs(r.var() - 0.05) < 5 * 0.05 * math.sqrt(2 / n)
    u = draw_cpu_deviation(rng, n, distribution="uniform")
    assert (np.abs(u) <= 0.015).all()
    with pytest.raises(ValueError, match="cn_abs"):
        draw_cpu_deviation(rng, 3, distribution="gauss")


def test_dt_cpu_estimate_within_table2_bound():
    from models.compute import dt_cpu_estimate_hz

    est = dt_cpu_estimate_hz(np.random.default_rng(1), np.full(1000, 10e9))
    assert (np.abs(est - 10e9) <= 0.15e9).all() and est.std() > 0


def test_subtask_priority_eq1_hand_value():
    from models.compute import subtask_priority

    c = np.array([100.0, 300.0])  # cycles/bit
    d = np.array([2e6, 6e6])  # bits
    chi = np.array([0.5, 0.9])
    p = subtask_priority(c, d, chi, 0.8, 0.5, alpha=0.5, beta=0.3, gamma=0.2)
    expected0 = (0.5 * 0.25 + 0.3 * 0.25 + 0.2 * 0.5) * 0.8 * 0.5
    expected1 = (0.5 * 0.75 + 0.3 * 0.75 + 0.2 * 0.9) * 0.8 * 0.5
    np.testing.assert_allclose(p, [expected0, expected1])


def test_subtask_priority_eq2_constraint_enforced():
    from models.compute import subtask_priority

    with pytest.raises(ValueError, match="sum to 1"):
        subtask_priority([1.0], [1.0], [0.5], alpha=0.5, beta=0.5, gamma=0.5)
    with pytest.raises(ValueError, match="intrinsic"):
        subtask_priority([1.0], [1.0], [1.5])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy's, at inf * 0 and overflow
def test_processing_latency_scalar_variant_gives_the_same_bits_and_errors():
    values = EDGES + BAD
    for d in values:
        for c in values:
            for f in values:
                err = error_of(processing_latency_s, d, c, f)
                assert error_of(processing_latency_scalar_s, d, c, f) == err, (d, c, f)
                if err is None:
                    assert same_bits(processing_latency_scalar_s(d, c, f), processing_latency_s(d, c, f)), (d, c, f)
    rng = np.random.default_rng(1)
    for d, c, f in 10.0 ** rng.uniform(-3, 10, (2000, 3)):
        assert processing_latency_scalar_s(d, c, f) == float(processing_latency_s(d, c, f))
