"""Shared by the importer fuzz tests (issue 14 item 3): valid small inputs of each importer,
ways to damage them, and the property every import must keep: it ends, within a time limit,
in a clean result holding no NaN, inf or absurd number, or in one error line of the
importer's own type naming the file; never in another exception.

Outcomes are tallied per importer in :data:`TALLY` (``accepted``, ``error``; a traceback or a
hang is tallied too, then fails the test) so that a run can say what it tried
(``DESIM_FUZZ_TALLY=path`` writes them there as JSON when the process ends).
"""

from __future__ import annotations

import atexit
import gzip
import json
import os
import re
import signal
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from traces.csvtraj import read_csvtraj
from traces.detect import load_trajectories
from traces.errors import TraceFormatError
from traces.fcd import read_fcd
from traces.pems import PemsData, load_pems_d12
from traces.placement import from_file
from traces.tdrive import read_tdrive
from traces.trajectories import TrajectorySet

TIME_LIMIT_S = 20.0
"""Wall-clock limit of one import: a 10 MB line parses in well under a second."""

TALLY: dict[str, Counter] = defaultdict(Counter)


@atexit.register
def _write_tally() -> None:
    """``$DESIM_FUZZ_TALLY``: the outcomes of this process's imports, as JSON."""
    out = os.environ.get("DESIM_FUZZ_TALLY")
    if out and TALLY:
        Path(out).write_text(json.dumps({k: dict(v) for k, v in sorted(TALLY.items())}, indent=1))


# Plausibility written out here, independently of traces.plausible: the fuzz must not trust
# the limits it tests.
MAX_ABS_M = 1e8  # metres: beyond any projected frame on Earth
MAX_T_S = 1e9  # seconds of a trajectory (about 32 years)
MAX_FLOW = 1e5  # vehicles per station and step

# ---- valid small inputs ---------------------------------------------------------------------

TDRIVE = "".join(f"7,2008-02-02 10:{m:02d}:00,116.{40 + m:03d}00,39.90{m}00\n" for m in range(8))
CSV_XY = "id,t,x,y,z,speed\n" + "".join(
    f"{v},{t},{10 * t + v},{-5.5 * v},{1.5 * v},{10 + v}\n" for t in range(5) for v in (1, 2))
CSV_ISO = "vehicle,timestamp,lat,lon\n" + "".join(
    f"taxi{v},2024-05-01T08:0{t}:00Z,{39.9 + 0.001 * t},{116.4 + 0.001 * v}\n"
    for t in range(5) for v in (1, 2))
FCD = ('<?xml version="1.0" encoding="UTF-8"?>\n<fcd-export>\n' + "".join(
    f'  <timestep time="{t}.00">\n' + "".join(
        f'    <vehicle id="veh{v}" x="{5.0 + 12.5 * t + v:.2f}" y="{0.5 * v:.2f}" z="40.0" '
        f'speed="12.50" lane="ab_0"/>\n' for v in (1, 2))
    + (f'    <person id="p0" x="{t:.2f}" y="-0.6" speed="1.2"/>\n' if t == 1 else "")
    + "  </timestep>\n" for t in range(5)) + "</fcd-export>\n")
FCD_GEO = ('<?xml version="1.0" encoding="UTF-8"?>\n<!-- <configuration>\n'
           '<fcd-output.geo value="true"/>\n</configuration> -->\n<fcd-export>\n' + "".join(
    f'  <timestep time="{t}.00">\n    <vehicle id="veh1" x="{116.4 + 1e-4 * t:.6f}" y="39.900000" '
    f'speed="8.50"/>\n  </timestep>\n' for t in range(5)) + "</fcd-export>\n")
PEMS_STEPS = 12
PEMS_FLOW = "timestamp,11,22\n" + "".join(
    f"{ts},{40 + i},{90 - i}\n" for i, ts in enumerate(
        pd.date_range("2022-01-24 08:00", periods=PEMS_STEPS, freq="5min").strftime("%Y-%m-%d %H:%M")))
PLACEMENT_XY = "id,x,y,z\nr1,0,0,10\nr2,150.5,-20,12.5\nr3,-300,410,8\n"
PLACEMENT_LL = "name,lat,lon\nA,39.90,116.40\nB,39.91,116.41\n"

VALID: dict[str, dict[str, str]] = {
    "tdrive": {"tdrive": TDRIVE},
    "csv": {"xy": CSV_XY, "iso": CSV_ISO},
    "fcd": {"fcd": FCD, "geo": FCD_GEO},
    "auto": {"tdrive": TDRIVE, "csv": CSV_ISO, "fcd": FCD},
    "pems": {"flow": PEMS_FLOW},
    "placement": {"xy": PLACEMENT_XY, "lonlat": PLACEMENT_LL},
}


def write_pems_dir(d: Path, flow: bytes | str) -> Path:
    """A D12-layout directory whose ``flow_5min.csv`` is ``flow``; the observation file and
    the station list are valid for the header's stations (when it has a readable one)."""
    d.mkdir(parents=True, exist_ok=True)
    (d / "flow_5min.csv").write_bytes(flow.encode() if isinstance(flow, str) else flow)
    obs = PEMS_FLOW.splitlines()
    (d / "observed_pct_5min.csv").write_text(
        obs[0] + "\n" + "".join(ln.split(",")[0] + ",100,0\n" for ln in obs[1:]))
    (d / "stations.csv").write_text("vds_id,fwy\n11,I5-N\n22,I5-S\n")
    return d


# ---- the importers as the tests call them ---------------------------------------------------

Importer = Callable[[Path, str], object]
#: per importer, named option sets: ``importer(path, on_error)``
IMPORTERS: dict[str, dict[str, Importer]] = {
    "tdrive": {
        "default": lambda p, e: read_tdrive(p, on_error=e),
        "bare": lambda p, e: read_tdrive(p, region=None, max_speed_mps=None, split_gap_s=None,
                                         min_points=1, on_error=e),
    },
    "csv": {
        "default": lambda p, e: read_csvtraj(p, on_error=e),
        "cleaned": lambda p, e: read_csvtraj(p, max_speed_mps=60.0, split_gap_s=600.0,
                                             min_points=2, on_error=e),
    },
    "fcd": {"default": lambda p, e: read_fcd(p, on_error=e)},
    "auto": {"default": lambda p, e: load_trajectories(p, on_error=e)},
    "pems": {"default": lambda d, e: load_pems_d12(d, on_error=e)},
    "placement": {"default": lambda p, e: from_file(p, lon0=116.40, lat0=39.90)},
}
ERRORS: dict[str, tuple[type[Exception], ...]] = {
    "tdrive": (TraceFormatError,), "csv": (TraceFormatError,), "fcd": (TraceFormatError,),
    "auto": (TraceFormatError,),
    # documented: one-line ValueError naming the file (TraceFormatError for line problems)
    "pems": (ValueError,), "placement": (TraceFormatError,),
}


class Hang(Exception):
    """An import ran past :data:`TIME_LIMIT_S`."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`Hang` in the main thread after ``seconds`` (SIGALRM; POSIX)."""
    def ring(signum, frame):
        raise Hang(f"no result after {seconds:g} s")

    old = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run_import(kind: str, mode: str, path: Path, on_error: str = "skip") -> tuple[str, object]:
    """Import ``path`` and check the outcome: ``("accepted", result)`` or ``("error", exc)``.
    Any other exception, a hang, a multi-line error or one that does not name the file, or a
    result failing its check (:data:`CHECKS`) is tallied and raised as an AssertionError."""
    try:
        with time_limit(TIME_LIMIT_S):
            result = IMPORTERS[kind][mode](path, on_error)
    except ERRORS[kind] as e:
        msg = str(e)
        bad = ("a multi-line error" if "\n" in msg or "\r" in msg else
               "an error not naming the file" if str(path) not in msg else
               "an error over 600 characters" if len(msg) > 600 else None)
        if bad:
            TALLY[kind]["traceback"] += 1
            raise AssertionError(f"{kind}/{mode}: {bad}: {msg[:2000]!r}") from e
        TALLY[kind]["error"] += 1
        return "error", e
    except Hang as e:
        TALLY[kind]["hang"] += 1
        raise AssertionError(f"{kind}/{mode}: {path}: {e}") from e
    except Exception as e:
        TALLY[kind]["traceback"] += 1
        raise AssertionError(f"{kind}/{mode}: {path}: {type(e).__name__}: {e}") from e
    CHECKS[kind](result)
    TALLY[kind]["accepted"] += 1
    return "accepted", result


def _finite_within(name: str, v: np.ndarray, lo: float, hi: float) -> None:
    v = np.asarray(v, dtype=np.float64)
    assert np.isfinite(v).all(), f"{name} holds NaN or inf"
    if len(v):
        assert lo <= v.min() and v.max() <= hi, f"{name} outside [{lo:g}, {hi:g}]: {v.min()} .. {v.max()}"


def check_trajectories(ts: TrajectorySet) -> None:
    """A clean trajectory set: the documented invariants, every number finite and plausible,
    and every record read accounted for."""
    assert isinstance(ts, TrajectorySet)
    ts.check()
    r = ts.report
    assert r.balanced, r.summary()
    assert r.rows_kept == len(ts.frame) and r.vehicles == len(ts.vehicles())
    assert all(n > 0 for n in r.removed.values()), r.removed
    assert "\n" not in r.summary() and len(r.summary()) < 5000, r.summary()[:5000]
    f = ts.frame
    _finite_within("t", f["t"], 0.0, MAX_T_S)
    if ts.crs == "lonlat":
        _finite_within("lon", f["lon"], -180.0, 180.0)
        _finite_within("lat", f["lat"], -90.0, 90.0)
    else:
        _finite_within("x", f["x"], -MAX_ABS_M, MAX_ABS_M)
        _finite_within("y", f["y"], -MAX_ABS_M, MAX_ABS_M)
    if "z" in f:
        _finite_within("z", f["z"], -1e4, 1e5)
    if "speed" in f:
        _finite_within("speed", f["speed"], -1e3, 1e3)
    if ts.t0 is not None:
        assert pd.Timestamp("1980-01-01") <= ts.t0.tz_localize(None) <= pd.Timestamp("2262-01-01")


def check_pems(d: PemsData) -> None:
    """Clean PeMS data: (T, S) flow finite, non-negative, plausible and not all zero (the
    workload is scaled by its mean), a regular time grid, a mask of the same shape."""
    assert isinstance(d, PemsData)
    assert d.flow.ndim == 2 and d.flow.shape == d.observed.shape and d.flow.size
    _finite_within("flow", d.flow, 0.0, MAX_FLOW)
    assert float(d.flow.mean()) > 0.0
    assert len(d.timestamps) == d.n_steps and not d.timestamps.hasnans
    if d.n_steps > 1:
        assert (np.diff(d.timestamps.asi8) == np.diff(d.timestamps.asi8)[0]).all()
    assert len(d.station_ids) == d.n_stations
    assert all("\n" not in n and len(n) < 1000 for n in d.notes), d.notes


def check_sites(xy: np.ndarray) -> None:
    """Server sites: (n, 2) or (n, 3), n >= 1, finite and on Earth."""
    assert isinstance(xy, np.ndarray) and xy.ndim == 2 and xy.shape[1] in (2, 3) and len(xy)
    _finite_within("site x/y", xy[:, :2], -MAX_ABS_M, MAX_ABS_M)
    if xy.shape[1] == 3:
        _finite_within("site z", xy[:, 2], -1e4, 1e5)


CHECKS: dict[str, Callable[[object], None]] = {
    "tdrive": check_trajectories, "csv": check_trajectories, "fcd": check_trajectories,
    "auto": check_trajectories,
    "pems": check_pems, "placement": check_sites,
}


def write_input(tmp: Path, kind: str, data: bytes) -> Path:
    """``data`` as the input of importer ``kind`` under ``tmp`` (a PeMS directory, a T-Drive
    ``7.txt``, else ``input.dat``); returns what to pass to the importer."""
    if kind == "pems":
        return write_pems_dir(tmp / "pems", data)
    path = tmp / ("7.txt" if kind == "tdrive" else "input.dat")
    path.write_bytes(data)
    return path


def modes_agree(kind: str, mode: str, path: Path) -> tuple[tuple[str, object], tuple[str, object]]:
    """Read ``path`` with ``on_error="skip"`` and ``"raise"``: both end cleanly
    (:func:`run_import`), and they agree: a file the lenient reading repairs (malformed rows
    dropped) is refused by the strict one, at the line of the first problem; one it reads whole
    is read the same by both; one it refuses is refused by both. Returns both outcomes."""
    lenient, got = run_import(kind, mode, path, "skip")
    strict, exact = run_import(kind, mode, path, "raise")
    if lenient == "error":
        assert strict == "error", f"skip refused the file but raise took it: {got}"
        return (lenient, got), (strict, exact)
    if kind == "pems":
        repaired = any("dropped" in n or "lack a valid row" in n for n in got.notes)
        if not repaired:
            assert strict == "accepted", f"skip repaired nothing, raise refused: {exact}"
            np.testing.assert_array_equal(got.flow, exact.flow)
        elif strict == "accepted":  # only a file whose rows are all usable reads strictly
            raise AssertionError(f"skip repaired the file ({got.notes}) but raise took it")
        return (lenient, got), (strict, exact)
    r = got.report
    cut = r.removed.get("truncated") or any("ends early" in n for n in r.notes)  # FCD keeps it
    if r.removed.get("malformed", 0):
        assert strict == "error", f"skip dropped malformed lines ({r.examples[0]}) but raise took them"
        where = r.examples[0].split(": ", 1)[0]
        assert str(exact).startswith(f"{where}: ") or cut, (str(exact), where)
    elif not cut:
        assert strict == "accepted", f"skip found nothing malformed, raise refused: {exact}"
        pd.testing.assert_frame_equal(got.frame, exact.frame)
    return (lenient, got), (strict, exact)


# ---- damage ---------------------------------------------------------------------------------

TOKENS = [
    "", "0", "-0", "-5", "-1e-9", "1e308", "-1e308", "1e309", "nan", "NaN", "inf", "-inf", "1e30",
    "3.4e38", "99999999999999999999", "1_000", "\u0663", "0x10", " ", ",", ",,", "\n", "\r",
    "\r\n", '"', "'", "<", ">", "&", "/>", "<vehicle/>", "]]>", "\x00", "\ufeff", "\ufffd", "é",
    "1970-01-01 00:00:00", "2099-12-31 23:59:59", "1900-01-01 00:00:00", "2008-02-30 10:00:00",
    "9999-12-31 23:59:59", "1970-01-01T00:00:00Z", "2099-01-01T00:00:00+14:00", "200.5", "-91",
    "181", "89.9999999", "00:00:-1", "1:00:00:00", "time", "id", "lat", "lon", "x", "y",
]


def gz(data: bytes) -> bytes:
    """``data`` gzipped reproducibly (no time stamp)."""
    return gzip.compress(data, mtime=0)


def generic_damage(valid: str, seed: int = 0) -> dict[str, bytes]:
    """Damage any text input can suffer: cut, garbage, another encoding, a 10 MB line, empty."""
    raw = valid.encode()
    rng = np.random.default_rng(seed)
    lines = valid.splitlines(keepends=True)
    mid = len(lines) // 2
    return {
        "empty": b"",
        "blank_lines": b"\n\n  \r\n\t\n",
        "header_only": lines[0].encode(),
        "truncated_half": raw[: len(raw) // 2],
        "truncated_mid_line": raw[: len(raw) - len(lines[-1]) // 2 - 1],
        "binary_garbage": rng.integers(0, 256, 4096, dtype=np.uint8).tobytes(),
        "garbage_tail": raw + rng.integers(0, 256, 512, dtype=np.uint8).tobytes(),
        "nul_bytes": raw.replace(b",", b"\x00", 3),
        "latin1": valid.replace("7", "\u00e9", 2).encode("latin-1"),
        "utf16": valid.encode("utf-16"),
        "huge_line_10MB": "".join(lines[:mid]).encode() + b"9" * 10_000_000 + b"\n"
        + "".join(lines[mid:]).encode(),
        "huge_field_10MB": "".join(lines[:mid]).encode()  # a number 10 MB long
        + re.sub(r"\d+", "1" * 10_000_000, lines[mid], count=1).encode()
        + "".join(lines[mid + 1:]).encode(),
        "gzip": gz(raw),
        "gzip_truncated": gz(raw)[:-12],
        "reversed_lines": ("".join(lines[:1] + lines[:0:-1])).encode(),
        "crlf": valid.replace("\n", "\r\n").encode(),
        "cr_only": valid.replace("\n", "\r").encode(),
    }
