"""Quantum-DRL learner (agents/qdrl.py, Alg. 2), its action codes (agents/offload_blocks.py),
the quantum actor (agents/quantum/actor.py), the digital twin's one-slot model
(desim_iov/apps/offload_model.py) and the Nash-equilibrium step (agents/nash.py, Alg. 3)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agents.nash import allowed_actions, iterated_best_response
from agents.offload_blocks import ActionCodec, OffloadLayout
from agents.quantum.actor import QuantumActor, masked_code_probs
from desim_iov.apps.offload_model import EpochModel
from desim_iov.env import parallel_env


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _env(**kw):
    over = {"fidelity": "slot", "duration": "0.2 s", **kw}
    return parallel_env("offload-urban", **over)


# ---------------------------------------------------------------------------- codes


def test_codec_groups_and_round_trip():
    c = ActionCodec((15, 4, 3))  # vehicle at B + U = 14: target 4 bits + power 2 bits | split 2 bits
    assert c.groups == [[0, 1], [2]] and c.sizes == [64, 4] and c.n_joint == 256
    r = ActionCodec((15, 2, 2))  # UAV/BS: rule 4 + CPU 1 + power 1 bits = one 6-bit group
    assert r.groups == [[0, 1, 2]] and r.sizes == [64]
    rng = np.random.default_rng(0)
    acts = np.stack([rng.integers(0, n, 50) for n in (15, 4, 3)], axis=1)
    assert np.array_equal(c.decode(c.encode(acts)), acts)
    idx = c.joint_index(c.encode(acts))
    assert idx.min() >= 0 and idx.max() < 256
    with pytest.raises(ValueError, match="bits"):
        ActionCodec((100, 2))


def test_code_masks_follow_the_component_masks():
    c = ActionCodec((15, 4, 3))
    flat = np.ones((1, 22), bool)
    flat[0, [2, 5, 14]] = False  # targets 2, 5 and hold forbidden
    flat[0, 15 + 3] = False  # power level 3 forbidden
    m = c.code_masks(flat)
    allowed = c.decode(np.stack(np.meshgrid(np.flatnonzero(m[0][0]), np.flatnonzero(m[1][0]), indexing="ij"),
                                -1).reshape(-1, 2))
    assert not np.isin(allowed[:, 0], [2, 5, 14, 15]).any()  # 15: no such target
    assert not (allowed[:, 1] == 3).any()
    assert m[0][0].sum() == 12 * 3 and m[1][0].sum() == 3  # 12 targets x 3 powers; split 3 of 4 codes


def test_masked_code_probs_remove_and_renormalise():
    p = torch.softmax(torch.randn(5, 64), -1)
    allowed = torch.zeros(5, 4, dtype=torch.bool)
    allowed[:, [0, 2]] = True
    q = masked_code_probs(p, 4, allowed)
    assert torch.allclose(q.sum(-1), torch.ones(5))
    assert (q[:, [1, 3]] == 0).all()
    marg = p.reshape(5, 4, 16).sum(-1)  # the leading 2 bits' marginal
    expect = marg[:, [0, 2]] / marg[:, [0, 2]].sum(-1, keepdim=True)
    assert torch.allclose(q[:, [0, 2]], expect, atol=1e-6)


def test_quantum_actor_learns_a_contextual_bandit():
    """The actor loss of Alg. 2 (maximise sum_a pi(a|s) Q(s,a)) on a fixed Q: the circuit moves
    its Born mass onto each context's best allowed code."""
    torch.manual_seed(0)
    codec = ActionCodec((8,))  # 3 bits
    actor = QuantumActor(codec, layers=4, generator=torch.Generator().manual_seed(1))
    ctx = torch.eye(4, 6)  # 4 contexts as features
    best = torch.tensor([1, 6, 3, 0])
    q = torch.zeros(4, 8)
    q[torch.arange(4), best] = 1.0
    masks = [torch.ones(4, 8, dtype=torch.bool)]
    masks[0][0, 2] = False
    opt = torch.optim.Adam(actor.parameters(), lr=0.05)
    before = actor.probs(ctx, None, masks)[0][torch.arange(4), best].mean().item()
    for _ in range(150):
        pi = actor.probs(ctx, None, masks)[0]
        loss = -(pi * q).sum(-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    pi = actor.probs(ctx, None, masks)[0].detach()
    assert pi[0, 2] == 0.0
    after = pi[torch.arange(4), best].mean().item()
    # the encoded contexts share the bias amplitude (pairwise overlap 1/2), so no unitary
    # separates them perfectly: 0.72 is reached here from 0.14
    assert after > 0.65 and after > before + 0.4, (before, after)


# ---------------------------------------------------------------------------- DT model, Nash


def _acting_sample(env, obs, rng):
    return {a: env.action_space(a).sample(mask=obs[a]["action_mask"]) for a in env.acting_agents}


def test_epoch_model_predicts_the_run_rewards_with_an_exact_twin():
    """With no CPU-estimate error the DT's one-slot model is the run's own reward computation:
    its utilities for the joint action equal the env's rewards, slot after slot."""
    env = _env(**{"offload.network.dt_cpu_error": 0.0, "offload.tasks.prob_per_slot": 0.4})
    obs, _ = env.reset(seed=2)
    rng = np.random.default_rng(0)
    checked = 0
    while env.agents:
        acts = _acting_sample(env, obs, rng)
        pred = EpochModel(env.sim.app).utilities(acts)
        obs, rew, *_ = env.step(acts)
        for a, r in pred.items():
            assert rew[a] == pytest.approx(r, rel=1e-9, abs=1e-9), a
        checked += len(pred)
    assert checked > 50


def test_scorer_mean_is_numpys_to_the_bit():
    """The scorer's mean sums below 8 numbers in Python (numpy's pairwise sum is sequential
    there) and leaves 8 or more to numpy: the value is np.mean's either way."""
    from desim_iov.apps.offload_scoring import _mean

    rng = np.random.default_rng(0)
    for n in [*range(1, 20), 64, 200]:
        for _ in range(300):
            xs = (rng.random(n) * 10.0 ** rng.integers(-17, 3, n)).tolist()
            assert _mean(xs) == float(np.mean(xs)), xs
            assert _mean([xs[0]] * n) == float(np.mean([xs[0]] * n))


def test_iterated_best_response_reaches_a_fixed_point():
    env = _env(**{"offload.tasks.prob_per_slot": 0.4})
    lay = OffloadLayout.of_env(env)
    obs, _ = env.reset(seed=5)
    rng = np.random.default_rng(1)
    for _ in range(4):
        acts = _acting_sample(env, obs, rng)
        model = EpochModel(env.sim.app)
        cands = {a: allowed_actions(lay.kinds[a.rsplit("_", 1)[0]].codec, obs[a]["action_mask"].astype(bool))
                 for a in acts}
        res = iterated_best_response(model, acts, cands, rounds=10)
        if res.converged and model.tasks:
            u = model.utilities(res.actions)
            for a in res.actions:  # no agent gains by deviating alone (a pure NE of the slot game)
                vals, _ = model.best_response(a, res.actions, cands[a])
                assert vals.max() <= u[a] + 1e-9
            assert sum(u.values()) >= sum(model.utilities(acts).values()) - 1e-9 or res.changed
        for a, x in res.actions.items():  # always inside the masks
            assert x.tolist() in cands[a].tolist()
        obs, *_ = env.step(res.actions)


# ---------------------------------------------------------------------------- the learner

@pytest.mark.parametrize("over", [{"offload.tasks.prob_per_slot": 0.6},
                                  {"offload.tasks.prob_per_slot": 0.8, "offload.tasks.max_subtask": 2e6},
                                  {"offload.tasks.prob_per_slot": 0.6, "offload.network.at_hop_limit": "drop",
                                   "offload.network.max_hops": 1}])
def test_best_response_equals_the_plain_utilities_bit_for_bit(over):
    """EpochModel.best_response evaluates only what the agent's choice can change and keeps a
    vehicle's utility across candidates and rounds: each value must be exactly ``utilities``
    of the joint action with that candidate substituted (also with 8 and more subtasks per
    vehicle, and with drops at the hop limit), at a random joint action (some first components
    refused) and at the result of the Nash step (every cache warm)."""
    env = _env(**over)
    lay = OffloadLayout.of_env(env)
    obs, _ = env.reset(seed=4)
    rng = np.random.default_rng(2)
    checked = 0
    for step in range(3):
        acts = {}
        for a in env.acting_agents:
            mask, nvec = obs[a]["action_mask"].astype(bool), env.action_space(a).nvec
            ends = np.cumsum([0, *nvec])
            acts[a] = np.array([rng.choice(np.flatnonzero(mask[ends[j]:ends[j + 1]])) for j in range(3)])
            if rng.random() < 0.25:  # refused: the kernel's replacement
                acts[a][0] = rng.integers(nvec[0])
        model = EpochModel(env.sim.app)
        cands = {a: allowed_actions(lay.kinds[a.rsplit("_", 1)[0]].codec, obs[a]["action_mask"].astype(bool))
                 for a in acts}
        res = iterated_best_response(model, acts, cands, rounds=2)
        for joint in (acts, res.actions):
            for a in joint:
                vals, best = model.best_response(a, joint, cands[a])
                plain = [EpochModel(env.sim.app).utilities({**joint, a: c})[a] for c in cands[a]]
                assert vals.tolist() == plain, (step, a)
                assert best.tolist() == cands[a][int(np.argmax(plain))].tolist()
                checked += len(plain)
        obs, *_ = env.step(res.actions)
    assert checked > 1000


@pytest.mark.parametrize("name", ["qdrl", "qdrl-sa", "qdrl-nodt"])
def test_learner_updates_checkpoints_and_is_deterministic(name, tmp_path):
    from agents.train import _agent, make_config, scenario_for
    from desim_iov.env import make_scenario

    sc = scenario_for(name, make_scenario("offload-urban", fidelity="slot", duration="0.2 s"))
    mod, _ = _agent(name)
    cfg = make_config(name, warmup=16, batch=16)
    a = mod.Learner(parallel_env(sc), cfg, seed=3)
    m1, m2 = a.update(), a.update()
    assert m1["invalid_rate"] == 0.0 and m2["invalid_rate"] == 0.0  # never outside the kernel's mask
    assert np.isfinite(m2["loss_critic"]) and np.isfinite(m2["loss_actor"])
    mb = mod.Learner(parallel_env(sc), cfg, seed=3).update()  # same seed, same first update
    same = {k: v for k, v in m1.items() if not k.endswith("_s")}
    assert {k: v for k, v in mb.items() if not k.endswith("_s")} == pytest.approx(same, nan_ok=True)
    if name == "qdrl-nodt":
        assert not a.use_nash and "nash_rounds" not in m2
    c = mod.Learner(parallel_env(sc), cfg, seed=99)
    c.load_state_dict(a.state_dict())
    env = parallel_env(sc)
    obs, _ = env.reset(seed=7)
    kind = "uav"
    kl = a.layout.kinds[kind]
    x = np.stack([obs[x_]["observation"] for x_ in kl.agents])
    m = np.stack([obs[x_]["action_mask"] for x_ in kl.agents]).astype(bool)
    rows = np.arange(kl.n)
    assert np.array_equal(a.policy_act(kind, x, m, rows), c.policy_act(kind, x, m, rows))


# ---------------------------------------------------------------------------- CLI


def test_cli_train_and_eval_an_offloading_learner(tmp_path, capsys):
    """`desim-iov train --agent qdrl --scenario offload-urban` and `eval` work like the twin
    learners (a persistence forecaster here, so nothing is fitted); a checkpoint of another
    learner and one of another network are one-line errors."""
    from desim_iov.cli import main

    run = tmp_path / "q"
    common = ["--scenario", "offload-urban", "--set", "duration=0.1 s", "--set", "offload.dt.predictor=persistence"]
    assert main(["train", "--agent", "qdrl", "--updates", "1", "--out", str(run), "--quiet", *common]) == 0
    assert (run / "checkpoint.pt").is_file() and (run / "learning_curve.csv").is_file()
    trace = tmp_path / "e.h5"
    assert main(["eval", "--agent", "qdrl", "--checkpoint", str(run / "checkpoint.pt"), "--out", str(trace),
                 "--quiet", *common]) == 0
    assert trace.is_file()
    capsys.readouterr()
    assert main(["eval", "--agent", "ppo-offload", "--checkpoint", str(run / "checkpoint.pt"), *common]) != 0
    err = capsys.readouterr().err.strip()
    assert err.endswith("a 'qdrl' checkpoint, not 'ppo-offload'") and "\n" not in err
    assert main(["eval", "--agent", "qdrl", "--checkpoint", str(run / "checkpoint.pt"), *common,
                 "--set", "vehicles.count=3"]) != 0
    err = capsys.readouterr().err.strip()
    assert "trained for vehicle: 8 x" in err and "\n" not in err
    # a twin-migration learner on an offloading scenario
    assert main(["train", "--agent", "dm-mappo", "--updates", "1", *common]) != 0
    assert "is for app twin_migration" in capsys.readouterr().err


@pytest.mark.slow
def test_figure_driver_trains_evaluates_and_prints_the_paper_beside(tmp_path):
    """qdrl-fig7 end to end through its shipped sweep at a tiny budget (a persistence forecaster
    instead of the fitted LSTM, so no fit; 0.1 s runs): training per density, evaluation per
    block length on held-out seeds, the CSVs, the PNG, the headline; run again, nothing reruns."""
    from desim_iov.experiments.qdrl_figs import run_figure

    ov = ["duration=0.1 s", "offload.dt.predictor=persistence"]
    lines = run_figure("qdrl-fig7", tmp_path, seeds=1, episodes=1, overrides=ov, progress=False, workers=1)
    out = tmp_path / "fig7"
    for f in ("results.csv", "summary.csv", "fig7.png", "headline.txt", "runs.parquet", "sweep.json"):
        assert (out / f).is_file(), f
    import pandas as pd

    df = pd.read_csv(out / "results.csv")
    assert sorted(df.n.unique()) == [100, 200, 300, 400, 500, 1000] and df.density.nunique() == 2
    assert set(df.seed) == {10_000} and set(df.agent) == {"qdrl"}
    assert len(list((tmp_path / "train").iterdir())) == 2 and not (tmp_path / "fit").exists()
    stamp = {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").rglob("record.json")}
    assert run_figure("qdrl-fig7", tmp_path, seeds=1, episodes=1, overrides=ov, progress=False, workers=1) == lines
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").rglob("record.json")} == stamp
    assert any("paper (low density): 1.63 ms" in line for line in lines)
    with pytest.raises(KeyError, match="unknown experiment"):
        run_figure("qdrl-fig9", tmp_path)
    with pytest.raises(ValueError, match="--seeds and --episodes"):
        run_figure("qdrl-fig3", tmp_path, seeds=0)


def test_fig6_writes_qos_and_latency_panels_and_the_paper_beside(tmp_path, monkeypatch):
    """Fig. 6's summary, two PNGs and headline from a per-run table of its sweep's shape (the
    sweep stubbed out: the driver is tested end to end on Fig. 7); the latency range is read
    from the runs."""
    import pandas as pd

    import desim_iov.experiments.qdrl_figs as figs
    from desim_iov.experiments.qdrl import Plan
    from desim_iov.sweep import load_sweep

    rows = []
    spec = load_sweep("qdrl-fig6")
    for name in spec.grid["config"]:
        for f in spec.evaluate:
            for seed in (0, 1):
                lat = 0.3 - 0.01 * float(f) + 0.002 * (seed - 0.5)
                rows.append({"agent": "qdrl", "config": name, "setting": f, "seed": seed, "key": "k",
                             "latency_mean_s": lat, "qos_norm_mean": 50.6 + 0.7 / lat / 6.4})
    monkeypatch.setattr(Plan, "run", lambda self, name, ov=(): pd.DataFrame(rows))
    lines = figs.fig6(Plan(out=tmp_path, seeds=2, episodes=1, progress=False))
    for f in ("results.csv", "summary.csv", "fig6.png", "fig6_latency.png"):
        assert (tmp_path / "fig6" / f).is_file(), f
    sm = pd.read_csv(tmp_path / "fig6" / "summary.csv")
    assert len(sm) == 25 and (sm.seeds == 2).all()
    want = sum(50.6 + 0.7 / (0.3 - 0.075 + 0.002 * (seed - 0.5)) / 6.4 for seed in (0, 1)) / 2
    assert f"  V2 at 7.5 GHz: measured {want:.2f}   paper 86.26" in lines, lines
    assert "    V2: 0.250 -> 0.200" in lines
