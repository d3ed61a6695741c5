"""Real-data scenarios: T-Drive taxis as vehicles, PeMS flow as background workload, RSUs
along the traffic. On tiny synthetic files always; on ../shared/data when it is there."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import data_dir

from agents.base import make_policy
from desim_iov.cli import main
from desim_iov.config import load_scenario
from desim_iov.sim import Simulation
from traces.reader import open_trace


def fake_data(root):
    """A T-Drive directory of 6 taxis driving east-west lines near the origin, and a PEMS-like
    .npz of 4 stations whose flow ramps up."""
    td = root / "tdrive" / "taxi_log_2008_by_id"
    td.mkdir(parents=True)
    for i in range(1, 7):
        lines = []
        for k in range(40):  # a fix every 60 s, 08:00-08:39, ~8 m/s eastwards
            t = pd.Timestamp("2008-02-04 08:00:00") + pd.Timedelta(seconds=60 * k)
            lon = 116.40 + 0.0055 * k / 10 + 0.001 * i
            lat = 39.90 + 0.004 * (i - 3)
            lines.append(f"{i},{t:%Y-%m-%d %H:%M:%S},{lon:.5f},{lat:.5f}")
        (td / f"{i}.txt").write_text("\n".join(lines) + "\n")
    flow = np.tile(np.arange(100, dtype=float)[:, None, None], (1, 4, 1)) + 1.0
    np.savez(root / "fake.npz", data=flow)
    return root


def test_real_data_preset_on_synthetic_files(tmp_path):
    root = fake_data(tmp_path)
    sc = load_scenario("twin-city-tdrive", [
        f"data_dir={root}", "duration=600", "rsus.count=12", "uavs.count=2",
        "background.pems_source=data:fake.npz", "background.pems_start=1970-01-01 00:00",
        "vehicles.traffic.packet_size=400 kB",
    ])
    out = tmp_path / "t.h5"
    sim = Simulation(sc, make_policy("greedy"), trace_path=str(out))
    # density_city: a contiguous lattice at the configured 500 m spacing, along the taxis
    xy = sim.world.rsu_xyz[:, :2]
    d = np.hypot(*(xy[:, None] - xy[None]).transpose(2, 0, 1))
    np.fill_diagonal(d, np.inf)
    assert np.allclose(d.min(axis=1), 500.0)
    sim.run()
    tr = open_trace(out)
    assert len(tr.df("packets")) > 0
    # PeMS background: utilisation proportional to the station's flow, mean of the series = u
    load = tr.df("server_load")
    rsu = load[load.server == 0].sort_values("time")
    mu = sim.servers.mu[0]
    flow_mean = np.arange(100).mean() + 1.0
    k = (rsu.time // 300).astype(int).to_numpy()
    expect = 0.3 * (k + 1.0) / flow_mean * mu  # every station has the same ramp
    np.testing.assert_allclose(rsu.background_rate, expect)


def test_most_covered_picks_the_vehicles_that_drive_among_the_rsus():
    """trace_select: most_covered ranks candidates by the slots they spend driving, moving and
    within an RSU's range; a parked, a late and an out-of-coverage vehicle lose."""
    from desim_iov.build import most_covered
    from models.mobility import Trajectory

    rsus = np.array([[0.0, 0.0, 0.0], [1000.0, 0.0, 0.0]])
    t = np.array([0.0, 600.0])
    drives = Trajectory(t, [[0, 0, 0], [1000, 0, 0]])
    parked = Trajectory(t, [[10, 0, 0], [10, 0, 0]])
    late = Trajectory([500.0, 600.0], [[0, 0, 0], [800, 0, 0]])
    far = Trajectory(t, [[0, 5000, 0], [1000, 5000, 0]])
    cands = [parked, late, far, drives]
    got = most_covered(cands, rsus, 1200.0, 600.0, 30.0, 2)
    assert got[0] is drives and got[1] is late


def test_missing_data_exits_2_with_one_line(tmp_path, capsys):
    code = main(["run", "--scenario", "twin-city-tdrive", "--data", str(tmp_path / "none"),
                 "--out", str(tmp_path / "x.h5"), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert "vehicles.trace" in err and "no such file" in err and err.count("\n") == 1


@pytest.mark.realdata
@pytest.mark.parametrize("scenario", ["twin-city-tdrive", "twin-rural-tdrive"])
def test_real_data_presets_on_shared_data(tmp_path, scenario):
    root = data_dir()
    if not (root / "tdrive").is_dir() or not (root / "pems" / "D12_Orange_2022-01").is_dir():
        pytest.skip(f"no T-Drive/PeMS data under {root}")
    out = tmp_path / "t.h5"
    assert main(["run", "--scenario", scenario, "--data", str(root), "--duration", "900",
                 "--out", str(out), "--quiet"]) == 0
    tr = open_trace(out)
    pk = tr.df("packets")
    assert len(pk) > 0 and tr.complete
    # most_covered: every one of the 5 taxis drives (sends packets, is decided for) from the
    # first minutes, mostly with a terrestrial/aerial host in reach
    assert sorted(pk.vehicle.unique()) == list(range(5))
    assert pk.groupby("vehicle").created.min().max() < 600.0  # T-Drive fixes are ~5 min apart
    dec = tr.df("decisions")
    assert (dec.n_feasible > 1).mean() > 0.75
    bg = tr.df("server_load")
    rsu_rates = bg[bg.server < 5].groupby("server").background_rate.std()
    assert (rsu_rates > 0).all()  # real flow varies over the 5-minute steps
    assert main(["replay", str(out), "--quiet", "--out", str(tmp_path / "r.h5")]) == 0
