"""Input checks shared by the model modules: float arrays, NaN, sign. One-line ValueErrors.

Scalars (0-d) take a short path: numpy's reductions (``.any()``, ``.all()``) cost microseconds
each, which dominates a model evaluated on one number.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


def as_float(x: ArrayLike, name: str) -> FloatArray:
    """``x`` as a float64 array; NaN refused."""
    a = np.asarray(x, dtype=np.float64)
    if (a != a) if a.ndim == 0 else np.isnan(a).any():
        raise ValueError(f"{name} contains NaN")
    return a


def nonneg(x: ArrayLike, name: str) -> FloatArray:
    """``x`` as a float64 array, NaN and negative values refused."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 0:
        if a >= 0:
            return a
        raise ValueError(f"{name} contains NaN" if a != a else f"{name} must be non-negative, got [{float(a)}]")
    if np.isnan(a).any():
        raise ValueError(f"{name} contains NaN")
    if (a < 0).any():
        raise ValueError(f"{name} must be non-negative, got {a[a < 0].ravel()[:3]}")
    return a


def positive(x: ArrayLike, name: str) -> FloatArray:
    """``x`` as a float64 array, every value > 0 (NaN refused)."""
    a = np.asarray(x, dtype=np.float64)
    if (a > 0) if a.ndim == 0 else (a > 0).all():
        return a
    raise ValueError(f"{name} must be positive, got {np.ravel(a)[:3]}")
