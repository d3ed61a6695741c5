"""Which recorded vehicles never drive during a run, and why (issue 14 item 3).

A trace's vehicles are read with their own clocks: a taxi whose log starts after the run ends,
one with a single fix, or one that drives only outside every RSU's reach takes part in the run
without ever driving in it. :func:`idle_vehicles` names each such vehicle with the reason, so
that a run can warn about every one of them (not only when none drives at all).

A vehicle *drives* in a slot as :func:`desim_iov.build.most_covered` counts it: at the slot's
start it lies between its first and last fix (``start <= t < end``), within an RSU's reach
(ground distance) when RSU sites are given, and it moves more than 10 m by the next slot.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import pandas as pd

MOVING_M = 10.0
"""Displacement per slot below which a vehicle stands still (as ``most_covered`` counts)."""


class Track(Protocol):
    """What :func:`idle_vehicles` needs of a trajectory (:class:`models.mobility.Trajectory`)."""

    @property
    def times(self) -> np.ndarray: ...

    def position(self, t: np.ndarray) -> np.ndarray: ...


def _seconds(s: float) -> str:
    """``1,800 s``; ``1.26e+08 s = 1,461 days`` for long spans."""
    text = f"{s:,.0f} s" if abs(s) < 1e7 else f"{s:.3g} s"
    return text + (f" = {s / 86400:,.0f} days" if abs(s) >= 2 * 86400 else "")


def _when(s: float, t0: pd.Timestamp | None) -> str:
    """Relative time ``s``, or with the trace's absolute time of ``t = 0`` its date."""
    if t0 is None:
        return _seconds(s)
    try:
        return f"{t0 + pd.Timedelta(seconds=s):%Y-%m-%d %H:%M:%S} (t = {_seconds(s)})"
    except (OverflowError, ValueError):  # beyond pandas' calendar: the seconds say enough
        return _seconds(s)


def idle_reason(track: Track, duration_s: float, slot_s: float, *, rsu_xy: np.ndarray | None = None,
                reach_m: float | None = None, t0: pd.Timestamp | None = None) -> str | None:
    """Why ``track`` never drives in a run of ``duration_s`` seconds of ``slot_s`` slots, or
    ``None`` when it drives in some slot. The first reason that applies, in this order: a
    single fix; fixes all before the run, or all after its end or its last slot's start (with
    their dates when ``t0``, the trace's absolute time of ``t = 0``, is given); a log that lies
    between two slot starts;
    out of every RSU's reach (``rsu_xy`` (n, 2) or (n, 3) sites, ``reach_m`` their range; no
    check without sites) whenever it is on the road; standing still whenever it is on the road
    and within reach."""
    if not (0 < slot_s < np.inf and 0 < duration_s < np.inf):
        raise ValueError(f"slot_s and duration_s must be positive numbers, got {slot_s!r} and "
                         f"{duration_s!r}")
    times = np.asarray(track.times, dtype=np.float64)
    start, end = float(times[0]), float(times[-1])
    if len(times) < 2 or end <= start:
        return f"one fix only, at {_when(start, t0)}: driving needs two"
    if end <= 0.0:
        return f"its fixes end at {_when(end, t0)}, before the run starts at 0 s"
    if start >= duration_s:
        return (f"its first fix is at {_when(start, t0)}, after the run's end at "
                f"{_seconds(duration_s)}")
    t = np.arange(0.0, duration_s, slot_s)
    last = float(t[-1])
    t = t[(t >= start) & (t < end)]
    if not len(t) and start > last:
        return (f"its first fix is at {_when(start, t0)}, after the run's last slot starts at "
                f"{_seconds(last)}")
    if not len(t):
        return (f"its fixes span {_when(start, t0)} .. {_when(end, t0)}, between two slot starts "
                f"({_seconds(slot_s)} apart)")
    p = np.asarray(track.position(t), dtype=np.float64)[:, :2]
    sites = np.zeros((0, 2)) if rsu_xy is None else np.atleast_2d(np.asarray(rsu_xy, dtype=np.float64))
    if len(sites) and reach_m is not None:
        d = np.hypot(p[:, None, 0] - sites[None, :, 0], p[:, None, 1] - sites[None, :, 1]).min(axis=1)
        near = d <= reach_m
        if not near.any():
            return (f"out of every RSU's reach whenever it drives: {d.min():,.0f} m from the "
                    f"nearest at best (range {reach_m:,.0f} m; check the area's origin or the "
                    "trace's coordinates)")
        t, p = t[near], p[near]
    step = np.hypot(*(np.asarray(track.position(t + slot_s), dtype=np.float64)[:, :2] - p).T)
    if not (step > MOVING_M).any():
        where = "within an RSU's reach" if len(sites) and reach_m is not None else "on the road"
        return (f"stands still whenever it is {where} (under {MOVING_M:g} m per "
                f"{_seconds(slot_s)} slot, {len(t):,} slots)")
    return None


def idle_vehicles(tracks: Sequence[Track], duration_s: float, slot_s: float, *,
                  names: Sequence[str] | None = None, rsu_xy: np.ndarray | None = None,
                  reach_m: float | None = None, t0: pd.Timestamp | None = None) -> list[str]:
    """One line ``<name>: <reason>`` per vehicle of ``tracks`` that never drives during the run
    (:func:`idle_reason`), in ``tracks`` order; ``names`` default to ``vehicle <index>``, the
    index the run gives each vehicle."""
    if names is not None and len(names) != len(tracks):
        raise ValueError(f"{len(names)} names for {len(tracks)} vehicles")
    out = []
    for i, track in enumerate(tracks):
        why = idle_reason(track, duration_s, slot_s, rsu_xy=rsu_xy, reach_m=reach_m, t0=t0)
        if why is not None:
            out.append(f"{names[i] if names is not None else f'vehicle {i}'}: {why}")
    return out
