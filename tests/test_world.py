"""Server placement, UAV patrols and the position cursor of the world."""

from __future__ import annotations

import numpy as np
from conftest import tiny

from desim_iov.build import build_world
from desim_iov.kinds import SATELLITE, UAV
from desim_iov.rng import RngStreams
from desim_iov.world import PositionTable
from models.mobility import Trajectory, positions_at, random_waypoint_3d


def test_position_table_equals_trajectory_interpolation_at_any_times():
    rng = np.random.default_rng(5)
    trajs = [
        random_waypoint_3d(rng, [-500, -500, 0], [500, 500, 20], (3.0, 9.0), 400.0)
        for _ in range(6)
    ] + [Trajectory(np.array([50.0]), np.array([[1.0, 2.0, 3.0]])),
         Trajectory(np.array([100.0, 200.0]), np.array([[0.0, 0, 0], [10.0, 0, 0]]))]
    table = PositionTable(trajs)
    times = np.concatenate([np.linspace(0, 450, 200), rng.uniform(0, 450, 50)])  # then jumps back
    for t in times:
        np.testing.assert_allclose(table.at(float(t)), positions_at(trajs, float(t)), atol=1e-9)


def test_layouts_and_server_table():
    s = tiny("twin-city")
    w = build_world(s, RngStreams(0))
    assert w.n_servers == 80 + 10 + 1
    assert (w.kinds[:80] == 0).all() and (w.kinds[80:90] == UAV).all() and w.kinds[90] == SATELLITE
    sp = w.server_positions(0.0)
    assert np.all(np.abs(sp[:80, :2]) <= 2250) and (sp[:80, 2] == 0).all()
    assert np.allclose(sp[80:90, 2], 50.0)  # UAV altitude h_u
    assert w.range_m[0] == 1200 and w.range_m[85] == 1500 and np.isinf(w.range_m[90])


def test_uavs_patrol_among_rsus_at_their_speed():
    s = tiny("twin-rural")
    w = build_world(s, RngStreams(0))
    for route in w.uav_routes:
        pts = route.positions
        # every waypoint but the last (cut at the horizon) sits above an RSU
        d = np.min(np.hypot(*(pts[:, None, :2] - w.rsu_xyz[None, :, :2]).transpose(2, 0, 1)), axis=1)
        assert np.allclose(d[:-1], 0.0)
        v = np.linalg.norm(np.diff(pts, axis=0), axis=1) / np.diff(route.times)
        np.testing.assert_allclose(v[v > 0], s.uavs.speed, rtol=1e-9)


def test_rural_rsus_are_scattered_and_separated():
    s = tiny("twin-rural")
    w = build_world(s, RngStreams(0))
    xy = w.rsu_xyz[:, :2]
    d = np.hypot(*(xy[:, None] - xy[None]).transpose(2, 0, 1))
    np.fill_diagonal(d, np.inf)
    assert d.min() >= s.rsus.min_separation
    # same seed, same placement; another seed, another one
    assert np.array_equal(build_world(s, RngStreams(0)).rsu_xyz, w.rsu_xyz)
    assert not np.array_equal(build_world(s, RngStreams(1)).rsu_xyz, w.rsu_xyz)


def test_vehicles_follow_a_trace_file(tmp_path):
    """vehicles.trace drives the kernel: positions interpolate the file's fixes, vehicles act
    only between their first and last fix (waypoint-list mobility)."""
    from agents.base import make_policy
    from desim_iov.sim import Simulation
    from traces.reader import open_trace

    csv = tmp_path / "cars.csv"
    csv.write_text(
        "id,t,x,y\n"
        "car10,0,0,0\ncar10,100,1000,0\n"
        "car2,20,-500,-500\ncar2,60,-500,300\n"
        "car3,0,10,10\ncar3,50,10,20\n"
    )
    sc = tiny("twin-city", f"vehicles.trace={csv}", "vehicles.count=2", "duration=90")
    assert sc.vehicles.mobility == "trace"
    out = tmp_path / "t.h5"
    sim = Simulation(sc, make_policy("greedy"), trace_path=str(out))
    # natural order: car2 before car3 before car10
    np.testing.assert_allclose(sim.world.vehicles[0].positions[:, :2], [[-500, -500], [-500, 300]])
    sim.run()
    tr = open_trace(out)
    pos = tr.df("positions")
    p1 = pos[(pos.kind == 0) & (pos.id == 1)].set_index("time")
    np.testing.assert_allclose(p1.loc[25.0, ["x", "y"]], [10, 15])  # car3 halfway
    pk = tr.df("packets")
    v0 = pk[pk.vehicle == 0]
    assert v0.created.min() >= 20 and v0.created.max() < 60  # car2 drives 20-60 s
    dec = tr.df("decisions")
    assert set(dec[dec.agent == 0].time) == {30.0}  # its only decision epoch


def test_bad_traces_are_refused_with_one_line(tmp_path):
    import pytest

    from desim_iov.config import ConfigError
    from desim_iov.rng import RngStreams

    with pytest.raises(ConfigError, match="no such file"):
        build_world(tiny("twin-city", f"vehicles.trace={tmp_path / 'nope.csv'}"), RngStreams(0))
    small = tmp_path / "one.csv"
    small.write_text("id,t,x,y\na,0,0,0\na,10,5,5\n")
    with pytest.raises(ConfigError, match="1 vehicles after cleaning, vehicles.count is 5"):
        build_world(tiny("twin-city", f"vehicles.trace={small}"), RngStreams(0))
    junk = tmp_path / "junk.txt"
    junk.write_text("hello world\n")
    with pytest.raises(ConfigError, match="junk.txt"):
        build_world(tiny("twin-city", f"vehicles.trace={junk}"), RngStreams(0))
    with pytest.raises(ConfigError, match="drop one of them"):
        tiny("twin-city", f"vehicles.trace={small}", "vehicles.mobility=random_waypoint")


def test_rsus_from_a_positions_file(tmp_path):
    """rsus.layout: file reads the sites (metres, or lat/lon about the scenario's origin, with
    heights when the file has z); a count that does not match is one ConfigError line."""
    import pytest

    from desim_iov.build import build_world
    from desim_iov.config import ConfigError, load_scenario
    from desim_iov.rng import RngStreams

    f = tmp_path / "sites.csv"
    f.write_text("id,x,y,z\na,0,0,10\nb,500,0,12\nc,0,800,15\n")
    s = load_scenario("twin-city", ["rsus.layout=file", f"rsus.positions={f}", "rsus.count=3",
                                    "uavs.count=2", "duration=60"])
    w = build_world(s, RngStreams(0))
    np.testing.assert_allclose(w.rsu_xyz, [[0, 0, 10], [500, 0, 12], [0, 800, 15]])
    geo = tmp_path / "geo.csv"
    lat0, lon0 = s.area.origin_lat, s.area.origin_lon
    geo.write_text(f"lat,lon\n{lat0},{lon0}\n{lat0 + 0.01},{lon0}\n")
    s2 = load_scenario("twin-city", ["rsus.layout=file", f"rsus.positions={geo}", "rsus.count=2",
                                     "duration=60"])
    xy = build_world(s2, RngStreams(0)).rsu_xyz
    assert np.allclose(xy[0], 0.0) and abs(xy[1, 1] - 0.01 * np.pi / 180 * 6371393) < 2.0
    with pytest.raises(ConfigError, match=r"3 sites, rsus.count is 80 \(set rsus.count=3\)"):
        build_world(load_scenario("twin-city", ["rsus.layout=file", f"rsus.positions={f}"]),
                    RngStreams(0))
    with pytest.raises(ConfigError, match="go together"):
        load_scenario("twin-city", ["rsus.layout=file"])
