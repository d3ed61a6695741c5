"""Edge-server (RSU) placement in local metric coordinates (x east, y north, metres).

Layouts used by the presets:
- ``grid``: a dense, regular lattice (the twin-migration paper's city setting);
- ``scattered``: a sparse, irregular pattern (its rural setting), drawn from a passed
  ``numpy.random.Generator`` with a minimum separation so sites do not pile up.
"""

from __future__ import annotations

import math

import numpy as np


def grid_positions(width_m: float, height_m: float, n: int) -> np.ndarray:
    """``n`` sites on the most square lattice covering a ``width_m`` x ``height_m`` area
    centred on the origin. Returns an ``(n, 2)`` array of (x, y) in metres.

    The lattice has ``cols x rows >= n`` cells sized to the area's aspect ratio; sites sit at
    cell centres and the last row is filled left to right, so any ``n`` is exact."""
    if n <= 0:
        raise ValueError(f"grid placement needs n >= 1, got {n}")
    if width_m <= 0 or height_m <= 0:
        raise ValueError(f"grid placement needs a positive area, got {width_m} x {height_m} m")
    cols = max(1, round(math.sqrt(n * width_m / height_m)))
    rows = math.ceil(n / cols)
    dx, dy = width_m / cols, height_m / rows
    k = np.arange(n)
    x = -width_m / 2 + dx * (k % cols + 0.5)
    y = -height_m / 2 + dy * (k // cols + 0.5)
    return np.column_stack([x, y])


def scattered_positions(
    width_m: float,
    height_m: float,
    n: int,
    rng: np.random.Generator,
    min_separation_m: float = 0.0,
    max_tries: int = 10_000,
) -> np.ndarray:
    """``n`` sites drawn uniformly in the area by rejection sampling, no two closer than
    ``min_separation_m``. Raises ``ValueError`` if the separation cannot be met."""
    if n <= 0:
        raise ValueError(f"scattered placement needs n >= 1, got {n}")
    pts: list[tuple[float, float]] = []
    tries = 0
    while len(pts) < n:
        tries += 1
        if tries > max_tries * n:
            raise ValueError(
                f"cannot place {n} sites {min_separation_m} m apart in {width_m} x {height_m} m"
            )
        x = rng.uniform(-width_m / 2, width_m / 2)
        y = rng.uniform(-height_m / 2, height_m / 2)
        if min_separation_m > 0 and pts:
            d2 = (np.asarray(pts) - (x, y)) ** 2
            if np.min(d2.sum(axis=1)) < min_separation_m**2:
                continue
        pts.append((x, y))
    return np.asarray(pts, dtype=float)
