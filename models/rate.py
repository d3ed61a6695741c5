"""Link rates and transmission latency: Shannon and finite-blocklength, unit conversions.

Powers in W (or dBm where the name says so), bandwidths in Hz, rates in bit/s, sizes in bits,
times in s.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from models._checks import FloatArray
from models._checks import nonneg as _nonneg


def _f(x: ArrayLike) -> FloatArray:
    return np.asarray(x, dtype=np.float64)


def db_to_linear(x: ArrayLike) -> FloatArray:
    """Power ratio from dB: ``10^(x/10)`` (quantum-DRL Eq. 11 conversion)."""
    return 10.0 ** (_f(x) / 10.0)


def linear_to_db(x: ArrayLike) -> FloatArray:
    """Power ratio to dB: ``10 log10(x)``; 0 gives -inf."""
    a = _nonneg(x, "x")
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(a)


def dbm_to_w(x: ArrayLike) -> FloatArray:
    """Power in dBm to W: ``10^((x - 30)/10)`` (overflow gives ``inf``, silently)."""
    with np.errstate(over="ignore"):
        return 10.0 ** ((_f(x) - 30.0) / 10.0)


def w_to_dbm(x: ArrayLike) -> FloatArray:
    """Power in W to dBm: ``10 log10(x) + 30``; 0 W gives -inf."""
    return linear_to_db(x) + 30.0


def thermal_noise_w(
    bandwidth_hz: ArrayLike, noise_figure_db: ArrayLike = 0.0, density_dbm_per_hz: ArrayLike = -174.0
) -> FloatArray:
    """Receiver noise power ``N0 B F`` in W, N0 = -174 dBm/Hz (kT at 290 K) by default."""
    b = _nonneg(bandwidth_hz, "bandwidth_hz")
    with np.errstate(divide="ignore"):
        return dbm_to_w(_f(density_dbm_per_hz) + 10.0 * np.log10(b) + _f(noise_figure_db))


def snr_linear(tx_power_w: ArrayLike, gain_linear: ArrayLike, noise_w: ArrayLike) -> FloatArray:
    """Signal-to-noise ratio ``p h / sigma^2`` (twin-migration Eq. 4-5; quantum-DRL Eq. 22, 30).

    Transmit power in W, linear power gain, noise power in W; dimensionless.
    """
    p = _nonneg(tx_power_w, "tx_power_w")
    h = _nonneg(gain_linear, "gain_linear")
    n = _nonneg(noise_w, "noise_w")
    if (n == 0).any():
        raise ValueError("noise_w must be positive")
    return p * h / n


def sinr_linear(
    signal_w: ArrayLike, noise_w: ArrayLike, interference_w: ArrayLike = 0.0
) -> FloatArray:
    """SINR ``S / (N + I)`` from received powers in W (quantum-DRL Eq. 22, 30, 32, 34, 36)."""
    s = _nonneg(signal_w, "signal_w")
    n = _nonneg(noise_w, "noise_w")
    i = _nonneg(interference_w, "interference_w")
    den = n + i
    if (den == 0).any():
        raise ValueError("noise_w + interference_w must be positive")
    return s / den


def sinr_linear_dbm(
    signal_dbm: ArrayLike, noise_dbm: ArrayLike, interference_dbm: ArrayLike | None = None
) -> FloatArray:
    """SINR from received powers in dBm (interference optional); dimensionless."""
    i = 0.0 if interference_dbm is None else dbm_to_w(interference_dbm)
    return sinr_linear(dbm_to_w(signal_dbm), dbm_to_w(noise_dbm), i)


def shannon_bps(bandwidth_hz: ArrayLike, snr_linear: ArrayLike) -> FloatArray:
    """Shannon rate ``B log2(1 + SNR)`` in bit/s (twin-migration Eq. 4, 5, 11).

    The paper writes ``log``; bit/s requires base 2.  Bandwidth in Hz, SNR linear.
    """
    b = _nonneg(bandwidth_hz, "bandwidth_hz")
    g = _nonneg(snr_linear, "snr_linear")
    return b * np.log2(1.0 + g)


def channel_dispersion(snr_linear: ArrayLike) -> FloatArray:
    """AWGN channel dispersion ``V = 1 - (1 + gamma)^-2`` in nats^2 (quantum-DRL Eq. 23)."""
    g = _nonneg(snr_linear, "snr_linear")
    return 1.0 - (1.0 + g) ** -2.0


def fbl_rate_bps(
    bandwidth_hz: ArrayLike,
    snr_linear: ArrayLike,
    blocklength: ArrayLike,
    error_prob: ArrayLike,
) -> FloatArray:
    """Finite-blocklength (normal approximation) rate in bit/s, clipped at 0 (quantum-DRL Eq. 23/31/33/35/37).

    ``B [log2(1 + g) - sqrt(V/n) Q^-1(eps) / ln 2]`` with ``V = 1 - (1 + g)^-2`` (Polyanskiy,
    Poor, Verdu 2010, without the O(log n / n) term).  Bandwidth in Hz, SNR linear, blocklength
    n in channel uses (> 0; ``inf`` gives Shannon), error probability in (0, 1).
    """
    b = _nonneg(bandwidth_hz, "bandwidth_hz")
    g = _nonneg(snr_linear, "snr_linear")
    n = _f(blocklength)
    eps = _f(error_prob)
    if not (n > 0).all():
        raise ValueError(f"blocklength must be positive, got {np.ravel(n)[:3]}")
    if not ((eps > 0) & (eps < 1)).all():
        raise ValueError(f"error_prob must lie in (0, 1), got {np.ravel(eps)[:3]}")
    from scipy.special import (
        ndtri,  # here, not at the top: desim_iov.config.units imports this module
    )

    q_inv = -ndtri(eps)  # Q^-1(eps) = Phi^-1(1 - eps)
    v = 1.0 - (1.0 + g) ** -2.0
    per_hz = np.log2(1.0 + g) - np.sqrt(v / n) * q_inv / np.log(2.0)
    return b * np.maximum(per_hz, 0.0)


def transmission_latency_s(bits: ArrayLike, rate_bps: ArrayLike) -> FloatArray:
    """Transmission time ``S / R`` in s (twin-migration Eq. 6, 7, 12; quantum-DRL Eq. 5).

    Size in bits, rate in bit/s; ``inf`` where the rate is 0 (0 when there is nothing to send).
    """
    s = _nonneg(bits, "bits")
    r = _nonneg(rate_bps, "rate_bps")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = s / r
    return np.where(s == 0, 0.0, out)


RATES = {
    "shannon": shannon_bps,
    "fbl": fbl_rate_bps,
}
"""Rate models by name; ``shannon(bandwidth_hz, snr)``, ``fbl(bandwidth_hz, snr, blocklength, error_prob)``."""
