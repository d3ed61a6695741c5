"""The hindsight oracle: its MILP is the exact optimum, it uses the future, it is a reference."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import data_dir, tiny

from agents.base import make_policy
from agents.oracle import OraclePolicy, solve_assignment
from analysis.summary import summarize
from desim_iov.config import load_scenario
from desim_iov.sim import Simulation, make_simulation


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
        g[:, 1:][rng.random((k, a)) < 0.2] = np.inf  # forbidden counts (capacity, Eq. 16e)
        g[0, 1:] = np.minimum(g[0, 1:], 50.0)  # column 0 takes everyone: still feasible
        best, _ = brute_force(c, g)
        choice = solve_assignment(c, g)
        n = np.bincount(choice, minlength=k)
        val = c[np.arange(a), choice].sum() + g[np.arange(k), n].sum()
        assert np.isclose(val, best)


def test_oracle_minimises_the_epoch_objective_against_other_choices():
    sim = Simulation(tiny("twin-city", "duration=60"), None)
    oracle = OraclePolicy()
    oracle.bind(sim.app.hindsight())
    obs = sim.advance()
    agents, cur, cand, c, g = oracle.costs(obs)
    mine = oracle.act(obs)

    def value(choice):
        idx = [int(choice[a]) for a in agents]
        n = np.bincount(idx, minlength=sim.world.n_servers)
        return c[np.arange(len(agents)), idx].sum() + g[np.arange(sim.world.n_servers), n].sum()

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


def test_infeasible_instance_returns_none():
    c = np.array([[1.0, np.inf], [2.0, np.inf]])
    g = np.array([[0.0, 1.0, np.inf], [0.0, 1.0, 2.0]])  # server 0 takes one twin at most
    assert solve_assignment(c, g) is None
    g[0, 2] = 5.0
    assert list(solve_assignment(c, g)) == [0, 0]


class Recording(OraclePolicy):
    """The oracle, remembering each decision with the mask it was made under."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[np.ndarray, int]] = []

    def act(self, observations):
        out = super().act(observations)
        self.seen += [(np.asarray(o.mask, bool), out[a]) for a, o in observations.items()]
        return out


def _o_d(policy, scenario, path):
    make_simulation(scenario, policy, trace_path=str(path)).run()
    return summarize(path).total["O_D_formula"]


def test_oracle_obeys_mask_and_range_where_the_old_soft_penalty_failed(tmp_path):
    """Sparse RSUs (4, 800 m) and 120 MB twins: leaving an RSU's range costs w_d = 1 while
    moving the twin to the crowded satellite costs more, so an oracle that only *charged* for
    Eq. 16d kept twins out of range (O_D 1.05-1.35 on these seeds, greedy 0). With the mask
    and the whole slot's range as hard constraints it fails no more than greedy."""
    for seed in (0, 1, 2):
        sc = load_scenario("twin-city", [
            "fidelity=slot", f"seed={seed}", "duration=600 s", "vehicles.twin_size=120 MB",
            "rsus.count=4", "rsus.range=800 m", "uavs.count=0"])
        oracle = Recording()
        o_d = _o_d(oracle, sc, tmp_path / f"o{seed}.h5")
        greedy = _o_d(make_policy("greedy"), sc, tmp_path / f"g{seed}.h5")
        assert o_d <= greedy, (seed, o_d, greedy)
        assert all(m[a] for m, a in oracle.seen if m.any())  # the Eq. 23 mask, every time


@pytest.mark.realdata
def test_oracle_fails_no_more_than_greedy_on_tdrive(tmp_path):
    """The audit's case: twin-city-tdrive with 120 MB twins, where the soft oracle kept a twin
    1.4-3 km from its RSU for several slots while greedy never failed (O_D 0.23 vs 0 when
    found; 0.04 vs 0 with the kernel's later hosted-twin workloads and fading)."""
    root = data_dir()
    if not (root / "tdrive").is_dir() or not (root / "pems" / "D12_Orange_2022-01").is_dir():
        pytest.skip(f"no T-Drive/PeMS data under {root}")
    sc = load_scenario("twin-city-tdrive", [
        f"data_dir={root}", "fidelity=slot", "seed=100", "vehicles.twin_size=120 MB"])
    o_d = _o_d(OraclePolicy(), sc, tmp_path / "o.h5")
    assert o_d <= _o_d(make_policy("greedy"), sc, tmp_path / "g.h5")


def test_only_the_oracle_asks_for_the_hindsight_view():
    """bind(view) is the documented extension of the Policy protocol (agents.base.HindsightPolicy):
    the oracle has it, heuristics do not; the view answers from the run, not the agent's
    observations."""
    from agents.base import HindsightPolicy

    assert isinstance(make_policy("oracle"), HindsightPolicy)
    assert not isinstance(make_policy("greedy"), HindsightPolicy)
    sim = Simulation(load_scenario("twin-city", ["duration=60"]), make_policy("oracle"))
    view = sim.policy.view
    assert view.n_servers == sim.world.n_servers and view.slot_bits == sim.scenario.slot_bits
    veh, srv = view.positions(0.0, [0, 1])
    np.testing.assert_allclose(srv, sim.world.server_positions(0.0))
    np.testing.assert_allclose(veh, sim.world.vehicle_positions(0.0)[:2])
    sim.run()
