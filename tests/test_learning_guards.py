"""Learning never goes silent (issue 14 item 6): NaN/inf in what the env hands a learner, or in
a learner's weights or statistics, stops training in one line naming the update or the agent,
and no checkpoint holds NaN weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agents.train import TrainingDiverged, _tensors, load_checkpoint, train
from desim_iov.env import NonFiniteError, parallel_env

SMALL = {"duration": 120, "vehicles.count": 2}


def test_a_nan_reward_stops_the_env_in_one_line(monkeypatch):
    env = parallel_env("twin-city", fidelity="slot", **SMALL)
    obs, _ = env.reset(seed=3)
    rewards = env.app_cls.rewards
    monkeypatch.setattr(env.app_cls, "rewards", staticmethod(
        lambda shaper, outcome: {a: float("nan") for a in rewards(shaper, outcome)}))
    acts = {a: int(np.flatnonzero(o["action_mask"])[0]) for a, o in obs.items()}
    with pytest.raises(NonFiniteError, match=r"^reward of vehicle_\d+ is nan at t = 30 s") as e:
        env.step(acts)
    assert "\n" not in str(e.value)


def test_nan_weights_stop_training_before_they_are_saved(tmp_path, monkeypatch):
    """Weights turn NaN at update 3 (save_every 2): training stops naming update 3 and the
    parameter, and the checkpoint on disk is update 2's, finite."""
    import agents.dm_mappo as dm

    real = dm.Learner.update
    calls = {"n": 0}

    def update(self):
        m = real(self)
        calls["n"] += 1
        if calls["n"] == 3:  # a weight of the learner's own (state_dict tensors share its storage)
            name, t = next((n, t) for n, t in _tensors(self.state_dict(), "") if t.is_floating_point())
            with torch.no_grad():
                t.fill_(float("nan"))
        return m

    monkeypatch.setattr(dm.Learner, "update", update)
    out = tmp_path / "run"
    with pytest.raises(TrainingDiverged, match=r"^update 3: non-finite weights in .*; the checkpoint .* keeps an "
                                               r"earlier update"):
        train("dm-mappo", lambda: parallel_env("twin-city", fidelity="slot", **SMALL), updates=5, seed=0,
              out_dir=out, progress=False, save_every=2)
    _, state = load_checkpoint(out / "checkpoint.pt")
    assert state["update"] == 2

    def finite(x):
        if isinstance(x, torch.Tensor):
            return not x.is_floating_point() or bool(torch.isfinite(x).all())
        if isinstance(x, dict):
            return all(finite(v) for v in x.values())
        if isinstance(x, (list, tuple)):
            return all(finite(v) for v in x)
        return True

    assert finite(state["learner"])


def test_an_infinite_loss_stops_training(tmp_path, monkeypatch):
    import agents.dm_mappo as dm

    real = dm.Learner.update
    monkeypatch.setattr(dm.Learner, "update", lambda self: {**real(self), "loss_critic": float("inf")})
    with pytest.raises(TrainingDiverged, match=r"^update 1: loss_critic is inf; no checkpoint was written"):
        train("dm-mappo", lambda: parallel_env("twin-city", fidelity="slot", **SMALL), updates=3, seed=0,
              out_dir=tmp_path / "r", progress=False)
    assert not (tmp_path / "r" / "checkpoint.pt").exists()
