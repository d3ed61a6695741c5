"""Large-scale path loss models, selected by name.

Every model returns the path *loss* in dB (a positive number for d >> wavelength); the linear
channel power gain is ``10 ** (-PL / 10)`` (:func:`gain_from_path_loss_db`).  Distances are in
metres and frequencies in Hz at the API; models that are written in km or MHz/GHz convert
internally.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from models._checks import FloatArray, nonneg, positive

SPEED_OF_LIGHT_MPS = 3.0e8
"""Speed of light as used by both papers (twin-migration Eq. 3, quantum-DRL Table II), m/s."""




def free_space_gain(distance_m: ArrayLike, freq_hz: ArrayLike, coefficient: float = 1.0) -> FloatArray:
    """Linear channel power gain ``A (c / (4 pi f d))^2`` (twin-migration Eq. 3), dimensionless.

    ``distance_m`` in metres (0 gives ``inf``), ``freq_hz`` in Hz, ``coefficient`` is the
    paper's channel increment coefficient A (1 in the paper's scenarios), c = 3e8 m/s.
    """
    d = nonneg(distance_m, "distance_m")
    f = positive(freq_hz, "freq_hz")
    if not coefficient > 0:
        raise ValueError(f"coefficient must be positive, got {coefficient}")
    with np.errstate(divide="ignore"):
        return coefficient * (SPEED_OF_LIGHT_MPS / (4.0 * np.pi * f * d)) ** 2


def free_space(distance_m: ArrayLike, freq_hz: ArrayLike, *, coefficient: float = 1.0) -> FloatArray:
    """Friis free-space path loss ``20 log10(4 pi f d / c) - 10 log10(A)`` in dB (twin-migration Eq. 3).

    Metres and Hz; the same law as :func:`free_space_gain` expressed as a loss.
    """
    d = nonneg(distance_m, "distance_m")
    f = positive(freq_hz, "freq_hz")
    if not coefficient > 0:
        raise ValueError(f"coefficient must be positive, got {coefficient}")
    with np.errstate(divide="ignore"):
        return 20.0 * np.log10(4.0 * np.pi * f * d / SPEED_OF_LIGHT_MPS) - 10.0 * np.log10(coefficient)


def _check_strict(strict: bool, ok: NDArray[np.bool_] | bool, what: str) -> None:
    if strict and not np.all(ok):
        raise ValueError(f"outside the model's validity range: {what}")


def log_distance(
    distance_m: ArrayLike,
    freq_hz: ArrayLike,
    *,
    exponent: float = 2.0,
    d0_m: float = 1.0,
    pl0_db: float | None = None,
) -> FloatArray:
    """Log-distance path loss ``PL0 + 10 alpha log10(d / d0)`` in dB (quantum-DRL Eq. 26).

    Eq. 26 in linear form is ``PL0 (d/d0)^-alpha``.  ``pl0_db`` defaults to the Friis loss at
    the reference distance ``d0_m`` (m) and ``freq_hz`` (Hz); ``exponent`` is alpha_PL (Table II:
    2.25-2.75).  Distances below d0 are held at d0.
    """
    d = nonneg(distance_m, "distance_m")
    f = positive(freq_hz, "freq_hz")
    if not d0_m > 0:
        raise ValueError(f"d0_m must be positive, got {d0_m}")
    if not exponent > 0:
        raise ValueError(f"exponent must be positive, got {exponent}")
    pl0 = free_space(d0_m, f) if pl0_db is None else np.asarray(pl0_db, dtype=np.float64)
    return pl0 + 10.0 * exponent * np.log10(np.maximum(d, d0_m) / d0_m)


def okumura_hata(
    distance_m: ArrayLike,
    freq_hz: ArrayLike,
    *,
    h_bs: float = 30.0,
    h_ut: float = 1.5,
    city: str = "medium",
    strict: bool = False,
) -> FloatArray:
    """Okumura-Hata urban path loss in dB (quantum-DRL Eq. 15).

    ``69.55 + 26.16 log f - 13.82 log h_bs - a(h_ut) + (44.9 - 6.55 log h_bs) log d`` with f in
    MHz and d in km (converted from ``freq_hz`` and ``distance_m``), antenna heights in m.
    ``city="medium"`` uses Eq. 15's small/medium-city ``a(h) = (1.1 log f - 0.7) h -
    (1.56 log f - 0.8)``; ``"large"`` the large-city form (``8.29 (log 1.54h)^2 - 1.1`` below
    300 MHz, ``3.2 (log 11.75h)^2 - 4.97`` above).  Hata's validity: 150-1500 MHz, h_bs 30-200 m,
    h_ut 1-10 m, d 1-20 km.  Outside it the formula is extrapolated unchanged (``strict=True``
    raises instead); distances below 1 m are held at 1 m.
    """
    d = nonneg(distance_m, "distance_m")
    f = positive(freq_hz, "freq_hz")
    if not (h_bs > 0 and h_ut > 0):
        raise ValueError(f"h_bs and h_ut must be positive, got h_bs={h_bs}, h_ut={h_ut}")
    f_mhz = f / 1e6
    d_km = np.maximum(d, 1.0) / 1e3
    _check_strict(strict, (f_mhz >= 150) & (f_mhz <= 1500), f"frequency {np.ravel(f_mhz)[:3]} MHz not in 150-1500 MHz")
    _check_strict(strict, 30 <= h_bs <= 200, f"h_bs={h_bs} m not in 30-200 m")
    _check_strict(strict, 1 <= h_ut <= 10, f"h_ut={h_ut} m not in 1-10 m")
    _check_strict(strict, (d_km >= 1) & (d_km <= 20), "distance not in 1-20 km")
    lf = np.log10(f_mhz)
    if city == "medium":
        a_h = (1.1 * lf - 0.7) * h_ut - (1.56 * lf - 0.8)
    elif city == "large":
        a_h = np.where(
            f_mhz < 300.0,
            8.29 * np.log10(1.54 * h_ut) ** 2 - 1.1,
            3.2 * np.log10(11.75 * h_ut) ** 2 - 4.97,
        )
    else:
        raise ValueError(f"unknown city size {city!r}; allowed: large, medium")
    return (
        69.55
        + 26.16 * lf
        - 13.82 * np.log10(h_bs)
        - a_h
        + (44.9 - 6.55 * np.log10(h_bs)) * np.log10(d_km)
    )


def uma_breakpoint_m(freq_hz: ArrayLike, h_bs: float = 25.0, h_ut: float = 1.5, h_e: float = 1.0) -> FloatArray:
    """3GPP UMa breakpoint distance ``d'_BP = 4 h'_BS h'_UT f_c / c`` in m (TR 38.901 Table 7.4.1-1 note 1).

    Effective heights ``h' = h - h_E``; ``h_E = 1 m`` (the UMa value with probability 1 for
    h_UT < 13 m).  ``freq_hz`` in Hz, heights in m.
    """
    f = positive(freq_hz, "freq_hz")
    if not (h_bs > h_e and h_ut > h_e):
        raise ValueError(f"h_bs and h_ut must exceed h_e={h_e} m, got h_bs={h_bs}, h_ut={h_ut}")
    return 4.0 * (h_bs - h_e) * (h_ut - h_e) * f / SPEED_OF_LIGHT_MPS


def _uma_geometry(distance_m: ArrayLike, h_bs: float, h_ut: float) -> tuple[FloatArray, FloatArray]:
    """(d2D, d3D) with d2D held at >= 10 m, from a 3-D distance in m."""
    d3 = nonneg(distance_m, "distance_m")
    dh2 = (h_bs - h_ut) ** 2
    d2 = np.sqrt(np.maximum(d3**2 - dh2, 0.0))
    d2 = np.maximum(d2, 10.0)
    return d2, np.sqrt(d2**2 + dh2)


def uma_los(
    distance_m: ArrayLike,
    freq_hz: ArrayLike,
    *,
    h_bs: float = 25.0,
    h_ut: float = 1.5,
    h_e: float = 1.0,
    breakpoint_m: float | None = None,
    strict: bool = False,
) -> FloatArray:
    """3GPP TR 38.901 UMa LOS path loss in dB (quantum-DRL Eq. 16-18).

    ``PL1 = 28 + 22 log d3D + 20 log fc`` for 10 m <= d2D <= d'_BP, ``PL2 = 28 + 40 log d3D +
    20 log fc - 9 log(d'_BP^2 + (h_BS - h_UT)^2)`` beyond; fc in GHz, distances in m.
    ``distance_m`` is the 3-D distance; d2D follows from the heights.  ``breakpoint_m``
    overrides d'_BP (the paper's Table III uses 100 m).  Below d2D = 10 m the loss is held at
    its 10 m value; beyond 5 km it is extrapolated (``strict=True`` raises).
    """
    f = positive(freq_hz, "freq_hz")
    d2, d3 = _uma_geometry(distance_m, h_bs, h_ut)
    _check_strict(strict, d2 <= 5000.0, "d2D above 5 km")
    dbp = uma_breakpoint_m(f, h_bs, h_ut, h_e) if breakpoint_m is None else np.asarray(breakpoint_m, dtype=np.float64)
    fc = f / 1e9
    pl1 = 28.0 + 22.0 * np.log10(d3) + 20.0 * np.log10(fc)
    pl2 = 28.0 + 40.0 * np.log10(d3) + 20.0 * np.log10(fc) - 9.0 * np.log10(dbp**2 + (h_bs - h_ut) ** 2)
    return np.where(d2 <= dbp, pl1, pl2)


def uma_nlos(
    distance_m: ArrayLike,
    freq_hz: ArrayLike,
    *,
    h_bs: float = 25.0,
    h_ut: float = 1.5,
    h_e: float = 1.0,
    breakpoint_m: float | None = None,
    strict: bool = False,
) -> FloatArray:
    """3GPP TR 38.901 UMa NLOS path loss ``max(PL_LOS, PL'_NLOS)`` in dB (quantum-DRL Eq. 19-20).

    ``PL'_NLOS = 13.54 + 39.08 log d3D + 20 log fc - 0.6 (h_UT - 1.5)``, fc in GHz, d3D in m
    (``distance_m``); other parameters as :func:`uma_los`.
    """
    f = positive(freq_hz, "freq_hz")
    _, d3 = _uma_geometry(distance_m, h_bs, h_ut)
    los = uma_los(distance_m, f, h_bs=h_bs, h_ut=h_ut, h_e=h_e, breakpoint_m=breakpoint_m, strict=strict)
    nlos = 13.54 + 39.08 * np.log10(d3) + 20.0 * np.log10(f / 1e9) - 0.6 * (h_ut - 1.5)
    return np.maximum(los, nlos)


def uav_los(
    distance_m: ArrayLike,
    freq_hz: ArrayLike,
    *,
    h_uav: float = 50.0,
    strict: bool = False,
) -> FloatArray:
    """3GPP air-to-ground LOS path loss ``28 + 22 log d3D + 20 log fc`` in dB (quantum-DRL Eq. 27).

    TR 36.777 Table B-2, UMa-AV LOS for 22.5 m < h_UAV <= 300 m; d3D in m, fc in GHz.  Heights
    outside that range are extrapolated (``strict=True`` raises); distances below 1 m are held at 1 m.
    """
    d = np.maximum(nonneg(distance_m, "distance_m"), 1.0)
    f = positive(freq_hz, "freq_hz")
    _check_strict(strict, 22.5 < h_uav <= 300.0, f"h_uav={h_uav} m not in (22.5, 300] m")
    return 28.0 + 22.0 * np.log10(d) + 20.0 * np.log10(f / 1e9)


def uav_nlos(
    distance_m: ArrayLike,
    freq_hz: ArrayLike,
    *,
    h_uav: float = 50.0,
    strict: bool = False,
) -> FloatArray:
    """3GPP air-to-ground NLOS path loss in dB (quantum-DRL Eq. 28, completed from TR 36.777).

    ``-17.5 + (46 - 7 log h_UAV) log d3D + 20 log(40 pi fc / 3)`` (TR 36.777 Table B-2,
    UMa-AV NLOS, 22.5 m < h_UAV <= 100 m), d3D and h_UAV in m, fc in GHz.  The extracted Eq. 28
    lacks the frequency term; the standard's is used.  Out-of-range heights are extrapolated
    (``strict=True`` raises); distances below 1 m are held at 1 m.
    """
    d = np.maximum(nonneg(distance_m, "distance_m"), 1.0)
    f = positive(freq_hz, "freq_hz")
    if not h_uav > 0:
        raise ValueError(f"h_uav must be positive, got {h_uav}")
    _check_strict(strict, 22.5 < h_uav <= 100.0, f"h_uav={h_uav} m not in (22.5, 100] m")
    return -17.5 + (46.0 - 7.0 * np.log10(h_uav)) * np.log10(d) + 20.0 * np.log10(40.0 * np.pi * (f / 1e9) / 3.0)


def los_probability(
    distance_2d_m: ArrayLike,
    *,
    h_uav: float | None = None,
    d1_m: float | None = None,
    p1_m: float | None = None,
) -> FloatArray:
    """Probability of line of sight (quantum-DRL Eq. 29), dimensionless in [0, 1].

    ``1`` for ``d <= d1``, else ``d1/d + (1 - d1/d) exp(-d / p1)``, d the horizontal distance in m.
    Give ``d1_m`` and ``p1_m`` (m) explicitly (the paper takes p1 = 63 m), or ``h_uav`` (m) for
    TR 36.777 Table B-1 UMa-AV: for 22.5 < h <= 100 m, ``p1 = 4300 log h - 3800``,
    ``d1 = max(460 log h - 700, 18)``; above 100 m always LOS; at or below 22.5 m the TR 38.901
    UMa terrestrial values d1 = 18 m, p1 = 63 m.
    """
    d = nonneg(distance_2d_m, "distance_2d_m")
    if d1_m is not None or p1_m is not None:
        if d1_m is None or p1_m is None:
            raise ValueError("give both d1_m and p1_m, or neither (then h_uav)")
        if not (d1_m >= 0 and p1_m > 0):
            raise ValueError(f"need d1_m >= 0 and p1_m > 0, got d1_m={d1_m}, p1_m={p1_m}")
        d1, p1 = float(d1_m), float(p1_m)
    elif h_uav is None:
        raise ValueError("give h_uav, or both d1_m and p1_m")
    elif h_uav > 100.0:
        return np.ones_like(d)
    elif h_uav > 22.5:
        p1 = 4300.0 * np.log10(h_uav) - 3800.0
        d1 = max(460.0 * np.log10(h_uav) - 700.0, 18.0)
    elif h_uav > 0:
        d1, p1 = 18.0, 63.0
    else:
        raise ValueError(f"h_uav must be positive, got {h_uav}")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(d > 0, d1 / d, 1.0)
        p = ratio + (1.0 - ratio) * np.exp(-d / p1)
    return np.where(d <= d1, 1.0, p)


def uav_mixed(
    distance_m: ArrayLike,
    freq_hz: ArrayLike,
    *,
    h_uav: float = 50.0,
    h_ut: float = 1.5,
    d1_m: float | None = None,
    p1_m: float | None = None,
) -> FloatArray:
    """LoS-probability-weighted air-to-ground loss ``P PL_LOS + (1 - P) PL_NLOS`` in dB (quantum-DRL Eq. 27-29).

    ``distance_m`` is the 3-D distance (m); the horizontal distance for Eq. 29 follows from
    ``h_uav - h_ut``.  ``d1_m``/``p1_m`` as in :func:`los_probability`.
    """
    d3 = nonneg(distance_m, "distance_m")
    d2 = np.sqrt(np.maximum(d3**2 - (h_uav - h_ut) ** 2, 0.0))
    p = los_probability(d2, h_uav=h_uav, d1_m=d1_m, p1_m=p1_m)
    return p * uav_los(d3, freq_hz, h_uav=h_uav) + (1.0 - p) * uav_nlos(d3, freq_hz, h_uav=h_uav)


MODELS: dict[str, Callable[..., FloatArray]] = {
    "free_space": free_space,
    "log_distance": log_distance,
    "okumura_hata": okumura_hata,
    "uma_los": uma_los,
    "uma_nlos": uma_nlos,
    "uav_los": uav_los,
    "uav_nlos": uav_nlos,
    "uav_mixed": uav_mixed,
}
"""Path loss models by name: ``name -> f(distance_m, freq_hz, **params) -> PL dB``."""


def path_loss_db(model: str, distance_m: ArrayLike, freq_hz: ArrayLike, **params: float) -> FloatArray:
    """Path loss in dB of the model named ``model`` (one of :data:`MODELS`) at metres/Hz."""
    try:
        fn = MODELS[model]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown path loss model {model!r}; allowed: {', '.join(sorted(MODELS))}"
        ) from None
    return fn(distance_m, freq_hz, **params)


def gain_from_path_loss_db(pl_db: ArrayLike) -> FloatArray:
    """Linear power gain ``10^(-PL/10)`` from a path loss in dB (quantum-DRL Eq. 11).

    The extracted Eq. 11 text writes ``10^(PL/10)``; a loss must reduce the power, so the sign
    here is negative (recorded in docs/MODEL.md).
    """
    pl = np.asarray(pl_db, dtype=np.float64)
    return 10.0 ** (-pl / 10.0)


def gain(model: str, distance_m: ArrayLike, freq_hz: ArrayLike, **params: float) -> FloatArray:
    """Linear power gain of the named path loss model, dimensionless (see :func:`path_loss_db`)."""
    return gain_from_path_loss_db(path_loss_db(model, distance_m, freq_hz, **params))
