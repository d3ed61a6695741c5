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
    """Rayleigh-fading coefficients ``h ~ CN(0, 1)`` (quantum-DRL Sec. II-D1), complex, dimensionless.

    Unit mean power: ``|h|`` is Rayleigh with scale 1/sqrt(2); ``|h|^2`` is Exp(1).
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

    Complex, dimensionless, unit mean power.  ``k_factor`` K (linear ratio of LoS to scattered
    power, dimensionless; the paper uses 6).  ``h_LoS = e^{j phi}`` with
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

    ``aoa_rad`` (rad) any shape; returns ``aoa.shape + (M,)`` complex, dimensionless,
    unit-modulus entries (||a||^2 = M).
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
    """Angle of motion relative to the LoS, ``phi ~ U(-90 deg, +90 deg)``, in rad (quantum-DRL Eq. 21)."""
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

    Complex and dimensionless, on the scale of the unit-modulus steering vector it perturbs.

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
    ``gain_linear`` is the linear path gain (``10^(-PL_dB/10)``, dimensionless); the returned
    amplitudes are complex and dimensionless (their squared modulus is a power gain).  Angles in
    rad, spacing and wavelength in m, Doppler in Hz, ``tau_s`` in s.
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

    Dimensionless (linear).
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
    """Log-normal shadow fading in dB, ``N(0, sigma^2)`` (TR 38.901 Table 7.4.1-1: 4 dB UMa LOS, 6 dB NLOS).

    ``sigma_db`` in dB; the result is in dB (add it to a path loss in dB).
    """
    if not sigma_db >= 0:
        raise ValueError(f"sigma_db must be non-negative, got {sigma_db}")
    return sigma_db * rng.standard_normal(_shape(size))


FADING_MODELS: tuple[str, ...] = ("none", "rayleigh", "rician")
"""Names accepted by :func:`small_scale_gain` (the scenario key ``channel.fading``)."""


def small_scale_gain(
    model: str,
    rng: np.random.Generator,
    shape: Shape,
    *,
    k_factor: ArrayLike = 6.0,
    antennas: ArrayLike = 1,
) -> FloatArray:
    """Small-scale power gain of every link, dimensionless (linear), shape ``shape``.

    One i.i.d. draw per link and antenna, for the kernel to redraw each mobility step and
    multiply into the large-scale gain.  Per antenna the coefficient has unit mean power:
    ``"rayleigh"`` ``h ~ CN(0, 1)`` (Sec. II-D1), ``"rician"`` ``sqrt(K/(K+1)) e^{j phi} +
    sqrt(1/(K+1)) CN(0, 1)`` (quantum-DRL Eq. 24-25, N -> infinity scatterers; the power depends
    only on the scattered term's phase relative to the LoS and Doppler phases, so only that is drawn).  With ``antennas`` = M the gain is the
    maximum-ratio combining/transmission gain with perfect CSI, ``sum_i |h_i|^2`` (Eq. 22, 34, 36),
    mean M, i.i.d. antennas.  ``"none"`` returns M (the array gain alone) and draws nothing.

    ``k_factor`` K (linear, >= 0) and ``antennas`` (integers >= 1) broadcast to ``shape``
    (e.g. ``(M_servers,)`` for a ``(V, M_servers)`` link matrix).  Common random numbers: for a
    given shape and antenna configuration ``"rayleigh"`` and ``"rician"`` consume exactly
    ``2 * prod(shape) * max(antennas)`` uniform doubles (``rng.random``), whatever K or the
    values drawn, and use them identically (K = 0 Rician equals Rayleigh draw for draw):
    ``|h_NLoS|^2 = -ln(1 - u1)`` (Exp(1)) and its phase ``2 pi u2``.
    """
    if model not in FADING_MODELS:
        raise ValueError(f"unknown fading model {model!r}; allowed: {', '.join(FADING_MODELS)}")
    shp = _shape(shape)
    m = np.asarray(antennas)
    if m.dtype == np.bool_ or not np.issubdtype(m.dtype, np.number):
        raise ValueError(f"antennas must be integers >= 1, got {antennas!r}")
    if not ((m >= 1) & (m == np.floor(m))).all():
        raise ValueError(f"antennas must be integers >= 1, got {np.ravel(m)[:3]}")
    try:
        m = np.broadcast_to(m, shp)
    except ValueError:
        raise ValueError(f"antennas of shape {m.shape} do not broadcast to the link shape {shp}") from None
    k = np.asarray(k_factor, dtype=np.float64)
    if not (np.isfinite(k) & (k >= 0)).all():
        raise ValueError(f"k_factor must be finite and >= 0, got {np.ravel(k)[:3]}")
    try:
        k = np.broadcast_to(k, shp)[..., None]
    except ValueError:
        raise ValueError(f"k_factor of shape {k.shape} does not broadcast to the link shape {shp}") from None
    if model == "none":
        return m.astype(np.float64)
    n_ant = int(m.max()) if m.size else 1
    u = rng.random(shp + (n_ant, 2))  # exactly two doubles per link and antenna
    return gain_from_uniforms(model, u, k, m)


def gain_from_uniforms(model: str, u: FloatArray, k: FloatArray, m: NDArray[np.integer]) -> FloatArray:
    """:func:`small_scale_gain`'s power gains from its uniforms ``u`` (shape + (n_ant, 2)),
    K-factors ``k`` (broadcast to shape + (1,)) and antenna counts ``m`` (broadcast to shape):
    the same operations in the same order, so that the batched slot env (desim_iov/vector),
    which draws many steps' uniforms in one block, gets the same bits (quantum-DRL Eq. 22,
    24-25)."""
    n_ant = u.shape[-2]
    scatter = -np.log1p(-u[..., 0])  # |CN(0, 1)|^2 ~ Exp(1) by inversion
    if model == "rician":
        # |sqrt(K) + sqrt(E) e^{j theta}|^2 / (K + 1), theta the scattered term's phase
        cos = np.cos(2.0 * np.pi * u[..., 1])
        per_antenna = (k + scatter + 2.0 * np.sqrt(k * scatter) * cos) / (k + 1.0)
    else:
        per_antenna = scatter
    if n_ant > 1:
        per_antenna = np.where(np.arange(n_ant) < m[..., None], per_antenna, 0.0)
    return per_antenna.sum(axis=-1)
