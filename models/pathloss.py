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

from models._checks import FloatArray, as_float, nonneg, positive

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
        return _out(coefficient * (SPEED_OF_LIGHT_MPS / (4.0 * np.pi * f * d)) ** 2)


def free_space(distance_m: ArrayLike, freq_hz: ArrayLike, *, coefficient: float = 1.0) -> FloatArray:
    """Friis free-space path loss ``20 log10(4 pi f d / c) - 10 log10(A)`` in dB (twin-migration Eq. 3).

    Metres and Hz; the same law as :func:`free_space_gain` expressed as a loss.
    """
    d = nonneg(distance_m, "distance_m")
    f = positive(freq_hz, "freq_hz")
    if not coefficient > 0:
        raise ValueError(f"coefficient must be positive, got {coefficient}")
    with np.errstate(divide="ignore"):
        return _out(20.0 * np.log10(4.0 * np.pi * f * d / SPEED_OF_LIGHT_MPS) - 10.0 * np.log10(coefficient))


def _check_strict(strict: bool, ok: NDArray[np.bool_] | bool, what: str) -> None:
    if strict and not np.all(ok):
        raise ValueError(f"outside the model's validity range: {what}")


def _first(a: FloatArray) -> FloatArray:
    """A few values of ``a`` for an error message."""
    return np.ravel(a)[:3]


def _out(a: ArrayLike) -> FloatArray:
    """float64 result: a NumPy scalar (``np.float64``) for scalar input, else the array."""
    return np.asarray(a, dtype=np.float64)[()]


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
    2.25-2.75), dimensionless.  Distances below d0 are held at d0.
    """
    d = nonneg(distance_m, "distance_m")
    f = positive(freq_hz, "freq_hz")
    d0 = positive(d0_m, "d0_m")
    alpha = positive(exponent, "exponent")
    pl0 = free_space(d0, f) if pl0_db is None else as_float(pl0_db, "pl0_db")
    return _out(pl0 + 10.0 * alpha * np.log10(np.maximum(d, d0) / d0))


def okumura_hata(
    distance_m: ArrayLike,
    freq_hz: ArrayLike,
    *,
    h_bs: ArrayLike = 30.0,
    h_ut: ArrayLike = 1.5,
    city: str = "medium",
    strict: bool = False,
) -> FloatArray:
    """Okumura-Hata urban path loss in dB (quantum-DRL Eq. 15).

    ``69.55 + 26.16 log f - 13.82 log h_bs - a(h_ut) + (44.9 - 6.55 log h_bs) log d`` with f in
    MHz and d in km (converted from ``freq_hz`` and ``distance_m``), antenna heights in m
    (arrays broadcast with the distance).  ``city="medium"`` uses Eq. 15's small/medium-city
    ``a(h) = (1.1 log f - 0.7) h - (1.56 log f - 0.8)``; ``"large"`` the large-city form
    (``8.29 (log 1.54h)^2 - 1.1`` below 300 MHz, ``3.2 (log 11.75h)^2 - 4.97`` above).  Hata's
    validity: 150-1500 MHz, h_bs 30-200 m, h_ut 1-10 m, d 1-20 km.  Outside it the formula is
    extrapolated unchanged (``strict=True`` raises instead); distances below 1 m are held at 1 m.
    """
    d = nonneg(distance_m, "distance_m")
    f = positive(freq_hz, "freq_hz")
    hb = positive(h_bs, "h_bs")
    hu = positive(h_ut, "h_ut")
    if city not in ("medium", "large"):
        raise ValueError(f"unknown city size {city!r}; allowed: large, medium")
    f_mhz = f / 1e6
    d_km = np.maximum(d, 1.0) / 1e3
    _check_strict(strict, (f_mhz >= 150) & (f_mhz <= 1500), f"frequency {_first(f_mhz)} MHz not in 150-1500 MHz")
    _check_strict(strict, (hb >= 30) & (hb <= 200), f"h_bs={_first(hb)} m not in 30-200 m")
    _check_strict(strict, (hu >= 1) & (hu <= 10), f"h_ut={_first(hu)} m not in 1-10 m")
    _check_strict(strict, (d_km >= 1) & (d_km <= 20), "distance not in 1-20 km")
    lf = np.log10(f_mhz)
    if city == "medium":
        a_h = (1.1 * lf - 0.7) * hu - (1.56 * lf - 0.8)
    else:
        a_h = np.where(
            f_mhz < 300.0,
            8.29 * np.log10(1.54 * hu) ** 2 - 1.1,
            3.2 * np.log10(11.75 * hu) ** 2 - 4.97,
        )
    lhb = np.log10(hb)
    return _out(69.55 + 26.16 * lf - 13.82 * lhb - a_h + (44.9 - 6.55 * lhb) * np.log10(d_km))


def _breakpoint(f: FloatArray, hb: FloatArray, hu: FloatArray, he: FloatArray) -> FloatArray:
    if not ((hb > he) & (hu > he)).all():
        raise ValueError(f"h_bs and h_ut must exceed h_e={_first(he)} m, got h_bs={_first(hb)}, h_ut={_first(hu)}")
    return 4.0 * (hb - he) * (hu - he) * f / SPEED_OF_LIGHT_MPS


def uma_breakpoint_m(
    freq_hz: ArrayLike, h_bs: ArrayLike = 25.0, h_ut: ArrayLike = 1.5, h_e: ArrayLike = 1.0
) -> FloatArray:
    """3GPP UMa breakpoint distance ``d'_BP = 4 h'_BS h'_UT f_c / c`` in m (TR 38.901 Table 7.4.1-1 note 1).

    Effective heights ``h' = h - h_E``; ``h_E = 1 m`` (the UMa value with probability 1 for
    h_UT < 13 m).  ``freq_hz`` in Hz, heights in m; all broadcast element-wise.
    """
    f = positive(freq_hz, "freq_hz")
    return _out(_breakpoint(f, as_float(h_bs, "h_bs"), as_float(h_ut, "h_ut"), as_float(h_e, "h_e")))


def _uma_los_db(
    distance_m: ArrayLike,
    freq_hz: ArrayLike,
    h_bs: ArrayLike,
    h_ut: ArrayLike,
    h_e: ArrayLike,
    breakpoint_m: ArrayLike | None,
    strict: bool,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Checked inputs -> (UMa LOS loss dB, d3D m with d2D held at >= 10 m, fc GHz, h_UT m)."""
    d3 = nonneg(distance_m, "distance_m")
    f = positive(freq_hz, "freq_hz")
    hb = positive(h_bs, "h_bs")
    hu = positive(h_ut, "h_ut")
    dh2 = (hb - hu) ** 2
    d2 = np.maximum(np.sqrt(np.maximum(d3 * d3 - dh2, 0.0)), 10.0)
    d3 = np.sqrt(d2 * d2 + dh2)
    _check_strict(strict, d2 <= 5000.0, "d2D above 5 km")
    dbp = _breakpoint(f, hb, hu, as_float(h_e, "h_e")) if breakpoint_m is None else positive(breakpoint_m, "breakpoint_m")
    fc = f / 1e9
    log_d3 = np.log10(d3)
    fc_db = 20.0 * np.log10(fc)
    pl1 = 28.0 + 22.0 * log_d3 + fc_db
    pl2 = 28.0 + 40.0 * log_d3 + fc_db - 9.0 * np.log10(dbp * dbp + dh2)
    return np.where(d2 <= dbp, pl1, pl2), log_d3, fc_db, hu


def uma_los(
    distance_m: ArrayLike,
    freq_hz: ArrayLike,
    *,
    h_bs: ArrayLike = 25.0,
    h_ut: ArrayLike = 1.5,
    h_e: ArrayLike = 1.0,
    breakpoint_m: ArrayLike | None = None,
    strict: bool = False,
) -> FloatArray:
    """3GPP TR 38.901 UMa LOS path loss in dB (quantum-DRL Eq. 16-18).

    ``PL1 = 28 + 22 log d3D + 20 log fc`` for 10 m <= d2D <= d'_BP, ``PL2 = 28 + 40 log d3D +
    20 log fc - 9 log(d'_BP^2 + (h_BS - h_UT)^2)`` beyond; fc in GHz, distances and heights in
    m (heights broadcast with the distance).  ``distance_m`` is the 3-D distance; d2D follows
    from the heights.  ``breakpoint_m`` overrides d'_BP (the paper's Table III uses 100 m).
    Below d2D = 10 m the loss is held at its 10 m value; beyond 5 km it is extrapolated
    (``strict=True`` raises).
    """
    return _out(_uma_los_db(distance_m, freq_hz, h_bs, h_ut, h_e, breakpoint_m, strict)[0])


def uma_nlos(
    distance_m: ArrayLike,
    freq_hz: ArrayLike,
    *,
    h_bs: ArrayLike = 25.0,
    h_ut: ArrayLike = 1.5,
    h_e: ArrayLike = 1.0,
    breakpoint_m: ArrayLike | None = None,
    strict: bool = False,
) -> FloatArray:
    """3GPP TR 38.901 UMa NLOS path loss ``max(PL_LOS, PL'_NLOS)`` in dB (quantum-DRL Eq. 19-20).

    ``PL'_NLOS = 13.54 + 39.08 log d3D + 20 log fc - 0.6 (h_UT - 1.5)``, fc in GHz, d3D in m
    (``distance_m``), heights in m (broadcast); other parameters as :func:`uma_los`.
    """
    los, log_d3, fc_db, hu = _uma_los_db(distance_m, freq_hz, h_bs, h_ut, h_e, breakpoint_m, strict)
    return _out(np.maximum(los, 13.54 + 39.08 * log_d3 + fc_db - 0.6 * (hu - 1.5)))


def _uav_height(h_uav: ArrayLike, strict: bool, top_m: float) -> FloatArray:
    h = positive(h_uav, "h_uav")
    _check_strict(strict, (h > 22.5) & (h <= top_m), f"h_uav={_first(h)} m not in (22.5, {top_m:g}] m")
    return h


def uav_los(
    distance_m: ArrayLike,
    freq_hz: ArrayLike,
    *,
    h_uav: ArrayLike = 50.0,
    strict: bool = False,
) -> FloatArray:
    """3GPP air-to-ground LOS path loss ``28 + 22 log d3D + 20 log fc`` in dB (quantum-DRL Eq. 27).

    TR 36.777 Table B-2, UMa-AV LOS for 22.5 m < h_UAV <= 300 m; d3D in m, fc in GHz, h_uav in
    m (only checked; broadcasts).  Heights outside that range are extrapolated
    (``strict=True`` raises); distances below 1 m are held at 1 m.
    """
    d = np.maximum(nonneg(distance_m, "distance_m"), 1.0)
    f = positive(freq_hz, "freq_hz")
    h = _uav_height(h_uav, strict, 300.0)
    pl = 28.0 + 22.0 * np.log10(d) + 20.0 * np.log10(f / 1e9)
    return _out(pl + np.zeros_like(h))  # the result has the broadcast shape of d, f and h_uav


def uav_nlos(
    distance_m: ArrayLike,
    freq_hz: ArrayLike,
    *,
    h_uav: ArrayLike = 50.0,
    strict: bool = False,
) -> FloatArray:
    """3GPP air-to-ground NLOS path loss in dB (quantum-DRL Eq. 28, completed from TR 36.777).

    ``-17.5 + (46 - 7 log h_UAV) log d3D + 20 log(40 pi fc / 3)`` (TR 36.777 Table B-2,
    UMa-AV NLOS, 22.5 m < h_UAV <= 100 m), d3D and h_UAV in m (broadcast), fc in GHz.  The
    extracted Eq. 28 lacks the frequency term; the standard's is used.  Out-of-range heights are
    extrapolated (``strict=True`` raises); distances below 1 m are held at 1 m.
    """
    d = np.maximum(nonneg(distance_m, "distance_m"), 1.0)
    f = positive(freq_hz, "freq_hz")
    h = _uav_height(h_uav, strict, 100.0)
    return _out(-17.5 + (46.0 - 7.0 * np.log10(h)) * np.log10(d) + 20.0 * np.log10(40.0 * np.pi * (f / 1e9) / 3.0))


def _eq29(d: FloatArray, d1: FloatArray, p1: FloatArray) -> FloatArray:
    """``1`` for d <= d1, else ``d1/d + (1 - d1/d) exp(-d/p1)`` (quantum-DRL Eq. 29)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(d > 0, d1 / np.where(d > 0, d, 1.0), 1.0)
        p = ratio + (1.0 - ratio) * np.exp(-d / p1)
    return np.where(d <= d1, 1.0, p)


def uma_los_probability(distance_2d_m: ArrayLike, h_ut: ArrayLike = 1.5) -> FloatArray:
    """TR 38.901 UMa LOS probability (Table 7.4.2-1), dimensionless in [0, 1].

    ``1`` for d2D <= 18 m, else ``[18/d + exp(-d/63) (1 - 18/d)] (1 + C'(h_UT) 5/4 (d/100)^3
    exp(-d/150))`` with ``C'(h) = 0`` for h <= 13 m and ``((h - 13)/10)^1.5`` for 13 < h <= 23 m.
    ``distance_2d_m`` horizontal distance in m, ``h_ut`` terminal height in m (<= 23 m; both
    broadcast).  For 18 < d2D < ~18.5 m and h_UT near 23 m the published product slightly
    exceeds 1; it is clipped to 1.
    """
    d = nonneg(distance_2d_m, "distance_2d_m")
    h = positive(h_ut, "h_ut")
    if (h > 23.0).any():
        raise ValueError(f"h_ut must be <= 23 m for TR 38.901 UMa LOS probability, got {_first(h[h > 23.0])}")
    c = np.where(h > 13.0, (np.maximum(h - 13.0, 0.0) / 10.0) ** 1.5, 0.0)
    base = _eq29(d, np.asarray(18.0), np.asarray(63.0))
    boost = 1.0 + c * 1.25 * (d / 100.0) ** 3 * np.exp(-d / 150.0)
    return _out(np.where(d <= 18.0, 1.0, np.minimum(base * boost, 1.0)))


def los_probability(
    distance_2d_m: ArrayLike,
    *,
    h_uav: ArrayLike | None = None,
    d1_m: ArrayLike | None = None,
    p1_m: ArrayLike | None = None,
) -> FloatArray:
    """Probability of line of sight (quantum-DRL Eq. 29), dimensionless in [0, 1].

    ``1`` for ``d <= d1``, else ``d1/d + (1 - d1/d) exp(-d / p1)``, d the horizontal distance in m.
    Give ``d1_m`` and ``p1_m`` (m) explicitly (the paper takes p1 = 63 m), or ``h_uav`` (m,
    broadcasts with d) for TR 36.777 Table B-1 UMa-AV: for 22.5 < h <= 100 m,
    ``p1 = 4300 log h - 3800``, ``d1 = max(460 log h - 700, 18)``; above 100 m always LOS; at or
    below 22.5 m the TR 38.901 UMa LOS probability with h_UT = h (:func:`uma_los_probability`,
    d1 = 18 m, p1 = 63 m and the C'(h_UT) factor above 13 m).
    """
    d = nonneg(distance_2d_m, "distance_2d_m")
    if d1_m is not None or p1_m is not None:
        if d1_m is None or p1_m is None:
            raise ValueError("give both d1_m and p1_m, or neither (then h_uav)")
        d1 = nonneg(d1_m, "d1_m")
        p1 = positive(p1_m, "p1_m")
        return _out(_eq29(d, d1, p1))
    if h_uav is None:
        raise ValueError("give h_uav, or both d1_m and p1_m")
    h = positive(h_uav, "h_uav")
    lh = np.log10(h)
    p_av = _eq29(d, np.maximum(460.0 * lh - 700.0, 18.0), np.maximum(4300.0 * lh - 3800.0, 1.0))
    p_ter = uma_los_probability(d, np.minimum(h, 22.5))
    return _out(np.where(h > 100.0, 1.0, np.where(h > 22.5, p_av, p_ter)))


def uav_mixed(
    distance_m: ArrayLike,
    freq_hz: ArrayLike,
    *,
    h_uav: ArrayLike = 50.0,
    h_ut: ArrayLike = 1.5,
    d1_m: ArrayLike | None = None,
    p1_m: ArrayLike | None = None,
) -> FloatArray:
    """LoS-probability-weighted air-to-ground loss ``P PL_LOS + (1 - P) PL_NLOS`` in dB (quantum-DRL Eq. 27-29).

    ``distance_m`` is the 3-D distance (m); the horizontal distance for Eq. 29 follows from
    ``h_uav - h_ut`` (m, broadcast).  ``d1_m``/``p1_m`` as in :func:`los_probability`.
    """
    d3 = nonneg(distance_m, "distance_m")
    hv = positive(h_uav, "h_uav")
    d2 = np.sqrt(np.maximum(d3**2 - (hv - positive(h_ut, "h_ut")) ** 2, 0.0))
    p = los_probability(d2, h_uav=hv, d1_m=d1_m, p1_m=p1_m)
    return _out(p * uav_los(d3, freq_hz, h_uav=hv) + (1.0 - p) * uav_nlos(d3, freq_hz, h_uav=hv))


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
    return _out(10.0 ** (-pl / 10.0))


def gain(model: str, distance_m: ArrayLike, freq_hz: ArrayLike, **params: float) -> FloatArray:
    """Linear power gain of the named path loss model, dimensionless (see :func:`path_loss_db`)."""
    return gain_from_path_loss_db(path_loss_db(model, distance_m, freq_hz, **params))
