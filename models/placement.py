"""Edge-server (RSU) placement models in local metric coordinates (x east, y north, metres),
chosen by name (``LAYOUTS``, the scenario's ``rsus.layout``; ``file`` reads sites with
``traces.placement.from_file``).

- ``grid``: a dense, regular lattice (the twin-migration paper's city setting);
- ``scattered``: a sparse, irregular pattern (its rural setting), drawn from a passed
  ``numpy.random.Generator`` with a minimum separation so sites do not pile up;
- ``density_city`` / ``density_rural``: ``along_density`` puts them where trajectory fixes are
  dense, in the same two styles (``city`` regular, ``rural`` scattered).
"""

from __future__ import annotations

import heapq
import math
from typing import Literal

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



def along_density(
    points_xy: np.ndarray,
    n: int,
    *,
    layout: Literal["city", "rural"] = "city",
    rng: np.random.Generator,
    cell_m: float | None = None,
    min_separation_m: float | None = None,
) -> np.ndarray:
    """``n`` RSU sites where vehicles are, from trajectory fixes ``points_xy`` (``(k, 2)`` or
    more columns, metres; only x and y are used). Returns ``(n, 2)`` (x, y) in metres.

    The plane is cut into square cells of ``cell_m`` on a lattice anchored at the origin, and
    fixes are counted per cell.

    - ``city`` (dense, regular; default ``cell_m = 250``, an urban micro-cell spacing): a
      contiguous patch of ``n`` lattice cells is grown over the busiest area and each gets a
      site at its centre. The seed is the cell whose surrounding window of about the patch's
      size (``(2w+1)^2`` cells, ``w = round(sqrt(n)/2)``) holds the most fixes, so one hot spot
      (a taxi rank) does not outweigh a busy district; then the busiest edge-adjacent cell is
      added until there are ``n`` (empty cells too, once the busy ones are used up). Sites
      are thus ``cell_m`` apart on a regular lattice, dense where traffic is. Ties are broken
      by ``rng``.
    - ``rural`` (sparse, scattered; default ``cell_m = 1000``): cells are drawn without
      replacement with probability proportional to their fix count (Efraimidis-Spirakis keys
      from ``rng``); each drawn cell proposes one of its own fixes, chosen by ``rng``, so sites
      sit on roads; a proposal closer than ``min_separation_m`` (default ``3 * cell_m``) to an
      accepted site is rejected. Raises ``ValueError`` if ``n`` sites cannot be placed.

    Deterministic given the state of ``rng``.
    """
    if n <= 0:
        raise ValueError(f"density placement needs n >= 1, got {n}")
    if layout not in ("city", "rural"):
        raise ValueError(f"layout must be 'city' or 'rural', got {layout!r}")
    pts = np.asarray(points_xy, dtype=float)
    if pts.ndim != 2 or pts.shape[1] < 2:
        raise ValueError(f"points_xy must have shape (k, 2), got {pts.shape}")
    pts = pts[np.isfinite(pts[:, :2]).all(axis=1), :2]
    if len(pts) == 0:
        raise ValueError("density placement needs at least one finite trajectory fix")
    cell = float(cell_m if cell_m is not None else (250.0 if layout == "city" else 1000.0))
    if cell <= 0:
        raise ValueError(f"cell_m must be positive, got {cell}")
    ij = np.floor(pts / cell).astype(np.int64)
    lo = ij.min(axis=0)
    span = int(ij[:, 1].max() - lo[1]) + 1
    # one int64 key per cell: np.unique on 1-D keys is far faster than on rows
    keys, inverse, counts = np.unique((ij[:, 0] - lo[0]) * span + (ij[:, 1] - lo[1]),
                                      return_inverse=True, return_counts=True)
    cells = np.column_stack([keys // span + lo[0], keys % span + lo[1]])

    if layout == "city":
        return (_grow_patch(cells, counts, n, rng) + 0.5) * cell

    sep = 3.0 * cell if min_separation_m is None else float(min_separation_m)
    draw = np.log(rng.random(len(cells))) / counts  # largest first = weighted draw
    by_cell = np.argsort(inverse, kind="stable")
    first = np.r_[0, np.cumsum(counts)[:-1]]
    sites: list[np.ndarray] = []
    for c in np.argsort(-draw, kind="stable"):
        p = pts[by_cell[first[c] + rng.integers(counts[c])]]
        if sites and np.min(np.hypot(*(np.asarray(sites) - p).T)) < sep:
            continue
        sites.append(p)
        if len(sites) == n:
            return np.asarray(sites)
    raise ValueError(f"only {len(sites)} of {n} rural sites fit {sep:g} m apart among the fixes; "
                     "lower min_separation_m or cell_m")


def _grow_patch(cells: np.ndarray, counts: np.ndarray, n: int,
                rng: np.random.Generator) -> np.ndarray:
    """``n`` edge-connected lattice cells grown from the busiest window, busiest cell first
    (see :func:`along_density`); returns their integer indices ``(n, 2)``."""
    from scipy.spatial import cKDTree

    w = max(1, round(math.sqrt(n) / 2))
    tree = cKDTree(cells)
    near = tree.sparse_distance_matrix(tree, w, p=np.inf, output_type="coo_matrix")
    window = np.bincount(near.row, weights=counts[near.col], minlength=len(cells))
    tie = rng.random(len(cells))
    seed = np.lexsort((tie, -window))[0]

    count_of = {tuple(c): int(k) for c, k in zip(cells.tolist(), counts.tolist(), strict=True)}
    start = tuple(cells[seed].tolist())
    frontier = [(-count_of[start], 0.0, start)]
    seen = {start}
    patch: list[tuple[int, int]] = []
    while len(patch) < n:  # one pass per site: a heap of the patch's neighbour cells
        _, _, c = heapq.heappop(frontier)
        patch.append(c)
        for nb in ((c[0] + 1, c[1]), (c[0] - 1, c[1]), (c[0], c[1] + 1), (c[0], c[1] - 1)):
            if nb not in seen:
                seen.add(nb)
                heapq.heappush(frontier, (-count_of.get(nb, 0), float(rng.random()), nb))
    return np.asarray(patch, dtype=np.int64)
