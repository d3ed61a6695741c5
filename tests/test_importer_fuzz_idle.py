"""Recorded vehicles that never drive during a run, named with the reason (issue 14 item 3):
before, the run warned only when *no* vehicle drove, and blamed the map origin, while a
T-Drive taxi dated years away from the others left it idle without a word."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import data_dir

from models.mobility import Trajectory
from traces.coverage import idle_reason, idle_vehicles
from traces.tdrive import read_tdrive


def line(t0: float, t1: float, x0: float = 0.0, speed: float = 10.0, n: int = 5) -> Trajectory:
    """A vehicle driving east at ``speed`` from ``x0`` between ``t0`` and ``t1``."""
    t = np.linspace(t0, t1, n)
    return Trajectory(t, np.column_stack([x0 + speed * (t - t0), np.zeros(n), np.zeros(n)]))


RUN = {"duration_s": 600.0, "slot_s": 30.0}


@pytest.mark.parametrize(("track", "reason"), [
    (line(0, 600), None),
    (line(560, 700), None),  # drives in the last slot, 570 .. 600 s
    (line(580, 700), "its first fix is at 580 s, after the run's last slot starts at 570 s"),
    (Trajectory([100.0], [[0.0, 0.0, 0.0]]), "one fix only, at 100 s: driving needs two"),
    (line(-500, -10), "its fixes end at -10 s, before the run starts at 0 s"),
    (line(600, 900), "its first fix is at 600 s, after the run's end at 600 s"),
    (line(3e8, 3e8 + 60), "its first fix is at 3e+08 s = 3,472 days, after the run's end at 600 s"),
    (line(31, 59), "its fixes span 31 s .. 59 s, between two slot starts (30 s apart)"),
    (line(0, 600, speed=0.0), "stands still whenever it is on the road (under 10 m per 30 s slot, "
                              "20 slots)"),
])
def test_reason_of_each_idle_vehicle(track, reason):
    assert idle_reason(track, **RUN) == reason
    t0 = pd.Timestamp("2008-02-03 08:00")
    if reason is not None and "first fix" in reason and track.start < 1e6:
        dated = idle_reason(track, **RUN, t0=t0)
        assert f"is at {t0 + pd.Timedelta(seconds=track.start)} (t = {track.start:g} s)" in dated


def test_reasons_against_the_rsus_and_the_names():
    rsus = np.array([[0.0, 0.0, 10.0], [3000.0, 0.0, 10.0]])
    tracks = [line(0, 600), line(0, 600, x0=20_000.0), line(0, 600, x0=2900.0, speed=0.0),
              line(700, 800)]
    got = idle_vehicles(tracks, 600.0, 30.0, rsu_xy=rsus, reach_m=500.0)
    assert got == [
        "vehicle 1: out of every RSU's reach whenever it drives: 17,000 m from the nearest at best "
        "(range 500 m; check the area's origin or the trace's coordinates)",
        "vehicle 2: stands still whenever it is within an RSU's reach (under 10 m per 30 s slot, "
        "20 slots)",
        "vehicle 3: its first fix is at 700 s, after the run's end at 600 s"]
    named = idle_vehicles(tracks, 600.0, 30.0, names=["a", "b", "c", "d"])
    assert [g.split(":")[0] for g in named] == ["c", "d"]  # no RSU check without sites
    assert idle_vehicles(tracks, 600.0, 30.0, rsu_xy=np.zeros((0, 3)), reach_m=500.0) == \
        idle_vehicles(tracks, 600.0, 30.0)
    with pytest.raises(ValueError, match="2 names for 4 vehicles"):
        idle_vehicles(tracks, 600.0, 30.0, names=["a", "b"])
    with pytest.raises(ValueError, match="slot_s and duration_s must be positive numbers"):
        idle_vehicles(tracks, 600.0, 0.0)
    with pytest.raises(ValueError, match="must be positive numbers, got 30.0 and 0.0"):
        idle_reason(tracks[0], 0.0, 30.0)


def _taxi(d, taxi: int, start: str, n: int = 30) -> None:
    t0 = pd.Timestamp(start)
    (d / f"{taxi}.txt").write_text("".join(
        f"{taxi},{t0 + pd.Timedelta(minutes=m):%Y-%m-%d %H:%M:%S},{116.40 + 0.001 * m:.5f},"
        f"39.9{taxi}\n" for m in range(n)))


def _tracks(ts):
    xy = ts.to_xy(116.40, 39.90)
    names, tracks = [], []
    for name, t, c in xy.per_vehicle():
        names.append(name)
        tracks.append(Trajectory(t, np.column_stack([c, np.zeros(len(t))])))
    return names, tracks


def test_the_taxi_of_another_year_is_named_with_its_date(tmp_path):
    """Three taxis of Feb 2008 and one of Feb 2012 (4 years: no far_date, a plausible log):
    the 2012 taxi takes part without ever driving in a 30-minute run, and is named."""
    for taxi in (1, 2, 3):
        _taxi(tmp_path, taxi, "2008-02-03 08:00")
    _taxi(tmp_path, 4, "2012-02-03 08:00")
    ts = read_tdrive(tmp_path)
    names, tracks = _tracks(ts)
    got = idle_vehicles(tracks, 1800.0, 30.0, names=names, t0=ts.t0)
    assert got == ["4: its first fix is at 2012-02-03 08:00:00 (t = 1.26e+08 s = 1,461 days), "
                   "after the run's end at 1,800 s"]


@pytest.mark.realdata
@pytest.mark.skipif(not (data_dir() / "tdrive" / "taxi_log_2008_by_id").is_dir(),
                    reason="T-Drive data not found (set DESIM_IOV_DATA)")
def test_usage_tdrive_example_names_its_idle_taxis():
    """USAGE's example (5 taxis, 08:00-09:00 on 3 Feb 2008, a 30-minute run): which taxis never
    drive in a slot, and why; the one that does is not named."""
    ts = read_tdrive(data_dir() / "tdrive" / "taxi_log_2008_by_id", max_vehicles=5,
                     window=("2008-02-03 08:00", "2008-02-03 09:00"))
    names, tracks = _tracks(ts)
    got = idle_vehicles(tracks, 1800.0, 30.0, names=names, t0=ts.t0)
    assert [g.split(":")[0] for g in got] == ["1", "3", "4", "5"]
    assert all("stands still whenever it is on the road" in g for g in got)
