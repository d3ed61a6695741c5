"""The task-offloading app through the packet and slot kernels: invariants recomputed from the
trace (one terminal row per subtask, hop times chained, no B-B hop, no hop below R^, hop
limit held, energy sums), determinism, common random numbers across policies, the fidelity
agreement, bad configurations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from agents.base import make_policy
from desim_iov.config import ConfigError, load_scenario
from desim_iov.sim import Simulation
from desim_iov.topology import BU, UB, UU, VB, VU
from traces.reader import open_trace
from traces.schema import SUBTASK_CODE, TASK_CODE


def _run(tmp_path, policy="random", name="t.h5", *overrides):
    sc = load_scenario("offload-urban", ["duration=0.4 s", "offload.tasks.prob_per_slot=0.3", *overrides])
    path = tmp_path / name
    sim = Simulation(sc, make_policy(policy, app=sc.app), trace_path=str(path))
    sim.run()
    return sc, open_trace(str(path)), sim


def _check_invariants(sc, tr) -> pd.DataFrame:
    sub, hops, tasks = tr.df("subtasks"), tr.df("hops"), tr.df("tasks")
    B = sc.rsus.count
    N = B + sc.uavs.count
    n = int(tr.attrs["subtasks_generated"])
    # one terminal row per subtask, ids 0..n-1; tasks split into exactly those subtasks
    assert n > 0 and sorted(sub.subtask) == list(range(n))
    released = tasks[tasks.status == TASK_CODE["released"]]
    assert released.n_sub.sum() == n
    assert int(tr.attrs["tasks_generated"]) == len(tasks) and sorted(tasks.task) == list(range(len(tasks)))
    per_task = sub.groupby("task").size()
    assert (per_task == released.set_index("task").n_sub.loc[per_task.index]).all()
    # hops: types, kinds, rate floor, chaining
    veh = hops.src >= N
    assert ((hops.link_type == VB) == (veh & (hops.dst < B))).all()
    assert ((hops.link_type == VU) == (veh & (hops.dst >= B))).all()
    relay = ~veh
    assert ((hops.link_type[relay] == BU) == ((hops.src < B) & (hops.dst >= B))[relay]).all()
    assert ((hops.link_type[relay] == UB) == ((hops.src >= B) & (hops.dst < B))[relay]).all()
    assert ((hops.link_type[relay] == UU) == ((hops.src >= B) & (hops.dst >= B))[relay]).all()
    assert not ((hops.src < B) & (hops.dst < B)).any()  # no B-B hop
    assert (hops.dst < N).all()  # nothing into a vehicle
    assert (hops.rate >= sc.offload.network.min_rate).all()
    assert (hops.end > hops.start).all()
    h = hops.sort_values(["subtask", "hop"])
    for sid, g in h.groupby("subtask"):
        row = sub.set_index("subtask").loc[sid]
        assert list(g.hop) == list(range(len(g)))
        assert g.src.iloc[0] == N + row.vehicle and g.start.iloc[0] >= row.released - 1e-12
        assert (g.src.values[1:] == g.dst.values[:-1]).all()  # a path
        assert (g.start.values[1:] >= g.end.values[:-1] - 1e-12).all()  # chained in time
        assert len(set(g.dst)) == len(g)  # never a loop
        assert g.dst.iloc[0] == row.first_node
        assert row.e_tx_vehicle == pytest.approx(g.energy.iloc[0], rel=1e-12)
        assert row.e_tx_relay == pytest.approx(g.energy.iloc[1:].sum(), rel=1e-12, abs=1e-15)
        assert row.t_tx == pytest.approx((g.end - g.start).sum(), rel=1e-9)
        if row.outcome <= SUBTASK_CODE["processed_late"]:
            assert row.proc_node == g.dst.iloc[-1]
            assert len(g) - 1 == row.hops
    assert (sub.hops <= sc.offload.network.max_hops).all()
    done = sub[sub.outcome <= SUBTASK_CODE["processed_late"]]
    assert len(done) > 0
    np.testing.assert_allclose(done.latency, done.finished - done.released, rtol=1e-12)
    np.testing.assert_allclose(done.latency, done.t_tx + done.t_queue + done.t_proc, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(done.e_proc, sc.offload.energy.xi * done.cycles, rtol=1e-12)
    assert ((done.outcome == SUBTASK_CODE["processed_in_time"]) ==
            (done.latency <= sc.offload.tasks.deadline + 1e-12)).all()
    assert (done.deadline_met == (done.outcome == SUBTASK_CODE["processed_in_time"])).all()
    assert sub.bits.max() <= sc.offload.tasks.max_subtask * (1 + 1e-12)  # C20
    # node energy accounting equals the subtasks' (relay transmit, processing started)
    ns = tr.df("node_slots")
    assert ns.e_tx.sum() == pytest.approx(sub.e_tx_relay.sum(), rel=1e-9, abs=1e-12)
    assert ns.e_proc.sum() == pytest.approx(sub.e_proc.sum(), rel=1e-9)
    assert (ns.busy_frac >= 0).all()
    if sc.fidelity == "packet":  # slot fidelity: demanded CPU time, may exceed the slot
        assert (ns.busy_frac <= 1 + 1e-9).all()
    return sub


def test_packet_kernel_invariants_with_forwarding(tmp_path):
    sc, tr, sim = _run(tmp_path, "random")
    sub = _check_invariants(sc, tr)
    assert (sub.hops > 0).any()  # random relay rules forward
    assert set(sub.outcome) <= set(SUBTASK_CODE.values())
    assert sim.stats.subtasks == len(sub)
    assert sum(sim.stats.outcomes.values()) == len(sub)


def test_slot_kernel_invariants(tmp_path):
    sc, tr, _ = _run(tmp_path, "random", "s.h5", "fidelity=slot")
    sub = _check_invariants(sc, tr)
    assert (sub.t_queue == 0).all()  # the closed form has no queueing


def test_hop_limit_is_held_and_can_drop(tmp_path):
    sc, tr, _ = _run(tmp_path, "random", "h.h5", "offload.network.max_hops=1")
    _check_invariants(sc, tr)
    sc, tr, sim = _run(tmp_path, "random", "d.h5", "offload.network.max_hops=0",
                       "offload.network.at_hop_limit=drop")
    sub = tr.df("subtasks")
    assert (sub.hops == 0).all()
    assert (sub.outcome == SUBTASK_CODE["hop_limit"]).any()
    dropped = sub[sub.outcome == SUBTASK_CODE["hop_limit"]]
    assert dropped.finished.isna().all()


def test_same_seed_same_trace_and_arrivals_common_to_policies(tmp_path):
    _, a, _ = _run(tmp_path, "min-latency", "a.h5")
    _, b, _ = _run(tmp_path, "min-latency", "b.h5")
    for name in ("tasks", "subtasks", "hops", "node_slots", "links", "agent_steps"):
        pd.testing.assert_frame_equal(a.df(name), b.df(name))
    _, c, _ = _run(tmp_path, "nearest", "c.h5")
    ta, tc = a.df("tasks"), c.df("tasks")
    pd.testing.assert_frame_equal(ta[["task", "vehicle", "created"]], tc[["task", "vehicle", "created"]])


@pytest.mark.parametrize("size", ["1 MB", "100 kB"])
def test_every_subtask_ends_once_even_with_vanishing_links(tmp_path, size):
    """Fast UAVs and a high R^ make links come and go: nothing raises, every subtask has one
    terminal row with a reason, and waits before a vanished relay link still count as
    queueing (latency = t_tx + t_queue + t_proc)."""
    sc, tr, _ = _run(tmp_path, "random", "v.h5", "uavs.speed=45 m/s", "uavs.speed_max=50 m/s",
                     "offload.network.min_rate=40 Mbit/s", "duration=0.6 s",
                     f"offload.tasks.size={size}", f"offload.tasks.max_subtask={size}")
    sub = _check_invariants(sc, tr)
    assert sub.subtask.is_unique
    assert (sub.rerouted > 0).any()  # links did vanish under queued subtasks
    assert (sub.outcome == SUBTASK_CODE["edge_vanished"]).any()


def test_unqueued_subtasks_take_exactly_the_closed_form(tmp_path):
    """With the CPU deviation drawn once per run, a subtask that never waited has the slot
    fidelity's closed-form latency to the last bit (same decisions: max-rate reads rates only)."""
    common = ["duration=1 s", "offload.tasks.prob_per_slot=0.02", "offload.network.cpu_deviation_period=run"]
    out = {}
    for fid in ("packet", "slot"):
        sc = load_scenario("offload-urban", [f"fidelity={fid}", *common])
        Simulation(sc, make_policy("max-rate", app=sc.app), trace_path=str(tmp_path / f"{fid}.h5")).run()
        out[fid] = open_trace(str(tmp_path / f"{fid}.h5")).df("subtasks").set_index("subtask")
    pk, sl = out["packet"], out["slot"]
    free = pk[(pk.outcome <= 1) & (pk.t_queue == 0)]
    assert len(free) >= 5
    np.testing.assert_allclose(free.latency, sl.loc[free.index].latency, rtol=1e-12)
    np.testing.assert_array_equal(free.proc_node, sl.loc[free.index].proc_node)


def test_slot_fidelity_agrees_with_packet_fidelity_at_light_load(tmp_path):
    """Mean subtask latency, slot vs packet fidelity, at light load (p = 0.01 task per vehicle
    and slot, 12 seeds x 2 s, the preset's per-slot CPU draws and fading): within 5 %. The
    closed form has no queueing, so it may only be lower; what remains is the queueing a 1 MB
    task's ~150 ms transmission causes at the vehicle and the CPUs (about 1 % here, 5 % at
    p = 0.02; measured in benchmarks/bench_offload.py)."""
    lat = {}
    for fid in ("packet", "slot"):
        vals = []
        for seed in range(12):
            sc = load_scenario("offload-urban", [f"fidelity={fid}", f"seed={seed}", "duration=2 s",
                                                 "offload.tasks.prob_per_slot=0.01"])
            path = tmp_path / f"{fid}{seed}.h5"
            Simulation(sc, make_policy("max-rate", app=sc.app), trace_path=str(path)).run()
            s = open_trace(str(path)).df("subtasks")
            vals.append(s.latency[s.outcome <= 1].values)
        lat[fid] = np.concatenate(vals)
    assert len(lat["packet"]) > 50
    rel = lat["slot"].mean() / lat["packet"].mean() - 1.0
    assert -0.05 <= rel <= 1e-9


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("offload.tasks.size=-1 MB", "offload.tasks.size"),
        ("offload.tasks.max_subtask=2 MB", "exceeds the task size"),
        ("offload.network.max_hops=14", "is impossible"),
        ("offload.network.max_hops=-1", "max_hops"),
        ("offload.tasks.split_levels=[]", "split_levels"),
        ("satellite.enabled=true", "no satellite"),
        ("rsus.cpu_deviation=uniform", "draws the CPU deviation itself"),
        ("offload.qos.q_max=10", "q_max"),
        ("offload.links.uu.exponent_range=[3, 2]", "exponent_range"),
    ],
)
def test_bad_offloading_configs_fail_in_one_line(override, message):
    with pytest.raises(ConfigError) as e:
        load_scenario("offload-urban", [override])
    assert message in str(e.value) and "\n" not in str(e.value)


def test_actions_outside_the_mask_are_refused_and_counted(tmp_path):
    """A policy ignoring the mask: targets without an edge are refused (vehicles: the fastest
    first hop instead; relays: process here) and counted in /agent_steps.refused."""
    sc = load_scenario("offload-urban", ["duration=0.2 s", "offload.tasks.prob_per_slot=0.5"])
    sim = Simulation(sc, None, trace_path=str(tmp_path / "x.h5"))
    refused = 0
    while (obs := sim.advance()) is not None:
        acts = {}
        for a, o in obs.items():
            bad = np.flatnonzero(o.mask[: o.nvec[0]] == 0)
            acts[a] = np.array([int(bad[0]) if bad.size else 0, 0, 0])
            refused += int(bad.size > 0)
        sim.act(acts)
    steps = open_trace(str(tmp_path / "x.h5")).df("agent_steps")
    assert refused > 0 and int(steps.refused.sum()) == refused == sim.stats.refused
    with pytest.raises(Exception, match="not 3 integers|outside"):
        sim2 = Simulation(sc, None)
        obs = sim2.advance()
        sim2.act({a: np.array([0, 0]) for a in obs})


def test_slot_fidelity_drops_at_the_hop_limit_and_records_nothing_after_the_end(tmp_path):
    """The closed form follows the packet process: with at_hop_limit drop the subtask ends
    hop_limit (no processing), and hops or processing that would end after the run are not
    written (the subtask is in flight at the end, as in the packet kernel)."""
    sc, tr, _ = _run(tmp_path, "random", "sd.h5", "fidelity=slot", "offload.network.max_hops=0",
                     "offload.network.at_hop_limit=drop")
    sub, hops = tr.df("subtasks"), tr.df("hops")
    dropped = sub[sub.outcome == SUBTASK_CODE["hop_limit"]]
    assert len(dropped) > 0 and (dropped.e_proc == 0).all() and (dropped.proc_node == -1).all()
    assert (hops.end <= sc.duration + 1e-12).all()
    inflight = sub[sub.outcome == SUBTASK_CODE["in_flight_at_end"]]
    assert len(inflight) > 0
    h = hops.groupby("subtask").end.max()
    assert (h.reindex(inflight.subtask).fillna(0) <= sc.duration + 1e-12).all()
    _check_invariants(sc, tr)
