"""SUMO floating-car-data (FCD) XML to a :class:`TrajectorySet`.

Format (``sumo --fcd-output``)::

    <fcd-export>
      <timestep time="0.00">
        <vehicle id="v0" x="12.30" y="45.60" z="0.00" angle="90.00" type="car"
                 speed="13.89" pos="5.10" lane="e1_0" slope="0.00"/>
        <person id="p0" x="..." y="..." .../>
      </timestep>
    </fcd-export>

``x``, ``y``, ``z`` are metres in the network's Cartesian frame; with ``--fcd-output.geo``
``x`` holds longitude and ``y`` latitude (degrees). ``speed`` is m/s; ``time`` is simulation
seconds (or ``[D:]HH:MM:SS`` with ``--human-readable-time``). Plain or gzip (detected by the
magic bytes, not the file name).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from functools import partial
from os import PathLike
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from traces._clean import FixBuffer
from traces._collect import Collector, finish_source
from traces._textio import open_binary, require_file
from traces.errors import CorruptGzipError, TraceFormatError
from traces.plausible import (
    MAX_ABS_SPEED_MPS,
    MAX_ABS_XY_M,
    MAX_ID_CHARS,
    MAX_TIME_S,
    Z_RANGE_M,
    clip,
    out_of_range,
    shown,
)
from traces.trajectories import ImportReport, TrajectorySet

_POSITION = re.compile(r":\s*line \d+, column \d+$")
_CLOCK = re.compile(r"^(?:(\d+):)?(\d+):(\d+):(\d+(?:\.\d*)?)$")
_IGNORED = {"person": "person", "container": "container"}
#: plausible range of each attribute and its unit (:mod:`traces.plausible`)
_RANGES = {"x": (-MAX_ABS_XY_M, MAX_ABS_XY_M, "m"), "y": (-MAX_ABS_XY_M, MAX_ABS_XY_M, "m"),
           "z": (*Z_RANGE_M, "m"), "speed": (-MAX_ABS_SPEED_MPS, MAX_ABS_SPEED_MPS, "m/s")}


def _parse_time(text: str | None) -> float | None:
    """Seconds from a ``time`` attribute: ``12.5`` or ``[D:]HH:MM:SS[.ff]``; ``None`` if bad."""
    if text is None:
        return None
    try:
        v = float(text)
    except ValueError:
        m = _CLOCK.match(text.strip())
        if not m:
            return None
        d, h, mi, s = m.groups()
        v = int(d or 0) * 86400 + int(h) * 3600 + int(mi) * 60 + float(s)
    return v if np.isfinite(v) else None


def _time_problem(text: str | None, v: float | None) -> str | None:
    """Why a ``<timestep>`` time (``text``, parsed as ``v``) is refused, or ``None``: it must
    parse and lie in ``[0, MAX_TIME_S]`` (a negative time would be a negative delay in a run)."""
    if v is None:
        return f"<timestep> has no valid time ({shown(text)})"
    if not 0.0 <= v <= MAX_TIME_S:
        return f"<timestep> time {shown(text)} outside [0, {MAX_TIME_S:g}] s"
    return None


_GEO_OPTION = re.compile(r'<fcd-output\.geo\s+value="(true|1|yes|on)"', re.IGNORECASE)
_MAX_DEG_PER_S = 0.05
"""Median step speed (coordinate units per second) below which a file without ``speed`` is
read as degrees: 0.05 deg/s is about 5.5 km/s, 0.05 m/s a crawl."""


def _looks_geo(vid: np.ndarray, t: np.ndarray, x: np.ndarray, y: np.ndarray,
               speed: np.ndarray) -> bool | None:
    """Whether x/y are lon/lat: ``False`` if outside [-180, 180] x [-90, 90]; else compare the
    displacement between consecutive fixes with ``speed * dt``: about 1 in metres, about 1e-5
    in degrees. Without ``speed`` (``--fcd-output.attributes x,y``) the median speed of the
    moving steps decides: below :data:`_MAX_DEG_PER_S` units/s it is degrees (a car moves
    ~1e-4 deg/s, ~10 m/s). ``None`` when no moving vehicle allows either comparison."""
    if len(x) == 0:
        return None
    if np.nanmax(np.abs(x)) > 180.0 or np.nanmax(np.abs(y)) > 90.0:
        return False
    o = np.lexsort((t, vid))
    vid, t, x, y, speed = vid[o], t[o], x[o], y[o], speed[o]
    dt = np.diff(t)
    step = np.hypot(np.diff(x), np.diff(y))
    same = (vid[1:] == vid[:-1]) & (dt > 0)
    use = same & (speed[1:] > 1.0) & np.isfinite(speed[1:])
    if use.any():
        ratio = step[use] / (speed[1:][use] * dt[use])
        return bool(np.median(ratio) < 1e-2)
    moving = same & ~np.isfinite(speed[1:]) & (step > 0)
    if not moving.any():
        return None
    return bool(np.median(step[moving] / dt[moving]) < _MAX_DEG_PER_S)


def feed_xml(parser: ET.XMLPullParser, data: bytes | None, path: Path, line: int) -> None:
    """``parser.feed(data)`` (``parser.close()`` for ``None``), where a declared encoding that
    expat cannot read (``encoding="A"``, ``"utf-32"``) is a one-line :class:`TraceFormatError`
    instead of a LookupError or ValueError; malformed XML stays an ``ET.ParseError``."""
    try:
        if data is None:
            parser.close()
        else:
            parser.feed(data)
    except (LookupError, ValueError) as err:  # ET.ParseError is a SyntaxError: not caught
        raise TraceFormatError(path, line, f"XML declares an encoding that cannot be read ({err})") from None


class _Batch:
    """Raw attribute strings of up to ``chunksize`` records, with problems known at parse time
    (a bad ``<timestep>`` time, an element outside any timestep) kept in line order too."""

    def __init__(self) -> None:
        self.line: list[int] = []
        self.time: list[float] = []
        self.id: list[str | None] = []
        self.x: list[str | None] = []
        self.y: list[str | None] = []
        self.z: list[str | None] = []
        self.speed: list[str | None] = []
        self.problem: list[str | None] = []

    def __len__(self) -> int:
        return len(self.line)

    def add(self, line: int, time: float, el: ET.Element, problem: str | None = None) -> None:
        ident = el.get("id")
        if problem is None and ident is not None and len(ident) > MAX_ID_CHARS:
            problem = f"<vehicle> id longer than {MAX_ID_CHARS} characters ({shown(ident)})"
        self.line.append(line)
        self.time.append(time)
        self.id.append(ident)
        self.x.append(el.get("x"))
        self.y.append(el.get("y"))
        self.z.append(el.get("z"))
        self.speed.append(el.get("speed"))
        self.problem.append(problem)

    def truncate(self, n: int) -> None:
        """Drop every record after the first ``n``."""
        for name in ("line", "time", "id", "x", "y", "z", "speed", "problem"):
            del getattr(self, name)[n:]


def _message(batch: _Batch, i: int, masks: dict[str, np.ndarray]) -> str:
    if batch.problem[i] is not None:
        return batch.problem[i]
    if not batch.id[i]:
        return "<vehicle> without an id"
    attr = next(a for a, m in masks.items() if m[i])
    name = attr.removesuffix("_range")
    val = getattr(batch, name)[i]
    if val is None:
        return f"<vehicle id={batch.id[i]!r}> lacks {name}"
    if attr != name:
        lo, hi, unit = _RANGES[name]
        return f"<vehicle id={batch.id[i]!r}> has {name}={shown(val)} outside [{lo:g}, {hi:g}] {unit}"
    return f"<vehicle id={batch.id[i]!r}> has a non-numeric {name}={shown(val)}"


def _flush(batch: _Batch, path: Path, codes: dict[str, int], buf: FixBuffer,
           report: ImportReport, on_error: str, window: tuple[float, float]) -> None:
    """Convert a batch to numbers at once; count malformed and outside-window records."""
    if not len(batch):
        return

    def num(values: list[str | None]) -> np.ndarray:
        return pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(np.float64)

    x, y, z, speed = num(batch.x), num(batch.y), num(batch.z), num(batch.speed)
    t = np.asarray(batch.time, dtype=np.float64)
    preset = np.array([p is not None for p in batch.problem], dtype=bool)
    no_id = np.array([not v for v in batch.id], dtype=bool)
    masks = {
        "x": ~np.isfinite(x),
        "y": ~np.isfinite(y),
        "z": np.array([v is not None for v in batch.z], dtype=bool) & ~np.isfinite(z),
        "speed": np.array([v is not None for v in batch.speed], dtype=bool) & ~np.isfinite(speed),
    }
    for name, v in (("x", x), ("y", y), ("z", z), ("speed", speed)):
        masks[f"{name}_range"] = out_of_range(v, *_RANGES[name][:2])
    bad = preset | no_id | np.logical_or.reduce(list(masks.values()))
    n_bad = int(np.count_nonzero(bad))
    if n_bad:
        report.remove("malformed", n_bad)
        todo = 1 if on_error == "raise" else report.examples_left
        for i in np.flatnonzero(bad)[:todo]:
            msg = _message(batch, int(i), masks)
            if on_error == "raise":
                raise TraceFormatError(path, batch.line[i], msg)
            report.example(str(path), batch.line[i], msg)
    outside = ~bad & ((t < window[0]) | (t >= window[1]))
    report.remove("outside_window", np.count_nonzero(outside))
    ok = np.flatnonzero(~bad & ~outside)
    if len(ok):
        ids = pd.Series([batch.id[i] for i in ok], dtype="str")
        local, uniques = pd.factorize(ids)
        glob = np.array([codes.setdefault(u, len(codes)) for u in uniques], dtype=np.int64)
        buf.append(glob[local], t[ok], x[ok], y[ok], z=z[ok], speed=speed[ok],
                   line=np.asarray(batch.line, dtype=np.float64)[ok])


def _drop_outside_degrees(buf: FixBuffer, path: Path, report: ImportReport, on_error: str) -> None:
    """Fixes of a lon/lat file whose x is not a longitude or y not a latitude: ``malformed``
    with their line (the file is judged lon/lat only once it is read whole)."""
    vid, t, x, y, extra = buf.arrays()
    bad = out_of_range(x, -180.0, 180.0) | out_of_range(y, -90.0, 90.0)
    if not bad.any():
        return
    report.remove("malformed", int(np.count_nonzero(bad)))
    todo = 1 if on_error == "raise" else report.examples_left
    for i in np.flatnonzero(bad)[:todo]:
        msg = f"<vehicle> at x={x[i]:g}, y={y[i]:g} is not lon/lat in a lon/lat (geo) file"
        if on_error == "raise":
            raise TraceFormatError(path, int(extra["line"][i]), msg)
        report.example(str(path), int(extra["line"][i]), msg)
    keep = ~bad
    buf.clear()
    buf.append(vid[keep], t[keep], x[keep], y[keep], **{k: v[keep] for k, v in extra.items()})


def read_fcd(
    path: str | PathLike[str],
    *,
    geo: bool | None = None,
    window: tuple[float | None, float | None] | None = None,
    max_vehicles: int | None = None,
    min_points: int = 1,
    max_speed_mps: float | None = None,
    split_gap_s: float | None = None,
    on_error: Literal["skip", "raise"] = "skip",
    chunksize: int = 50_000,
    max_examples: int = 20,
) -> TrajectorySet:
    """Read a SUMO FCD file (``--fcd-output``, plain or gzip) into a :class:`TrajectorySet`.

    Output columns: ``vehicle``, ``t`` (simulation seconds, ``t0 = None``), ``x``, ``y``
    (metres, ``crs="xy"``) or ``lon``, ``lat`` (``crs="lonlat"``), ``z`` if the file has it,
    ``speed`` (m/s) if the file has it. Other attributes (angle, type, pos, lane, slope, ...)
    are ignored.

    Geo output: ``geo=True`` reads ``x`` as longitude and ``y`` as latitude (what
    ``--fcd-output.geo`` writes), ``geo=False`` as metres. ``geo=None`` (default) decides: lon/lat
    when the configuration comment SUMO writes before the root sets ``fcd-output.geo`` (an
    error if x/y then exceed lon/lat ranges); else from the data: metres if any ``|x| > 180``
    or ``|y| > 90``; otherwise the displacement between a vehicle's consecutive fixes is
    compared with ``speed * dt`` (median ratio about 1 in metres, about 1e-5 in degrees), or,
    without a ``speed`` attribute (``--fcd-output.attributes x,y``), the median step speed
    with 0.05 units/s. If nothing moves the file is taken as metres and ``report.notes`` says so.

    Streaming: the XML is fed to an ElementTree pull parser (the parser under ``iterparse``)
    one line at a time, so that each element's line number is known for error messages, and
    every element is cleared once read. ``<person>`` and ``<container>`` elements are counted
    (``removed["person"]``, ``removed["container"]``) and skipped. Malformed ``<vehicle>``
    elements (no id or one over 256 characters, missing or non-numeric x/y, non-numeric
    z/speed, a ``<timestep>`` time that is not a time in [0, 1e9] s, numbers outside the
    plausible ranges of :mod:`traces.plausible`: ``|x|``, ``|y|`` over 1e8 m, or not lon/lat
    in a geo file, ``z`` outside [-1e4, 1e5] m, ``|speed|`` over 1e3 m/s) are counted as
    ``malformed`` with their line; ``on_error="raise"`` raises at the first. A ``z`` or
    ``speed`` attribute that some kept vehicle element lacks is left out of the result
    (``report.notes`` says so). XML that is not
    well-formed, or whose root is not ``<fcd-export>``, always raises
    :class:`TraceFormatError` with the line number, and a damaged gzip stream
    :class:`~traces.errors.CorruptGzipError`. A file that merely ends too early (SUMO killed
    mid-run: the XML, or the gzip stream, stops inside the data) is fatal with
    ``on_error="raise"``; with ``"skip"`` the complete timesteps read so far are kept, the
    records of the unfinished last timestep are counted as ``truncated`` and ``report.notes``
    says where the file ends.

    ``window = (start, end)`` in simulation seconds, half-open; ``max_vehicles`` keeps the first
    vehicles in natural id order (``veh2`` before ``veh10``); ``min_points``, ``max_speed_mps``
    and ``split_gap_s`` act as in :func:`traces.tdrive.read_tdrive` (off by default: SUMO
    output has no GPS errors).
    """
    if on_error not in ("skip", "raise"):
        raise ValueError(f"on_error must be 'skip' or 'raise', got {on_error!r}")
    path = Path(path)
    require_file(path, "SUMO FCD XML")
    report = ImportReport(source=str(path), max_examples=max_examples)
    lo, hi = window or (None, None)
    win = (-np.inf if lo is None else float(lo), np.inf if hi is None else float(hi))

    buf = FixBuffer(extra_names=("z", "speed", "line"))
    codes: dict[str, int] = {}
    batch = _Batch()
    parser = ET.XMLPullParser(events=("start", "end", "comment"))
    root: ET.Element | None = None
    depth = 0
    time: float | None = None
    time_text: str | None = None
    time_bad: str | None = None
    step_start = 0  # batch index of the first record of the open <timestep>
    steps_done = 0
    geo_option = False  # SUMO's configuration comment says --fcd-output.geo
    closing = False
    lineno, newlines = 0, 0
    try:
        with open_binary(path) as fh:
            # fed a line at a time (pieces of at most 64 KiB), so that events come out right
            # after the line that completes them: their line number is known exactly
            for piece in iter(partial(fh.readline, 1 << 16), b""):
                lineno = newlines + 1
                newlines += piece.count(b"\n")
                feed_xml(parser, piece, path, lineno)
                for event, el in parser.read_events():
                    if event == "comment":
                        if root is None and _GEO_OPTION.search(el.text or ""):
                            geo_option = True
                        continue
                    if event == "start":
                        depth += 1
                        if depth == 1:
                            root = el
                            if el.tag != "fcd-export":
                                raise TraceFormatError(
                                    path, lineno, f"root element is <{clip(el.tag)}>, expected "
                                    "<fcd-export> (SUMO --fcd-output)")
                        elif depth == 2:
                            step_start = len(batch)
                            if el.tag == "timestep":
                                time_text = el.get("time")
                                time = _parse_time(time_text)
                                time_bad = _time_problem(time_text, time)
                                time = None if time_bad else time
                            else:
                                time = None
                                time_bad = f"<vehicle> inside <{clip(el.tag)}>, not a <timestep>"
                        continue
                    depth -= 1
                    if depth == 2:  # a child of <timestep> (or misplaced deeper)
                        tag = el.tag
                        report.lines_read += 1
                        if tag == "vehicle":
                            batch.add(lineno, np.nan if time is None else time, el,
                                      None if time is not None else time_bad)
                        else:
                            report.remove(_IGNORED.get(tag, "other_element"))
                        el.clear()
                    elif depth == 1:
                        if el.tag in ("vehicle", *_IGNORED):
                            report.lines_read += 1
                            batch.add(lineno, np.nan, el, f"<{el.tag}> outside a <timestep>")
                        elif el.tag == "timestep":
                            steps_done += 1
                        else:
                            report.lines_read += 1
                            report.remove("other_element")
                        time = None
                        step_start = len(batch)
                        root.clear()  # drop finished timesteps: memory stays flat
                        # flushed between timesteps only, so that a truncated file's
                        # incomplete last timestep can still be taken back
                        if len(batch) >= chunksize:
                            _flush(batch, path, codes, buf, report, on_error, win)
                            batch, step_start = _Batch(), 0
            closing = True  # expat reports data that ends too soon only here
            feed_xml(parser, None, path, newlines + 1)
    except (ET.ParseError, CorruptGzipError) as err:
        at_end = err.truncated if isinstance(err, CorruptGzipError) else closing
        if on_error == "raise" or not at_end or root is None:
            if isinstance(err, CorruptGzipError):
                raise
            line = err.position[0] if err.position else lineno
            what = "file ends early (truncated?): " if at_end else ""
            raise TraceFormatError(
                path, line, f"malformed XML: {what}{_POSITION.sub('', str(err))}") from None
        lost = len(batch) - step_start if depth >= 2 else 0
        batch.truncate(len(batch) - lost)
        report.remove("truncated", lost)
        cut = "gzip stream" if isinstance(err, CorruptGzipError) else "XML"
        tail = (f"; dropped the {lost:,} records of its incomplete last timestep"
                f"{f' (time {time_text})' if time_text and depth >= 2 else ''}" if lost else "")
        report.notes.append(
            f"{path}: the {cut} ends early, in line {newlines + 1:,} (was SUMO stopped?): "
            f"kept the {steps_done:,} complete timesteps{tail}.")
    if root is None:
        raise TraceFormatError(path, lineno or None, "no XML element found, expected <fcd-export>")
    _flush(batch, path, codes, buf, report, on_error, win)
    report.files_read = 1

    vid, t, x, y, extra = buf.arrays()
    if geo is None and geo_option and len(x) and (np.abs(x).max() > 180 or np.abs(y).max() > 90):
        raise TraceFormatError(path, None, "SUMO's configuration says --fcd-output.geo but x/y "
                               "exceed lon/lat ranges; pass geo=False to read metres")
    if geo is None and geo_option:
        geo = True
        report.notes.append("Read x/y as lon/lat: the file's SUMO configuration sets "
                            "--fcd-output.geo.")
    if geo is None:
        guess = _looks_geo(vid, t, x, y, extra["speed"])
        if guess is None and len(x):
            report.notes.append("Could not tell metres from lon/lat (no moving vehicle); read "
                                "x/y as metres: pass geo=True for --fcd-output.geo files.")
        geo = bool(guess)
    if geo:
        _drop_outside_degrees(buf, path, report, on_error)
    ids = {c: s for s, c in codes.items()}
    extras = tuple(k for k in ("z", "speed") if len(t) and np.isfinite(extra[k]).any())
    del vid, t, x, y, extra  # the buffer's arrays: cleaning frees them as it goes
    collector = Collector("lonlat" if geo else "xy", unit_s=1.0, absolute=False, extra_names=extras)
    finish_source(buf, ids, collector, report, geo=geo, max_speed_mps=max_speed_mps,
                  split_gap_s=split_gap_s, min_points=min_points, quota=max_vehicles,
                  source=str(path))
    return collector.build(source=str(path), report=report)
