"""How packets use the kernel (docs/ARCHITECTURE.md, "Packets in the kernel"): SimPy events per
packet, no cyclic garbage per packet, and the cyclic collector paused while the kernel runs and
restored after."""

from __future__ import annotations

import gc

import numpy as np
import pytest
import simpy
from conftest import tiny
from test_kernel_packets import Stay, parked

from agents.base import make_policy
from desim_iov import collector
from desim_iov.sim import Simulation
from traces.reader import open_trace
from traces.schema import OUTCOME_CODE


class CountingEnvironment(simpy.Environment):
    """Counts every event scheduled."""

    def __init__(self) -> None:
        super().__init__()
        self.n_events = 0

    def schedule(self, event, priority=1, delay=0):
        self.n_events += 1
        super().schedule(event, priority, delay)


def _events_and_packets(tmp_path, rate: str) -> tuple[int, object]:
    """One vehicle parked near an RSU sending 400 kB packets at ``rate`` for 10 s, run for
    20 s: every packet is delivered before the end."""
    sc = tiny("twin-city", "vehicles.count=1", "uavs.count=0", "background.model=none",
              "vehicles.traffic.arrivals=constant", f"vehicles.traffic.data_rate={rate}",
              "duration=20")
    env = CountingEnvironment()
    path = tmp_path / f"{rate.replace(' ', '')}.h5"
    Simulation(sc, Stay(), trace_path=str(path), vehicle_trajectories=[parked(100.0, until=10.0)],
               env=env).run()
    return env.n_events, open_trace(path).df("packets")


def test_a_delivered_packet_costs_five_kernel_events(tmp_path):
    """Arrival timeout, process start, end of uplink, end of computation, process end: the
    downlink's end is closed form and wakes nothing (it was six events before)."""
    e1, pk1 = _events_and_packets(tmp_path, "400 kB/s")
    e2, pk2 = _events_and_packets(tmp_path, "1.2 MB/s")
    for pk in (pk1, pk2):
        assert (pk.outcome == OUTCOME_CODE["delivered"]).all()
    assert (len(pk1), len(pk2)) == (10, 30)
    assert (e2 - e1) / (len(pk2) - len(pk1)) == 5.0  # the clock's events are the same in both


def test_rows_follow_the_order_of_their_terminal_events(tmp_path):
    """/packets rows are written in the order their packets ended (delivery or drop), even
    though a delivery's row is written after the fact."""
    path = tmp_path / "t.h5"
    Simulation(tiny("twin-city", "vehicles.count=20", "duration=120"), make_policy("greedy"),
               trace_path=str(path)).run()
    pk = open_trace(path).df("packets")
    ended = pk[pk.outcome != OUTCOME_CODE["in_flight_at_end"]]
    assert (ended.outcome == OUTCOME_CODE["delivered"]).sum() > 1000
    assert (ended.outcome != OUTCOME_CODE["delivered"]).sum() > 0
    assert (np.diff(ended.finished.to_numpy()) >= 0).all()
    inflight = pk[pk.outcome == OUTCOME_CODE["in_flight_at_end"]]
    assert len(inflight) > 0 and (np.diff(inflight.packet_id.to_numpy()) > 0).all()
    assert pk.index[pk.outcome == OUTCOME_CODE["in_flight_at_end"]].min() == len(ended)


def test_the_packet_path_leaves_no_cyclic_garbage(tmp_path):
    """Reference counting frees every finished packet: with the cyclic collector off, a run
    of thousands of packets leaves nothing for it to find."""
    sc = tiny("twin-city", "duration=60")
    was = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        sim = Simulation(sc, make_policy("greedy"), trace_path=str(tmp_path / "t.h5"), gc_interval=None)
        stats = sim.run()
        assert sum(stats.generated) > 1000
        assert gc.collect() == 0
    finally:
        if was:
            gc.enable()


def test_the_collector_is_paused_inside_runs_and_restored_after():
    seen = []

    class Probe:
        name = "probe"

        def reset(self, rng):
            pass

        def act(self, obs):
            seen.append(gc.isenabled())
            return {a: o.current for a, o in obs.items()}

    assert gc.isenabled()
    Simulation(tiny("twin-city", "duration=60"), Probe()).run()
    assert seen and not any(seen) and gc.isenabled()
    seen.clear()
    Simulation(tiny("twin-city", "duration=60"), Probe(), gc_interval=None).run()
    assert seen and all(seen)
    # external control: paused while advancing, on again between epochs
    sim = Simulation(tiny("twin-city", "duration=60"), None)
    while (obs := sim.advance()) is not None:
        assert gc.isenabled()
        sim.act({a: o.current for a, o in obs.items()})
    assert gc.isenabled()


def test_paused_nests_restores_on_errors_and_leaves_a_disabled_collector_disabled():
    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        with collector.paused():
            with collector.paused():
                assert not gc.isenabled()
            assert not gc.isenabled()  # the outermost block restores it
            raise RuntimeError("boom")
    assert gc.isenabled()
    gc.disable()
    try:
        with collector.paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_periodic_collection_runs_full_collections_on_its_timer(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(collector.time, "monotonic", lambda: clock[0])
    p = collector.PeriodicCollection(60.0)
    p.tick()
    clock[0] += 59.0
    p.tick()
    assert p.collections == 0
    clock[0] += 1.0
    p.tick()
    assert p.collections == 1
