"""Small-scale fading, antenna arrays, Doppler and imperfect CSI (quantum-DRL Sec. II-D).

Complex baseband channel coefficients are normalised to unit mean power (E|h|^2 = 1); the
large-scale path gain multiplies them.  All random draws come from a passed
``numpy.random.Generator``.  Angles in radians, lengths in m, frequencies in Hz.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from models._checks import FloatArray

ComplexArray = NDArray[np.complex128]
Shape = int | tuple[int, ...]


def _shape(size: Shape) -> tuple[int, ...]:
    return (size,) if isinstance(size, int | np.integer) else tuple(size)


def _cn(rng: np.random.Generator, shape: tuple[int, ...], variance: float = 1.0) -> ComplexArray:
    s = np.sqrt(variance / 2.0)
    return s * (rng.standard_normal(shape) + 1j * rng.standard_normal(shape))


def rayleigh(rng: np.random.Generator, size: Shape) -> ComplexArray:
    """Rayleigh-fading coefficients ``h ~ CN(0, 1)`` (quantum-DRL Sec. II-D1), unit mean power.

    ``|h|`` is Rayleigh with scale 1/sqrt(2); ``|h|^2`` is Exp(1).
    """
    return _cn(rng, _shape(size))


def rician(
    rng: np.random.Generator,
    size: Shape,
    k_factor: float = 6.0,
    *,
    n_paths: int | None = None,
    doppler_hz: ArrayLike = 0.0,
    tau_s: float = 0.0,
    los_phase_rad: ArrayLike | None = None,
) -> ComplexArray:
    """Rician coefficients ``sqrt(K/(K+1)) e^{j phi} e^{j 2 pi f_d tau} + sqrt(1/(K+1)) h_NLoS`` (quantum-DRL Eq. 24-25).

    Unit mean power.  ``k_factor`` K (linear; the paper uses 6).  ``h_LoS = e^{j phi}`` with
    phi uniform on [0, 2 pi) unless ``los_phase_rad`` is given.  ``h_NLoS = N^{-1/2} sum_i
    e^{j theta_i}`` over ``n_paths`` = N uniform phases (Eq. 25); ``None`` takes the
    N -> infinity limit CN(0, 1).  The Doppler rotation (Hz, over ``tau_s`` s) multiplies the
    LoS term as in Eq. 24.
    """
    if not k_factor >= 0:
        raise ValueError(f"k_factor must be non-negative, got {k_factor}")
    shape = _shape(size)
    if los_phase_rad is None:
        phi = rng.uniform(0.0, 2.0 * np.pi, shape)
    else:
        phi = np.broadcast_to(np.asarray(los_phase_rad, dtype=np.float64), shape)
    if n_paths is None:
        nlos = _cn(rng, shape)
    else:
        if n_paths < 1:
            raise ValueError(f"n_paths must be >= 1, got {n_paths}")
        theta = rng.uniform(0.0, 2.0 * np.pi, shape + (int(n_paths),))
        nlos = np.exp(1j * theta).sum(axis=-1) / np.sqrt(n_paths)
    rot = np.exp(1j * 2.0 * np.pi * np.asarray(doppler_hz, dtype=np.float64) * tau_s)
    return np.sqrt(k_factor / (k_factor + 1.0)) * np.exp(1j * phi) * rot + np.sqrt(1.0 / (k_factor + 1.0)) * nlos


def steering_vector(
    n_antennas: int, aoa_rad: ArrayLike, spacing_m: float, wavelength_m: float
) -> ComplexArray:
    """ULA steering vector ``[1, e^{j 2 pi delta sin(theta)/lambda}, ..., e^{j 2 pi delta (M-1) sin(theta)/lambda}]`` (quantum-DRL Eq. 14).

    ``aoa_rad`` any shape; returns ``aoa.shape + (M,)``, unit-modulus entries (||a||^2 = M).
    Spacing delta and wavelength lambda in m (Table II: 0.005 m and 0.009 m).
    """
    if int(n_antennas) < 1:
        raise ValueError(f"n_antennas must be >= 1, got {n_antennas}")
    if not (spacing_m >= 0 and wavelength_m > 0):
        raise ValueError(f"need spacing_m >= 0 and wavelength_m > 0, got {spacing_m}, {wavelength_m}")
    theta = np.asarray(aoa_rad, dtype=np.float64)
    m = np.arange(int(n_antennas))
    return np.exp(1j * 2.0 * np.pi * spacing_m / wavelength_m * np.sin(theta)[..., None] * m)


def doppler_shift_hz(speed_mps: ArrayLike, angle_rad: ArrayLike, wavelength_m: float) -> FloatArray:
    """Doppler shift ``f_d = V cos(phi) / lambda`` in Hz (quantum-DRL Eq. 21).

    Relative speed in m/s, angle between motion and the line of sight in rad, wavelength in m.
    """
    if not wavelength_m > 0:
        raise ValueError(f"wavelength_m must be positive, got {wavelength_m}")
    return np.asarray(speed_mps, dtype=np.float64) * np.cos(np.asarray(angle_rad, dtype=np.float64)) / wavelength_m


def draw_doppler_angle(rng: np.random.Generator, size: Shape) -> FloatArray:
    """Angle of motion relative to the LoS, ``phi ~ U(-90 deg, +90 deg)`` in rad (quantum-DRL Eq. 21)."""
    return rng.uniform(-np.pi / 2.0, np.pi / 2.0, _shape(size))


def bounded_csi_error(
    rng: np.random.Generator,
    size: Shape,
    n_antennas: int,
    variance: float = 0.05,
    *,
    bound: float | None = None,
) -> ComplexArray:
    """Bounded CSI error vectors ``eps`` with ``||eps|| <= tau`` (quantum-DRL Eq. 12), shape ``size + (M,)``.

    Drawn uniformly in the ball of radius tau of C^M (= R^{2M}): zero mean, uncorrelated entries of
    variance ``E|eps_i|^2 = tau^2 / (M + 1)``.  By default tau = sqrt((M + 1) variance) so the
    entry variance equals ``variance`` (Table/Sec. II-D: 0.05 or 0.10); ``bound`` sets tau directly.
    """
    m = int(n_antennas)
    if m < 1:
        raise ValueError(f"n_antennas must be >= 1, got {n_antennas}")
    if not variance >= 0:
        raise ValueError(f"variance must be non-negative, got {variance}")
    tau = np.sqrt((m + 1) * variance) if bound is None else float(bound)
    if not tau >= 0:
        raise ValueError(f"bound must be non-negative, got {bound}")
    shape = _shape(size)
    g = rng.standard_normal(shape + (2 * m,))
    norm = np.linalg.norm(g, axis=-1, keepdims=True)
    norm = np.where(norm > 0, norm, 1.0)
    radius = tau * rng.uniform(0.0, 1.0, shape + (1,)) ** (1.0 / (2 * m))
    x = g / norm * radius
    return x[..., :m] + 1j * x[..., m:]


def simo_channel(
    rng: np.random.Generator,
    gain_linear: ArrayLike,
    aoa_rad: ArrayLike,
    n_antennas: int,
    *,
    spacing_m: float,
    wavelength_m: float,
    doppler_hz: ArrayLike = 0.0,
    tau_s: float = 0.0,
    csi_variance: float = 0.0,
) -> tuple[ComplexArray, ComplexArray]:
    """Vehicle-to-BS channel ``h = sqrt(PL) e^{j 2 pi f_d tau} (a(theta) + eps)`` (quantum-DRL Eq. 11-14).

    Returns ``(h_true, h_est)``, each ``broadcast(gain, aoa, doppler).shape + (M,)``: the estimate
    is ``sqrt(PL) e^{...} a(theta)`` (Eq. 13), the true channel adds the bounded error of Eq. 12.
    ``gain_linear`` is the linear path gain (``10^(-PL_dB/10)``).
    """
    g = np.asarray(gain_linear, dtype=np.float64)
    if (g < 0).any():
        raise ValueError("gain_linear must be non-negative")
    shape = np.broadcast_shapes(g.shape, np.shape(aoa_rad), np.shape(doppler_hz))
    a = steering_vector(n_antennas, np.broadcast_to(aoa_rad, shape), spacing_m, wavelength_m)
    scale = np.sqrt(np.broadcast_to(g, shape)) * np.exp(
        1j * 2.0 * np.pi * np.broadcast_to(np.asarray(doppler_hz, dtype=np.float64), shape) * tau_s
    )
    h_est = scale[..., None] * a
    if csi_variance > 0:
        eps = bounded_csi_error(rng, shape, n_antennas, csi_variance)
        return h_est + scale[..., None] * eps, h_est
    return h_est, h_est.copy()


def mrc_gain(h: ArrayLike, h_est: ArrayLike | None = None) -> FloatArray:
    """Effective power gain of maximum-ratio combining / transmission over the last axis (quantum-DRL Eq. 22, 34, 36).

    Perfect CSI: ``||h||^2`` (SIMO MRC and MISO MRT alike).  With a mismatched estimate the
    weights ``w = h_est / ||h_est||`` give ``|h_est^H h|^2 / ||h_est||^2 <= ||h||^2``.
    """
    ha = np.asarray(h)
    if h_est is None:
        return np.sum(np.abs(ha) ** 2, axis=-1)
    he = np.asarray(h_est)
    num = np.abs(np.sum(np.conj(he) * ha, axis=-1)) ** 2
    den = np.sum(np.abs(he) ** 2, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, 0.0)


def shadowing_db(rng: np.random.Generator, sigma_db: float, size: Shape) -> FloatArray:
    """Log-normal shadow fading in dB, ``N(0, sigma^2)`` (TR 38.901 Table 7.4.1-1: 4 dB UMa LOS, 6 dB NLOS)."""
    if not sigma_db >= 0:
        raise ValueError(f"sigma_db must be non-negative, got {sigma_db}")
    return sigma_db * rng.standard_normal(_shape(size))
