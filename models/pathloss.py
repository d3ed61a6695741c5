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

FloatArray = NDArray[np.float64]

SPEED_OF_LIGHT_MPS = 3.0e8
"""Speed of light as used by both papers (twin-migration Eq. 3, quantum-DRL Table II), m/s."""


def _distance(distance_m: ArrayLike) -> FloatArray:
    d = np.asarray(distance_m, dtype=np.float64)
    if np.isnan(d).any():
        raise ValueError("distance_m contains NaN")
    if (d < 0).any():
        raise ValueError(f"distance_m must be non-negative, got {d[d < 0].ravel()[:3]}")
    return d


def _frequency(freq_hz: ArrayLike) -> FloatArray:
    f = np.asarray(freq_hz, dtype=np.float64)
    if not (f > 0).all():
        raise ValueError(f"freq_hz must be positive, got {np.ravel(f)[:3]}")
    return f


def free_space_gain(distance_m: ArrayLike, freq_hz: ArrayLike, coefficient: float = 1.0) -> FloatArray:
    """Linear channel power gain ``A (c / (4 pi f d))^2`` (twin-migration Eq. 3), dimensionless.

    ``distance_m`` in metres (0 gives ``inf``), ``freq_hz`` in Hz, ``coefficient`` is the
    paper's channel increment coefficient A (1 in the paper's scenarios), c = 3e8 m/s.
    """
    d = _distance(distance_m)
    f = _frequency(freq_hz)
    if not coefficient > 0:
        raise ValueError(f"coefficient must be positive, got {coefficient}")
    with np.errstate(divide="ignore"):
        return coefficient * (SPEED_OF_LIGHT_MPS / (4.0 * np.pi * f * d)) ** 2


def free_space(distance_m: ArrayLike, freq_hz: ArrayLike, *, coefficient: float = 1.0) -> FloatArray:
    """Friis free-space path loss ``20 log10(4 pi f d / c) - 10 log10(A)`` in dB (twin-migration Eq. 3).

    Metres and Hz; the same law as :func:`free_space_gain` expressed as a loss.
    """
    d = _distance(distance_m)
    f = _frequency(freq_hz)
    if not coefficient > 0:
        raise ValueError(f"coefficient must be positive, got {coefficient}")
    with np.errstate(divide="ignore"):
        return 20.0 * np.log10(4.0 * np.pi * f * d / SPEED_OF_LIGHT_MPS) - 10.0 * np.log10(coefficient)


MODELS: dict[str, Callable[..., FloatArray]] = {
    "free_space": free_space,
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
