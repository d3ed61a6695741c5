"""Edge-server (RSU) sites read from a file (``rsus.layout: file``); the placement *models*
(grid, scattered, along the traffic's density) are in :mod:`models.placement`."""

from __future__ import annotations

from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from models.geo import enu_from_lonlat
from traces._textio import open_text, require_file
from traces.csvtraj import header_columns
from traces.errors import TraceFormatError
from traces.plausible import MAX_ABS_XY_M, Z_RANGE_M, out_of_range, shown

#: plausible range of each column and its unit (:mod:`traces.plausible`)
_RANGES = {"x": (-MAX_ABS_XY_M, MAX_ABS_XY_M, "m"), "y": (-MAX_ABS_XY_M, MAX_ABS_XY_M, "m"),
           "lon": (-180.0, 180.0, "degrees"), "lat": (-90.0, 90.0, "degrees"), "z": (*Z_RANGE_M, "m")}


def from_file(
    path: str | PathLike[str], *, lon0: float | None = None, lat0: float | None = None
) -> np.ndarray:
    """Server sites from a CSV with a header: ``x,y[,z]`` (metres) or ``lat,lon[,z]`` (degrees,
    either order; also ``latitude``/``longitude``). Other columns (an ``id``, a name) are
    ignored; blank lines are skipped. Returns ``(n, 2)`` or, with a ``z`` column (metres),
    ``(n, 3)``.

    Degrees are projected to the local x/y frame about ``(lon0, lat0)``, which must then be
    given (use the origin the trajectories were projected with, e.g.
    ``TrajectorySet.to_xy(...).origin``), by the local equirectangular projection of
    :func:`models.geo.enu_from_lonlat`. Any problem raises a one-line
    :class:`TraceFormatError` ``file[:line]: problem`` (missing file, a header without x,y or
    lat,lon, no site, a wrong field count, a non-numeric cell, a latitude outside [-90, 90] or
    longitude outside [-180, 180], ``|x|``, ``|y|`` over 1e8 m or ``z`` outside [-1e4, 1e5] m,
    :mod:`traces.plausible`): a server list must be exact, so nothing is skipped. The
    file is read whole (a site list is small); it may be gzipped.
    """
    path = Path(path)
    require_file(path, "server-site CSV")
    with open_text(path) as fh:
        numbered = [(i, ln.strip()) for i, ln in enumerate(fh, 1) if ln.strip()]
    if not numbered:
        raise TraceFormatError(path, None, "empty file, expected a header x,y[,z] or lat,lon[,z]")
    (head_line, header), rows = numbered[0], numbered[1:]
    cols = header_columns(header)
    geo = "lat" in cols and "lon" in cols
    xy = "x" in cols and "y" in cols
    if geo == xy:
        why = "has both x,y and lat,lon: keep one pair" if geo else \
            "needs comma-separated columns x,y[,z] or lat,lon[,z]"
        raise TraceFormatError(path, head_line, f"header {shown(header, 80)} {why}")
    keys = ["lon", "lat"] if geo else ["x", "y"]
    keys += ["z"] if "z" in cols else []
    if not rows:
        raise TraceFormatError(path, None, "no server site after the header")
    line_no = np.array([i for i, _ in rows])
    text = pd.Series([r for _, r in rows], dtype="str")
    ncols = header.count(",") + 1
    nf = text.str.count(",").to_numpy() + 1
    if (nf != ncols).any():
        i = int(np.flatnonzero(nf != ncols)[0])
        raise TraceFormatError(path, int(line_no[i]), f"expected {ncols} fields as in the header, got {nf[i]}")
    parts = text.str.split(",", expand=True)
    out = []
    for k in keys:
        raw = parts[cols[k]].str.strip().str.strip('"')
        v = pd.to_numeric(raw, errors="coerce").to_numpy(np.float64)
        if not np.isfinite(v).all():
            i = int(np.flatnonzero(~np.isfinite(v))[0])
            raise TraceFormatError(path, int(line_no[i]), f"bad {k} {shown(raw.iat[i])}")
        lo, hi, unit = _RANGES[k]
        if out_of_range(v, lo, hi).any():
            i = int(np.flatnonzero(out_of_range(v, lo, hi))[0])
            raise TraceFormatError(path, int(line_no[i]), f"{k} {v[i]:g} outside [{lo:g}, {hi:g}] {unit}")
        out.append(v)
    if geo:
        if lon0 is None or lat0 is None:
            raise ValueError(f"{path}: lat/lon server sites need lon0= and lat0=, the origin of "
                             "the simulation's x/y frame")
        out[0], out[1] = enu_from_lonlat(out[0], out[1], lon0, lat0)
    return np.column_stack(out)


