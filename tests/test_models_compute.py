"""Computing latency and service rates (twin-migration Eq. 9; quantum-DRL Eq. 5)."""

import numpy as np
import pytest

from models.compute import computing_latency_s, processing_latency_s, service_rate_bps

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
