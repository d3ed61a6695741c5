"""MA-PPO on task offloading (``ppo-offload``) collects its rollouts from the batched slot env
(desim_iov/vector, agents/offload_rollout.py): with one episode at a time it trains exactly as
on the scalar env (learning curve and weights), with more it runs; ``desim-iov train --envs``."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import torch

from agents.blocks.checkpoints import load_checkpoint
from agents.train import train
from desim_iov.cli import main
from desim_iov.env import make_scenario, parallel_env
from desim_iov.vector.env import batched_env

SMALL = {"duration": 0.1, "vehicles.count": 3, "offload.dt.predictor": "persistence",
         "offload.tasks.prob_per_slot": 0.4}


def test_ppo_offload_with_one_batched_env_trains_as_with_the_scalar_env(tmp_path):
    sc = make_scenario("offload-urban", fidelity="slot", **SMALL)
    runs = {}
    for name, env_fn in (("scalar", functools.partial(parallel_env, sc)),
                         ("batched", functools.partial(batched_env, sc, 1, autoreset_mode="Disabled"))):
        ckpt = train("ppo-offload", env_fn, updates=2, seed=5, out_dir=tmp_path / name, progress=False,
                     epochs=2, minibatches=2)
        runs[name] = (pd.read_csv(tmp_path / name / "learning_curve.csv"), load_checkpoint(ckpt)[1]["learner"])
    timing = ["wall_s", "rollout_s", "update_s"]
    (c_s, st_s), (c_b, st_b) = runs["scalar"], runs["batched"]
    pd.testing.assert_frame_equal(c_s.drop(columns=timing), c_b.drop(columns=timing))
    assert c_s.agent_steps.iloc[-1] > 0 and np.isfinite(c_s.episode_reward_mean).all()
    for part in ("actors", "critics"):
        for kind, weights in st_s[part].items():
            for k, w in weights.items():
                assert torch.equal(w, st_b[part][kind][k]), (part, kind, k)


def test_ppo_offload_on_four_batched_envs(tmp_path):
    sc = make_scenario("offload-urban", fidelity="slot", **SMALL)
    train("ppo-offload", functools.partial(batched_env, sc, 4, autoreset_mode="Disabled"), updates=1, seed=5,
          out_dir=tmp_path, progress=False, episodes_per_update=6)  # two batches: 4, then 2
    curve = pd.read_csv(tmp_path / "learning_curve.csv")
    assert curve.episodes[0] == 6 and curve.env_steps[0] == 30 and np.isfinite(curve.episode_reward_mean[0])


def test_cli_train_ppo_offload_with_batched_envs(tmp_path, capsys):
    args = ["train", "--agent", "ppo-offload", "--scenario", "offload-urban", "--updates", "1", "--quiet",
            "--set", "duration=0.1", "--set", "vehicles.count=2"]
    assert main([*args, "--envs", "2", "--out", str(tmp_path / "f")]) == 2  # would fit an LSTM: refused
    assert "offload.dt.predictor=persistence" in capsys.readouterr().err
    assert main([*args, "--envs", "3", "--set", "offload.dt.predictor=persistence", "--out", str(tmp_path / "p")]) == 0
    curve = pd.read_csv(tmp_path / "p" / "learning_curve.csv")
    assert curve.episodes[0] == 3  # episodes_per_update 2 -> 3
    assert "episodes_per_update 2 -> 3" in capsys.readouterr().err
