"""Server placement, UAV patrols and the position cursor of the world."""

from __future__ import annotations

import numpy as np
from conftest import tiny

from desim_iov.rng import RngStreams
from desim_iov.world import SAT, UAV, PositionTable, build_world
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
    assert (w.kinds[:80] == 0).all() and (w.kinds[80:90] == UAV).all() and w.kinds[90] == SAT
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
