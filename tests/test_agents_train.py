"""Training API of the learning agents: a tiny run of each writes its curve, config and a
checkpoint loadable with ``weights_only=True``; resume continues the update counter; the
loaded policy runs in a Simulation, deterministically; DM-MAPPO respects the mask (Eq. 24)."""

from __future__ import annotations

import csv
import functools
import importlib
import json

import numpy as np
import pytest
import torch

from agents.base import make_policy
from agents.registry import LEARNERS
from agents.train import CURVE_COLUMNS, load_policy, train
from desim_iov.env import make_scenario, parallel_env
from desim_iov.sim import Simulation

OVERRIDES = {"vehicles.count": 2, "vehicles.traffic.packet_size": "800 kB"}
ENV_FN = functools.partial(parallel_env, "twin-city", duration=120, **OVERRIDES)
# tiny budgets: one episode per update, a few gradient steps
HYPER = {
    "dm-mappo": {"episodes_per_update": 1, "epochs": 2, "minibatches": 2},
    "mappo": {"episodes_per_update": 1, "epochs": 2, "minibatches": 2},
    "masac": {"learning_starts": 4, "batch_size": 16, "gradient_steps": 2},
    "masac-nomask": {"learning_starts": 4, "batch_size": 16, "gradient_steps": 2},
}


def _scenario():
    return make_scenario("twin-city", duration=120, **OVERRIDES)


def _curve(path):
    with path.open() as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Each agent trained for 2 updates (once for the module)."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("agents")
    return {name: train(name, ENV_FN, updates=2, seed=0, out_dir=root / name, progress=False,
                        **HYPER[name]) for name in LEARNERS}


@pytest.mark.parametrize("name", list(LEARNERS))
def test_training_writes_curve_config_and_weights_only_checkpoint(trained, name):
    ckpt = trained[name]
    rows = _curve(ckpt.parent / "learning_curve.csv")
    assert [int(r["update"]) for r in rows] == [1, 2]
    assert list(rows[0]) == CURVE_COLUMNS
    for col in ("env_steps", "wall_s", "episode_reward_mean", "latency_mean", "failure_rate",
                "loss_actor", "loss_critic", "entropy"):
        assert np.isfinite(float(rows[-1][col])), col
    assert int(rows[-1]["env_steps"]) == 8  # 2 episodes of 120 s / 30 s
    blob = torch.load(ckpt, weights_only=True)
    assert blob["state"]["update"] == 2
    cfg = json.loads((ckpt.parent / "config.json").read_text())
    assert cfg["agent"] == name and cfg["layout"]["n_agents"] == 2
    assert cfg["hyper"]["use_mask"] == LEARNERS[name].use_mask


@pytest.mark.parametrize("name", ["dm-mappo", "masac"])
def test_resume_continues_the_update_counter(tmp_path, name):
    out = tmp_path / name
    train(name, ENV_FN, updates=1, seed=3, out_dir=out, progress=False, **HYPER[name])
    ck = train(name, ENV_FN, updates=2, seed=99, out_dir=out, progress=False, resume=True)
    rows = _curve(out / "learning_curve.csv")
    assert [int(r["update"]) for r in rows] == [1, 2]
    assert int(rows[1]["episodes"]) == 2 and float(rows[1]["wall_s"]) >= float(rows[0]["wall_s"])
    assert torch.load(ck, weights_only=True)["state"]["update"] == 2
    assert json.loads((out / "config.json").read_text())["seed"] == 3  # the run's seed, not the new one


def test_dm_mappo_resume_is_the_uninterrupted_run(tmp_path):
    """Networks, optimisers, normalisers and RNG streams all travel in the checkpoint."""
    a, b = tmp_path / "a", tmp_path / "b"
    train("dm-mappo", ENV_FN, updates=2, seed=5, out_dir=a, progress=False, **HYPER["dm-mappo"])
    train("dm-mappo", ENV_FN, updates=1, seed=5, out_dir=b, progress=False, **HYPER["dm-mappo"])
    train("dm-mappo", ENV_FN, updates=2, seed=5, out_dir=b, progress=False, resume=True)
    ra, rb = _curve(a / "learning_curve.csv"), _curve(b / "learning_curve.csv")
    for col in ("episode_reward_mean", "latency_mean", "loss_actor", "loss_critic", "entropy"):
        assert [r[col] for r in ra] == [r[col] for r in rb], col


class _Recorder:
    """Wraps a policy; keeps every (mask, action) it was asked about."""

    def __init__(self, inner):
        self.inner, self.name, self.log = inner, inner.name, []

    def reset(self, rng):
        self.inner.reset(rng)

    def act(self, observations):
        out = self.inner.act(observations)
        self.log += [(a, o.mask.copy(), out[a]) for a, o in sorted(observations.items())]
        return out


@pytest.mark.parametrize("name", list(LEARNERS))
def test_loaded_policy_runs_in_simulation_deterministically(trained, name):
    sc = _scenario()
    runs = []
    for _ in range(2):
        rec = _Recorder(load_policy(name, trained[name], sc))
        Simulation(sc, rec).run()
        runs.append(rec.log)
    assert len(runs[0]) > 0
    assert [(a, x) for a, _, x in runs[0]] == [(a, x) for a, _, x in runs[1]]
    if LEARNERS[name].use_mask:  # masked agents never pick a server the kernel's mask forbids
        assert all(m[x] == 1 for _, m, x in runs[0] if m.any())


def test_dm_mappo_evaluation_never_picks_a_masked_action(trained):
    for seed in (100, 101):
        sc = _scenario().model_copy(update={"seed": seed})
        rec = _Recorder(load_policy("dm-mappo", trained["dm-mappo"], sc))
        Simulation(sc, rec).run()
        assert rec.log and all(m[x] == 1 for _, m, x in rec.log if m.any())


def test_registry_needs_a_checkpoint(trained):
    from agents.base import policy_names

    assert set(LEARNERS) <= set(policy_names())
    with pytest.raises(KeyError, match="needs checkpoint="):
        make_policy("dm-mappo")
    pol = make_policy("dm-mappo", checkpoint=trained["dm-mappo"], scenario=_scenario())
    assert pol.name == "dm-mappo"


def test_bad_hyperparameter_and_mismatched_scenario_are_clear_errors(tmp_path, trained):
    with pytest.raises(TypeError, match="unknown hyperparameter"):
        train("dm-mappo", ENV_FN, updates=1, seed=0, out_dir=tmp_path, progress=False, lr=1.0)
    with pytest.raises(ValueError, match="trained for 2 vehicles"):
        load_policy("dm-mappo", trained["dm-mappo"], make_scenario("twin-city", duration=120))
    with pytest.raises(ValueError, match="'dm-mappo' checkpoint"):
        load_policy("masac", trained["dm-mappo"], _scenario())


@pytest.mark.parametrize("name", ["dm-mappo", "masac"])
def test_normalisers_start_from_a_whole_random_episode(name):
    """The input scales the first rollout uses come from every decision of one episode of
    random actions, not from the reset observations alone (empty caches: workloads near 0)."""
    from agents.blocks.rollout import random_rollout_observations
    from agents.train import make_config

    env = parallel_env("twin-city", duration=300, fidelity="slot", **{"vehicles.count": 3})
    learner = importlib.import_module(LEARNERS[name].algorithm).Learner(env, make_config(name), seed=0)
    rms = learner.actor.features.load_rms
    assert rms.count.item() < 1  # nothing seen before the first update
    learner._warm_start_normalisers()
    ref = random_rollout_observations(env, [learner.episode_seed(0)], use_mask=True,
                                      rng=np.random.default_rng(123))  # other random actions
    m = env.n_servers
    assert ref.shape[0] == 30  # 3 vehicles x 10 slots, more than the 3 at reset
    assert rms.count.item() == pytest.approx(ref.shape[0] * m, abs=1e-3)
    loads = ref[:, -m:]
    assert 0.5 < rms.var.item() / loads.var() < 2.0
    assert rms.mean.item() == pytest.approx(loads.mean(), rel=0.5)


def test_zero_updates_overwrites_a_stale_checkpoint(tmp_path):
    """A fresh run with updates=0 leaves its own (untrained) checkpoint, not an earlier run's."""
    train("dm-mappo", ENV_FN, updates=1, seed=0, out_dir=tmp_path, progress=False, **HYPER["dm-mappo"])
    trained = torch.load(tmp_path / "checkpoint.pt", weights_only=True)["state"]
    ck = train("dm-mappo", ENV_FN, updates=0, seed=0, out_dir=tmp_path, progress=False)
    fresh = torch.load(ck, weights_only=True)["state"]
    assert trained["update"] == 1 and fresh["update"] == 0
    assert fresh["learner"]["episodes"] == 0


def test_ppo_takes_exactly_the_configured_minibatches():
    """8 decisions in 3 minibatches: 3 optimiser steps per epoch (slices of 8 // 3 made 4)."""
    from agents import dm_mappo
    from agents.train import make_config

    learner = dm_mappo.Learner(ENV_FN(), make_config("dm-mappo", episodes_per_update=1, epochs=2,
                                                      minibatches=3), seed=0)
    learner.update()
    assert learner.agent_steps == 8
    steps = {int(st["step"]) for st in learner.opt_actor.state_dict()["state"].values()}
    assert steps == {2 * 3}
