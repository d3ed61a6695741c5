"""Input checks shared by the model modules: float arrays, NaN, sign. One-line ValueErrors.

Scalars (0-d) take a short path: numpy's reductions (``.any()``, ``.all()``) cost microseconds
each, which dominates a model evaluated on one number. The ``*_scalar`` helpers serve the
models' scalar variants, which skip numpy altogether (Python floats are IEEE doubles: the same
operations give the same bits).
"""

from __future__ import annotations

import math

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


def nonneg_scalar(x: float, name: str) -> float:
    """:func:`nonneg` of one number, as a Python float; the same errors."""
    a = float(x)
    if a >= 0:
        return a
    raise ValueError(f"{name} contains NaN" if a != a else f"{name} must be non-negative, got [{a}]")


def div_scalar(x: float, y: float) -> float:
    """``x / y`` as numpy divides with its warnings off: +-inf for x != 0 over 0 (the sign of
    x times the sign of the zero), NaN for 0/0 and NaN/0, where Python raises."""
    if y:
        return x / y
    if x != x or x == 0:
        return math.nan
    return math.copysign(math.inf, x) * math.copysign(1.0, y)
