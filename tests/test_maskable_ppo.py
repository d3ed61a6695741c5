"""Third-party learners without glue: sb3-contrib's MaskablePPO trains on the Gymnasium env as
it is (``action_masks()``, DESIGN.md Sec. 6) and never takes an action the kernel's mask
(Eq. 23) forbids."""

from __future__ import annotations

import numpy as np
import pytest

from desim_iov.env import gym_env

sb3_contrib = pytest.importorskip("sb3_contrib")  # the [test] extra installs it


def test_action_masks_are_the_kernels():
    env = gym_env("twin-city", fidelity="slot", duration=90)
    obs, _ = env.reset(seed=7401)
    mk = env.action_masks()
    assert mk.dtype == bool and mk.shape == (int(np.sum(env.action_space.nvec)),)
    kernel = obs["action_mask"].astype(bool)
    rows = mk.reshape(kernel.shape)
    has = kernel.any(axis=1)
    assert np.array_equal(rows[has], kernel[has]) and rows[~has].all()


def test_maskable_ppo_trains_on_the_env_and_respects_the_masks():
    from sb3_contrib import MaskablePPO
    from sb3_contrib.common.maskable.utils import get_action_masks
    from stable_baselines3.common.callbacks import BaseCallback

    class MaskAudit(BaseCallback):
        """Every action MaskablePPO sends the env against the masks it was given."""

        def __init__(self) -> None:
            super().__init__()
            self.steps = self.violations = 0

        def _on_step(self) -> bool:
            acts = np.asarray(self.locals["actions"]).reshape(1, -1)
            masks = np.asarray(self.locals["action_masks"]).reshape(1, acts.shape[1], -1)
            ok = np.take_along_axis(masks, acts[..., None], axis=2)[..., 0]
            self.violations += int((~ok).sum())
            self.steps += 1
            return True

    env = gym_env("twin-city", fidelity="slot", duration=150)
    env.reset(seed=7402)
    model = MaskablePPO("MultiInputPolicy", env, n_steps=64, batch_size=32, n_epochs=2, seed=7403,
                        policy_kwargs={"net_arch": [32]}, device="cpu")
    audit = MaskAudit()
    model.learn(total_timesteps=256, callback=audit)
    assert audit.steps >= 256 and audit.violations == 0
    # the trained policy, asked with the env's masks, keeps to the kernel's
    obs, _ = env.reset(seed=7404)
    done = False
    while not done:
        mk = get_action_masks(env)
        action, _ = model.predict(obs, action_masks=mk, deterministic=True)
        kernel = obs["action_mask"].astype(bool)
        chosen = np.take_along_axis(kernel, np.asarray(action)[:, None], axis=1)[:, 0]
        assert chosen[kernel.any(axis=1)].all()
        obs, _, term, trunc, _ = env.step(action)
        done = term or trunc
