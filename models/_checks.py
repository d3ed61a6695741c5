"""Input checks shared by the model modules: float arrays, NaN, sign. One-line ValueErrors."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


def as_float(x: ArrayLike, name: str) -> FloatArray:
    """``x`` as a float64 array; NaN refused."""
    a = np.asarray(x, dtype=np.float64)
    if np.isnan(a).any():
        raise ValueError(f"{name} contains NaN")
    return a


def nonneg(x: ArrayLike, name: str) -> FloatArray:
    """``x`` as a float64 array, NaN and negative values refused."""
    a = as_float(x, name)
    if (a < 0).any():
        raise ValueError(f"{name} must be non-negative, got {a[a < 0].ravel()[:3]}")
    return a


def positive(x: ArrayLike, name: str) -> FloatArray:
    """``x`` as a float64 array, every value > 0."""
    a = np.asarray(x, dtype=np.float64)
    if not (a > 0).all():
        raise ValueError(f"{name} must be positive, got {np.ravel(a)[:3]}")
    return a
