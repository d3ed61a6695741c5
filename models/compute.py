"""Edge computing: service rates, computing latency, CPU frequency, hop latencies, priorities.

Sizes in bits, CPU frequencies in Hz (cycles/s), complexity in cycles/bit, times in s.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from models._checks import FloatArray
from models._checks import div_scalar as _div
from models._checks import nonneg as _nonneg
from models._checks import nonneg_scalar as _nonneg1
from models._checks import positive as _positive


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


def processing_latency_scalar_s(bits: float, cycles_per_bit: float, cpu_hz: float) -> float:
    """:func:`processing_latency_s` of one subtask as a Python float (the same checks, errors
    and IEEE operations; numpy's per-call overhead dominates one number)."""
    d = _nonneg1(bits, "bits")
    c = _nonneg1(cycles_per_bit, "cycles_per_bit")
    f = _nonneg1(cpu_hz, "cpu_hz")
    work = c * d
    return 0.0 if work == 0 else _div(work, f)


def hop_latency_s(
    bits: ArrayLike,
    rate_bps: ArrayLike,
    cycles_per_bit: ArrayLike,
    cpu_hz: ArrayLike,
    processed: ArrayLike = True,
) -> FloatArray:
    """One-hop offloading latency ``D/R + kappa C D / f_cpu`` in s (quantum-DRL Eq. 5a-5e).

    Data in bits, link rate in bit/s, complexity in cycles/bit, CPU frequency of the receiving
    node in Hz; ``processed`` is kappa (True: the node processes the task, False: forwards it).
    """
    d = _nonneg(bits, "bits")
    r = _nonneg(rate_bps, "rate_bps")
    with np.errstate(divide="ignore", invalid="ignore"):
        tx = np.where(d == 0, 0.0, d / r)
    kappa = np.asarray(processed, dtype=bool)
    return tx + np.where(kappa, processing_latency_s(d, cycles_per_bit, cpu_hz), 0.0)


def multihop_latency_s(
    bits: ArrayLike,
    hop_rates_bps: ArrayLike,
    cycles_per_bit: ArrayLike,
    cpu_hz: ArrayLike,
    hop_mask: ArrayLike | None = None,
) -> FloatArray:
    """Multi-hop offloading latency ``sum_h Gamma_h D / R_h + C D / max_z f_cpu^z`` in s (quantum-DRL Eq. 6-7).

    ``hop_rates_bps`` (..., H) are the rates of the path's hops (vehicle->first node, then
    node->node), ``hop_mask`` (..., H) the binary Gamma variables (all hops active if None;
    an inactive hop contributes nothing even at rate 0), ``cpu_hz`` (..., Z) the CPU frequencies
    of the candidate nodes: the task runs on the fastest, as in the paper.  ``bits`` and
    ``cycles_per_bit`` broadcast against the leading axes.
    """
    d = _nonneg(bits, "bits")
    r = _nonneg(hop_rates_bps, "hop_rates_bps")
    if r.ndim < 1:
        raise ValueError("hop_rates_bps needs a last axis of hops")
    f = _nonneg(cpu_hz, "cpu_hz")
    if f.ndim < 1 or f.shape[-1] < 1:
        raise ValueError("cpu_hz needs a last axis of candidate nodes")
    mask = np.ones(r.shape, dtype=bool) if hop_mask is None else np.asarray(hop_mask, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_hop = np.where(mask & (d[..., None] > 0), d[..., None] / r, 0.0)
    return per_hop.sum(axis=-1) + processing_latency_s(d, cycles_per_bit, f.max(axis=-1))


CPU_DEVIATIONS = ("cn_abs", "cn_real", "uniform")


def draw_cpu_deviation(
    rng: np.random.Generator,
    size: int | tuple[int, ...],
    *,
    distribution: str = "cn_abs",
    variance: float = 0.1,
    half_width: float = 0.015,
) -> FloatArray:
    """Relative CPU-frequency deviation Delta f of quantum-DRL Eq. 4, dimensionless.

    The paper draws Delta f from CN(0, 0.1), a complex law for a real frequency factor:
    ``"cn_abs"`` takes ``|CN(0, variance)|`` (Rayleigh, >= 0, so f_cpu <= f_max as constraint
    C7 / Eq. 45 demands; mean sqrt(pi variance)/2 = 0.28), ``"cn_real"`` its real part
    ``N(0, variance/2)``; ``"uniform"`` draws ``U(-half_width, half_width)`` (Table II's
    +-0.15 GHz on 10 GHz is half_width = 0.015).
    """
    shape = (size,) if isinstance(size, int) else tuple(size)
    if distribution == "cn_abs":
        z = np.sqrt(variance / 2.0) * (rng.standard_normal(shape) + 1j * rng.standard_normal(shape))
        return np.abs(z)
    if distribution == "cn_real":
        return np.sqrt(variance / 2.0) * rng.standard_normal(shape)
    if distribution == "uniform":
        return rng.uniform(-half_width, half_width, shape)
    raise ValueError(f"unknown CPU deviation distribution {distribution!r}; allowed: {', '.join(CPU_DEVIATIONS)}")


def cpu_frequency_hz(
    f_max_hz: ArrayLike, deviation: ArrayLike, *, f_min_hz: ArrayLike = 0.0
) -> FloatArray:
    """Available CPU frequency ``f_max - Delta f f_max`` in Hz, kept in [f_min, f_max] (quantum-DRL Eq. 4, 45).

    ``f_max_hz`` in Hz, ``deviation`` the relative Delta f (see :func:`draw_cpu_deviation`).
    """
    fmax = _nonneg(f_max_hz, "f_max_hz")
    fmin = _nonneg(f_min_hz, "f_min_hz")
    if (fmin > fmax).any():
        raise ValueError("f_min_hz must not exceed f_max_hz")
    dev = np.asarray(deviation, dtype=np.float64)
    return np.clip(fmax - dev * fmax, fmin, fmax)


def dt_cpu_estimate_hz(
    rng: np.random.Generator, cpu_hz: ArrayLike, max_error_hz: float = 0.15e9
) -> FloatArray:
    """Digital twin's estimate of a CPU frequency, true value +- a uniform error, Hz (quantum-DRL Sec. II-B, Table II).

    The DT's estimated deviation ``f_bar`` is +-0.15 GHz in Table II; drawn ``U(-e, e)``.
    """
    f = _nonneg(cpu_hz, "cpu_hz")
    if not max_error_hz >= 0:
        raise ValueError(f"max_error_hz must be non-negative, got {max_error_hz}")
    return np.maximum(f + rng.uniform(-max_error_hz, max_error_hz, f.shape), 0.0)


def subtask_priority(
    complexity: ArrayLike,
    data_bits: ArrayLike,
    intrinsic: ArrayLike,
    complexity_weight: ArrayLike = 1.0,
    size_weight: ArrayLike = 1.0,
    *,
    alpha: float = 1 / 3,
    beta: float = 1 / 3,
    gamma: float = 1 / 3,
    axis: int = -1,
) -> FloatArray:
    """Subtask priority (quantum-DRL Eq. 1-2), dimensionless.

    ``(alpha C_j / sum_k C_k + beta D_j / sum_k D_k + gamma chi_j) varpi_j kappa_j`` where the sums
    run over the subtasks of one task along ``axis``.  C in cycles/bit, D in bits (only ratios
    matter), intrinsic priority chi and the weights varpi, kappa in [0, 1];
    ``alpha + beta + gamma = 1`` with each in (0, 1) (Eq. 2).
    """
    coeffs = np.array([alpha, beta, gamma], dtype=np.float64)
    if not ((coeffs > 0) & (coeffs < 1)).all() or abs(coeffs.sum() - 1.0) > 1e-9:
        raise ValueError(f"alpha, beta, gamma must lie in (0, 1) and sum to 1 (Eq. 2), got {alpha}, {beta}, {gamma}")
    c = _nonneg(complexity, "complexity")
    d = _nonneg(data_bits, "data_bits")
    arrays = {"intrinsic": intrinsic, "complexity_weight": complexity_weight, "size_weight": size_weight}
    chi, w_c, w_d = (np.asarray(v, dtype=np.float64) for v in arrays.values())
    for name, v in zip(arrays, (chi, w_c, w_d), strict=True):
        if ((v < 0) | (v > 1)).any():
            raise ValueError(f"{name} must lie in [0, 1]")
    c_sum = c.sum(axis=axis, keepdims=True)
    d_sum = d.sum(axis=axis, keepdims=True)
    if (c_sum == 0).any() or (d_sum == 0).any():
        raise ValueError("each task needs a positive total complexity and data size")
    return (alpha * c / c_sum + beta * d / d_sum + gamma * chi) * w_c * w_d
