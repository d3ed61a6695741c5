"""Offloading policies (agents/offload_heuristics.py, agents/offload_oracle.py): registered per
app, always inside the kernel's mask, and choosing what their definitions say."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest

from agents.base import HindsightPolicy, make_policy, policy_names
from agents.registry import OFFLOAD_POLICIES, factory_of
from desim_iov.config import load_scenario
from desim_iov.kinds import VEHICLE_AGENT
from desim_iov.sim import Simulation

NAMES = ("nearest", "max-rate", "min-latency", "random", "hindsight")


def test_registered_for_the_offloading_app_only():
    from agents.registry import OFFLOAD_LEARNERS

    assert set(policy_names("task_offloading")) == set(NAMES) | set(OFFLOAD_LEARNERS) == set(OFFLOAD_POLICIES)
    assert not set(OFFLOAD_LEARNERS) & set(policy_names())  # learners of one app only
    with pytest.raises(KeyError, match="needs checkpoint"):
        make_policy("qdrl", app="task_offloading")
    for name in NAMES:
        assert callable(factory_of(name, "task_offloading"))
    assert "nearest" not in policy_names()  # twin migration's table
    with pytest.raises(KeyError, match="for app task_offloading"):
        make_policy("greedy", app="task_offloading")
    assert isinstance(make_policy("hindsight", app="task_offloading"), HindsightPolicy)
    assert not isinstance(make_policy("min-latency", app="task_offloading"), HindsightPolicy)


class _Checked:
    """Wraps a policy: every action must be inside the observation's mask."""

    def __init__(self, inner):
        self.inner, self.name, self.seen = inner, inner.name, 0
        if hasattr(inner, "bind"):
            self.bind = inner.bind

    def reset(self, rng):
        self.inner.reset(rng)

    def act(self, obs):
        acts = self.inner.act(obs)
        assert set(acts) == set(obs)
        for a, o in obs.items():
            comp = o.component_masks()
            for k, x in enumerate(np.asarray(acts[a]).tolist()):
                assert comp[k][x] == 1, (a, k, x)
            self.seen += 1
        return acts


@pytest.mark.parametrize("name", NAMES)
def test_every_action_is_inside_the_mask(name):
    sc = load_scenario("offload-urban", ["duration=0.3 s", "offload.tasks.prob_per_slot=0.4"])
    pol = _Checked(make_policy(name, app=sc.app))
    sim = Simulation(sc, pol)
    sim.run()
    assert pol.seen > 0 and sim.stats.refused == 0


def _first_epoch(*overrides):
    sc = load_scenario("offload-urban", ["duration=0.1 s", "offload.tasks.arrivals=per_step", *overrides])
    sim = Simulation(sc, None)
    return sim, sim.advance()


def test_nearest_and_max_rate_choose_by_their_definitions():
    sim, obs = _first_epoch()
    tp = sim.app.topo
    near, fast = make_policy("nearest", app="task_offloading"), make_policy("max-rate", app="task_offloading")
    an, af = near.act(obs), fast.act(obs)
    for a, o in obs.items():
        if o.kind != VEHICLE_AGENT:
            assert an[a][0] == 0 and af[a][0] == 0  # relays process locally
            continue
        ok = np.flatnonzero(tp.access_edge[o.index])
        assert an[a][0] == ok[np.argmin(tp.access_distance[o.index, ok])]
        assert af[a][0] == ok[np.argmax(tp.access_rate[o.index, ok])]


def test_min_latency_is_the_best_hop_limited_path_by_brute_force():
    """Every simple path of at most max_hops relay hops enumerated, its D/R sum plus the end
    node's (queued + own cycles) / f^: the policy's first hop starts the cheapest."""
    sim, obs = _first_epoch("offload.network.max_hops=2")
    pol = make_policy("min-latency", app="task_offloading")
    acts = pol.act(obs)
    tp = sim.app.topo
    G = tp.graph()
    checked = 0
    for a, o in obs.items():
        if o.kind != VEHICLE_AGENT:
            continue
        dt = o.dt
        bits = min(dt.max_subtask, dt.pending_bits[o.index])
        cycles = bits * dt.cycles_per_bit
        src = tp.vehicle_node(o.index)
        best, first = np.inf, None
        for z in range(tp.N):
            for path in nx.all_simple_paths(G, src, z, cutoff=2 + 1):
                cost = sum(bits / G.edges[x, y]["rate"] for x, y in itertools.pairwise(path))
                cost += (dt.queue_cycles[z] + cycles) / dt.f_est[z]
                if cost < best - 1e-15:
                    best, first = cost, path[1]
        if first is not None:
            assert acts[a][0] == first
            checked += 1
    assert checked > 0


def test_hindsight_reads_the_true_cpu_and_assigns_greedily():
    sc = load_scenario("offload-urban", ["duration=0.1 s", "offload.tasks.arrivals=per_step"])
    pol = make_policy("hindsight", app=sc.app)
    with pytest.raises(RuntimeError, match="needs the run's view"):
        pol.act({})
    sim = Simulation(sc, pol)  # binds the app's hindsight view
    assert np.array_equal(pol.view.f_cpu, sim.app.nodes.f_cpu)
    sim.run()
    assert sim.stats.subtasks > 0


def test_heuristics_experiment_writes_one_row_per_policy_and_seed(tmp_path, capsys):
    from desim_iov.cli import main

    out = tmp_path / "exp"
    assert main(["experiment", "offload-heuristics", "--out", str(out), "--seeds", "2", "--quiet",
                 "--algorithms", "nearest", "random", "--set", "duration=0.3 s",
                 "--set", "offload.tasks.prob_per_slot=0.3"]) == 0
    import pandas as pd

    df = pd.read_csv(out / "results.csv")
    assert sorted(zip(df.policy, df.seed, strict=True)) == [("nearest", 0), ("nearest", 1),
                                                            ("random", 0), ("random", 1)]
    shares = df[[c for c in df.columns if c.startswith("share_")]].sum(axis=1)
    np.testing.assert_allclose(shares, 1.0)  # every subtask has exactly one outcome
    # common random numbers: the same tasks whatever the policy
    from traces.reader import open_trace

    runs = pd.read_parquet(out / "results.parquet").set_index(["policy", "seed"])
    for seed in (0, 1):
        a = open_trace(runs.trace[("nearest", seed)]).df("tasks")
        b = open_trace(runs.trace[("random", seed)]).df("tasks")
        assert list(a.created) == list(b.created)
    assert (out / "outcomes.png").stat().st_size > 0
    assert "nearest" in capsys.readouterr().out
