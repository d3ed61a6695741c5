"""The twin-migration learners train on the batched slot env (``desim-iov train --envs N``):
its rollouts are laid out as the scalar env's, N = 1 reproduces scalar training exactly, and
a short batched training runs from the CLI."""

from __future__ import annotations

import functools
import json

import numpy as np
import pandas as pd
import torch

from agents.blocks.checkpoints import load_checkpoint
from agents.blocks.rollout import collect_episodes
from agents.train import train
from desim_iov.cli import main
from desim_iov.env import make_scenario, parallel_env
from desim_iov.vector.env import batched_env

SMALL = {"duration": 150, "fidelity": "slot", "vehicles.count": 3}
FIELDS = ("obs", "mask", "state", "active", "action", "reward", "done", "t_sum", "failed")


def _equal(a, b) -> None:
    for f in FIELDS:
        assert np.array_equal(getattr(a, f), getattr(b, f), equal_nan=True), f
    assert a.episode_returns == b.episode_returns
    assert a.extras.keys() == b.extras.keys()
    assert all(np.array_equal(a.extras[k], b.extras[k]) for k in a.extras)


def test_batched_rollouts_equal_scalar_rollouts():
    """One env: the same act calls, so the same batch even with a shared random stream. Three
    envs, a policy that reads only its observation: each episode as in the scalar loop."""
    sc = make_scenario("twin-city", **SMALL)
    seeds = [7501, 7502, 7503, 7504, 7505]

    def random_act(seed):
        rng = np.random.default_rng(seed)

        def act(o, m, state, ids):
            assert state.ndim == 1  # one episode acting: its (S,) state, as in the scalar loop
            keys = np.where(m, rng.random(m.shape), -1.0)
            return keys.argmax(axis=1), {"logp": rng.random(len(ids)).astype(np.float32)}
        return act

    def greedy(o, m, state, ids):  # the allowed server with the least observed workload
        load = np.where(m, o[:, -m.shape[1]:], np.inf)
        return load.argmin(axis=1), {"value": o[:, 0].copy()}

    scalar = collect_episodes(parallel_env(sc), random_act(1), seeds)
    _equal(scalar, collect_episodes(batched_env(sc, 1, autoreset_mode="Disabled"), random_act(1), seeds))
    _equal(collect_episodes(parallel_env(sc), greedy, seeds),
           collect_episodes(batched_env(sc, 3, autoreset_mode="Disabled"), greedy, seeds))


def test_dm_mappo_on_one_batched_env_trains_as_on_the_scalar_env(tmp_path):
    torch.set_num_threads(1)
    sc = make_scenario("twin-city", **SMALL)
    runs = {}
    for name, env_fn in (("scalar", functools.partial(parallel_env, sc)),
                         ("batched", functools.partial(batched_env, sc, 1, autoreset_mode="Disabled"))):
        ckpt = train("dm-mappo", env_fn, updates=2, seed=3, out_dir=tmp_path / name, progress=False)
        runs[name] = (pd.read_csv(tmp_path / name / "learning_curve.csv"), load_checkpoint(ckpt)[1])
    timing = ["wall_s", "rollout_s", "update_s"]
    (c_s, st_s), (c_b, st_b) = runs["scalar"], runs["batched"]
    pd.testing.assert_frame_equal(c_s.drop(columns=timing), c_b.drop(columns=timing))
    for k, w in st_s["learner"]["actor"].items():
        assert torch.equal(w, st_b["learner"]["actor"][k]), k


def test_cli_train_with_batched_envs(tmp_path, capsys):
    run = tmp_path / "mappo"
    assert main(["train", "--agent", "mappo", "--envs", "6", "--updates", "1", "--set", "duration=90",
                 "--set", "vehicles.count=2", "--out", str(run), "--quiet"]) == 0
    curve = pd.read_csv(run / "learning_curve.csv")
    assert len(curve) == 1 and curve.episodes[0] == 6 and np.isfinite(curve.episode_reward_mean[0])
    assert json.loads((run / "config.json").read_text())["hyper"]["episodes_per_update"] == 6
    assert "episodes_per_update 4 -> 6" in capsys.readouterr().err
    assert main(["train", "--agent", "qdrl", "--scenario", "offload-urban", "--envs", "2", "--updates", "1",
                 "--out", str(tmp_path / "q"), "--quiet"]) == 2
    assert "learner 'qdrl' collects its rollouts from the scalar env" in capsys.readouterr().err
