"""The importers' common result: vehicle trajectories in one table, and what the import did.

Every reader (:mod:`traces.tdrive`, :mod:`traces.fcd`, :mod:`traces.csvtraj`) returns a
:class:`TrajectorySet`; its :class:`ImportReport` accounts for every input record, so that
``lines_read == rows_kept + sum(removed.values())`` always holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from models.geo import enu_from_lonlat

CRS_COLUMNS = {"lonlat": ("lon", "lat"), "xy": ("x", "y")}


@dataclass
class ImportReport:
    """What an import read, kept and removed, and why.

    ``lines_read`` counts input records: text lines (blank ones included) for T-Drive and CSV,
    ``<vehicle>``/``<person>``/``<container>`` elements for SUMO FCD. Each record is either kept
    (``rows_kept``, the rows of the resulting frame) or counted once in ``removed`` under the
    first reason that applies. ``splits`` counts the gaps at which a vehicle's log was cut into
    separate vehicles ``<id>#<k>``. ``examples`` holds up to ``max_examples`` messages
    ``file:line: problem`` about malformed records.
    """

    source: str = ""
    files_read: int = 0
    lines_read: int = 0
    rows_kept: int = 0
    vehicles: int = 0
    removed: dict[str, int] = field(default_factory=dict)
    splits: int = 0
    examples: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    max_examples: int = 20

    def remove(self, reason: str, n: int = 1) -> None:
        """Count ``n`` records removed for ``reason``."""
        n = int(n)
        if n:
            self.removed[reason] = self.removed.get(reason, 0) + n

    def example(self, path: str, line: int | None, problem: str) -> None:
        """Keep a ``file:line: problem`` message, up to ``max_examples`` of them."""
        if len(self.examples) < self.max_examples:
            where = path if line is None else f"{path}:{line}"
            problem = " ".join(problem.split())  # one line, and a short one
            if len(problem) > 400:
                problem = f"{problem[:400]}... ({len(problem):,} characters)"
            self.examples.append(f"{where}: {problem}")

    @property
    def examples_left(self) -> int:
        return max(0, self.max_examples - len(self.examples))

    @property
    def removed_total(self) -> int:
        return sum(self.removed.values())

    @property
    def balanced(self) -> bool:
        """True when every record read is either kept or counted as removed."""
        return self.lines_read == self.rows_kept + self.removed_total

    def summary(self) -> str:
        """One readable paragraph: read, kept, removed per reason, splits, first problems."""
        files = f" from {self.files_read:,} file{'s' if self.files_read != 1 else ''}"
        parts = [
            f"Read {self.lines_read:,} records{files if self.files_read else ''}"
            f"{f' of {self.source}' if self.source else ''}; kept {self.rows_kept:,} rows "
            f"in {self.vehicles:,} vehicles"
        ]
        if self.removed:
            reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(self.removed.items(), key=lambda kv: (-kv[1], kv[0])))
            parts.append(f"removed {self.removed_total:,} ({reasons})")
        else:
            parts.append("removed none")
        if self.splits:
            parts.append(f"split logs at {self.splits:,} time gaps")
        text = "; ".join(parts) + "."
        if not self.balanced:
            text += (f" WARNING: the counts do not add up ({self.lines_read:,} read vs "
                     f"{self.rows_kept + self.removed_total:,} kept + removed).")
        for note in self.notes:
            text += f" {note}"
        if self.examples:
            more = self.removed.get("malformed", 0) - 1
            text += f" First problem: {self.examples[0]}"
            text += f" (and {more:,} more malformed)." if more > 0 else "."
        return text


@dataclass
class TrajectorySet:
    """Vehicle trajectories: one row per fix, in one :class:`pandas.DataFrame`.

    ``frame`` columns: ``vehicle`` (str), ``t`` (float64 seconds relative to ``t0``), then
    ``lon``, ``lat`` (degrees, ``crs == "lonlat"``) or ``x``, ``y`` (metres, ``crs == "xy"``),
    optionally ``z`` (metres) and ``speed`` (m/s). Rows are sorted by (vehicle, t) in plain
    string order of ``vehicle`` (what ``frame.sort_values(["vehicle", "t"])`` gives), with no
    duplicate (vehicle, t). ``t0`` is the absolute time of ``t = 0`` when the input had absolute
    times, else ``None`` (e.g. SUMO simulation seconds). ``origin`` is the (lon0, lat0) of an
    ``xy`` frame made by :meth:`to_xy`.
    """

    frame: pd.DataFrame
    crs: str
    t0: pd.Timestamp | None = None
    source: str = ""
    report: ImportReport = field(default_factory=ImportReport)
    origin: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.crs not in CRS_COLUMNS:
            raise ValueError(f"crs must be one of {sorted(CRS_COLUMNS)}, got {self.crs!r}")
        missing = [c for c in ("vehicle", "t", *CRS_COLUMNS[self.crs]) if c not in self.frame.columns]
        if missing:
            raise ValueError(f"trajectory frame lacks column(s) {missing} for crs {self.crs!r}")

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def coord_columns(self) -> list[str]:
        """The coordinate columns, in order: ``lon, lat[, z]`` or ``x, y[, z]``."""
        cols = list(CRS_COLUMNS[self.crs])
        if "z" in self.frame.columns:
            cols.append("z")
        return cols

    def vehicles(self) -> list[str]:
        """Vehicle ids in frame order."""
        v = self.frame["vehicle"].to_numpy()
        if len(v) == 0:
            return []
        starts = np.flatnonzero(np.r_[True, v[1:] != v[:-1]])
        return [str(x) for x in v[starts]]

    def per_vehicle(self) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        """Yield ``(vehicle, t, coords)`` per vehicle: ``t`` shape (K,), ``coords`` (K, 2 or 3)."""
        v = self.frame["vehicle"].to_numpy()
        if len(v) == 0:
            return
        t = self.frame["t"].to_numpy(dtype=np.float64)
        xyz = self.frame[self.coord_columns].to_numpy(dtype=np.float64)
        bounds = np.r_[np.flatnonzero(np.r_[True, v[1:] != v[:-1]]), len(v)]
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            yield str(v[a]), t[a:b], xyz[a:b]

    def bounds(self) -> tuple[float, float, float, float]:
        """Spatial extent ``(min1, min2, max1, max2)``: (lon_min, lat_min, lon_max, lat_max) or
        (x_min, y_min, x_max, y_max). Raises ``ValueError`` on an empty set."""
        if len(self.frame) == 0:
            raise ValueError("an empty trajectory set has no bounds")
        a, b = CRS_COLUMNS[self.crs]
        c1 = self.frame[a].to_numpy()
        c2 = self.frame[b].to_numpy()
        return (float(c1.min()), float(c2.min()), float(c1.max()), float(c2.max()))

    def to_xy(self, lon0: float | None = None, lat0: float | None = None) -> TrajectorySet:
        """This set in local metres (x east, y north) about (lon0, lat0), by default the centre of
        the bounds; an ``xy`` set is returned unchanged. Uses a local equirectangular projection,
        fit for city-sized areas."""
        if self.crs == "xy":
            return self
        if lon0 is None or lat0 is None:
            lo1, la1, lo2, la2 = self.bounds()
            lon0 = (lo1 + lo2) / 2 if lon0 is None else lon0
            lat0 = (la1 + la2) / 2 if lat0 is None else lat0
        x, y = enu_from_lonlat(self.frame["lon"].to_numpy(), self.frame["lat"].to_numpy(), lon0, lat0)
        frame = self.frame.copy()
        frame.insert(frame.columns.get_loc("lon"), "x", x)
        frame.insert(frame.columns.get_loc("lon"), "y", y)
        frame = frame.drop(columns=["lon", "lat"])
        return TrajectorySet(frame, "xy", self.t0, self.source, self.report, (float(lon0), float(lat0)))

    def check(self) -> None:
        """Raise ``ValueError`` unless the frame keeps the documented invariants (float64 ``t``,
        rows sorted by (vehicle, t), no duplicate (vehicle, t), finite coordinates)."""
        f = self.frame
        if f["t"].dtype != np.float64:
            raise ValueError(f"t must be float64, is {f['t'].dtype}")
        v = f["vehicle"].astype(str).to_numpy()
        t = f["t"].to_numpy()
        if len(f) > 1:
            same = v[1:] == v[:-1]
            if not np.all((v[1:] > v[:-1]) | (same & (t[1:] > t[:-1]))):
                raise ValueError("rows are not sorted by (vehicle, t) or repeat a (vehicle, t)")
        cols = list(CRS_COLUMNS[self.crs])
        if not np.isfinite(f[cols].to_numpy(dtype=np.float64)).all():
            raise ValueError("non-finite coordinates")
