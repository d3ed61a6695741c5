"""Comparing IEEE doubles bit for bit, and the one-line errors of a call (the scalar variants
of the model functions against the array ones)."""

from __future__ import annotations

import math

EDGES = [0.0, -0.0, 5e-324, 1e-3, 2.5, 8e6, 1e308, math.inf]  # valid inputs at the edges
BAD = [math.nan, -1.0, -math.inf]  # refused inputs


def same_bits(a, b) -> bool:
    """Equal as IEEE doubles (NaN = NaN, 0.0 != -0.0)."""
    a, b = float(a), float(b)
    return (a != a and b != b) or (a == b and math.copysign(1.0, a) == math.copysign(1.0, b))


def error_of(f, *args, **kw) -> str | None:
    """The ValueError's message of ``f(*args, **kw)``, None when it returns."""
    try:
        f(*args, **kw)
    except ValueError as e:
        return str(e)
    return None
