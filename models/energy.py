"""Energy and quality of service (quantum-DRL Sec. III, Eq. 48, 54-55, 93).

Energies in J, powers in W, sizes in bits, times in s.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from models._checks import FloatArray
from models._checks import div_scalar as _div
from models._checks import nonneg as _nonneg
from models._checks import nonneg_scalar as _nonneg1


def processing_energy_j(
    bits: ArrayLike, cycles_per_bit: ArrayLike, j_per_cycle: ArrayLike = 1e-6
) -> FloatArray:
    """Processing energy ``xi C D`` in J (quantum-DRL Eq. 54-55, constraints C18-C19).

    Data in bits, complexity in cycles/bit, energy coefficient xi in J/cycle (Table II: 1e-6).
    """
    return _nonneg(j_per_cycle, "j_per_cycle") * _nonneg(cycles_per_bit, "cycles_per_bit") * _nonneg(bits, "bits")


def transmit_energy_j(tx_power_w: ArrayLike, bits: ArrayLike, rate_bps: ArrayLike) -> FloatArray:
    """Transmit energy ``P D / R`` in J (quantum-DRL Sec. III-7, E_v before C9).

    Power in W, data in bits, rate in bit/s; ``inf`` at rate 0 (0 when nothing is sent).  The
    extracted text reads ``E = D / P``; energy is power times the transmission time D/R.
    """
    p = _nonneg(tx_power_w, "tx_power_w")
    d = _nonneg(bits, "bits")
    r = _nonneg(rate_bps, "rate_bps")
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(d == 0, 0.0, d / r)
    with np.errstate(invalid="ignore"):
        return np.where(p == 0, 0.0, p * t)


def processing_energy_scalar_j(bits: float, cycles_per_bit: float, j_per_cycle: float = 1e-6) -> float:
    """:func:`processing_energy_j` of one subtask as a Python float (the same checks, errors
    and operations; numpy's per-call overhead dominates one number)."""
    return _nonneg1(j_per_cycle, "j_per_cycle") * _nonneg1(cycles_per_bit, "cycles_per_bit") * _nonneg1(bits, "bits")


def transmit_energy_scalar_j(tx_power_w: float, bits: float, rate_bps: float) -> float:
    """:func:`transmit_energy_j` of one transmission as a Python float: the same checks, one-line
    errors and IEEE operations (the closed form of Eq. 5–7 asks it per hop, where numpy's
    per-call overhead would dominate)."""
    p = _nonneg1(tx_power_w, "tx_power_w")
    d = _nonneg1(bits, "bits")
    r = _nonneg1(rate_bps, "rate_bps")
    t = 0.0 if d == 0 else _div(d, r)
    return 0.0 if p == 0 else p * t


def qos(latency_s: ArrayLike, energy_j: ArrayLike, *, w_l: float = 0.7, w_e: float = 0.3) -> FloatArray:
    """Quality of service ``w_L / L - w_E E`` (quantum-DRL Eq. 48), in 1/s and J mixed as the paper does.

    Latency in s (> 0), energy in J; weights from Sec. VI (0.7, 0.3).  With L in seconds,
    Q_min = 60 (Table II) corresponds to L <= 11.7 ms at zero energy, consistent with rho = 10 ms.
    """
    lat = _nonneg(latency_s, "latency_s")
    if (lat == 0).any():
        raise ValueError("latency_s must be positive")
    return w_l / lat - w_e * _nonneg(energy_j, "energy_j")


def qos_scalar(latency_s: float, energy_j: float, *, w_l: float = 0.7, w_e: float = 0.3) -> float:
    """:func:`qos` (Eq. 48) of one subtask as a Python float (the same checks, errors and
    operations; numpy's per-call overhead dominates one number)."""
    lat = _nonneg1(latency_s, "latency_s")
    if lat == 0:
        raise ValueError("latency_s must be positive")
    return w_l / lat - w_e * _nonneg1(energy_j, "energy_j")


def qos_normalised(
    latency_s: ArrayLike,
    energy_j: ArrayLike,
    *,
    q_max: float,
    q_min: float = 60.0,
    w_l: float = 0.7,
    w_e: float = 0.3,
    clip: bool = False,
) -> FloatArray:
    """Normalised QoS ``100 (Q - Q_min) / (Q_max - Q_min) + Q_min`` (quantum-DRL Eq. 93), dimensionless score.

    Latency in s, energy in J, weights dimensionless; Q from :func:`qos` (Eq. 48); ``q_min``
    (Table II: 60) and ``q_max`` in Q's units (1/s and J mixed as Eq. 48 does); Q_max is not given
    by the paper and must be passed.  ``clip=True`` limits the result to [0, 100] (Fig. 6 plots
    QoS on that scale).
    """
    if not q_max > q_min:
        raise ValueError(f"q_max must exceed q_min, got q_max={q_max}, q_min={q_min}")
    q = qos(latency_s, energy_j, w_l=w_l, w_e=w_e)
    out = 100.0 * (q - q_min) / (q_max - q_min) + q_min
    return np.clip(out, 0.0, 100.0) if clip else out
