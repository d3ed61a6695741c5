"""Microsoft T-Drive taxi logs (Beijing, February 2008) to a :class:`TrajectorySet`.

Format: one text file per taxi, ``<id>.txt``, no header; each line
``taxi_id,YYYY-MM-DD HH:MM:SS,longitude,latitude`` (WGS-84 degrees, naive local Beijing time,
UTC+8), LF or CRLF line ends. See ``shared/data/PROVENANCE.md`` for the quirks handled here:
repeated lines, zero and far-away positions, GPS jumps, multi-day gaps.
"""

from __future__ import annotations

import re
from datetime import timedelta, timezone
from os import PathLike
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from traces._clean import FixBuffer
from traces._collect import Collector, finish_source
from traces._textio import line_chunks, open_text
from traces.errors import TraceFormatError
from traces.plausible import GPS_EPOCH, LAST_DATE, clip, out_of_range, shown
from traces.trajectories import ImportReport, TrajectorySet

BEIJING_REGION = (115.4, 39.4, 117.6, 41.1)
"""Beijing municipality box (lon_min, lat_min, lon_max, lat_max), degrees."""

_BEIJING_TZ = timezone(timedelta(hours=8))
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_TAXI_FILE = re.compile(r"^(\d+)\.txt$")
_EPOCH = pd.Timestamp("1970-01-01")

WindowLike = tuple[str | pd.Timestamp | None, str | pd.Timestamp | None]


def _naive_beijing(value: str | pd.Timestamp | None) -> pd.Timestamp | None:
    if value is None:
        return None
    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:  # the logs are naive Beijing local time
        ts = ts.tz_convert(_BEIJING_TZ).tz_localize(None)
    return ts


def _taxi_files(path: Path) -> tuple[list[tuple[int, Path]], int]:
    """``<id>.txt`` files of a directory in numeric id order, and the count of other files."""
    found, other = [], 0
    for p in path.iterdir():
        m = _TAXI_FILE.match(p.name)
        if m and p.is_file():
            found.append((int(m.group(1)), p))
        else:
            other += 1
    found.sort(key=lambda item: (item[0], item[1].name))
    return found, other


def _first_problem(nf, bad_id, bad_time, off_era, bad_lon, bad_lat, mismatch,
                   raw: pd.DataFrame | None, i: int, pos: int, file_id: int | None, name: str) -> str:
    """Message for malformed line ``i`` of a chunk (``pos``: its row in ``raw``, if parsed)."""
    if nf[i] != 4:
        return f"expected 4 comma-separated fields id,YYYY-MM-DD HH:MM:SS,lon,lat, got {nf[i]}"
    if bad_id[pos]:
        return f"taxi id {shown(raw.iat[pos, 0])} is not an integer"
    if off_era[pos]:
        text = raw.iat[pos, 1].strip()
        if text >= f"{LAST_DATE:%Y}":  # the same format: compared as text
            return f"time {shown(text)} from {LAST_DATE:%Y-%m-%d} on (beyond nanosecond timestamps)"
        return f"time {shown(text)} is before the GPS epoch {GPS_EPOCH:%Y-%m-%d} (a receiver's reset clock)"
    if bad_time[pos]:
        return f"bad time {shown(raw.iat[pos, 1])}, expected YYYY-MM-DD HH:MM:SS"
    for bad, col, what, limit in ((bad_lon, 2, "longitude", 180), (bad_lat, 3, "latitude", 90)):
        if bad[pos]:
            text = raw.iat[pos, col]
            v = pd.to_numeric(pd.Series([text]), errors="coerce").iat[0]
            if np.isfinite(v):
                return f"{what} {shown(text.strip())} outside [-{limit}, {limit}] degrees"
            return f"bad {what} {shown(text)}"
    return f"taxi id {clip(raw.iat[pos, 0].strip())} does not match the file name {name} (id {file_id})"


def _read_file(path: Path, file_id: int | None, buf: FixBuffer, report: ImportReport, *,
               chunksize: int, on_error: str, window_s: tuple[float, float],
               region: tuple[float, float, float, float] | None) -> None:
    """Parse one taxi file chunk by chunk into ``buf``, dropping malformed, outside-window,
    zero-coordinate and out-of-region lines (each counted)."""
    name = path.name
    with open_text(path) as fh:
        for first, lines in line_chunks(fh, chunksize):
            report.lines_read += len(lines)
            s = pd.Series(lines, dtype="str").str.strip()
            blank = (s == "").to_numpy()
            report.remove("blank", np.count_nonzero(blank))
            nf = s.str.count(",").to_numpy() + 1
            four = ~blank & (nf == 4)
            rows = np.flatnonzero(four)
            raw = s[four].str.split(",", expand=True) if len(rows) else None
            if raw is not None:
                ids = pd.to_numeric(raw[0], errors="coerce").to_numpy(dtype=np.float64)
                tt = pd.to_datetime(raw[1].str.strip(), format=_TIME_FORMAT, errors="coerce")
                lon = pd.to_numeric(raw[2], errors="coerce").to_numpy(dtype=np.float64)
                lat = pd.to_numeric(raw[3], errors="coerce").to_numpy(dtype=np.float64)
                bad_id = ~np.isfinite(ids) | (ids != np.round(ids)) | (np.abs(ids) > 2.0**53)
                off_era = ((tt < GPS_EPOCH) | (tt >= LAST_DATE)).to_numpy()
                bad_time = tt.isna().to_numpy() | off_era
                bad_lon = ~np.isfinite(lon) | out_of_range(lon, -180.0, 180.0)
                bad_lat = ~np.isfinite(lat) | out_of_range(lat, -90.0, 90.0)
                mismatch = (~bad_id & (ids != file_id)) if file_id is not None else np.zeros(len(rows), bool)
                bad = bad_id | bad_time | bad_lon | bad_lat | mismatch
            else:
                bad = bad_id = bad_time = off_era = bad_lon = bad_lat = mismatch = np.zeros(0, bool)
            malformed = ~blank & ~four
            malformed[rows[bad]] = True
            n_bad = int(np.count_nonzero(malformed))
            if n_bad:
                report.remove("malformed", n_bad)
                pos_of = np.full(len(lines), -1)
                pos_of[rows] = np.arange(len(rows))
                todo = 1 if on_error == "raise" else report.examples_left
                for i in np.flatnonzero(malformed)[:todo]:
                    msg = _first_problem(nf, bad_id, bad_time, off_era, bad_lon, bad_lat, mismatch,
                                         raw, int(i), int(pos_of[i]), file_id, name)
                    if on_error == "raise":
                        raise TraceFormatError(path, first + int(i), msg)
                    report.example(str(path), first + int(i), msg)
            if raw is None:
                continue
            good = ~bad
            t_s = tt.to_numpy()[good].astype("datetime64[s]").astype(np.int64)
            ids, lon, lat = ids[good].astype(np.int64), lon[good], lat[good]

            outside = (t_s < window_s[0]) | (t_s >= window_s[1])
            zero = ~outside & ((lon == 0.0) | (lat == 0.0))
            far = np.zeros_like(zero)
            if region is not None:
                lo1, la1, lo2, la2 = region
                far = ~outside & ~zero & ((lon < lo1) | (lon > lo2) | (lat < la1) | (lat > la2))
            report.remove("outside_window", np.count_nonzero(outside))
            report.remove("zero_coordinate", np.count_nonzero(zero))
            report.remove("out_of_region", np.count_nonzero(far))
            ok = ~(outside | zero | far)
            buf.append(ids[ok], t_s[ok], lon[ok], lat[ok])


def read_tdrive(
    path: str | PathLike[str],
    *,
    region: tuple[float, float, float, float] | None = BEIJING_REGION,
    max_speed_mps: float | None = 55.0,
    split_gap_s: float | None = 1800.0,
    window: WindowLike | None = None,
    max_vehicles: int | None = None,
    min_points: int = 2,
    on_error: Literal["skip", "raise"] = "skip",
    chunksize: int = 50_000,
    max_examples: int = 20,
) -> TrajectorySet:
    """Read T-Drive logs (a directory of ``<id>.txt`` or one file) into a ``lonlat`` set.

    Files are streamed ``chunksize`` lines at a time, one taxi file after another in numeric
    id order; only the parsed numbers of the current file are held, never its text.

    Cleaning, every removed line counted in ``report.removed``:

    - ``blank`` lines; ``malformed`` lines (not 4 fields, non-integer id, time not
      ``YYYY-MM-DD HH:MM:SS`` or before the GPS epoch 1980-01-06, non-numeric, non-finite or
      out-of-range lon/lat, id differing from a numeric file name), reported as
      ``file:line: problem``; ``on_error="raise"`` raises :class:`TraceFormatError` at the
      first one instead;
    - ``outside_window``: time outside ``window = (start, end)``, half-open ``[start, end)``,
      naive Beijing time (aware Timestamps are converted), either end may be ``None``;
    - ``zero_coordinate``: lon or lat exactly 0; ``out_of_region``: outside ``region``
      ``(lon_min, lat_min, lon_max, lat_max)`` (``None``: no check);
    - ``duplicate`` (same time and position as an earlier line) and ``duplicate_time`` (same
      time, other position); the first line is kept;
    - ``speed_jump``: implied haversine speed from the previous kept fix above ``max_speed_mps``
      (``None``: off); the reference resets after a gap longer than ``split_gap_s``;
    - the log is split at gaps longer than ``split_gap_s`` seconds into vehicles ``<id>#<k>``
      (``k`` = piece index in time order); unsplit taxis keep the id ``<id>``;
    - ``short_segment``: pieces with fewer than ``min_points`` fixes;
    - ``far_date``: fixes dated over :data:`~traces.plausible.FAR_DATE` (10 years) from their
      file's median fix, then whole taxis (pieces) that far from the fleet's median (a taxi of
      1970 or 2099 among taxis of 2008 would leave the others without a fix in any run);
      ``report.notes`` names them.

    ``max_vehicles`` keeps the first that many taxis, in numeric id order, that have any fix
    left after cleaning (all pieces of a kept taxi stay); files after the last one needed are
    not read (``report.notes`` says how many). A file whose name is not ``<number>.txt`` may
    hold several taxis; its ids are then not checked against the name.

    ``t0`` is the window start if given, else the earliest kept fix; ``t`` is seconds from it.
    """
    if on_error not in ("skip", "raise"):
        raise ValueError(f"on_error must be 'skip' or 'raise', got {on_error!r}")
    if max_vehicles is not None and max_vehicles < 0:
        raise ValueError(f"max_vehicles must be >= 0, got {max_vehicles}")
    path = Path(path)
    report = ImportReport(source=str(path), max_examples=max_examples)
    if path.is_dir():
        files, other = _taxi_files(path)
        if not files:
            raise TraceFormatError(path, None, "directory holds no T-Drive <id>.txt files")
        if other:
            report.notes.append(f"Ignored {other} entries not named <id>.txt.")
        jobs: list[tuple[int | None, Path]] = [(i, p) for i, p in files]
    elif path.is_file():
        m = _TAXI_FILE.match(path.name)
        jobs = [(int(m.group(1)) if m else None, path)]
    else:
        raise TraceFormatError(path, None, "no such file or directory")

    start, end = (_naive_beijing(w) for w in (window or (None, None)))
    if start is not None and end is not None and end <= start:
        raise ValueError(f"window end {end} is not after its start {start}")
    window_s = ((start - _EPOCH) / pd.Timedelta(seconds=1) if start is not None else -np.inf,
                (end - _EPOCH) / pd.Timedelta(seconds=1) if end is not None else np.inf)

    collector = Collector("lonlat", unit_s=1.0, absolute=True)
    taken = 0
    for k, (file_id, file) in enumerate(jobs):
        if max_vehicles is not None and taken >= max_vehicles:
            report.notes.append(
                f"Stopped after {taken} taxis (max_vehicles); {len(jobs) - k} files not read.")
            break
        buf = FixBuffer()
        _read_file(file, file_id, buf, report, chunksize=chunksize, on_error=on_error,
                   window_s=window_s, region=region)
        report.files_read += 1
        ids = {int(c): str(c) for c in pd.unique(buf.arrays()[0])}
        quota = None if max_vehicles is None else max_vehicles - taken
        taken += finish_source(buf, ids, collector, report, geo=True, max_speed_mps=max_speed_mps,
                               split_gap_s=split_gap_s, min_points=min_points, quota=quota,
                               source=str(file))
    t0_abs = window_s[0] if start is not None else None
    return collector.build(source=str(path), report=report, t0_abs=t0_abs, t0=start)
