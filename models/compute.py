"""Edge computing: service rates, computing latency, CPU frequency, hop latencies, priorities.

Sizes in bits, CPU frequencies in Hz (cycles/s), complexity in cycles/bit, times in s.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


def _nonneg(x: ArrayLike, name: str) -> FloatArray:
    a = np.asarray(x, dtype=np.float64)
    if np.isnan(a).any():
        raise ValueError(f"{name} contains NaN")
    if (a < 0).any():
        raise ValueError(f"{name} must be non-negative, got {a[a < 0].ravel()[:3]}")
    return a


def _positive(x: ArrayLike, name: str) -> FloatArray:
    a = np.asarray(x, dtype=np.float64)
    if not (a > 0).all():
        raise ValueError(f"{name} must be positive, got {np.ravel(a)[:3]}")
    return a


def service_rate_bps(cpu_hz: ArrayLike, cycles_per_bit: ArrayLike) -> FloatArray:
    """Processing throughput ``C_m / e_v`` in bit/s (the rate behind twin-migration Eq. 9).

    CPU frequency in cycles/s (Hz), complexity in cycles/bit (> 0).
    """
    return _nonneg(cpu_hz, "cpu_hz") / _positive(cycles_per_bit, "cycles_per_bit")


def computing_latency_s(
    load_bits: ArrayLike,
    cycles_per_bit: ArrayLike,
    cpu_hz: ArrayLike,
    cache_bits: ArrayLike,
    overflow_cpu_hz: ArrayLike,
) -> FloatArray:
    """Computing latency with satellite overflow, s (twin-migration Eq. 9).

    ``e_v S' / C_m`` if ``S' <= L_max`` else ``e_v S' / C_s``: load S' (Eq. 8a) and cache
    capacity L_max in bits, e_v in cycles/bit, C_m (server) and C_s (satellite) in Hz.
    """
    s = _nonneg(load_bits, "load_bits")
    e = _nonneg(cycles_per_bit, "cycles_per_bit")
    cm = _positive(cpu_hz, "cpu_hz")
    lmax = _nonneg(cache_bits, "cache_bits")
    cs = _positive(overflow_cpu_hz, "overflow_cpu_hz")
    return e * s / np.where(s <= lmax, cm, cs)


def processing_latency_s(bits: ArrayLike, cycles_per_bit: ArrayLike, cpu_hz: ArrayLike) -> FloatArray:
    """Processing time ``C D / f_cpu`` in s (quantum-DRL Eq. 5, second term).

    Data in bits, complexity in cycles/bit, CPU frequency in Hz (0 gives ``inf`` for work > 0).
    """
    d = _nonneg(bits, "bits")
    c = _nonneg(cycles_per_bit, "cycles_per_bit")
    f = _nonneg(cpu_hz, "cpu_hz")
    work = c * d
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(work == 0, 0.0, work / f)
