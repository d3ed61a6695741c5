"""Mobility: trajectory interpolation, 3-D random waypoint (quantum-DRL Eq. 8-10), patrol."""

import math

import numpy as np
import pytest

from models.mobility import Trajectory, patrol, positions_at, random_waypoint_3d

LOW = np.array([-1250.0, -1250.0, 0.0])  # quantum-DRL Sec. VI vehicle box
HIGH = np.array([1250.0, 1250.0, 20.0])


def _traj():
    return Trajectory([0.0, 10.0, 20.0], [[0, 0, 0], [100, 0, 0], [100, 50, 10]])


def test_trajectory_linear_interpolation_hand_values():
    tr = _traj()
    np.testing.assert_allclose(tr.position(5.0), [50, 0, 0])
    np.testing.assert_allclose(tr.position(15.0), [100, 25, 5])
    got = tr.position(np.array([[0.0, 10.0], [12.0, 20.0]]))
    assert got.shape == (2, 2, 3)
    np.testing.assert_allclose(got[1, 0], [100, 10, 2])


def test_trajectory_clamps_outside_its_range():
    tr = _traj()
    np.testing.assert_allclose(tr.position(-3.0), [0, 0, 0])
    np.testing.assert_allclose(tr.position(1e9), [100, 50, 10])
    assert (tr.start, tr.end) == (0.0, 20.0)


def test_trajectory_velocity_piecewise_constant_zero_outside():
    tr = _traj()
    np.testing.assert_allclose(tr.velocity([5.0, 10.0, 19.9]), [[10, 0, 0], [0, 5, 1], [0, 5, 1]])
    np.testing.assert_allclose(tr.velocity([-1.0, 20.0, 25.0]), np.zeros((3, 3)))


def test_single_knot_trajectory_is_stationary():
    tr = Trajectory([3.0], [[1.0, 2.0, 3.0]])
    np.testing.assert_allclose(tr.position([0.0, 3.0, 9.0]), [[1, 2, 3]] * 3)
    np.testing.assert_allclose(tr.velocity(3.0), [0, 0, 0])


def test_trajectory_is_immutable():
    tr = _traj()
    with pytest.raises(ValueError):
        tr.times[0] = 5.0
    with pytest.raises(ValueError):
        tr.positions[0, 0] = 5.0
    with pytest.raises(AttributeError):
        tr.foo = 1


def test_trajectory_copies_its_input():
    t = np.array([0.0, 1.0])
    p = np.zeros((2, 3))
    tr = Trajectory(t, p)
    p[1, 0] = 7.0
    assert tr.position(1.0)[0] == 0.0


@pytest.mark.parametrize(
    ("times", "positions", "match"),
    [
        ([], np.zeros((0, 3)), "at least one"),
        ([0.0, 1.0], np.zeros((2, 2)), r"\(K, 3\)"),
        ([0.0, 1.0, 2.0], np.zeros((2, 3)), "rows"),
        ([0.0, 2.0, 1.0], np.zeros((3, 3)), "strictly increasing"),
        ([0.0, 0.0], np.zeros((2, 3)), "strictly increasing"),
    ],
)
def test_trajectory_validates_input(times, positions, match):
    with pytest.raises(ValueError, match=match):
        Trajectory(times, positions)


def test_positions_at_stacks_trajectories():
    a = _traj()
    b = Trajectory([0.0], [[7.0, 7.0, 7.0]])
    np.testing.assert_allclose(positions_at([a, b], 5.0), [[50, 0, 0], [7, 7, 7]])
    assert positions_at([], 1.0).shape == (0, 3)


def _segments(tr):
    dt = np.diff(tr.times)
    dp = np.diff(tr.positions, axis=0)
    return dt, dp


def test_random_waypoint_stays_in_box_and_covers_duration():
    rng = np.random.default_rng(7)
    tr = random_waypoint_3d(rng, LOW, HIGH, (5.0, 20.0), 600.0)
    assert tr.start == 0.0 and tr.end == pytest.approx(600.0)
    pts = tr.position(np.linspace(0, 600, 2001))
    assert (pts >= LOW - 1e-9).all() and (pts <= HIGH + 1e-9).all()


def test_random_waypoint_horizontal_speed_in_range_and_straight_3d_legs():
    rng = np.random.default_rng(8)
    tr = random_waypoint_3d(rng, LOW, HIGH, (5.0, 20.0), 2000.0)
    dt, dp = _segments(tr)
    v_h = np.hypot(dp[:, 0], dp[:, 1]) / dt
    # the last leg is cut at the duration but keeps its speed
    assert (v_h >= 5.0 - 1e-9).all() and (v_h <= 20.0 + 1e-9).all()
    # Eq. 10 with V_z = V / cos(phi), phi = atan(dz/d_h): vertical rate = V tan(phi)
    tan_phi = dp[:, 2] / np.hypot(dp[:, 0], dp[:, 1])
    np.testing.assert_allclose(dp[:, 2] / dt, v_h * tan_phi)


def test_random_waypoint_matches_per_slot_update_eq_8_10_at_slot_instants():
    rng = np.random.default_rng(9)
    tr = random_waypoint_3d(rng, LOW, HIGH, (10.0, 10.0), 300.0)
    dt_slot = 0.02  # tau = 20 ms (quantum-DRL Table II)
    t1 = tr.times[1]
    n = int(t1 // dt_slot)
    p0, p1 = tr.positions[0], tr.positions[1]
    theta = math.atan2(p1[1] - p0[1], p1[0] - p0[0])
    d_h = math.hypot(p1[0] - p0[0], p1[1] - p0[1])
    phi = math.atan2(p1[2] - p0[2], d_h)
    v, v_z = 10.0, 10.0 / math.cos(phi)
    x, y, z = p0
    for k in range(1, n + 1):  # Euler steps of Eq. 8-10 inside the first leg
        x += v * dt_slot * math.cos(theta)
        y += v * dt_slot * math.sin(theta)
        z += v_z * dt_slot * math.sin(phi)
        if k % 500 == 0 or k == n:
            np.testing.assert_allclose(tr.position(k * dt_slot), [x, y, z], atol=1e-6)


def test_random_waypoint_pause_holds_position():
    rng = np.random.default_rng(10)
    tr = random_waypoint_3d(rng, LOW, HIGH, (10.0, 20.0), 1000.0, pause_s=30.0)
    dt, dp = _segments(tr)
    still = np.linalg.norm(dp, axis=1) == 0
    assert still.any()
    np.testing.assert_allclose(dt[still][:-1], 30.0)  # all but a pause cut by the end


def test_random_waypoint_vertical_speed_limit():
    rng = np.random.default_rng(11)
    low, high = np.array([-1500.0, -1500.0, 30.0]), np.array([1500.0, 1500.0, 75.0])
    tr = random_waypoint_3d(rng, low, high, (10.0, 50.0), 3000.0, vertical_speed_range=(0.01, 0.02))
    dt, dp = _segments(tr)
    assert (np.abs(dp[:, 2]) / dt <= 0.02 + 1e-12).all()
    assert (np.hypot(dp[:, 0], dp[:, 1]) / dt <= 50.0 + 1e-9).all()
    # with a 1-2 cm/s climb limit at least one leg must be climb-limited (slower than 10 m/s)
    assert (np.hypot(dp[:, 0], dp[:, 1]) / dt < 10.0 - 1e-9).any()


def test_random_waypoint_reproducible_and_start_respected():
    a = random_waypoint_3d(np.random.default_rng(5), LOW, HIGH, (5, 20), 100.0, start=[1, 2, 3])
    b = random_waypoint_3d(np.random.default_rng(5), LOW, HIGH, (5, 20), 100.0, start=[1, 2, 3])
    np.testing.assert_array_equal(a.positions, b.positions)
    np.testing.assert_allclose(a.position(0.0), [1, 2, 3])


def test_random_waypoint_degenerate_box_holds():
    p = np.array([1.0, 2.0, 3.0])
    tr = random_waypoint_3d(np.random.default_rng(0), p, p, (1, 2), 50.0)
    np.testing.assert_allclose(tr.position([0.0, 25.0, 50.0]), [p, p, p])


def test_random_waypoint_validates_arguments():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="speed_range"):
        random_waypoint_3d(rng, LOW, HIGH, (0.0, 5.0), 10.0)
    with pytest.raises(ValueError, match="high must be >= low"):
        random_waypoint_3d(rng, HIGH, LOW, (1.0, 5.0), 10.0)
    with pytest.raises(ValueError, match="duration"):
        random_waypoint_3d(rng, LOW, HIGH, (1.0, 5.0), -1.0)


SQUARE = np.array([[0, 0, 50], [100, 0, 50], [100, 100, 50], [0, 100, 50]], dtype=float)


def test_patrol_visits_points_in_order_and_loops():
    tr = patrol(SQUARE, 10.0, 100.0)  # lap = 400 m = 40 s
    np.testing.assert_allclose(tr.position([0, 10, 20, 30, 40, 45]),
                               [[0, 0, 50], [100, 0, 50], [100, 100, 50], [0, 100, 50], [0, 0, 50], [50, 0, 50]])
    assert tr.end == pytest.approx(100.0)
    np.testing.assert_allclose(tr.position(100.0), [100, 100, 50])  # 2.5 laps


def test_patrol_start_index_and_time_offset():
    tr = patrol(SQUARE, 3.7, 60.0, start_index=2, t0=5.0)  # 3.7 m/s (twin-migration Sec. VII-A)
    np.testing.assert_allclose(tr.position(5.0), [100, 100, 50])
    np.testing.assert_allclose(tr.position(5.0 + 100 / 3.7), [0, 100, 50])
    assert (tr.start, tr.end) == (5.0, pytest.approx(65.0))
    speeds = np.linalg.norm(np.diff(tr.positions, axis=0), axis=1) / np.diff(tr.times)
    np.testing.assert_allclose(speeds, 3.7)


def test_patrol_single_point_hovers_and_validates():
    tr = patrol(SQUARE[:1], 5.0, 10.0)
    np.testing.assert_allclose(tr.position(7.0), SQUARE[0])
    with pytest.raises(ValueError, match="speed_mps"):
        patrol(SQUARE, 0.0, 10.0)
    with pytest.raises(ValueError, match="start_index"):
        patrol(SQUARE, 1.0, 10.0, start_index=4)


def test_random_waypoint_max_ascent_angle_table2():
    # UAV box (Sec. VI) with phi limited to 10 deg (Table II): every leg's slope |dz|/d_h <= tan(10 deg)
    low, high = np.array([-1500.0, -1500.0, 30.0]), np.array([1500.0, 1500.0, 75.0])
    tr = random_waypoint_3d(np.random.default_rng(12), low, high, (10.0, 50.0), 3000.0,
                            start=[0.0, 0.0, 50.0], max_ascent_deg=10.0)
    dt, dp = _segments(tr)
    slope = np.abs(dp[:, 2]) / np.hypot(dp[:, 0], dp[:, 1])
    assert (slope <= math.tan(math.radians(10.0)) + 1e-12).all()
    pts = tr.position(np.linspace(0, 3000, 501))
    assert (pts >= low - 1e-9).all() and (pts <= high + 1e-9).all()
    with pytest.raises(ValueError, match="max_ascent_deg"):
        random_waypoint_3d(np.random.default_rng(0), low, high, (1, 2), 10.0, max_ascent_deg=95.0)
