"""PeMS traffic-flow importers: the D12 Orange County export and the PEMS0x ``.npz`` layout.

The flow of a PeMS station in vehicles per 5 minutes is the workload source of an edge server
(twin-migration Sec. V: ``S_m(t) = S_v * c_m(t)``). Two layouts load into one :class:`PemsData`:

- ``load_pems_d12(data_dir)``: ``pems/D12_Orange_2022-01/`` under the shared data directory
  (``flow_5min.csv``, ``observed_pct_5min.csv``, ``stations.csv``; see
  ``shared/data/PROVENANCE.md`` Sec. 3). A cell is *observed* when PeMS ``% Observed`` > 0;
  cells with 0 were imputed by PeMS and must not be scored.
- ``load_pems_npz(path, feature=0)``: the ``data`` array ``[time, sensor, feature]`` of the
  forecasting literature's PEMS03/04/07/08 files. They carry no observation mask (all True) and
  no coordinates.

Errors are one-line ``ValueError`` messages naming the file and the problem.
"""

from __future__ import annotations

import csv
import io
import os
import zipfile
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from traces._textio import line_chunks, open_binary, open_text
from traces.errors import TraceFormatError
from traces.plausible import MAX_FLOW, clip, lower_median, shown

D12_SUBDIR = Path("pems") / "D12_Orange_2022-01"

# Start dates of the PEMS0x tensors as documented by their source READMEs (ASTGCN / STSGCN).
# The .npz files hold no timestamps, so these are used when the caller gives no ``start``.
NPZ_KNOWN_STARTS = {
    "PEMS03": "2018-09-01",
    "PEMS04": "2018-01-01",
    "PEMS07": "2017-05-01",
    "PEMS08": "2016-07-01",
}


@dataclass(frozen=True)
class PemsData:
    """Flow of ``S`` stations over ``T`` regular 5-minute steps.

    ``flow``: (T, S) float32 vehicles per 5 min (all lanes summed).
    ``observed``: (T, S) bool, True where the cell is a measurement (PeMS ``% Observed`` > 0).
    ``timestamps``: DatetimeIndex of length T (local time, naive).
    ``station_ids``: (S,) str. ``lat``/``lon``: (S,) float, NaN where unknown.
    ``stations``: per-station metadata table (one row per column of ``flow``), may be empty.
    ``notes``: what a lenient load (``on_error="skip"``) dropped or filled in.
    """

    flow: np.ndarray
    observed: np.ndarray
    timestamps: pd.DatetimeIndex
    station_ids: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    stations: pd.DataFrame = field(default_factory=pd.DataFrame)
    source: str = ""
    notes: tuple[str, ...] = ()

    @property
    def n_steps(self) -> int:
        return int(self.flow.shape[0])

    @property
    def n_stations(self) -> int:
        return int(self.flow.shape[1])

    @property
    def fully_imputed(self) -> np.ndarray:
        """Indices of stations with no observed cell at all (D12: 1205364 and 1221932)."""
        return np.flatnonzero(~self.observed.any(axis=0))


def default_data_dir() -> Path:
    """``$DESIM_IOV_DATA`` or ``<repo>/../shared/data``."""
    env = os.environ.get("DESIM_IOV_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


@dataclass
class _Wide:
    """A wide CSV read by :func:`_read_wide_csv`: one row per time step."""

    columns: list[str]
    times: np.ndarray  # (T,) datetime64[ns]
    values: np.ndarray  # (T, S) float32
    lines: np.ndarray  # (T,) line number of each row in the file
    skipped: int = 0  # malformed rows dropped (on_error="skip")
    examples: list[str] = field(default_factory=list)


def _count_lines(path: Path) -> int:
    """Lines in the (possibly gzipped) file, read in 1 MiB blocks: the rows' upper bound. LF,
    CRLF and lone CR all end a line (as :func:`~traces._textio.open_text` reads them)."""
    n, last = 0, b"\n"
    with open_binary(path) as fh:
        for block in iter(partial(fh.read, 1 << 20), b""):
            n += block.count(b"\n") + block.count(b"\r") - block.count(b"\r\n")
            last = block[-1:]
    return n + (last not in (b"\n", b"\r"))


def _cell_problem(raw: pd.DataFrame, v: np.ndarray, r: int, columns: list[str]) -> str:
    """Message for the first bad cell of row ``r`` (``v``: the parsed values)."""
    c = int(np.flatnonzero(~np.isfinite(v[r]) | (v[r] < 0) | (v[r] > MAX_FLOW))[0])
    text, name = raw.iat[r, c + 1], clip(columns[c])
    if not isinstance(text, str):  # parsed by pandas: a float (inf) or a Python int
        text = "" if pd.isna(text) else str(text)
    if text.strip() and not np.isfinite(v[r, c]):
        return f"non-numeric value {shown(text.strip())} in column {name}"
    if not np.isfinite(v[r, c]):
        return f"missing value in column {name}"
    if v[r, c] > MAX_FLOW:
        return f"value {v[r, c]:g} in column {name} above {MAX_FLOW:,.0f} (vehicles per step)"
    return f"negative value {v[r, c]:g} in column {name}"


def _read_wide_csv(path: Path, *, on_error: str = "raise", chunksize: int = 8192,
                   max_examples: int = 5) -> _Wide:
    """Stream a ``timestamp,<station>,...`` CSV into a (T, S) float32 array, ``chunksize``
    lines at a time: the array is sized by a first pass counting lines, so the peak memory is
    the array plus one chunk, never the CSV's text. Each cell must be a non-negative number.
    A malformed row (wrong field count, bad timestamp, a bad cell) raises a one-line
    :class:`TraceFormatError` ``file:line: problem``, or with ``on_error="skip"`` is dropped
    and counted."""
    if not path.is_file():
        raise ValueError(f"{path}: file not found")
    cap = _count_lines(path)
    with open_text(path) as fh:
        header, header_line = "", 0
        for i, text in enumerate(fh, 1):
            if text.strip():
                header, header_line = text.strip(), i
                break
        columns = [c.strip().strip('"') for c in header.split(",")][1:]
        if not columns:
            raise TraceFormatError(path, header_line or None, "expected a header 'timestamp,"
                                   "<station>,...' with one column per station")
        ncols = len(columns) + 1
        out = _Wide(columns, np.empty(cap, "datetime64[ns]"),
                    np.empty((cap, len(columns)), np.float32), np.empty(cap, np.int64))
        k = 0

        def bad(line: int, problem: str) -> None:
            if on_error == "raise":
                raise TraceFormatError(path, line, problem)
            out.skipped += 1
            if len(out.examples) < max_examples:
                out.examples.append(f"{path}:{line}: {clip(problem, 400)}")

        for first, block in line_chunks(fh, chunksize, first_line=header_line + 1):
            s = [ln.strip() for ln in block]
            line_no = first + np.arange(len(s))
            nf = np.fromiter((ln.count(",") + 1 for ln in s), np.int64, len(s))
            blank = np.fromiter((not ln for ln in s), bool, len(s))
            for i in np.flatnonzero(~blank & (nf != ncols)):
                bad(int(line_no[i]), f"expected {ncols} fields as in the header, got {nf[i]}")
            keep = ~blank & (nf == ncols)
            if not keep.any():
                continue
            # fields hold no comma (counted above), so quotes are only noise: dropped, and
            # pandas told not to join lines over an unmatched one
            text = "\n".join(ln.replace('"', "") for ln, k in zip(s, keep.tolist(), strict=True) if k)
            del s
            raw = pd.read_csv(io.StringIO(text), header=None, dtype={0: str}, quoting=csv.QUOTE_NONE,
                              keep_default_na=False, skipinitialspace=True, low_memory=False)
            line_no = line_no[keep]
            t = pd.to_datetime(raw[0].str.strip(), format="%Y-%m-%d %H:%M", errors="coerce")
            cells = raw.iloc[:, 1:]
            text_cols = [c for c in cells.columns if not pd.api.types.is_numeric_dtype(cells[c])]
            if text_cols:  # only columns holding something that is not a number
                cells = cells.copy()
                for c in text_cols:
                    # as text: a 300-digit integer is a Python int there, not a float
                    cells[c] = pd.to_numeric(cells[c].astype("str"), errors="coerce")
            v = cells.to_numpy(np.float64)
            bad_t = t.isna().to_numpy()
            bad_v = (~np.isfinite(v) | (v < 0) | (v > MAX_FLOW)).any(axis=1)
            for r in np.flatnonzero(bad_t | bad_v):
                bad(int(line_no[r]), f"bad timestamp {shown(raw.iat[r, 0])}, expected 'YYYY-MM-DD HH:MM'"
                    if bad_t[r] else _cell_problem(raw, v, int(r), columns))
            ok = ~(bad_t | bad_v)
            n = int(ok.sum())
            out.values[k:k + n] = v[ok]
            out.times[k:k + n] = t.to_numpy()[ok]
            out.lines[k:k + n] = line_no[ok]
            k += n
    if k == 0:
        raise TraceFormatError(path, None, "no valid data rows: expected a timestamp column and "
                               "one column per station")
    out.values, out.times, out.lines = out.values[:k], out.times[:k], out.lines[:k]
    return out


def _regular(w: _Wide, path: Path, step: np.timedelta64, on_error: str) -> None:
    """Rows must be strictly increasing, ``step`` apart. With ``on_error="skip"`` rows off that
    grid (repeated, out of order, off step) are dropped and counted instead; steps left without
    a row are filled by the caller."""
    d = np.diff(w.times)
    if on_error == "raise":
        if (d != step).any():
            i = int(np.flatnonzero(d != step)[0]) + 1
            raise TraceFormatError(path, int(w.lines[i]), f"irregular time step at "
                                   f"{pd.Timestamp(w.times[i])} (expected {pd.Timedelta(step)} "
                                   "after the previous row)")
        return
    # a row dated far from the others (another period: a reset clock, a pasted block) would
    # stretch the grid over years of interpolated steps: more steps from the median row than
    # the file has rows cannot belong to its series
    ns = w.times.astype(np.int64).astype(np.float64)  # floats: no wrap-around over centuries
    far = np.abs(ns - lower_median(ns)) > len(w.times) * float(step.astype(np.int64))
    if far.any():
        for i in np.flatnonzero(far)[: max(0, 5 - len(w.examples))]:
            w.examples.append(f"{path}:{int(w.lines[i])}: timestamp {pd.Timestamp(w.times[i])} "
                              f"lies over {len(w.times):,} steps from the file's median row")
        w.skipped += int(far.sum())
        w.values, w.times, w.lines = w.values[~far], w.times[~far], w.lines[~far]
    increasing = np.r_[True, w.times[1:] > np.maximum.accumulate(w.times)[:-1]]
    on_grid = increasing & ((w.times - w.times[0]) % step == np.timedelta64(0))
    if not on_grid.all():
        for i in np.flatnonzero(~on_grid)[: max(0, 5 - len(w.examples))]:
            w.examples.append(f"{path}:{int(w.lines[i])}: timestamp {pd.Timestamp(w.times[i])} "
                              f"repeated, out of order or off the {pd.Timedelta(step)} grid")
        w.skipped += int((~on_grid).sum())
        w.values, w.times, w.lines = w.values[on_grid], w.times[on_grid], w.lines[on_grid]


def _on_grid(w: _Wide, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``w``'s values placed on ``grid`` (NaN where the file has no row) and the row mask."""
    if len(w.times) == len(grid):
        return w.values, np.ones(len(grid), bool)
    pos = np.searchsorted(grid, w.times)
    out = np.full((len(grid), w.values.shape[1]), np.nan, np.float32)
    out[pos] = w.values
    have = np.zeros(len(grid), bool)
    have[pos] = True
    return out, have


def _fill_missing_steps(flow: np.ndarray, have: np.ndarray) -> None:
    """Linear interpolation in time, per station, over the steps without a row (in place)."""
    if have.all():
        return
    x = np.flatnonzero(have)
    miss = np.flatnonzero(~have)
    for c in range(flow.shape[1]):
        flow[miss, c] = np.interp(miss, x, flow[x, c])


def load_pems_d12(data_dir: str | os.PathLike | None = None, *,
                  on_error: Literal["raise", "skip"] = "raise", chunksize: int = 8192,
                  step: str = "5min") -> PemsData:
    """Load the D12 Orange County January 2022 export (81 stations x 8,064 steps).

    ``data_dir`` is the shared data directory (holding ``pems/D12_Orange_2022-01/``) or that
    directory itself; ``None`` means :func:`default_data_dir`. Rows must be ``step`` apart
    (the export's 5 minutes).

    The two wide CSVs are streamed ``chunksize`` lines at a time into (T, S) arrays (peak
    memory: the float32 arrays and one chunk of text, so a CSV larger than memory loads when
    its arrays fit). Every problem is a one-line :class:`~traces.errors.TraceFormatError`
    ``file:line: problem``. With ``on_error="skip"`` malformed rows (wrong field count, bad
    timestamp, a missing, non-numeric or negative cell, a timestamp off the regular grid) are
    dropped instead; the steps left without a row in either file stay on the grid as
    *unobserved* cells, their flow interpolated linearly in time, and ``notes`` says how many
    and where the first ones were.
    """
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    base = Path(data_dir) if data_dir is not None else default_data_dir()
    d = base if (base / "flow_5min.csv").exists() else base / D12_SUBDIR
    if not d.is_dir():
        raise ValueError(f"{d}: PeMS D12 directory not found (set DESIM_IOV_DATA or --data)")
    flow_path, obs_path, st_path = d / "flow_5min.csv", d / "observed_pct_5min.csv", d / "stations.csv"
    flow = _read_wide_csv(flow_path, on_error=on_error, chunksize=chunksize)
    obs = _read_wide_csv(obs_path, on_error=on_error, chunksize=chunksize)
    if obs.columns != flow.columns:
        raise ValueError(f"{obs_path}: station columns differ from {flow_path.name}")
    step_ns = pd.Timedelta(step).to_timedelta64().astype("timedelta64[ns]")
    _regular(flow, flow_path, step_ns, on_error)
    _regular(obs, obs_path, step_ns, on_error)
    if on_error == "raise":
        if obs.values.shape != flow.values.shape:
            raise ValueError(f"{obs_path}: shape {obs.values.shape} differs from "
                             f"{flow_path.name} {flow.values.shape}")
        if not np.array_equal(obs.times, flow.times):
            i = int(np.flatnonzero(obs.times != flow.times)[0])
            raise TraceFormatError(obs_path, int(obs.lines[i]),
                                   f"timestamps differ from {flow_path.name}")
    elif (obs.times[0] - flow.times[0]) % step_ns != np.timedelta64(0):
        raise ValueError(f"{obs_path}: time grid differs from {flow_path.name}")
    lo, hi = min(flow.times[0], obs.times[0]), max(flow.times[-1], obs.times[-1])
    span = int(hi.astype(np.int64)) - int(lo.astype(np.int64))  # Python ints: no wrap-around
    steps, rows = span // int(step_ns.astype(np.int64)) + 1, min(len(flow.times), len(obs.times))
    if steps > 2 * rows:  # checked before the (steps, stations) arrays are made
        sparse = flow_path if len(flow.times) <= len(obs.times) else obs_path
        raise TraceFormatError(sparse, None, f"only {rows:,} valid rows for the {steps:,} steps "
                               f"from {pd.Timestamp(lo)} to {pd.Timestamp(hi)}: too few to "
                               "interpolate the rest (on_error='skip' fills short gaps only)")
    grid = np.arange(lo, hi + step_ns, step_ns)
    f, have_f = _on_grid(flow, grid)
    o, have_o = _on_grid(obs, grid)
    have = have_f & have_o
    _fill_missing_steps(f, have_f)
    if not (f > 0).any():
        raise TraceFormatError(flow_path, None, "every flow cell is 0: no workload shape (a "
                               "background scaled to its mean would be 0/0)")
    observed = (o > 0) & have[:, None]
    del o
    notes = tuple(f"{p.name}: dropped {w.skipped:,} malformed rows, first: {w.examples[0]}"
                  for w, p in ((flow, flow_path), (obs, obs_path)) if w.skipped)
    if not have.all():
        notes += (f"{int((~have).sum()):,} of {len(grid):,} steps lack a valid row: marked "
                  "unobserved, flow interpolated in time.",)
    ids = np.asarray(flow.columns)

    if not st_path.is_file():
        raise ValueError(f"{st_path}: file not found")
    try:  # metadata, one row per station: small, read whole
        st = pd.read_csv(st_path, dtype={"vds_id": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise TraceFormatError(st_path, None, f"not a readable CSV ({exc})") from None
    if "vds_id" not in st.columns:
        raise ValueError(f"{st_path}: no 'vds_id' column (columns: {', '.join(st.columns)})")
    st = st.set_index("vds_id")
    missing = [s for s in ids if s not in st.index]
    if missing:
        raise ValueError(f"{st_path}: no row for station(s) {', '.join(missing[:5])}")
    st = st.loc[ids].reset_index()
    # stations.csv carries no coordinates (PROVENANCE Sec. 3); take them only if present.
    lat = st["lat"].to_numpy(float) if "lat" in st.columns else np.full(len(ids), np.nan)
    lon = st["lon"].to_numpy(float) if "lon" in st.columns else np.full(len(ids), np.nan)
    return PemsData(
        flow=f,
        observed=observed,
        timestamps=pd.DatetimeIndex(grid),
        station_ids=ids,
        lat=lat,
        lon=lon,
        stations=st,
        source=str(d),
        notes=notes,
    )


def load_pems_npz(
    path: str | os.PathLike,
    feature: int = 0,
    start: str | pd.Timestamp | None = None,
    freq: str = "5min",
) -> PemsData:
    """Load a PEMS0x ``.npz`` (key ``data``, shape ``[time, sensor, feature]``; feature 0 = flow).

    The files hold no timestamps: ``start`` defaults to the documented start of PEMS03/04/07/08
    when the file name says which one it is, else 1970-01-01. No observation mask exists, so
    every cell is marked observed; station ids are the column indices as strings.

    Memory: an ``.npz`` is a zip archive and numpy cannot memory-map its members (a
    ``savez_compressed`` member is deflated; even a stored one is read whole), so the whole
    ``data`` array is loaded, then feature ``feature`` is copied out as float32. For a tensor
    larger than memory, save the same array as a ``.npy`` (``np.save(path, data)``) and pass
    that file: it is memory-mapped and only the chosen feature is copied into memory. (The
    format is told by the file's magic bytes, not its name.)
    """
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{p}: file not found")
    with open(p, "rb") as fh:
        npy = fh.read(6) == b"\x93NUMPY"
    try:
        if npy:
            arr, keys = np.load(p, mmap_mode="r", allow_pickle=False), ["data"]
        else:
            with np.load(p, allow_pickle=False) as z:
                keys = list(z.files)
                arr = z["data"] if "data" in keys else None
    except (OSError, EOFError, ValueError, AttributeError, zipfile.BadZipFile) as exc:
        why = " ".join(str(exc).split())
        raise ValueError(f"{p}: not a readable {'.npy' if npy else '.npz'} ({why})") from None
    if arr is None:
        raise ValueError(f"{p}: no 'data' array (keys: {', '.join(keys)})")
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3:
        raise ValueError(f"{p}: 'data' must be [time, sensor, feature], got shape {arr.shape}")
    if not 0 <= feature < arr.shape[2]:
        raise ValueError(f"{p}: feature {feature} out of range, file has {arr.shape[2]}")
    with np.errstate(over="ignore"):  # beyond float32 becomes inf: refused just below
        f = np.array(arr[:, :, feature], dtype=np.float32)  # a copy: never a view of a map
    if not np.isfinite(f).all():
        raise ValueError(f"{p}: 'data' holds NaN or inf in feature {feature} (or a value "
                         "beyond float32)")
    if (f < 0).any() or (f > MAX_FLOW).any():
        i, j = np.argwhere((f < 0) | (f > MAX_FLOW))[0]
        raise ValueError(f"{p}: 'data'[{i}, {j}, {feature}] = {f[i, j]:g} outside [0, "
                         f"{MAX_FLOW:,.0f}] (vehicles per step)")
    if not (f > 0).any():
        raise ValueError(f"{p}: feature {feature} of 'data' is 0 everywhere: no workload shape")
    if start is None:
        key = next((k for k in NPZ_KNOWN_STARTS if k.lower() in p.name.lower()), None)
        start = NPZ_KNOWN_STARTS[key] if key else "1970-01-01"
    n_t, n_s = f.shape
    return PemsData(
        flow=f,
        observed=np.ones((n_t, n_s), dtype=bool),
        timestamps=pd.date_range(start=start, periods=n_t, freq=freq),
        station_ids=np.asarray([str(i) for i in range(n_s)]),
        lat=np.full(n_s, np.nan),
        lon=np.full(n_s, np.nan),
        stations=pd.DataFrame({"node": np.arange(n_s)}),
        source=str(p),
    )
