"""The classical baselines of the quantum-DRL paper's Figs. 3-4 (agents/ppo_offload.py MA-PPO,
agents/ddpg_offload.py MA-DDPG): updates on the offloading env, masks, checkpoints, determinism,
and learning on a contextual bandit with the offloading env's interface."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from gymnasium import spaces

from agents import ddpg_offload, ppo_offload
from agents.offload_blocks import ComponentCategorical, OffloadLayout, stack_kinds
from desim_iov.env import parallel_env

torch.set_num_threads(1)

# small warmup so that a 10-step episode already learns (the real default is 256)
LEARNERS = {
    "ppo": (ppo_offload, {}),
    "ddpg": (ddpg_offload, {"warmup": 32}),
}


def offload_env():
    return parallel_env("offload-urban", fidelity="slot", duration="0.2 s")


class MaskCheck:
    """The env, recording every acting agent's action against its mask (all three components:
    the env itself refuses only a masked first component)."""

    def __init__(self, env) -> None:
        self.env, self.actions, self.violations = env, 0, 0

    def __getattr__(self, name):
        return getattr(self.env, name)

    def reset(self, seed=None, options=None):
        self._obs, infos = self.env.reset(seed=seed, options=options)
        return self._obs, infos

    def step(self, actions):
        for a in self.env.acting_agents:
            m = self._obs[a]["action_mask"].astype(bool)
            idx = np.concatenate([[0], np.cumsum(self.env.action_space(a).nvec)[:-1]]) + actions[a]
            self.actions += 1
            self.violations += int(not m[idx].all())
        out = self.env.step(actions)
        self._obs = out[0]
        return out


def _greedy_actions(learner, env, seed: int = 3) -> dict[str, np.ndarray]:
    obs, _ = env.reset(seed=seed)
    kinds = stack_kinds(learner.layout, obs, env.acting_agents, env.spaces.zero_for)
    return {k: learner.policy_act(k, st.obs, st.mask, np.arange(len(st.acting))) for k, st in kinds.items()}


@pytest.mark.parametrize("name", list(LEARNERS))
def test_update_masks_checkpoint_determinism(name):
    mod, hyper = LEARNERS[name]
    env = MaskCheck(offload_env())
    learner = mod.Learner(env, mod.Config(**hyper), seed=0)
    learner.plan(5)
    m = learner.update()
    for k in ("loss_actor", "loss_critic", "entropy", "episode_reward_mean"):
        assert np.isfinite(m[k]), (k, m)
    assert m["invalid_rate"] == 0.0  # the env's refused flags
    assert env.actions > 0 and env.violations == 0  # no masked component either
    assert learner.episodes == mod.Config().episodes_per_update and learner.agent_steps > 0

    # checkpoint round trip (torch.save / weights_only load, as agents/train.py)
    buf = io.BytesIO()
    torch.save(learner.state_dict(), buf)
    buf.seek(0)
    other = mod.Learner(offload_env(), mod.Config(**hyper), seed=1)
    other.load_state_dict(torch.load(buf, weights_only=True))
    mine, theirs = _greedy_actions(learner, offload_env()), _greedy_actions(other, offload_env())
    assert all(np.array_equal(mine[k], theirs[k]) for k in mine)
    assert other.episodes == learner.episodes and other.agent_steps == learner.agent_steps

    # same seed, same first update
    again = mod.Learner(offload_env(), mod.Config(**hyper), seed=0)
    again.plan(5)
    m2 = again.update()
    drop = ("rollout_s", "update_s")
    assert {k: v for k, v in m.items() if k not in drop} == pytest.approx(
        {k: v for k, v in m2.items() if k not in drop}, nan_ok=True, rel=0, abs=0)


def test_ppo_critic_state_is_env_state():
    env = offload_env()
    learner = ppo_offload.Learner(env, ppo_offload.Config(), seed=0)
    obs, _ = env.reset(seed=5)
    kinds = stack_kinds(learner.layout, obs, env.acting_agents, env.spaces.zero_for)
    assert np.array_equal(np.concatenate([st.obs.reshape(-1) for st in kinds.values()]), env.state())
    assert learner.n_state == env.state().size


def test_component_categorical_masks_each_component():
    nvec = (3, 2, 2)
    mask = torch.tensor([[0, 1, 1, 1, 0, 0, 1], [1, 0, 0, 0, 1, 1, 1]], dtype=torch.bool)
    logits = torch.zeros(2, 7, requires_grad=True)
    d = ComponentCategorical(logits, mask, nvec)
    draws = torch.stack([d.sample(torch.Generator().manual_seed(s)) for s in range(50)])
    assert set(draws[:, 0, 0].tolist()) == {1, 2} and (draws[:, 0, 1] == 0).all() and (draws[:, 0, 2] == 1).all()
    assert (draws[:, 1, 0] == 0).all() and (draws[:, 1, 1] == 1).all()
    assert torch.allclose(d.entropy(), torch.tensor([np.log(2), np.log(2)], dtype=torch.float32))
    assert torch.allclose(d.log_prob(torch.tensor([[2, 0, 1], [0, 1, 0]])), torch.tensor([-np.log(2), -np.log(2)]).float())
    assert d.mode()[0, 0] in (1, 2) and d.mode()[1].tolist()[:2] == [0, 1]


# ---------------------------------------------------------------------------- learning


class BanditEnv:
    """A contextual bandit with the offloading env's interface (agents ``vehicle_i``, ``uav_i``,
    ``bs_i``; MultiDiscrete actions of 3 components; flat masks; idle vehicles with the no-op
    observation; ``acting_agents``, ``spaces.zero_for``): every acting agent sees a random
    target value per component (one-hot features, plus noise), a mask that allows the target and
    each other value with probability 1/2, and earns 100 x (components on target) / 3 (the
    offloading rewards' scale); episodes of 8 steps."""

    NVEC = {"vehicle": (4, 3, 2), "uav": (5, 2, 2), "bs": (5, 2, 2)}
    COUNT = {"vehicle": 4, "uav": 3, "bs": 2}
    STEPS = 8

    def __init__(self) -> None:
        self.possible_agents = [f"{k}_{i}" for k, n in self.COUNT.items() for i in range(n)]
        self.agents: list[str] = []
        self.spaces = self
        self.refused = 0

    def _kind(self, a: str) -> str:
        return a.rpartition("_")[0]

    def observation_space(self, a: str) -> spaces.Dict:
        nv = self.NVEC[self._kind(a)]
        return spaces.Dict({"observation": spaces.Box(-5, 5, (sum(nv) + 2,), np.float32),
                            "action_mask": spaces.Box(0, 1, (sum(nv),), np.int8)})

    def action_space(self, a: str) -> spaces.MultiDiscrete:
        return spaces.MultiDiscrete(self.NVEC[self._kind(a)])

    def zero_for(self, a: str) -> dict[str, np.ndarray]:
        nv = self.NVEC[self._kind(a)]
        mask = np.zeros(sum(nv), np.int8)
        mask[np.concatenate([[0], np.cumsum(nv)[:-1]])] = 1
        return {"observation": np.zeros(sum(nv) + 2, np.float32), "action_mask": mask}

    @property
    def acting_agents(self) -> list[str]:
        return [a for a in self.possible_agents if a in self._target]

    def draw(self, a: str) -> dict[str, np.ndarray]:
        nv = self.NVEC[self._kind(a)]
        target = [int(self.rng.integers(n)) for n in nv]
        onehots = [np.eye(n)[t] for n, t in zip(nv, target, strict=True)]
        mask = np.concatenate([(oh > 0) | (self.rng.random(n) < 0.5) for oh, n in zip(onehots, nv, strict=True)])
        self._target[a] = np.array(target)
        return {"observation": np.concatenate(onehots + [self.rng.normal(size=2)]).astype(np.float32),
                "action_mask": mask.astype(np.int8)}

    def _observe(self) -> dict[str, dict[str, np.ndarray]]:
        self._target: dict[str, np.ndarray] = {}
        return {a: self.draw(a) if not a.startswith("vehicle") or self.rng.random() < 0.7 else self.zero_for(a)
                for a in self.possible_agents}

    def reset(self, seed=None, options=None):
        self.rng, self.t, self.agents = np.random.default_rng(seed), 0, list(self.possible_agents)
        self._obs = self._observe()
        return self._obs, {}

    def step(self, actions):
        rewards, infos = dict.fromkeys(self.agents, 0.0), {}
        for a, target in self._target.items():
            act = np.asarray(actions[a])
            nv = self.NVEC[self._kind(a)]
            refused = not self._obs[a]["action_mask"][np.concatenate([[0], np.cumsum(nv)[:-1]]) + act].all()
            self.refused += refused
            rewards[a] = 100.0 * float((act == target).sum()) / 3
            infos[a] = {"reward": rewards[a], "refused": refused}
        self.t += 1
        done = self.t >= self.STEPS
        self._obs = {} if done else self._observe()
        if done:
            self._target, self.agents = {}, []
        flags = dict.fromkeys(rewards, False)
        return self._obs, rewards, flags, dict.fromkeys(rewards, done), infos


def hit_rate(env: BanditEnv, act, seed: int = 12345, n: int = 60) -> float:
    """Share of components on target over ``n`` bandit draws of every agent (``act`` gets a
    kind's (obs, masks, rows) and returns its (rows, 3) actions)."""
    layout = OffloadLayout.of_env(env)
    hits = total = 0
    env.reset(seed=seed)
    for _ in range(n):
        obs = env._observe()
        kinds = stack_kinds(layout, obs, env.acting_agents, env.zero_for)
        for kind, st in kinds.items():
            rows = np.flatnonzero(st.acting)
            if not rows.size:
                continue
            acts = act(kind, st.obs[rows], st.mask[rows], rows)
            tgt = np.stack([env._target[layout.kinds[kind].agents[i]] for i in rows])
            hits, total = hits + int((acts == tgt).sum()), total + tgt.size
    return hits / total


def random_act(rng):
    def act(kind, obs, masks, rows):
        nv = BanditEnv.NVEC[kind]
        parts = np.split(masks, np.cumsum(nv)[:-1], axis=1)
        return np.stack([np.where(p, rng.random(p.shape), -1).argmax(1) for p in parts], 1)
    return act


# a bandit has no future (gamma 0); higher learning rates than the defaults keep it short:
# ~4 s (PPO) and ~6 s (DDPG) on 2 cores to a hit rate of ~0.9 / ~0.99 from chance ~0.6
@pytest.mark.parametrize("name,hyper,updates", [
    ("ppo", {"episodes_per_update": 4, "gamma": 0.0, "lr_actor": 1e-3}, 10),
    ("ddpg", {"warmup": 64, "eps_episodes": 5, "gamma": 0.0, "lr_actor": 3e-3, "lr_critic": 3e-3}, 30),
])
def test_learns_contextual_bandit(name, hyper, updates):
    mod = {"ppo": ppo_offload, "ddpg": ddpg_offload}[name]
    env = BanditEnv()
    learner = mod.Learner(env, mod.Config(**hyper), seed=0)
    learner.plan(updates)
    chance = hit_rate(BanditEnv(), random_act(np.random.default_rng(0)))
    before = hit_rate(BanditEnv(), learner.policy_act)
    for _ in range(updates):
        learner.update()
    after = hit_rate(BanditEnv(), learner.policy_act)
    assert env.refused == 0
    assert chance < 0.7 and before < 0.75, (chance, before)
    assert after > 0.85, (name, chance, before, after)
