"""Cleaning shared by the importers, vectorised over the parsed fixes of one source file.

A reader parses its input chunk by chunk, drops what can be judged row by row (malformed,
outside the time window, invalid coordinates) and appends the rest to a :class:`FixBuffer`:
compact numeric columns, never text (32 bytes per fix: id code, time, two coordinates). When the
source file is done, :func:`traces._collect.finish_source` drops absolute fixes dated far from
the file's others (``far_date``, :mod:`traces.plausible`), then :func:`clean` sorts its fixes by
(source vehicle, time) and applies, in this order, the steps that need a vehicle's history:

1. ``duplicate`` / ``duplicate_time``: a later fix with the same (vehicle, time) as an earlier
   one, at the same position (``duplicate``) or at another one (``duplicate_time``); the first
   in file order is kept.
2. ``speed_jump``: a fix whose implied speed from the previous *kept* fix of the same vehicle
   exceeds ``max_speed_mps``. A time gap longer than ``split_gap_s`` resets the reference. When
   the jump follows a piece's first fix, the first fixes are judged by the ones after them
   (:func:`speed_jumps`), so that one bad first fix does not drop the whole piece.
3. splitting: a vehicle's log is cut at gaps longer than ``split_gap_s``; its pieces become
   vehicles ``<id>#<k>``, ``k`` the piece's index in time order (0-based).
4. ``short_segment``: pieces with fewer than ``min_points`` fixes.
5. ``vehicle_not_selected``: source vehicles beyond the ``max_vehicles`` first ones in natural
   id order (numbers compared as numbers).

Every dropped fix is counted in the :class:`~traces.trajectories.ImportReport` under its reason.
A :class:`~traces._collect.Collector` gathers the kept pieces of all files and builds the final
frame.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from models.geo import haversine_m
from traces.trajectories import ImportReport

_DIGITS = re.compile(r"(\d+)")


def seconds(t: np.ndarray, unit_s: float) -> np.ndarray:
    """``t`` (in units of ``unit_s`` seconds) as float64 seconds; for sub-second units it
    divides by the integer units per second, so that e.g. 60e9 ns gives exactly 60.0."""
    out = np.array(t, dtype=np.float64)  # always a new array, scaled in place
    if unit_s > 1.0:
        out *= unit_s
    elif unit_s < 1.0:
        out /= round(1.0 / unit_s)
    return out


def natural_key(s: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key comparing the digit runs of ``s`` as numbers: ``veh2 < veh10``, ``9 < 10``."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in _DIGITS.split(s) if p)


@dataclass
class FixBuffer:
    """Parsed fixes of one source file, appended chunk by chunk as numpy blocks.

    ``vid``: int64 code of the source vehicle; ``t``: time (int64 or float64, in units of
    ``unit_s`` seconds); ``c1, c2``: lon/lat or x/y; ``extra``: optional float columns
    (``z``, ``speed``).
    """

    extra_names: tuple[str, ...] = ()
    vid: list[np.ndarray] = field(default_factory=list)
    t: list[np.ndarray] = field(default_factory=list)
    c1: list[np.ndarray] = field(default_factory=list)
    c2: list[np.ndarray] = field(default_factory=list)
    extra: dict[str, list[np.ndarray]] = field(default_factory=dict)

    def append(self, vid: np.ndarray, t: np.ndarray, c1: np.ndarray, c2: np.ndarray,
               **extra: np.ndarray) -> None:
        if len(t) == 0:
            return
        self.vid.append(np.asarray(vid, dtype=np.int64))
        self.t.append(np.asarray(t))
        self.c1.append(np.asarray(c1, dtype=np.float64))
        self.c2.append(np.asarray(c2, dtype=np.float64))
        for name in self.extra_names:
            self.extra.setdefault(name, []).append(np.asarray(extra[name], dtype=np.float64))

    def __len__(self) -> int:
        return sum(len(a) for a in self.t)

    def clear(self) -> None:
        """Drop the buffered fixes (the caller holds the arrays it still needs)."""
        self.vid, self.t, self.c1, self.c2, self.extra = [], [], [], [], {}

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """The columns as single arrays; the chunk blocks are released (one copy in memory)."""
        if not self.t:
            e = np.zeros(0)
            return np.zeros(0, np.int64), e, e, e, {k: e for k in self.extra_names}
        out = (_take(self.vid), _take(self.t), _take(self.c1), _take(self.c2),
               {k: _take(v) for k, v in self.extra.items()})
        self.vid, self.t, self.c1, self.c2 = [out[0]], [out[1]], [out[2]], [out[3]]
        self.extra = {k: [v] for k, v in out[4].items()}
        return out


def _take(blocks: list[np.ndarray]) -> np.ndarray:
    """Concatenate ``blocks`` and drop them from the list as soon as they are copied."""
    out = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
    blocks.clear()
    return out


def _distance_m(c1a, c2a, c1b, c2b, geo: bool) -> np.ndarray:
    if geo:  # c1 = lon, c2 = lat
        return haversine_m(c2a, c1a, c2b, c1b)
    return np.hypot(np.subtract(c1b, c1a), np.subtract(c2b, c2a))


START_CANDIDATES = 4
"""Fixes at the start of a piece that may be dropped as a bad first fix (see :func:`speed_jumps`)."""
LOOKAHEAD = 16
"""Fixes of a piece over which the candidate first fixes are compared."""


def _chain_length(s: int, e: int, ts: np.ndarray, c1: np.ndarray, c2: np.ndarray, *, geo: bool,
                  max_speed_mps: float, gap_s: float) -> int:
    """Fixes kept among rows ``[s, e)`` by the sequential rule started at ``s``."""
    anchor, kept = s, 1
    for j in range(s + 1, e):
        dt = ts[j] - ts[anchor]
        if dt > gap_s:
            break
        if _distance_m(c1[anchor], c2[anchor], c1[j], c2[j], geo) <= max_speed_mps * dt:
            anchor, kept = j, kept + 1
    return kept


def _best_first(p: int, end: int, ts: np.ndarray, c1: np.ndarray, c2: np.ndarray,
                **rule: float | bool) -> int:
    """The first fix to keep of a piece starting at row ``p`` whose next fix is a jump: among
    the first :data:`START_CANDIDATES` fixes, the one from which the sequential rule keeps the
    most of the next :data:`LOOKAHEAD` fixes (ties: the earliest)."""
    e = min(p + LOOKAHEAD, end)
    best, best_len = p, 0
    for s in range(p, min(p + START_CANDIDATES, e)):
        n = _chain_length(s, e, ts, c1, c2, **rule)  # type: ignore[arg-type]
        if n > best_len:
            best, best_len = s, n
    return best


_BLOCK = 1 << 18


def _consecutive_violations(start: np.ndarray, ts: np.ndarray, c1: np.ndarray, c2: np.ndarray, *,
                            geo: bool, max_speed_mps: float, gap_s: float) -> np.ndarray:
    """Rows ``i`` whose speed from row ``i - 1`` (same vehicle, within ``gap_s``) exceeds the
    limit; computed in blocks so that the haversine's temporaries stay small."""
    out = []
    n = len(ts)
    for a in range(1, n, _BLOCK):
        b = min(n, a + _BLOCK)
        dt = ts[a:b] - ts[a - 1:b - 1]
        dist = _distance_m(c1[a - 1:b - 1], c2[a - 1:b - 1], c1[a:b], c2[a:b], geo)
        out.append(np.flatnonzero(~start[a:b] & (dt <= gap_s) & (dist > max_speed_mps * dt)) + a)
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def speed_jumps(start: np.ndarray, ts: np.ndarray, c1: np.ndarray, c2: np.ndarray, *, geo: bool,
                max_speed_mps: float, gap_s: float) -> np.ndarray:
    """Mask of fixes to drop because their speed from the previous kept fix exceeds the limit.

    Rows are sorted by (vehicle, time) with strictly increasing times per vehicle; ``start``
    marks each vehicle's first row, ``ts`` is in seconds. The rule is sequential by definition
    (which fix is "previous kept" depends on earlier drops), so the loop below runs once per
    jump, not per row: consecutive speeds are checked at once, and after each violation the
    fixes following it are compared with the last kept fix in growing vectorised blocks until
    one is within the limit (or lies beyond a gap, or in another vehicle).

    A piece's first fix has no earlier fix to be judged by: when the jump comes right after it
    (a GPS cold start), keeping it as the reference would drop every later good fix. There,
    the first fix kept is the one among the piece's first :data:`START_CANDIDATES` from which
    the rule keeps the most of its first :data:`LOOKAHEAD` fixes; those before it are dropped.
    """
    n = len(ts)
    drop = np.zeros(n, dtype=bool)
    if n < 2:
        return drop
    viol = _consecutive_violations(start, ts, c1, c2, geo=geo, max_speed_mps=max_speed_mps,
                                   gap_s=gap_s)
    if len(viol) == 0:
        return drop
    group_starts = np.r_[np.flatnonzero(start), n]
    rule = {"geo": geo, "max_speed_mps": max_speed_mps, "gap_s": gap_s}
    run_anchor: dict[int, int] = {}  # first kept row after a dropped run -> the kept row before
    settled = -1  # a piece's chosen first fix: judged by the plain rule from then on
    k = 0
    while k < len(viol):
        i = int(viol[k])
        anchor = i - 1  # kept: all rows between the previous dropped run and i passed
        end = int(group_starts[np.searchsorted(group_starts, anchor, side="right")])
        prev = run_anchor.get(anchor, anchor - 1)
        if anchor != settled and (start[anchor] or ts[anchor] - ts[prev] > gap_s):
            settled = _best_first(anchor, end, ts, c1, c2, **rule)
            if settled > anchor:
                drop[anchor:settled] = True
                k = int(np.searchsorted(viol, settled, side="right"))
                continue
        j, step = i, 16
        while j < end:
            hi = min(end, j + step)
            dts = ts[j:hi] - ts[anchor]
            d = _distance_m(c1[anchor], c2[anchor], c1[j:hi], c2[j:hi], geo)
            ok = (dts > gap_s) | (d <= max_speed_mps * dts)
            if ok.any():
                j += int(np.argmax(ok))
                break
            j, step = hi, step * 4
        drop[i:j] = True
        run_anchor[j] = anchor
        k = int(np.searchsorted(viol, j, side="right"))
    return drop


Columns = dict[str, np.ndarray]
"""One source file's fixes: ``vid``, ``t``, ``c1``, ``c2`` and any extra columns, same length."""


def _select(cols: Columns, rows: np.ndarray) -> None:
    """Keep ``rows`` (an index or mask) of every column, replacing one column at a time so that
    only one column is ever copied at once."""
    for k in list(cols):
        cols[k] = cols[k][rows]


def clean(cols: Columns, *, unit_s: float, geo: bool, max_speed_mps: float | None,
          split_gap_s: float | None, min_points: int, report: ImportReport
          ) -> tuple[np.ndarray, np.ndarray]:
    """Steps 1-4 of the module docstring on one source file's fixes; counts go to ``report``.

    ``cols`` is changed in place to the kept rows, sorted by (vid, t); returns each kept row's
    piece index within its vehicle (``seg``) and whether its vehicle's log was cut (``split``,
    its pieces then named ``<id>#<k>``). The caller must hold no other reference to the
    columns, so that each is freed as soon as its replacement exists (peak memory: the columns,
    plus one column and an index). A log already in order loses nothing to copies.
    """
    n = len(cols["t"])
    if n == 0:
        return np.zeros(0, np.int32), np.zeros(0, bool)
    vid, t = cols["vid"], cols["t"]
    same = vid[1:] == vid[:-1]
    if not np.all((vid[1:] > vid[:-1]) | (same & (t[1:] >= t[:-1]))):
        order = np.lexsort((t, vid))  # stable: equal (vid, t) stay in file order
        del vid, t, same
        _select(cols, order)
        del order
        vid, t = cols["vid"], cols["t"]
        same = vid[1:] == vid[:-1]
    start = np.r_[True, ~same]
    del same

    # 1. duplicates: sorted, so repeats of a (vid, t) follow the first one directly
    dup = np.r_[False, ~start[1:] & (t[1:] == t[:-1])]
    del vid, t
    if dup.any():
        c1, c2 = cols["c1"], cols["c2"]
        first = np.maximum.accumulate(np.where(dup, 0, np.arange(n)))
        same_pos = (c1 == c1[first]) & (c2 == c2[first])
        del first, c1, c2
        report.remove("duplicate", np.count_nonzero(dup & same_pos))
        report.remove("duplicate_time", np.count_nonzero(dup & ~same_pos))
        del same_pos
        keep = ~dup
        _select(cols, keep)
        start = start[keep]
        del keep
    del dup
    ts = seconds(cols["t"], unit_s)
    gap = np.inf if split_gap_s is None else float(split_gap_s)

    # 2. GPS jumps
    if max_speed_mps is not None and len(ts) > 1:
        jump = speed_jumps(start, ts, cols["c1"], cols["c2"], geo=geo,
                           max_speed_mps=max_speed_mps, gap_s=gap)
        if jump.any():
            report.remove("speed_jump", np.count_nonzero(jump))
            jump = ~jump
            _select(cols, jump)
            ts = ts[jump]
        del jump
    del start

    # 3. split at gaps; 4. short pieces, as runs of rows (one entry per piece)
    m = len(ts)
    if m == 0:
        return np.zeros(0, np.int32), np.zeros(0, bool)
    vid = cols["vid"]
    vstart = np.r_[True, vid[1:] != vid[:-1]]
    del vid
    cut = np.r_[False, ~vstart[1:] & (np.diff(ts) > gap)]
    del ts
    report.splits += int(np.count_nonzero(cut))
    heads = np.flatnonzero(vstart | cut)
    del cut
    sizes = np.diff(np.r_[heads, m])
    new_vehicle = vstart[heads]
    del vstart
    number = np.arange(len(heads))
    seg_p = number - np.maximum.accumulate(np.where(new_vehicle, number, 0))
    vehicle_p = np.cumsum(new_vehicle) - 1
    split_p = (np.bincount(vehicle_p) > 1)[vehicle_p]
    short_p = sizes < min_points
    report.remove("short_segment", int(sizes[short_p].sum()))
    good = ~short_p
    if short_p.any():
        _select(cols, np.repeat(good, sizes))
    return (np.repeat(seg_p[good].astype(np.int32), sizes[good]),
            np.repeat(split_p[good], sizes[good]))
