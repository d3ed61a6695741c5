"""Generic trajectory CSV (with a header) to a :class:`TrajectorySet`.

Accepted headers (names case-insensitive, any column order, extra columns ignored):

- ``id,t,x,y[,z][,speed]``: local metres (``crs="xy"``);
- ``id,t,lat,lon[,z][,speed]`` or ``id,t,lon,lat,...``: WGS-84 degrees (``crs="lonlat"``),
  the order taken from the names.

Aliases: ``vehicle``/``vehicle_id`` for ``id``, ``time``/``timestamp`` for ``t``,
``latitude``, ``longitude``/``lng`` for ``lat``, ``lon``. ``t`` is either numeric seconds
(then ``t0 = None`` and ``t`` is kept as written) or ISO 8601 timestamps (then ``t0`` is the
window start or the earliest kept fix, and ``t`` seconds from it; timestamps with an offset or
``Z`` are converted to UTC). ``speed`` is m/s, ``z`` metres. Fields may be wrapped in double
quotes but may not contain the delimiter.
"""

from __future__ import annotations

import re
from os import PathLike
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from traces._clean import FixBuffer
from traces._collect import Collector, finish_source
from traces._textio import line_chunks, open_text, require_file
from traces.errors import TraceFormatError
from traces.plausible import (
    GPS_EPOCH,
    LAST_DATE,
    MAX_ABS_SPEED_MPS,
    MAX_ABS_XY_M,
    MAX_ID_CHARS,
    MAX_TIME_S,
    Z_RANGE_M,
    out_of_range,
    shown,
)
from traces.trajectories import ImportReport, TrajectorySet

ALIASES = {
    "id": ("id", "vehicle", "vehicle_id", "veh_id"),
    "t": ("t", "time", "timestamp"),
    "x": ("x",),
    "y": ("y",),
    "z": ("z",),
    "lat": ("lat", "latitude"),
    "lon": ("lon", "lng", "long", "longitude"),
    "speed": ("speed",),
}
# an offset or Z after a time of day (not the "-01" ending a bare date)
_TZ_SUFFIX = re.compile(r"\d:\d{2}(?::\d{2}(?:[.,]\d*)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$")


def header_columns(header: str, delimiter: str = ",") -> dict[str, int]:
    """Map canonical names (id, t, x, y, z, lat, lon, speed) to column positions."""
    names = [c.strip().strip('"').strip().lower() for c in header.split(delimiter)]
    found: dict[str, int] = {}
    for key, aliases in ALIASES.items():
        for i, n in enumerate(names):
            if n in aliases:
                found.setdefault(key, i)
    return found


def _layout(cols: dict[str, int], path: Path, line: int, header: str) -> str:
    xy = "x" in cols and "y" in cols
    ll = "lat" in cols and "lon" in cols
    if "id" not in cols or "t" not in cols or xy == ll:
        why = ("both x,y and lat,lon columns; keep one pair" if xy and ll else
               "needs columns id, t and either x,y or lat,lon")
        raise TraceFormatError(path, line, f"CSV header {shown(header.strip(), 80)}: {why}")
    return "xy" if xy else "lonlat"


class _TimeParser:
    """Parses the ``t`` column, numeric or ISO; the kind is fixed by the first value seen."""

    def __init__(self) -> None:
        self.kind: str | None = None  # "seconds" | "iso"
        self.utc = False

    def __call__(self, raw: pd.Series) -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, str]]]:
        """Times (float s, or int64 ns since the epoch), a mask of unparsable ones, and the
        parsed ones refused, as (mask, message with ``{v}`` for the value): numeric times
        negative or over :data:`MAX_TIME_S`; ISO times before the GPS epoch or from
        :data:`LAST_DATE` on, or whose zone (an offset or ``Z``, or none) differs from the
        file's first time's."""
        if self.kind is None:
            first = next((v for v in raw if v), None)
            if first is None:
                return np.zeros(len(raw)), np.ones(len(raw), bool), []
            try:
                float(first)
                self.kind = "seconds"
            except ValueError:
                self.kind = "iso"
                self.utc = bool(_TZ_SUFFIX.search(first))
        if self.kind == "seconds":
            t = pd.to_numeric(raw, errors="coerce").to_numpy(np.float64)
            return t, ~np.isfinite(t), [(out_of_range(t, 0.0, MAX_TIME_S), (
                f"time {{v}} outside [0, {MAX_TIME_S:g}] s (a negative time, or a Unix time: write "
                "those as ISO 8601 timestamps)"))]
        # parsed as UTC whatever the zone (pandas refuses a mix of zones otherwise); a time
        # without one keeps its wall-clock value, and a mix is flagged
        ts = pd.to_datetime(raw, format="ISO8601", errors="coerce", utc=True).dt.tz_localize(None)
        bad = ts.isna().to_numpy()
        early = ~bad & (ts < GPS_EPOCH).to_numpy()
        late = ~bad & (ts >= LAST_DATE).to_numpy()  # before the cast to ns: it would wrap
        t = np.zeros(len(raw), np.int64)
        ok = ~(bad | late)
        t[ok] = ts.to_numpy()[ok].astype("datetime64[ns]").astype(np.int64)
        mixed = ~bad & (raw.str.contains(_TZ_SUFFIX).to_numpy(bool) != self.utc)
        zone = "has no offset or Z" if self.utc else "has an offset or Z"
        return t, bad, [
            (early, f"time {{v}} before the GPS epoch {GPS_EPOCH:%Y-%m-%d} (a receiver's reset clock)"),
            (late, f"time {{v}} from {LAST_DATE:%Y-%m-%d} on (beyond nanosecond timestamps)"),
            (mixed, f"time {{v}} {zone}, unlike the file's first time")]


_I64 = np.iinfo(np.int64)


def _check_region(region: object) -> tuple[float, float, float, float]:
    """``(lon_min, lat_min, lon_max, lat_max)`` as floats, or a one-line ValueError."""
    try:
        lo1, la1, lo2, la2 = (float(v) for v in region)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ValueError(f"region must be (lon_min, lat_min, lon_max, lat_max), got {region!r}") from None
    if not (lo1 < lo2 and la1 < la2):
        raise ValueError(f"region {region!r} is empty: need lon_min < lon_max and lat_min < lat_max")
    return lo1, la1, lo2, la2


def _window(window: tuple[object, object] | None, kind: str | None, utc: bool) -> tuple:
    """Window bounds in the file's time units: float seconds, or int ns for ISO times (ints so
    that comparisons and ``t0`` stay exact)."""
    lo, hi = window or (None, None)
    if kind != "iso":
        return (-np.inf if lo is None else float(lo), np.inf if hi is None else float(hi))

    def ns(value: object) -> int:
        ts = pd.Timestamp(value)
        if utc:
            ts = (ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")).tz_localize(None)
        elif ts.tzinfo is not None:
            raise ValueError(f"window bound {value!r} has a time zone but the file's times do not")
        return int(ts.as_unit("ns").value)

    return (_I64.min if lo is None else ns(lo), _I64.max if hi is None else ns(hi))


def _num(raw: pd.DataFrame, cols: dict[str, int], key: str, optional: bool = False
         ) -> tuple[np.ndarray, np.ndarray]:
    """Column ``key`` as float64 and its bad mask (missing column: NaN, never bad; an empty
    cell in an ``optional`` column: NaN, not bad)."""
    if key not in cols:
        return np.full(len(raw), np.nan), np.zeros(len(raw), bool)
    col = raw[cols[key]]
    v = pd.to_numeric(col, errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(v)
    if optional:
        bad &= (col != "").to_numpy()
    return v, bad


#: plausible range of each number and its unit (:mod:`traces.plausible`)
_RANGES = {"x": (-MAX_ABS_XY_M, MAX_ABS_XY_M, "m"), "y": (-MAX_ABS_XY_M, MAX_ABS_XY_M, "m"),
           "lon": (-180.0, 180.0, "degrees"), "lat": (-90.0, 90.0, "degrees"),
           "z": (*Z_RANGE_M, "m"), "speed": (-MAX_ABS_SPEED_MPS, MAX_ABS_SPEED_MPS, "m/s")}


def _parse_chunk(s: pd.Series, cols: dict[str, int], crs: str, ncols: int, delimiter: str,
                 tparse: _TimeParser, n_msgs: int) -> tuple[np.ndarray, dict[str, np.ndarray],
                                                            pd.Series, dict[int, str]]:
    """Parse stripped non-blank lines ``s``: returns the mask of malformed lines, the parsed
    columns of the well-formed ones (in line order), their ids, and messages for the first
    ``n_msgs`` malformed lines of each kind (keyed by position in ``s``)."""
    nf = s.str.count(re.escape(delimiter)).to_numpy() + 1
    fits = nf == ncols
    rows = np.flatnonzero(fits)
    problem = {int(i): f"expected {ncols} fields as in the header, got {nf[i]}"
               for i in np.flatnonzero(~fits)[:n_msgs]}
    malformed = ~fits
    raw = s[fits].str.split(delimiter, expand=True, regex=False)
    raw = raw.apply(lambda c: c.str.strip().str.strip('"').str.strip()) if len(rows) else raw
    if not len(rows):
        return malformed, {}, pd.Series([], dtype="str"), problem
    c1n, c2n = ("x", "y") if crs == "xy" else ("lon", "lat")
    ident = raw[cols["id"]]
    no_id = (ident == "").to_numpy()
    # undecodable bytes were read as U+FFFD (traces._textio.open_text): not a usable id
    not_utf8 = ident.str.contains("\ufffd", regex=False).to_numpy()
    long_id = (ident.str.len() > MAX_ID_CHARS).to_numpy()
    t, bad_t, refused = tparse(raw[cols["t"]])
    values = {c1n: _num(raw, cols, c1n), c2n: _num(raw, cols, c2n),
              "z": _num(raw, cols, "z", optional=True), "speed": _num(raw, cols, "speed", optional=True)}
    checks = [("id", no_id, "empty id"), ("id", not_utf8, "bytes that are not UTF-8 in id {v}"),
              ("id", long_id, f"id {{v}} longer than {MAX_ID_CHARS} characters"),
              ("t", bad_t, "bad time {v}"), *(("t", mask, what) for mask, what in refused)]
    for key, (v, bad) in values.items():
        lo, hi, unit = _RANGES[key]
        odd = out_of_range(v, lo, hi)
        if unit == "degrees":  # a bad lat or lon, as before ranges were checked for x, y, z, speed
            bad, odd = bad | odd, np.zeros_like(odd)
        checks += [(key, bad, f"bad {key} {{v}}"), (key, odd, f"{key} {{v}} outside [{lo:g}, {hi:g}] {unit}")]
    bad = np.logical_or.reduce([c[1] for c in checks])
    for pos in np.flatnonzero(bad)[:n_msgs]:
        key, _, what = next(c for c in checks if c[1][pos])
        problem[int(rows[pos])] = what.replace("{v}", shown(raw.iat[int(pos), cols[key]]))
    malformed[rows[bad]] = True
    good = ~bad
    return (malformed, {"t": t[good], "c1": values[c1n][0][good], "c2": values[c2n][0][good],
                        "z": values["z"][0][good], "speed": values["speed"][0][good]},
            ident[good], problem)


def read_csvtraj(
    path: str | PathLike[str],
    *,
    window: tuple[object, object] | None = None,
    max_vehicles: int | None = None,
    min_points: int = 1,
    max_speed_mps: float | None = None,
    split_gap_s: float | None = None,
    region: tuple[float, float, float, float] | None = None,
    drop_zero: bool = True,
    delimiter: str = ",",
    on_error: Literal["skip", "raise"] = "skip",
    chunksize: int = 50_000,
    max_examples: int = 20,
) -> TrajectorySet:
    """Read a trajectory CSV (see the module docstring for the header) chunk by chunk.

    ``report.lines_read`` counts the lines after the header. A line is ``malformed`` (counted,
    reported as ``file:line: problem``; ``on_error="raise"`` raises :class:`TraceFormatError`
    at the first) when it has the wrong number of fields, an empty id or one over 256
    characters, a bad ``t``, a missing or non-numeric coordinate, a lat/lon out of range, or a
    non-numeric ``z``/``speed`` (empty is allowed there), or a number outside the plausible
    ranges of :mod:`traces.plausible`: numeric ``t`` negative or over 1e9 s, ISO ``t`` before
    the GPS epoch (1980-01-06), ``|x|``, ``|y|`` over 1e8 m, ``z`` outside [-1e4, 1e5] m,
    ``|speed|`` over 1e3 m/s. A ``z`` or ``speed`` column that some kept fix lacks is left out
    of the result (``report.notes`` says so): a run needs it on every fix or on none. ISO times
    dated over 10 years from the file's median fix are dropped as ``far_date`` (a receiver's
    reset clock). ``window`` is in the file's time kind (seconds, or timestamps), half-open.
    ``max_vehicles`` keeps the first vehicles in natural id order; duplicates of a
    (vehicle, t) keep the first line; ``min_points``, ``max_speed_mps`` and ``split_gap_s`` act
    as in :func:`traces.tdrive.read_tdrive` (speed and splitting are off by default).

    Degrees (lat/lon layout) are cleaned as T-Drive is: ``zero_coordinate`` (lat or lon exactly
    0, the null fix of GPS receivers; ``drop_zero=False`` keeps them) and ``out_of_region``
    (outside ``region = (lon_min, lat_min, lon_max, lat_max)``, off by default). An id holding
    bytes that are not UTF-8 is malformed. A cut or damaged ``.gz`` raises
    :class:`~traces.errors.CorruptGzipError`.
    """
    if on_error not in ("skip", "raise"):
        raise ValueError(f"on_error must be 'skip' or 'raise', got {on_error!r}")
    path = Path(path)
    require_file(path, "trajectory CSV")
    if region is not None:
        region = _check_region(region)
    report = ImportReport(source=str(path), max_examples=max_examples)
    tparse = _TimeParser()
    codes: dict[str, int] = {}
    buf = FixBuffer(extra_names=("z", "speed"))
    win: tuple | None = None

    with open_text(path) as fh:
        header, header_line = "", 0
        for line_no, text in enumerate(fh, 1):
            if text.strip():
                header, header_line = text, line_no
                break
        if not header:
            raise TraceFormatError(path, None, "empty file, expected a CSV header id,t,x,y or id,t,lat,lon")
        cols = header_columns(header, delimiter)
        crs = _layout(cols, path, header_line, header)
        ncols = header.count(delimiter) + 1

        for first, lines in line_chunks(fh, chunksize, first_line=header_line + 1):
            report.lines_read += len(lines)
            s = pd.Series(lines, dtype="str").str.strip()
            blank = (s == "").to_numpy()
            report.remove("blank", np.count_nonzero(blank))
            line_of = first + np.flatnonzero(~blank)
            n_msgs = 1 if on_error == "raise" else report.examples_left
            malformed, parsed, ident, problem = _parse_chunk(
                s[~blank], cols, crs, ncols, delimiter, tparse, n_msgs)
            n_bad = int(np.count_nonzero(malformed))
            if n_bad:
                report.remove("malformed", n_bad)
                for i in sorted(problem)[:n_msgs]:
                    if on_error == "raise":
                        raise TraceFormatError(path, int(line_of[i]), problem[i])
                    report.example(str(path), int(line_of[i]), problem[i])
            if not parsed:
                continue
            if win is None:
                win = _window(window, tparse.kind, tparse.utc)
            t = parsed["t"]
            outside = (t < win[0]) | (t >= win[1])
            report.remove("outside_window", np.count_nonzero(outside))
            if crs == "lonlat":
                lon, lat = parsed["c1"], parsed["c2"]
                zero = ~outside & ((lon == 0.0) | (lat == 0.0)) if drop_zero else \
                    np.zeros(len(t), bool)
                far = np.zeros(len(t), bool)
                if region is not None:
                    lo1, la1, lo2, la2 = region
                    far = ~outside & ~zero & ((lon < lo1) | (lon > lo2) | (lat < la1) | (lat > la2))
                report.remove("zero_coordinate", np.count_nonzero(zero))
                report.remove("out_of_region", np.count_nonzero(far))
                outside = outside | zero | far
            ok = np.flatnonzero(~outside)
            if len(ok):
                local, uniques = pd.factorize(ident.iloc[ok])
                glob = np.array([codes.setdefault(u, len(codes)) for u in uniques], dtype=np.int64)
                buf.append(glob[local], t[ok], parsed["c1"][ok], parsed["c2"][ok],
                           z=parsed["z"][ok], speed=parsed["speed"][ok])
    report.files_read = 1

    iso = tparse.kind == "iso"
    extras = tuple(k for k in ("z", "speed") if k in cols)
    collector = Collector(crs, unit_s=1e-9 if iso else 1.0, absolute=iso, extra_names=extras,
                          tz="UTC" if tparse.utc else None)
    ids = {c: s for s, c in codes.items()}
    finish_source(buf, ids, collector, report, geo=crs == "lonlat", max_speed_mps=max_speed_mps,
                  split_gap_s=split_gap_s, min_points=min_points, quota=max_vehicles,
                  source=str(path))
    t0_abs = win[0] if iso and win is not None and window and window[0] is not None else None
    return collector.build(source=str(path), report=report, t0_abs=t0_abs)
