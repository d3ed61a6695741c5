"""The twin-urban-fbl preset (quantum-DRL Table II) and the kernel features it needs:
per-class path loss, array gain, absolute noise, FBL rates, CPU deviation, 3-D extents."""

from __future__ import annotations

import numpy as np
import pytest

from agents.base import make_policy
from desim_iov.config import load_scenario
from desim_iov.sim import Simulation
from models.pathloss import gain
from models.rate import fbl_rate_bps, snr_linear
from traces.reader import open_trace


@pytest.fixture(scope="module")
def sim():
    s = Simulation(load_scenario("twin-urban-fbl", ["duration=0.2 s"]), make_policy("greedy"))
    s.run()
    return s


def test_preset_carries_table_two():
    s = load_scenario("twin-urban-fbl")
    assert (s.rsus.count, s.rsus.antennas, s.uavs.count) == (4, 4, 10)
    assert s.rsus.bandwidth_up == s.uavs.bandwidth_down == 10e6
    assert s.channel.noise_power == pytest.approx(1e-12)  # -90 dBm
    assert (s.channel.rate, s.channel.blocklength, s.channel.error_prob) == ("fbl", 100, 1e-6)
    assert s.slot == pytest.approx(0.02) and s.duration == 1.0
    assert s.rsus.cpu == s.uavs.cpu == 10e9 and s.rsus.cpu_deviation_scale == 0.015
    assert s.vehicles.cycles_per_bit == 330 / 8
    assert not s.satellite.enabled


def test_geometry_follows_the_simulation_section(sim):
    w = sim.world
    bs = w.rsu_xyz
    assert np.all(np.abs(bs[:, :2]) <= 1000) and np.all((bs[:, 2] >= 40) & (bs[:, 2] <= 60))
    assert np.allclose(np.sort(np.abs(bs[:, :2]).ravel()), 500.0)  # evenly: a 2 x 2 grid
    for tr in w.uav_routes:
        p = tr.positions
        assert np.all(np.abs(p[:, :2]) <= 1500) and np.all((p[:, 2] >= 30) & (p[:, 2] <= 75))
        v = np.linalg.norm(np.diff(p, axis=0), axis=1) / np.diff(tr.times)
        assert np.all((v >= 10 - 1e-9) & (v <= 50 + 1e-9))
    for tr in w.vehicles:
        p = tr.positions
        assert np.all(np.abs(p[:, :2]) <= 1250) and np.all((p[:, 2] >= 0) & (p[:, 2] <= 20))


def test_uavs_fly_random_waypoint_not_a_shared_patrol(sim):
    """Sec. VI / Table II: each UAV draws its own 3-D waypoints in [-1500, 1500]^2 x [30, 75] m
    and its own leg speeds in [10, 50] m/s (a patrol would put them all at 30 m and 10 m/s)."""
    assert sim.scenario.uavs.mobility == "random_waypoint"
    routes = sim.world.uav_routes
    assert len(routes) == 10
    start = np.array([tr.positions[0] for tr in routes])
    assert len(np.unique(np.round(start, 3), axis=0)) == 10  # ten distinct starting points
    xy_spread = start[:, :2].max(axis=0) - start[:, :2].min(axis=0)
    assert np.all(xy_spread > 1000.0)  # spread over the 3 km box, not clustered on 4 BSs
    z = np.concatenate([tr.positions[:, 2] for tr in routes])
    assert z.min() >= 30 and z.max() <= 75 and z.max() - z.min() > 20.0
    assert np.std(z) > 5.0
    speeds = np.array(
        [np.linalg.norm(tr.positions[1] - tr.positions[0]) / (tr.times[1] - tr.times[0]) for tr in routes]
    )
    assert np.all((speeds >= 10 - 1e-9) & (speeds <= 50 + 1e-9))
    assert speeds.max() - speeds.min() > 15.0 and len(np.unique(np.round(speeds, 6))) == 10


def test_cpu_deviation_is_drawn_per_server_within_table_two(sim):
    cpu = sim.world.cpu_hz
    # f_cpu = f_max (1 - |U(-0.015, 0.015)|): up to 0.15 GHz below 10 GHz (Eq. 4, C7)
    assert np.all((cpu >= 10e9 * (1 - 0.015)) & (cpu <= 10e9))
    assert len(np.unique(cpu)) == len(cpu)


def test_access_rates_are_fbl_with_array_gain_and_per_class_path_loss():
    # without the preset's fading the access gain is the path gain x M (deterministic)
    sim = Simulation(load_scenario("twin-urban-fbl", ["duration=0.2 s", "channel.fading=none"]),
                     make_policy("greedy"))
    s = sim.scenario
    sim.radio.update(0.1)
    d = sim.radio.distance
    h_bs = gain("uma_los", d[:, :4], 3.5e9, h_bs=25, h_ut=1.5) * 4  # M = 4, MRC
    h_uav = gain("uav_los", d[:, 4:], 3.5e9, h_uav=50)
    expect_bs = fbl_rate_bps(10e6, snr_linear(s.vehicles.tx_power, h_bs, 1e-12), 100, 1e-6)
    expect_uav = fbl_rate_bps(10e6, snr_linear(s.vehicles.tx_power, h_uav, 1e-12), 100, 1e-6)
    np.testing.assert_allclose(sim.radio.rate_up[:, :4], expect_bs)
    np.testing.assert_allclose(sim.radio.rate_up[:, 4:], expect_uav)
    # FBL rates reach 0: those servers are not reachable
    reach = sim.radio.reachable
    assert not reach[sim.radio.rate_up == 0].any()


def test_dead_inter_server_links_are_masked_and_refused(tmp_path):
    class Far:
        """Unmasked: always asks for the server farthest away."""

        name = "far"

        def reset(self, rng):
            pass

        def act(self, obs):
            return {a: int(np.argmax(np.where(o.kinds == 2, -1, o.distances))) for a, o in obs.items()}

    dead = ["channel.pathloss=log_distance", "channel.pathloss_params={exponent: 9}",
            "satellite.enabled=false", "duration=60", "rsus.pathloss=free_space",
            "uavs.pathloss=free_space"]
    sc = load_scenario("twin-city", dead)
    path = tmp_path / "t.h5"
    sim = Simulation(sc, Far(), trace_path=str(path))
    sim.run()
    tr = open_trace(path)
    dec = tr.df("decisions")
    from traces.schema import mask_from_bytes

    masks = mask_from_bytes(dec["mask"].to_numpy())
    # only the current host remains feasible: no other server can receive the twin
    assert (masks.sum(axis=1) <= 1).all()
    assert len(tr.df("migrations")) == 0
    assert tr.attrs["migrations_refused"] > 0


def test_twin_urban_fbl_fades_bs_links_rayleigh_and_uav_links_rician():
    """Sec. II-D1 and Eq. 24-25: Rayleigh (Rician K = 0) on vehicle -> BS, K = 6 on
    vehicle -> UAV, redrawn every mobility step."""
    sim = Simulation(load_scenario("twin-urban-fbl"), None)
    assert sim.scenario.channel.fading == "rician"
    kinds = sim.world.kinds
    np.testing.assert_array_equal(sim.radio.rician_k[kinds == 0], 0.0)
    np.testing.assert_array_equal(sim.radio.rician_k[kinds == 1], 6.0)
    first = sim.radio.rate_up.copy()
    sim.radio.update(0.02)  # the next step: same geometry to within 0.4 m, new fades
    a, b = first[:, kinds == 0], sim.radio.rate_up[:, kinds == 0]
    live = (a > 0) & (b > 0)  # FBL rates can be 0 on far links
    assert live.sum() >= 4
    assert np.ptp(b[live] / a[live]) > 0.1  # the rates move by more than 0.4 m of driving does
    sim.close()
