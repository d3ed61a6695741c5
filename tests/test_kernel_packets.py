"""Per-packet model: latency composition against the paper's formulas, and each drop reason."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import tiny

from agents.base import make_policy
from desim_iov.sim import Simulation
from models.mobility import Trajectory
from models.pathloss import free_space_gain
from models.rate import shannon_bps, snr_linear, thermal_noise_w
from traces.reader import open_trace
from traces.schema import OUTCOME_CODE


class Stay:
    """Keeps every twin where it is."""

    name = "stay"

    def reset(self, rng):
        pass

    def act(self, obs):
        return {a: o.current for a, o in obs.items()}


class Hop:
    """Moves every twin to another feasible server at every decision."""

    name = "hop"

    def reset(self, rng):
        pass

    def act(self, obs):
        out = {}
        for a, o in obs.items():
            cand = [m for m in np.flatnonzero(o.mask) if m != o.current]
            out[a] = int(cand[0]) if cand else o.current
        return out


def parked(x: float, y: float = 0.0, until: float = 1e6) -> Trajectory:
    return Trajectory(np.array([0.0, until]), np.array([[x, y, 0.0], [x, y, 0.0]]))


def test_isolated_packet_latency_is_uplink_plus_compute_plus_downlink(tmp_path):
    """One parked vehicle, no background, packets far apart: every packet's latency must be
    S/R_up + e_v S / C_m + S/R_down (twin-migration Eq. 4, 5, 9 with an empty cache)."""
    sc = tiny(
        "twin-city",
        "vehicles.count=1",
        "uavs.count=0",
        "background.model=none",
        "vehicles.traffic.arrivals=constant",
        "vehicles.traffic.data_rate=400 kB/s",  # one 400 kB packet per second
        "duration=20",
    )
    x = 100.0  # metres from the origin
    sim = Simulation(sc, Stay(), trace_path=str(tmp_path / "t.h5"), vehicle_trajectories=[parked(x)])
    sim.run()
    pk = open_trace(tmp_path / "t.h5").df("packets")
    pk = pk[pk.outcome == 0]
    assert len(pk) == 20  # created at t = 0, 1, ..., 19
    m = int(pk.server.iloc[0])
    rsu = sim.world.rsu_xyz[m]
    d = float(np.hypot(x - rsu[0], rsu[1]))
    bits = sc.vehicles.traffic.packet_size
    h = free_space_gain(d, sc.channel.carrier_frequency)
    n_up = thermal_noise_w(sc.rsus.bandwidth_up, sc.channel.noise_figure)
    r_up = shannon_bps(sc.rsus.bandwidth_up, snr_linear(sc.vehicles.tx_power, h, n_up))
    r_dn = shannon_bps(sc.rsus.bandwidth_down, snr_linear(sc.rsus.tx_power, h, n_up))
    expect = bits / r_up + bits * sc.vehicles.cycles_per_bit / sc.rsus.cpu + bits / r_dn
    np.testing.assert_allclose(pk.finished - pk.created, expect, rtol=1e-9)


def test_fifo_cpu_makes_back_to_back_packets_wait(tmp_path):
    """A burst faster than the CPU: completion times step by e_v S / C_m (Eq. 9 queueing)."""
    sc = tiny(
        "twin-city",
        "vehicles.count=1",
        "uavs.count=0",
        "background.model=none",
        "vehicles.traffic.arrivals=constant",
        "vehicles.traffic.data_rate=40 MB/s",  # 10x the CPU's 4 MB/s
        "duration=2",
    )
    sim = Simulation(sc, Stay(), trace_path=str(tmp_path / "t.h5"), vehicle_trajectories=[parked(100.0)])
    sim.run()
    pk = open_trace(tmp_path / "t.h5").df("packets")
    pk = pk[pk.outcome == 0].sort_values("packet_id")
    service = sc.vehicles.traffic.packet_size * sc.vehicles.cycles_per_bit / sc.rsus.cpu
    gaps = np.diff(pk.finished.to_numpy())
    np.testing.assert_allclose(gaps, service, rtol=1e-9)


def test_out_of_range_packets_are_dropped_with_that_reason(tmp_path):
    sc = tiny("twin-city", "vehicles.count=1", "uavs.count=0", "satellite.enabled=false")
    # parked 3 km outside the 4.5 km grid: no RSU within 1200 m
    sim = Simulation(sc, Stay(), trace_path=str(tmp_path / "t.h5"), vehicle_trajectories=[parked(6000.0)])
    sim.run()
    pk = open_trace(tmp_path / "t.h5").df("packets")
    assert len(pk) > 0
    assert (pk.outcome == OUTCOME_CODE["out_of_range"]).all()
    slots = open_trace(tmp_path / "t.h5").df("slots")
    assert slots.failed.all()  # Eq. 14 agrees: D > D_max


def test_cache_overflow_drops_or_goes_to_the_satellite(tmp_path):
    common = [
        "vehicles.count=1",
        "uavs.count=0",
        "background.model=none",
        "vehicles.traffic.data_rate=40 MB/s",
        "rsus.cache=2 MB",
        "duration=4",
    ]
    sim = Simulation(tiny("twin-city", *common, "overflow=drop"), Stay(),
                     trace_path=str(tmp_path / "d.h5"), vehicle_trajectories=[parked(100.0)])
    sim.run()
    pk = open_trace(tmp_path / "d.h5").df("packets")
    assert (pk.outcome == OUTCOME_CODE["cache_overflow"]).sum() > 0
    # with overflow to the satellite (Eq. 9), the overflow is computed there instead
    sim = Simulation(tiny("twin-city", *common, "overflow=satellite"), Stay(),
                     trace_path=str(tmp_path / "s.h5"), vehicle_trajectories=[parked(100.0)])
    sim.run()
    pk = open_trace(tmp_path / "s.h5").df("packets")
    over = pk[pk.overflowed == 1]
    assert len(over) > 0
    assert (over.server == sim.world.satellite).all()
    assert (pk.outcome == OUTCOME_CODE["cache_overflow"]).sum() == 0


@pytest.mark.parametrize("mode", ["hold", "drop"])
def test_packets_during_a_migration_are_held_or_dropped(tmp_path, mode):
    sc = tiny(
        "twin-city",
        "vehicles.count=1",
        "uavs.count=0",
        "background.model=none",
        f"migration.packets_during={mode}",
        "migration.bandwidth=5 MHz",  # slow migrations: several seconds in flight
        "duration=120",
    )
    path = tmp_path / f"{mode}.h5"
    sim = Simulation(sc, Hop(), trace_path=str(path), vehicle_trajectories=[parked(100.0)])
    sim.run()
    tr = open_trace(path)
    pk, mig = tr.df("packets"), tr.df("migrations")
    assert len(mig) >= 3
    during = np.zeros(len(pk), bool)
    for m in mig.itertuples():
        during |= (pk.created >= m.start).to_numpy() & (pk.created < m.end).to_numpy()
    assert during.any()
    if mode == "drop":
        assert (pk.outcome[during] == OUTCOME_CODE["twin_migrating"]).all()
        assert (pk.outcome[~during] != OUTCOME_CODE["twin_migrating"]).all()
    else:
        assert (pk.outcome != OUTCOME_CODE["twin_migrating"]).all()
        # held packets leave the vehicle only after the twin has landed on the new host
        ends = mig.set_index("dst").end
        held = pk[during & (pk.outcome == 0).to_numpy()]
        for p in held.itertuples():
            m = mig[(mig.start <= p.created) & (p.created < mig.end)].iloc[0]
            assert p.server == m.dst
            assert p.finished > m.end
        assert len(ends) > 0


def test_scenario_selects_the_path_loss_model_by_name():
    from desim_iov.config import ConfigError
    from models.pathloss import gain

    fs = Simulation(tiny("twin-city"), Stay())
    uma = Simulation(tiny("twin-city", "channel.pathloss=uma_nlos",
                          "channel.pathloss_params={h_bs: 25, h_ut: 1.5}"), Stay())
    d = uma.radio.distance[:, :80]
    h = gain("uma_nlos", d, 3.5e9, h_bs=25, h_ut=1.5)
    n = thermal_noise_w(300e6, 7.0)
    np.testing.assert_allclose(uma.radio.rate_up[:, :80], shannon_bps(300e6, snr_linear(uma.scenario.vehicles.tx_power, h, n)))
    assert (uma.radio.rate_up[:, :80] < fs.radio.rate_up[:, :80]).all()  # NLoS loses more than free space
    with pytest.raises(ConfigError, match="unknown path loss 'hata'"):
        tiny("twin-city", "channel.pathloss=hata")
    with pytest.raises(ConfigError, match="pathloss_params"):
        tiny("twin-city", "channel.pathloss=uma_los", "channel.pathloss_params={height: 3}")


def test_fading_draws_a_small_scale_gain_per_link_and_step():
    """channel.fading: the access gain is the path gain times a fresh unit-mean draw per link
    every mobility step (Rayleigh: exponential power); the same seed draws the same fades
    whatever the policy (its own stream)."""
    from models.pathloss import gain

    sc = tiny("twin-city", "channel.fading=rayleigh", "duration=60")
    probe = Simulation(sc, make_policy("greedy"))
    pg = gain("free_space", probe.radio.distance, sc.channel.carrier_frequency)
    ratio = probe.radio.access_gain(probe.radio.distance) / pg  # a fresh draw on the same distances
    x = ratio[:, :-1].ravel()  # the satellite's column is unused
    assert abs(x.mean() - 1.0) < 0.1 and abs(x.std() - 1.0) < 0.15  # Exp(1): mean = std = 1
    sims = [Simulation(sc, make_policy(p)) for p in ("greedy", "least-loaded")]
    a, b = sims
    for s in sims:
        s.run()
    np.testing.assert_array_equal(a.radio.rate_up, b.radio.rate_up)  # common random numbers
    plain = Simulation(tiny("twin-city", "duration=60"), make_policy("greedy"))
    plain.run()
    assert not np.array_equal(plain.radio.rate_up, a.radio.rate_up)
    np.testing.assert_allclose(plain.radio.access_gain(plain.radio.distance)[:, :-1],  # no fading: path gain
                               gain("free_space", plain.radio.distance, sc.channel.carrier_frequency)[:, :-1])
