"""Live SUMO coupling (vehicles.mobility: sumo) on a small grid that SUMO's netgenerate makes
here: positions are SUMO's own (its FCD output), on the roads; vehicles enter and leave and
the app follows them; same seed, same trace; the traci fallback; the user-file variant; the
CLI preset; one-line errors, also when the [sumo] extra is missing."""

from __future__ import annotations

import builtins
import importlib.util

import h5py
import numpy as np
import pandas as pd
import pytest
from _golden import compare_traces

from agents.base import make_policy
from desim_iov.config import ConfigError, load_scenario
from desim_iov.sim import Simulation

needs_sumo = pytest.mark.skipif(importlib.util.find_spec("sumo") is None
                                or importlib.util.find_spec("traci") is None,
                                reason="needs the [sumo] extra (make test installs it)")

#: a 3 x 3 grid of 100 m blocks (roads on x, y in {-100, 0, 100} once centred), 6 trips one
#: every 3 s, the first 4 followed; 40 s
SMALL = ("duration=40", "vehicles.count=4", "vehicles.sumo.grid_size=3",
         "vehicles.sumo.grid_length=100 m", "vehicles.sumo.lanes=1", "vehicles.sumo.vehicles=6",
         "vehicles.sumo.period=3 s", "vehicles.sumo.min_trip=0 m", "rsus.count=9",
         "uavs.count=2", "area.width=600 m", "area.height=600 m",
         "vehicles.traffic.packet_size=800 kB", "trace.sample_interval=1 s")


@pytest.fixture(autouse=True, scope="module")
def _cache(tmp_path_factory):
    """Generated networks and routes in a temporary cache, shared by this module's tests."""
    mp = pytest.MonkeyPatch()
    mp.setenv("DESIM_IOV_CACHE", str(tmp_path_factory.mktemp("sumo-cache")))
    yield
    mp.undo()


def small(*overrides: str):
    return load_scenario("twin-city-sumo", [*SMALL, *overrides])


def run(sc, path=None, policy="greedy"):
    sim = Simulation(sc, make_policy(policy), trace_path=None if path is None else str(path))
    sim.run()
    return sim


def vehicle_rows(path) -> pd.DataFrame:
    p = pd.read_hdf(path, "positions")
    return p[p.kind == 0].sort_values(["id", "time"]).reset_index(drop=True)


@needs_sumo
def test_positions_are_sumos_own_on_the_roads(tmp_path):
    """Every driving vehicle's position at every step is SUMO's FCD output for that time,
    moved so that the network is centred on the origin; parked at the centre before it
    enters, its last position held after it leaves."""
    from traces.fcd import read_fcd

    fcd = tmp_path / "fcd.xml"
    sc = small(f'vehicles.sumo.options=["--fcd-output", "{fcd}"]')
    sim = run(sc, tmp_path / "t.h5")
    live = sim.world.live
    assert live.interface == "libsumo" and "via libsumo" in sim.world.import_report
    with h5py.File(tmp_path / "t.h5") as f:
        assert "via libsumo" in f.attrs["vehicle_trace_report"]
    rows = vehicle_rows(tmp_path / "t.h5")
    ref = read_fcd(fcd).frame
    ref = ref.assign(x=ref.x - 100.0, y=ref.y - 100.0)  # the 200 m grid's centre at the origin
    checked = 0
    for v, sumo_id in enumerate(live.ids):
        mine = rows[rows.id == v]
        start, end = live.start[v], live.end[v]
        driving = mine[(mine.time >= start) & (mine.time < end)]
        theirs = ref[ref.vehicle == sumo_id].set_index("t").loc[driving.time]
        np.testing.assert_allclose(driving[["x", "y"]].to_numpy(), theirs[["x", "y"]].to_numpy(),
                                   atol=0.006)  # FCD writes 2 decimals
        checked += len(driving)
        before = mine[mine.time < start]
        assert (before[["x", "y", "z"]].to_numpy() == 0.0).all()
        after = mine[mine.time >= end]
        if len(after):
            last = driving[["x", "y"]].to_numpy()[-1]
            assert (after[["x", "y"]].to_numpy() == last).all()
        # they move, along the grid's roads (lanes 1.6 m off the axis; junctions curve)
        xy = driving[["x", "y"]].to_numpy()
        assert np.hypot(*np.diff(xy, axis=0).T).sum() > 30.0
        off = np.minimum(np.abs(xy[:, 0] - 100 * np.round(xy[:, 0] / 100)),
                         np.abs(xy[:, 1] - 100 * np.round(xy[:, 1] / 100)))
        assert off.max() < 8.0
    assert checked > 60


@needs_sumo
def test_vehicles_enter_and_leave_and_the_app_follows(tmp_path):
    sim = run(small(), tmp_path / "t.h5")
    live, w = sim.world.live, sim.world
    assert live.start == [0.0, 3.0, 6.0, 9.0]  # one departure every 3 s, in order
    assert sum(e < 40.0 for e in live.end) >= 2  # short trips: some leave within 40 s
    for v in range(4):
        assert not w.vehicle_active(v, live.start[v] - 1.0)
        assert w.vehicle_active(v, live.start[v]) == (live.start[v] < live.end[v])
    packets = pd.read_hdf(tmp_path / "t.h5", "packets")
    for v in range(4):
        created = packets[packets.vehicle == v].created
        assert len(created) > 0
        assert created.min() >= live.start[v] and created.max() < live.end[v]
    finished = [sim.app.agent_finished(f"vehicle_{v}") for v in range(4)]
    assert finished == [e <= 40.0 for e in live.end]


@needs_sumo
def test_same_seed_same_trace_other_seed_other_routes(tmp_path):
    run(small(), tmp_path / "a.h5")
    run(small(), tmp_path / "b.h5")
    assert compare_traces(tmp_path / "a.h5", tmp_path / "b.h5", rtol=0.0, atol=0.0) == []
    run(small("seed=1"), tmp_path / "c.h5")
    a, c = vehicle_rows(tmp_path / "a.h5"), vehicle_rows(tmp_path / "c.h5")
    assert not np.array_equal(a[["x", "y"]].to_numpy(), c[["x", "y"]].to_numpy())


@needs_sumo
def test_traci_drives_the_same_run(tmp_path):
    run(small(), tmp_path / "lib.h5")
    sim = run(small("vehicles.sumo.interface=traci"), tmp_path / "traci.h5")
    assert sim.world.live.interface == "traci" and "via traci" in sim.world.import_report
    assert compare_traces(tmp_path / "lib.h5", tmp_path / "traci.h5", rtol=0.0, atol=0.0) == []


@needs_sumo
def test_user_network_and_routes_files(tmp_path):
    """The user-file variant: the same network and routes given as files run the same."""
    import shutil

    from desim_iov.rng import RngStreams
    from desim_iov.sumo.network import sumo_inputs

    sc = small()
    made = sumo_inputs(sc, RngStreams(sc.seed))
    net, rou = tmp_path / "city.net.xml", tmp_path / "city.rou.xml"
    shutil.copy(made.net, net)
    shutil.copy(made.routes[0], rou)
    run(sc, tmp_path / "gen.h5")
    sim = run(small(f"vehicles.sumo.net={net}", f"vehicles.sumo.routes={rou}"), tmp_path / "file.h5")
    assert str(net) in sim.world.import_report
    assert compare_traces(tmp_path / "gen.h5", tmp_path / "file.h5", rtol=0.0, atol=0.0) == []


@needs_sumo
def test_slot_fidelity_env_resets_and_density_layout():
    """Slot fidelity (SUMO still steps every mobility step), the PettingZoo env resetting
    (each reset a new SUMO, the previous one closed), RSUs along the generated roads."""
    from desim_iov.env import parallel_env

    sim = run(small("fidelity=slot", "slot=10 s"))
    assert sim.world.live.closed and sim.world.live.time == 39.0
    env = parallel_env(small("slot=5 s", "duration=20"))
    for seed in (0, 0):
        obs, _ = env.reset(seed=seed)
        done = False
        while not done:
            acts = {a: int(np.flatnonzero(o["action_mask"])[0]) for a, o in obs.items()
                    if a in env.acting_agents}
            obs, _, term, trunc, _ = env.step(acts)
            done = not env.agents
    env.close()
    sim = Simulation(small("rsus.layout=density_city", "rsus.count=4", "rsus.cell=50 m"),
                     make_policy("greedy"))
    xy = sim.world.rsu_xyz[:, :2]
    sim.close()
    assert sim.world.live.closed
    assert np.abs(xy).max() <= 125.0  # over the 200 m network, not the 600 m area


@needs_sumo
@pytest.mark.parametrize(("overrides", "message"), [
    (["vehicles.sumo.net=missing.net.xml", "vehicles.sumo.routes=missing.rou.xml"],
     "vehicles.sumo.net: missing.net.xml: no such file"),
    (["vehicles.sumo.routes=missing.rou.xml"], "vehicles.sumo.routes: missing.rou.xml: no such file"),
    (["vehicles.sumo.frame=geo"], "is not geo-referenced"),
])
def test_bad_inputs_fail_in_one_line(overrides, message):
    with pytest.raises(ConfigError, match=message) as e:
        Simulation(small(*overrides), make_policy("greedy"))
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(("overrides", "message"), [
    (["vehicles.sumo.step_length=0.3 s"], "must divide mobility_step 1 s"),
    (["mobility_step=0.0005 s", "slot=0.5 s", "vehicles.sumo.step_length=0.0005 s"],
     "whole milliseconds"),
    (["vehicles.mobility=random_waypoint"], "'sumo' given with mobility 'random_waypoint'"),
    (['vehicles.sumo.options=["--step-length", "0.1"]'], "--step-length is set by the coupling"),
    (["vehicles.sumo.vehicles=3"], "below vehicles.count 4"),
    (["vehicles.sumo.net=city.osm"], "'grid' or a SUMO network file"),
    (["policy=oracle"], "future positions"),
])
def test_config_errors_are_one_line(overrides, message):
    with pytest.raises(ConfigError, match=message) as e:
        small(*overrides)
    assert "\n" not in str(e.value)


def _failing_import(names):
    real = builtins.__import__

    def fake(name, *args, **kwargs):
        if name.split(".")[0] in names:
            raise ImportError(f"No module named {name!r}")
        return real(name, *args, **kwargs)

    return fake


def test_without_the_extra_one_line_names_it(monkeypatch, tmp_path, capsys):
    from desim_iov.cli import main

    monkeypatch.setattr(builtins, "__import__", _failing_import({"sumo", "libsumo", "traci"}))
    with pytest.raises(ConfigError) as e:
        Simulation(small(), make_policy("greedy"))
    assert "pip install 'desim_iov[sumo]'" in str(e.value) and "\n" not in str(e.value)
    code = main(["run", "--scenario", "twin-city-sumo", "--duration", "5", "--quiet",
                 "--out", str(tmp_path / "t.h5")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "desim_iov[sumo]" in err


@needs_sumo
def test_without_libsumo_traci_is_used_and_said(monkeypatch):
    monkeypatch.setattr(builtins, "__import__", _failing_import({"libsumo"}))
    with pytest.warns(UserWarning, match="driving SUMO through traci"):
        sim = Simulation(small(), make_policy("greedy"))
    try:
        assert sim.world.live.interface == "traci" and "via traci" in sim.world.import_report
    finally:
        sim.close()
    monkeypatch.undo()
    with pytest.raises(ConfigError, match="needs libsumo"):
        monkeypatch.setattr(builtins, "__import__", _failing_import({"libsumo"}))
        Simulation(small("vehicles.sumo.interface=libsumo"), make_policy("greedy"))


@needs_sumo
def test_cli_runs_the_preset(tmp_path, capsys):
    from desim_iov.cli import main

    out = tmp_path / "t.h5"
    assert main(["run", "--scenario", "twin-city-sumo", "--duration", "30", "--out", str(out),
                 "--set", "vehicles.traffic.packet_size=800 kB"]) == 0
    assert "SUMO 1." in capsys.readouterr().err
    assert len(pd.read_hdf(out, "packets")) > 0
    assert main(["replay", str(out), "--quiet"]) == 0  # the recorded decisions, re-run exactly
    rows = vehicle_rows(out)
    assert rows.id.nunique() == 5
    assert all(len(g[["x", "y"]].drop_duplicates()) > 2 for _, g in rows.groupby("id"))  # moving


def test_the_sumo_block_is_dumped_only_with_sumo_mobility():
    """Other scenarios keep their JSON (trace provenance, sweep job keys) without the block."""
    from desim_iov.config import Scenario

    assert '"sumo"' not in load_scenario("twin-city").to_json()
    sc = small()
    assert Scenario.model_validate_json(sc.to_json()) == sc
    assert sc.model_dump(mode="json")["vehicles"]["sumo"]["grid_size"] == 3


@needs_sumo
def test_frames_geo_and_net(tmp_path):
    """A geo-referenced copy of the grid (UTM zone 50, its centre put on the scenario's origin
    in Beijing) is read through lon/lat (frame auto -> geo) and lands where the centred plain
    grid does, to what separates UTM from the local azimuthal projection (grid convergence
    ~0.4 deg here, 0.9 m at 140 m; ellipsoid vs sphere scale ~0.2 %): < 2 m over 150 m;
    frame net keeps SUMO's x/y."""
    import re
    import shutil

    import libsumo

    from desim_iov.rng import RngStreams
    from desim_iov.sumo import tools
    from desim_iov.sumo.network import sumo_inputs

    sc = small()
    made = sumo_inputs(sc, RngStreams(sc.seed))
    rou = tmp_path / "g.rou.xml"
    shutil.copy(made.routes[0], rou)
    proj = "+proj=utm +zone=50 +ellps=WGS84 +datum=WGS84 +units=m +no_defs"

    def located(offset: tuple[float, float]):
        text = re.sub(r"<location [^>]*/>", (
            f'<location netOffset="{offset[0]:.2f},{offset[1]:.2f}" '
            f'convBoundary="0.00,0.00,200.00,200.00" origBoundary="116,39,117,40" '
            f'projParameter="{proj}"/>'), made.net.read_text(), count=1)
        net = tmp_path / "geo.net.xml"
        net.write_text(text)
        return net

    net = located((0.0, 0.0))  # first learn the origin's UTM coordinates from SUMO itself
    tools.interface("libsumo")
    libsumo.start([str(tools.binary("sumo")), "-n", str(net), "--no-step-log", "true"])
    e, n = libsumo.simulation.convertGeo(sc.area.origin_lon, sc.area.origin_lat, True)
    libsumo.close()
    net = located((100.0 - e, 100.0 - n))
    files = [f"vehicles.sumo.net={net}", f"vehicles.sumo.routes={rou}"]
    plain = vehicle_rows(_run_to(small(), tmp_path / "plain.h5"))
    sim = run(small(*files), tmp_path / "geo.h5")
    assert sim.world.live.frame == "geo" and "frame geo" in sim.world.import_report
    geo = vehicle_rows(tmp_path / "geo.h5")
    d = np.hypot(geo.x - plain.x, geo.y - plain.y)
    assert 0.0 < d.max() < 2.0
    _run_to(small(*files, "vehicles.sumo.frame=net"), tmp_path / "net.h5")
    raw = vehicle_rows(tmp_path / "net.h5")
    driving = plain.x != 0.0  # parked vehicles sit at the network's centre in both frames
    np.testing.assert_allclose(raw.x[driving], plain.x[driving] + 100.0, atol=1e-9)
    np.testing.assert_allclose(raw.y[driving], plain.y[driving] + 100.0, atol=1e-9)


def _run_to(sc, path):
    run(sc, path)
    return path
