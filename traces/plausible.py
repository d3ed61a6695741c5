"""Plausibility limits of imported numbers (issue 14 item 3), shared by the importers.

A parsed number can be finite and still no measurement: ``x="1e308"``, a fix dated 1970 (a GPS
receiver's reset clock) among fixes of 2008, a flow of 1e30 vehicles in five minutes. Each
such value would reach the simulation as an absurd position, a vehicle that never drives, or
a workload scaled to zero; the importers refuse it like a non-numeric cell (``malformed``, with
file and line) or, for dates far from the rest of a file or fleet, drop it as ``far_date``.
``docs/USAGE.md`` ("Real mobility") lists the same limits.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MAX_ABS_XY_M = 1e8
"""Largest ``|x|``, ``|y|`` in metres: any projected frame on Earth (UTM northings < 1e7 m,
web Mercator < 2.1e7 m) fits, 1e308 does not."""
Z_RANGE_M = (-1e4, 1e5)
"""Heights in metres: the deepest trench to 100 km up (HAPS and UAVs included)."""
MAX_ABS_SPEED_MPS = 1e3
"""Largest ``|speed|`` in m/s: 3,600 km/h, well above any ground vehicle or UAV."""
MAX_TIME_S = 1e9
"""Largest relative time (SUMO seconds, numeric CSV ``t``): about 32 years. Unix times are
larger: write them as ISO 8601 timestamps."""
GPS_EPOCH = pd.Timestamp("1980-01-06")
"""No GPS fix predates the GPS epoch; 1970-01-01 is a receiver's reset clock."""
LAST_DATE = pd.Timestamp("2262-01-01")
"""Absolute times must be before this: nanosecond timestamps end in April 2262 (a later date
would wrap around silently when converted)."""
FAR_DATE = pd.Timedelta(days=3653)
"""Absolute fixes more than this (10 years) from the median fix of their file or fleet are
``far_date``: wide enough for multi-year logs, narrow enough for 1970 or 2099 clock errors."""
MAX_ID_CHARS = 256
"""Longest vehicle id: a longer one is a damaged line (it would name the vehicle in every
message and trace)."""
MAX_FLOW = 1e5
"""Largest PeMS cell (vehicles per station and step): 20 lanes at 2,500 veh/h for an hour
is 50,000."""


def out_of_range(v: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Mask of finite values outside ``[lo, hi]`` (non-finite ones are judged elsewhere)."""
    with np.errstate(invalid="ignore"):
        return np.isfinite(v) & ((v < lo) | (v > hi))


def lower_median(v: np.ndarray):
    """The median of ``v`` taken as one of its elements (the lower one for an even count), so
    that a rule "far from the median" always keeps that element."""
    k = (len(v) - 1) // 2
    return np.partition(v, k)[k]


def far_from(t: np.ndarray, ref, limit) -> np.ndarray:
    """Mask of times ``t`` more than ``limit`` from ``ref`` (same units; no overflow for int64
    nanoseconds)."""
    t = np.asarray(t)
    if t.dtype.kind in "iu":
        lo, hi = int(ref) - int(limit), int(ref) + int(limit)
        return (t < lo) | (t > hi)
    return np.abs(t - float(ref)) > float(limit)


def clip(text: str, limit: int = 40) -> str:
    """``text`` cut to about ``limit`` characters, saying how long it was: a 10 MB field
    stays a one-line message."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text):,} characters)"


def shown(value: object, limit: int = 40) -> str:
    """``repr(value)`` clipped as by :func:`clip`."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]!r}... ({len(value):,} characters)"
    return clip(repr(value), limit)
