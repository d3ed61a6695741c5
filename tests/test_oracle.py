"""The hindsight oracle: its MILP is the exact optimum, it uses the future, it is a reference."""

from __future__ import annotations

import itertools

import numpy as np
from conftest import tiny

from agents.base import make_policy
from agents.oracle import OraclePolicy, solve_assignment
from analysis.summary import summarize
from desim_iov.sim import Simulation


def brute_force(c, g):
    a, k = c.shape
    best, arg = np.inf, None
    for choice in itertools.product(range(k), repeat=a):
        n = np.bincount(choice, minlength=k)
        val = sum(c[i, m] for i, m in enumerate(choice)) + g[np.arange(k), n].sum()
        if val < best:
            best, arg = val, choice
    return best, arg


def test_milp_equals_brute_force_on_random_instances():
    rng = np.random.default_rng(7)
    for _ in range(25):
        a, k = rng.integers(1, 4), rng.integers(1, 5)
        c = rng.uniform(0, 5, (a, k))
        c[rng.random((a, k)) < 0.2] = np.inf
        c[:, 0] = np.minimum(c[:, 0], 9.0)  # keep something feasible
        g = np.cumsum(rng.uniform(-1, 3, (k, a + 1)), axis=1)  # need not be convex
        g[:, 0] = 0.0
        best, _ = brute_force(c, g)
        choice = solve_assignment(c, g)
        n = np.bincount(choice, minlength=k)
        val = c[np.arange(a), choice].sum() + g[np.arange(k), n].sum()
        assert np.isclose(val, best)


def test_oracle_minimises_the_epoch_objective_against_other_choices():
    sim = Simulation(tiny("twin-city", "duration=60"), None)
    oracle = OraclePolicy()
    oracle.bind(sim)
    obs = sim.advance()
    agents, cur, cand, c, g = oracle.costs(obs)
    mine = oracle.act(obs)

    def value(choice):
        idx = [int(choice[a]) for a in agents]
        n = np.bincount(idx, minlength=sim.M)
        return c[np.arange(len(agents)), idx].sum() + g[np.arange(sim.M), n].sum()

    greedy = make_policy("greedy", epsilon=0.0)
    greedy.reset(np.random.default_rng(0))
    assert value(mine) <= value(greedy.act(obs)) + 1e-9
    assert value(mine) <= value({a: int(o) for a, o in zip(agents, cur, strict=True)}) + 1e-9
    sim.close()


def test_oracle_runs_and_beats_greedy_on_the_paper_objective(tmp_path):
    res = {}
    for p in ("greedy", "oracle"):
        out = tmp_path / f"{p}.h5"
        Simulation(tiny("twin-city", "duration=300", "seed=5"), make_policy(p), trace_path=str(out)).run()
        res[p] = summarize(out).total
    assert res["oracle"]["O_T_formula_s"] <= res["greedy"]["O_T_formula_s"]
    assert res["oracle"]["O_D_formula"] <= res["greedy"]["O_D_formula"]
