"""Kernel invariants (DESIGN.md Sec. 3), recomputed from the HDF5 trace: packet conservation,
offered load, twin conservation, determinism, common random numbers."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest
from conftest import tiny

from agents.base import make_policy
from desim_iov.sim import Simulation
from traces.reader import open_trace
from traces.schema import OUTCOME_CODE


def run(scenario, policy="greedy", path=None, **params):
    sim = Simulation(scenario, make_policy(policy, **params), trace_path=str(path) if path else None)
    stats = sim.run()
    return sim, stats


@pytest.fixture(scope="module")
def city_trace(tmp_path_factory):
    path = tmp_path_factory.mktemp("inv") / "city.h5"
    sim, stats = run(tiny("twin-city", "duration=240"), "random", path)
    return sim, stats, open_trace(path)


def test_every_generated_packet_has_exactly_one_terminal_row(city_trace):
    sim, stats, tr = city_trace
    pk = tr.df("packets")
    assert len(pk) == sum(stats.generated) > 0
    assert pk.packet_id.is_unique
    assert np.array_equal(np.sort(pk.packet_id.to_numpy()), np.arange(len(pk)))
    assert set(pk.outcome.unique()) <= set(OUTCOME_CODE.values())
    done = pk[pk.outcome != OUTCOME_CODE["in_flight_at_end"]]
    assert (done.finished >= done.created).all()
    assert pk[pk.outcome == OUTCOME_CODE["in_flight_at_end"]].finished.isna().all()
    assert tr.attrs["packets_generated"] == len(pk)


def test_generated_bits_match_the_configured_rate(city_trace):
    sim, _, tr = city_trace
    sc = tr.scenario
    pk = tr.df("packets")
    rate, size, dur = sc["vehicles"]["traffic"]["data_rate"], sc["vehicles"]["traffic"]["packet_size"], sc["duration"]
    expected_n = rate / size * dur  # Poisson count per vehicle: mean = variance
    for v, n in pk.groupby("vehicle").size().items():
        assert abs(n - expected_n) < 5 * np.sqrt(expected_n), (v, n, expected_n)
        assert pk[pk.vehicle == v].bits.sum() == pytest.approx(n * size)


def test_constant_arrivals_generate_exactly_rate_times_duration():
    sc = tiny("twin-city", "vehicles.traffic.arrivals=constant", "duration=60")
    sim, stats = run(sc)
    per_vehicle = sc.vehicles.traffic.data_rate / sc.vehicles.traffic.packet_size * sc.duration
    assert stats.generated == [round(per_vehicle)] * sc.vehicles.count


def test_each_twin_is_on_one_server_or_in_flight(city_trace):
    sim, _, tr = city_trace
    mig = tr.df("migrations").sort_values(["vehicle", "start"])
    dec = tr.df("decisions")
    pos = tr.df("positions")
    first = dec[dec.slot == 0].set_index("agent").previous
    for v, m in mig.groupby("vehicle"):
        # a chain: each migration leaves the server the previous one reached, never overlapping
        src = m.src.to_numpy()
        dst = m.dst.to_numpy()
        assert src[0] == first[v]
        assert np.array_equal(src[1:], dst[:-1])
        assert (m.start.to_numpy()[1:] >= m.end.to_numpy()[:-1]).all()
        assert (src != dst).all()
    # sampled host: -1 exactly while a migration is in flight, else the chain's current server
    veh = pos[pos.kind == 0]
    for row in veh.itertuples():
        m = mig[(mig.vehicle == row.id)]
        flying = m[(m.start <= row.time) & (row.time < m.end)]
        if len(flying):
            assert row.twin_host == -1
        else:
            done = m[m.end <= row.time]
            expect = done.dst.iloc[-1] if len(done) else first[row.id]
            assert row.twin_host == expect
    assert tr.df("slots").migrated.sum() == len(mig)
    # every packet: sent to the host of its vehicle's twin at its creation instant — the
    # chain's current server, or the destination while a migration is in flight (hold)
    pk = tr.df("packets")
    pk = pk[pk.overflowed == 0]
    assert len(pk) > 0
    for v, p in pk.groupby("vehicle"):
        m = mig[mig.vehicle == v]
        hosts = np.concatenate([[first[v]], m.dst.to_numpy()])
        k = np.searchsorted(m.start.to_numpy(), p.created.to_numpy(), side="right")
        np.testing.assert_array_equal(p.server.to_numpy(), hosts[k], err_msg=f"vehicle {v}")


def test_background_work_never_fills_a_cache_beyond_l_max(tmp_path):
    """Eq. 14: the cache holds at most L_max; background work that does not fit is refused and
    counted per server (/server_load.background_dropped, cumulative) and in total."""
    path = tmp_path / "full.h5"
    sc = tiny("twin-city", "background.utilisation=0.95", "rsus.cache=20 MB", "uavs.cache=20 MB",
              "duration=300")
    run(sc, "greedy", path)
    tr = open_trace(path)
    load = tr.df("server_load")
    cache = tr.df("servers").set_index("server").cache
    assert (load.load.to_numpy() <= cache[load.server].to_numpy() * (1 + 1e-12)).all()
    last = load[load.time == load.time.max()]
    assert last.background_dropped.sum() > 0
    # the total at the end includes what was refused after the last sample
    assert tr.attrs["background_dropped_bits"] >= last.background_dropped.sum()
    assert (load.groupby("server").background_dropped.diff().dropna() >= 0).all()  # cumulative


def test_same_scenario_and_seed_give_identical_datasets(tmp_path):
    sc = tiny("twin-rural", "duration=120")
    run(sc, "greedy", tmp_path / "a.h5")
    run(sc, "greedy", tmp_path / "b.h5")
    with h5py.File(tmp_path / "a.h5") as a, h5py.File(tmp_path / "b.h5") as b:
        assert sorted(a) == sorted(b)
        for name in a:
            assert a[name].dtype == b[name].dtype
            assert a[name][()].tobytes() == b[name][()].tobytes(), name  # NaN-safe
        assert a.attrs["scenario"] == b.attrs["scenario"]


def test_another_seed_changes_the_run(tmp_path):
    run(tiny("twin-city", "seed=1"), "greedy", tmp_path / "a.h5")
    run(tiny("twin-city", "seed=2"), "greedy", tmp_path / "b.h5")
    a, b = open_trace(tmp_path / "a.h5").df("positions"), open_trace(tmp_path / "b.h5").df("positions")
    assert not np.allclose(a.x, b.x)


def test_other_policy_same_seed_sees_the_same_exogenous_inputs(tmp_path):
    sc = tiny("twin-city", "duration=150")
    run(sc, "greedy", tmp_path / "g.h5")
    run(sc, "least-loaded", tmp_path / "l.h5")
    g, lo = open_trace(tmp_path / "g.h5"), open_trace(tmp_path / "l.h5")
    pg, pl = g.df("positions"), lo.df("positions")
    cols = ["time", "kind", "id", "x", "y", "z"]
    pd.testing.assert_frame_equal(pg[cols], pl[cols])
    kg = g.df("packets").sort_values("packet_id")[["packet_id", "vehicle", "created", "bits"]]
    kl = lo.df("packets").sort_values("packet_id")[["packet_id", "vehicle", "created", "bits"]]
    pd.testing.assert_frame_equal(kg.reset_index(drop=True), kl.reset_index(drop=True))
    # background arrivals too: same offered background rate on every server at every sample
    np.testing.assert_array_equal(g.df("server_load").background_rate, lo.df("server_load").background_rate)
    # ... while the decisions really differ
    assert not np.array_equal(g.df("slots").server, lo.df("slots").server)


def test_trace_marks_a_crashed_run_incomplete(tmp_path):
    class Crash:
        name = "crash"

        def reset(self, rng):
            self.n = 0

        def act(self, obs):
            self.n += 1
            if self.n == 3:
                raise RuntimeError("boom")
            return {a: o.current for a, o in obs.items()}

    path = tmp_path / "crash.h5"
    sim = Simulation(tiny("twin-city"), Crash(), trace_path=str(path))
    with pytest.raises(RuntimeError, match="boom"):
        sim.run()
    with pytest.warns(UserWarning, match="did not finish"):
        tr = open_trace(path)
    assert tr.complete is False
    assert len(tr.df("packets")) > 0  # what was written before the crash is readable
