"""Gathering the cleaned pieces of all source files into one :class:`TrajectorySet`.

:func:`finish_source` takes one file's buffered fixes: it drops absolute fixes dated far from
the file's others (``far_date``), cleans the rest (:func:`traces._clean.clean`), selects
vehicles and hands the kept pieces to a :class:`Collector`. :meth:`Collector.build` then drops
whole vehicles dated far from the fleet (``far_date`` again: a taxi whose every fix is of 1970
among taxis of 2008), leaves out ``z`` / ``speed`` when some kept fix lacks them, and builds
the frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from traces._clean import Columns, FixBuffer, _select, _take, clean, natural_key, seconds
from traces.plausible import FAR_DATE, far_from, lower_median
from traces.trajectories import CRS_COLUMNS, ImportReport, TrajectorySet


def _timestamp(value: float | int, unit_s: float) -> pd.Timestamp:
    """Timestamp of ``value`` time units since the epoch; exact for integer seconds or ns."""
    ns_per_unit = round(unit_s * 1e9)
    if float(value).is_integer() and ns_per_unit >= 1:
        return pd.Timestamp(int(value) * int(ns_per_unit), unit="ns")
    return pd.Timestamp(round(float(value) * unit_s * 1e9), unit="ns")


@dataclass
class Collector:
    """Gathers kept pieces from all source files and builds the :class:`TrajectorySet`.

    Absolute times (T-Drive, CSV with ISO times) are shifted so that ``t = 0`` at ``t0``;
    relative ones (SUMO, numeric CSV) are kept as they are and ``t0`` is ``None``.

    Each added file is one block of columns; an output vehicle is a run of rows in one block
    (``names``, ``block``, ``begin``, ``length``), so that building the frame copies each
    column once at most (not at all for one file already in order).
    """

    crs: str
    unit_s: float = 1.0
    absolute: bool = False
    extra_names: tuple[str, ...] = ()
    tz: str | None = None
    names: list[str] = field(default_factory=list)
    runs: list[np.ndarray] = field(default_factory=list)  # per block: (k, 2) begin, length
    t: list[np.ndarray] = field(default_factory=list)
    c1: list[np.ndarray] = field(default_factory=list)
    c2: list[np.ndarray] = field(default_factory=list)
    extra: dict[str, list[np.ndarray]] = field(default_factory=dict)

    def add(self, ids: dict[int, str], cols: Columns, seg: np.ndarray, split: np.ndarray) -> None:
        """Take the kept rows of one file (cleaned ``cols``, not copied); ``ids`` maps vehicle
        codes to id strings."""
        v = cols["vid"]
        if len(v) == 0:
            return
        # one output vehicle per (source vehicle, piece); rows are grouped that way already
        heads = np.flatnonzero(np.r_[True, (v[1:] != v[:-1]) | (seg[1:] != seg[:-1])])
        for h in heads:
            name = ids[int(v[h])]
            self.names.append(f"{name}#{int(seg[h])}" if split[h] else name)
        self.runs.append(np.column_stack([heads, np.diff(np.r_[heads, len(v)])]))
        self.t.append(cols["t"])
        self.c1.append(cols["c1"])
        self.c2.append(cols["c2"])
        for k in self.extra_names:
            self.extra.setdefault(k, []).append(cols[k])

    def _column(self, blocks: list[np.ndarray], where: np.ndarray | None) -> np.ndarray:
        """One output column, its rows in vehicle-name order; ``blocks`` is emptied (released
        as soon as it is copied). ``where``: (block, begin, length) per vehicle in output order,
        ``None`` when the blocks are in order already."""
        if where is None:
            return _take(blocks)
        out = np.concatenate([blocks[b][s:s + n] for b, s, n in where])
        blocks.clear()
        return out

    def build(self, *, source: str, report: ImportReport,
              t0_abs: float | int | None = None, t0: pd.Timestamp | None = None) -> TrajectorySet:
        """The final set. For absolute times, ``t0_abs`` (in file units) is the time of ``t = 0``
        (default: the earliest kept fix) and ``t0`` its Timestamp (else derived from it).
        The collector's blocks are consumed."""
        cols = CRS_COLUMNS[self.crs]
        if not self.names:
            frame = pd.DataFrame({"vehicle": pd.Series([], dtype="str"),
                                  "t": np.zeros(0), cols[0]: np.zeros(0), cols[1]: np.zeros(0),
                                  **{k: np.zeros(0) for k in self.extra_names}})
            report.rows_kept, report.vehicles = 0, 0
            if t0 is not None and self.tz is not None and t0.tzinfo is None:
                t0 = t0.tz_localize(self.tz)
            return TrajectorySet(frame, self.crs, t0 if self.absolute else None, source, report)
        names = np.array(self.names, dtype=object)
        lengths = np.concatenate([r[:, 1] for r in self.runs])
        perm = np.argsort(names, kind="stable")
        if self.absolute:
            perm = perm[self._near_fleet(names, lengths, report)[perm]]
        where = None
        if len(perm) < len(names) or np.any(perm != np.arange(len(perm))):
            block = np.repeat(np.arange(len(self.runs)), [len(r) for r in self.runs])
            begin = np.concatenate([r[:, 0] for r in self.runs])
            where = np.column_stack([block, begin, lengths])[perm]
        t = self._column(self.t, where)
        if self.absolute:
            if t0_abs is None:
                t0_abs = t.min()
            if t0 is None:
                t0 = _timestamp(t0_abs, self.unit_s)
            if self.tz is not None and t0.tzinfo is None:
                t0 = t0.tz_localize(self.tz)
            t = t - t0_abs  # exact: integer times stay integers until converted
        else:
            t0 = None
        tt = seconds(t, self.unit_s)
        del t
        data = {
            "vehicle": pd.array(np.repeat(names[perm], lengths[perm]), dtype="str"),
            "t": tt,
            cols[0]: self._column(self.c1, where),
            cols[1]: self._column(self.c2, where),
        }
        for k in self.extra_names:
            data[k] = self._column(self.extra[k], where)
            missing = int(np.count_nonzero(~np.isfinite(data[k])))
            if missing:  # NaN where a fix has none: a run needs one for every fix, or none
                del data[k]
                report.notes.append(f"Left out column {k}: {missing:,} of {len(tt):,} kept "
                                    f"fixes have none.")
        frame = pd.DataFrame(data, copy=False)
        report.rows_kept = len(frame)
        report.vehicles = len(perm)
        self.runs = []
        return TrajectorySet(frame, self.crs, t0, source, report)

    def _near_fleet(self, names: np.ndarray, lengths: np.ndarray, report: ImportReport) -> np.ndarray:
        """Mask of the vehicles (in ``names`` order) not ``far_date``: a vehicle whose fixes all
        lie more than :data:`~traces.plausible.FAR_DATE` from the fleet's median time (the first
        fix of the vehicle holding the median fix, vehicles ordered by their first fix) is
        dropped, its fixes counted and the first few named in ``report.notes``."""
        starts = np.concatenate([t[r[:, 0]] for t, r in zip(self.t, self.runs, strict=True)])
        ends = np.concatenate([t[r[:, 0] + r[:, 1] - 1] for t, r in zip(self.t, self.runs, strict=True)])
        order = np.argsort(starts, kind="stable")
        middle = np.searchsorted(np.cumsum(lengths[order]), (int(lengths.sum()) - 1) // 2, side="right")
        ref = starts[order[middle]]
        limit = _units(FAR_DATE, self.unit_s)
        far = far_from(ends, ref, limit) & far_from(starts, ref, limit) & ((ends < ref) | (starts > ref))
        if far.any():
            n = int(lengths[far].sum())
            report.remove("far_date", n)
            shown = ", ".join(f"{names[i]} ({_timestamp(starts[i], self.unit_s):%Y-%m-%d})"
                              for i in np.flatnonzero(far)[:5])
            more = f" and {int(far.sum()) - 5:,} more" if far.sum() > 5 else ""
            report.notes.append(
                f"Dropped {int(far.sum()):,} vehicles ({n:,} fixes) dated over "
                f"{FAR_DATE.days:,} days from the fleet's median fix "
                f"{_timestamp(ref, self.unit_s)} (far_date): {shown}{more}.")
        return ~far


def _units(span: pd.Timedelta, unit_s: float) -> int:
    """``span`` in time units of ``unit_s`` seconds (whole units)."""
    return int(span.value // round(unit_s * 1e9))


def _drop_far_dates(cols: Columns, unit_s: float, report: ImportReport, source: str) -> None:
    """Drop (in place) the fixes of one file dated more than
    :data:`~traces.plausible.FAR_DATE` from the file's median fix, counted as ``far_date``."""
    t = cols["t"]
    ref = lower_median(t)
    far = far_from(t, ref, _units(FAR_DATE, unit_s))
    if not far.any():
        return
    n = int(np.count_nonzero(far))
    lo, hi = (_timestamp(v, unit_s) for v in (t[far].min(), t[far].max()))
    report.remove("far_date", n)
    report.notes.append(
        f"{source}: dropped {n:,} fixes dated {lo}{f' .. {hi}' if hi != lo else ''}, "
        f"over {FAR_DATE.days:,} days from the file's median fix {_timestamp(ref, unit_s)} "
        "(far_date).")
    _select(cols, ~far)


def finish_source(buf: FixBuffer, ids: dict[int, str], collector: Collector, report: ImportReport,
                  *, geo: bool, max_speed_mps: float | None, split_gap_s: float | None,
                  min_points: int, quota: int | None, source: str = "") -> int:
    """Clean one file's buffered fixes (the buffer is emptied; hold no other reference to its
    arrays, so that cleaning can free them), select up to ``quota`` source vehicles (natural id
    order; ``None`` = all) among those with kept fixes, and hand them to ``collector``.
    Absolute times (``collector.absolute``) dated far from the file's median fix are dropped
    first (``far_date``; ``source`` names the file in the note). Returns the number of source
    vehicles taken."""
    vid, t, c1, c2, extra = buf.arrays()
    buf.clear()
    cols: Columns = {"vid": vid, "t": t, "c1": c1, "c2": c2,
                     **{k: v for k, v in extra.items() if k in collector.extra_names}}
    del vid, t, c1, c2, extra
    if collector.absolute and len(cols["t"]) > 2:
        _drop_far_dates(cols, collector.unit_s, report, source)
    seg, split = clean(cols, unit_s=collector.unit_s, geo=geo, max_speed_mps=max_speed_mps,
                       split_gap_s=split_gap_s, min_points=min_points, report=report)
    kept_vids = pd.unique(cols["vid"])
    if quota is not None and len(kept_vids) > quota:
        chosen = sorted(kept_vids.tolist(), key=lambda c: natural_key(ids[c]))[:quota]
        sel = np.isin(cols["vid"], chosen)
        report.remove("vehicle_not_selected", np.count_nonzero(~sel))
        _select(cols, sel)
        seg, split = seg[sel], split[sel]
        kept_vids = np.asarray(chosen)
    collector.add(ids, cols, seg, split)
    return len(kept_vids)
