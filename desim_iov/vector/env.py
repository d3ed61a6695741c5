"""The vector API of the batched slot environments: N episodes of one scenario in lock-step.

:class:`BatchedParallelEnv` is the multi-agent view (PettingZoo's parallel API with a leading
episode axis); agents are in ``possible_agents`` order (A of them), rewards / terminations /
truncations are (N, A), and ``infos`` holds masks: ``acting`` (N, A), the agents with a
decision pending (the scalar env's ``acting_agents``), ``present`` (N, A), the agents the
scalar env's step returned entries for, ``ended`` (N,), the episodes that ended in this step,
and the slot's terms per agent. By app (``MODELS``):

- twin migration (one agent per vehicle, A = V): observations ``{"observation": (N, V, D)
  float32, "action_mask": (N, V, M) int8}``, actions (N, V) integers; terms ``t_sum``,
  ``load`` (NaN where the agent did not act), ``failed``, ``migrated``, ``server``. An agent
  is present while its vehicle drives. Everything else is zero or False.
- task offloading (vehicles, UAVs, BSs; their observation and mask sizes differ): one array
  per agent kind, ``{kind: {"observation": (N, A_kind, n_obs_kind) float32, "action_mask":
  (N, A_kind, sum nvec_kind) int8}}`` for the kinds with agents (``"vehicle"``, ``"uav"``,
  ``"bs"``; ``model.kinds[kind]`` is its slice of the agent axis), actions (N, A, 3) integers
  (three components each); every agent is present for the whole episode, a vehicle with no
  task idle (the scalar env's ``zero_for``: zero features, only the no-op allowed; reward 0);
  terms ``base_reward`` (R of Eq. 63–68 before Eq. 90–92: the scalar infos' ``reward``),
  ``incentive``, ``penalty``, ``latency``, ``energy``, ``qos``, ``changed``, ``busy`` (NaN
  where the scalar env reports none), ``subtasks``, ``handled`` (-1 where none), ``refused``.
  An ended episode shows ``zero_for`` for every agent (the scalar env's last observation).

:class:`TwinVectorEnv` is the twin-migration single-agent view as a
``gymnasium.vector.VectorEnv`` of :class:`desim_iov.env.DesimGymEnv` (stacked agents,
``MultiDiscrete`` actions, the summed reward); :class:`OffloadVectorEnv` the task-offloading
one, of :class:`desim_iov.env.DesimCentralEnv` (every agent's observation, mask and three
action components concatenated in agent order).

Seeds follow Gymnasium: ``reset(seed=s)`` gives episode i the seed ``s + i``, ``seed=[...]``
one each, ``seed=None`` keeps each episode's seed (at first the scenario's). An episode
equals a scalar ``parallel_env(scenario, fidelity="slot")`` reset with its seed, bit for bit.

Autoreset (``autoreset_mode``, Gymnasium 1.x, in ``metadata["autoreset_mode"]``):

- ``NEXT_STEP`` (default): the step after an episode ended resets it; that step ignores
  its actions and returns the new episode's first observation, reward 0, no termination;
- ``SAME_STEP``: an episode that ends is reset within the same step; the returned
  observation is the new episode's, the last one is in ``infos["final_obs"]`` (with
  ``infos["_final_obs"]`` (N,) saying which episodes ended) and the step's infos of the
  ended episode in ``infos["final_info"]``;
- ``DISABLED``: an ended episode stays ended (its actions are ignored, it returns zeros)
  until ``reset(options={"reset_mask": mask})`` restarts it.

An autoreset replays the episode's seed, as the scalar env's ``reset()`` does, unless
``reseed="advance"``: then episode i's next seed is its seed + N (episode i walks through
s_i, s_i + N, s_i + 2N, ...: fresh worlds for training, still N scalar envs' episodes).
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from desim_iov.apps import app_class
from desim_iov.config import Scenario
from desim_iov.decisions import PolicyError
from desim_iov.env import make_scenario

#: app -> the batched slot model of one scenario with n episodes
MODELS: dict[str, Any] = {}


def _twin(scenario: Scenario, n: int) -> Any:
    from desim_iov.vector.twin_slot import TwinSlotBatch

    return TwinSlotBatch(scenario, n)


def _offload(scenario: Scenario, n: int) -> Any:
    from desim_iov.vector.offload_slot import OffloadSlotBatch

    return OffloadSlotBatch(scenario, n)


MODELS["twin_migration"] = _twin
MODELS["task_offloading"] = _offload


class BatchedParallelEnv:
    """N episodes of ``scenario`` (its slot fidelity) advanced together; see the module doc.
    The model (``MODELS[app]``) holds the state and gives ``observations()``, ``acting`` and
    ``live`` (N, A), ``finished``, ``check_actions``, ``check_masks``, ``state()``,
    ``reset(idx, seeds)`` and ``step(actions)``."""

    metadata: dict[str, Any] = {"name": "desim_iov_batched_v0"}

    def __init__(self, scenario: Scenario, num_envs: int,
                 autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
                 reseed: str = "same", check_masks: bool = False) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        if scenario.app not in MODELS:
            raise ValueError(f"no batched slot model for app {scenario.app!r} (batched: {', '.join(MODELS)})")
        if reseed not in ("same", "advance"):
            raise ValueError(f"reseed must be 'same' or 'advance', got {reseed!r}")
        self.scenario = scenario.model_copy(update={"fidelity": "slot"})
        self.num_envs = int(num_envs)
        self.autoreset_mode = AutoresetMode(autoreset_mode)
        self.reseed = reseed
        self.check_masks = check_masks
        self.metadata = {"name": f"desim_iov_{scenario.app}_batched_v0",
                         "autoreset_mode": self.autoreset_mode}
        self.model = MODELS[scenario.app](self.scenario, self.num_envs)
        self.specs = app_class(scenario.app).agent_specs(self.scenario)
        self.possible_agents = list(self.specs)
        self.seeds = np.full(self.num_envs, self.scenario.seed, np.int64)
        self._ended = np.ones(self.num_envs, bool)  # NEXT_STEP: reset at the next step
        self._started = False

    # ------------------------------------------------------------------ spaces

    def observation_space(self, agent: str) -> spaces.Space:
        return self.specs[agent].observation_space

    def action_space(self, agent: str) -> spaces.Space:
        return self.specs[agent].action_space

    @property
    def num_agents(self) -> int:
        return len(self.possible_agents)

    @property
    def server_kinds(self) -> np.ndarray:
        """(M,) the servers' kind codes (what the twin-migration learners' layout reads)."""
        return self.model.spaces.server_kinds

    # ------------------------------------------------------------------ API

    def _obs(self) -> dict[str, Any]:
        return self.model.observations()

    def _seed_list(self, seed: int | list[int] | None) -> None:
        if seed is None:
            return
        if isinstance(seed, int | np.integer):
            self.seeds = int(seed) + np.arange(self.num_envs, dtype=np.int64)
            return
        seed = list(seed)
        if len(seed) != self.num_envs:
            raise ValueError(f"reset: {len(seed)} seeds for {self.num_envs} episodes")
        self.seeds = np.asarray([int(x) for x in seed], np.int64)

    def reset(self, seed: int | list[int] | None = None, options: dict | None = None):
        """Reset every episode, or those of ``options["reset_mask"]`` ((N,) bool)."""
        self._seed_list(seed)
        mask = np.ones(self.num_envs, bool)
        if options and "reset_mask" in options:
            mask = np.asarray(options["reset_mask"], bool)
            if mask.shape != (self.num_envs,):
                raise ValueError(f"reset_mask: expected shape ({self.num_envs},), got {mask.shape}")
        idx = np.flatnonzero(mask)
        self.model.reset(idx, self.seeds[idx].tolist())
        self._ended[idx] = False
        self._started = True
        return self._obs(), {"acting": self.model.acting.copy(), "present": self.model.live.copy(),
                             "seed": self.seeds.copy()}

    def step(self, actions: Any):
        """One decision epoch of every episode; see the module doc for autoreset."""
        if not self._started:
            raise PolicyError("step() called before reset()")
        m = self.model
        restart = self._ended & (self.autoreset_mode == AutoresetMode.NEXT_STEP)
        live = m.live.copy()  # the agents the scalar env's step returns entries for
        actions = m.check_actions(actions)
        if self.check_masks:
            m.check_masks(actions)
        out = m.step(actions)
        ended = out.pop("ended")
        nxt = m.live
        new = nxt & ~live
        terminations = np.where(ended[:, None], m.finished, ~nxt) & live
        truncations = ended[:, None] & live & ~m.finished
        present = live | new
        obs = self._obs()
        infos = {"acting": m.acting.copy(), "present": present, "ended": ended.copy(), **out}
        rewards = infos.pop("reward")
        self._ended |= ended
        if restart.any():  # NEXT_STEP: the episodes that ended last step start again now
            self._autoreset(restart)
            obs = self._obs()
            rewards[restart], terminations[restart], truncations[restart] = 0.0, False, False
            infos["acting"][restart] = m.acting[restart]
            infos["present"][restart] = m.live[restart]
        if self.autoreset_mode == AutoresetMode.SAME_STEP and ended.any():
            infos["final_obs"] = obs
            infos["_final_obs"] = ended.copy()
            infos["final_info"] = {k: v.copy() for k, v in infos.items() if k not in ("final_obs", "_final_obs")}
            self._autoreset(ended)
            obs = self._obs()
            infos["acting"] = m.acting.copy()
        infos["seed"] = self.seeds.copy()
        return obs, rewards, terminations, truncations, infos

    def _autoreset(self, which: np.ndarray) -> None:
        idx = np.flatnonzero(which)
        if self.reseed == "advance":
            self.seeds[idx] += self.num_envs
        self.model.reset(idx, self.seeds[idx].tolist())
        self._ended[idx] = False

    def state(self) -> np.ndarray:
        """(N, S): every possible agent's observation (zeros when not acting) concatenated in
        agent order, as :meth:`desim_iov.env.DesimParallelEnv.state` per episode."""
        return self.model.state()

    def close(self) -> None:
        self._started = False


class TwinVectorEnv(VectorEnv):
    """Single-agent view (``gymnasium.vector.VectorEnv``) of N :class:`~desim_iov.env.DesimGymEnv`
    episodes: each sub-env's observation is the (V, D) stack of the agents' observations and
    their (V, M) masks, its action one server per agent (``MultiDiscrete``), its reward the sum
    of the agents' Eq. 22 rewards, terminated when every vehicle arrived, truncated at the
    run's end. ``action_masks()`` is sb3-contrib's convention per sub-env: (N, V * M) bool."""

    def __init__(self, scenario: Scenario, num_envs: int,
                 autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP, reseed: str = "same") -> None:
        self.par = BatchedParallelEnv(scenario, num_envs, autoreset_mode, reseed)
        self.num_envs = num_envs
        a0 = self.par.possible_agents[0]
        box = self.par.observation_space(a0)["observation"]
        v, m = self.par.num_agents, int(self.par.action_space(a0).n)
        self.single_observation_space = spaces.Dict({
            "observation": spaces.Box(np.tile(box.low, (v, 1)), np.tile(box.high, (v, 1)), dtype=np.float32),
            "action_mask": spaces.Box(0, 1, (v, m), np.int8),
        })
        self.single_action_space = spaces.MultiDiscrete([m] * v)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.metadata = {"autoreset_mode": self.par.autoreset_mode}

    def reset(self, *, seed: int | list[int] | None = None, options: dict | None = None):
        if seed is not None and isinstance(seed, int | np.integer):
            self._np_random, self._np_random_seed = gymnasium.utils.seeding.np_random(int(seed))
        obs, infos = self.par.reset(seed=seed, options=options)
        return obs, infos

    def step(self, actions):
        obs, rew, term, trunc, infos = self.par.step(np.asarray(actions))
        ended = infos["ended"]
        reward = np.add.accumulate(rew, axis=1)[:, -1]  # sum(rewards.values()), in agent order
        truncated = ended & (trunc & infos["present"]).any(axis=1)
        terminated = ended & ~truncated
        return obs, reward, terminated, truncated, infos

    def action_masks(self) -> np.ndarray:
        """(N, V * M) bool for ``MaskablePPO``: the kernel's masks (Eq. 23); an agent with no
        allowed server (idle, or nothing feasible) may take any (the env ignores an idle
        agent's action; an infeasible choice fails as in the scalar env)."""
        mk = self.par.model.action_mask().astype(bool)
        mk |= ~mk.any(axis=2, keepdims=True)
        return mk.reshape(self.num_envs, -1)

    def close_extras(self, **kwargs: Any) -> None:
        self.par.close()


class OffloadVectorEnv(VectorEnv):
    """Single-agent view (``gymnasium.vector.VectorEnv``) of N task-offloading
    :class:`~desim_iov.env.DesimCentralEnv` episodes (the quantum-DRL paper's single-agent
    baseline): each sub-env's observation is every agent's observation and mask concatenated
    in agent order (``zero_for`` where idle), its action every agent's three components in
    that order, its reward the sum of the agents' rewards, truncated at the run's end.
    ``action_masks()`` is sb3-contrib's convention per sub-env: (N, sum nvec) bool."""

    def __init__(self, scenario: Scenario, num_envs: int,
                 autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP, reseed: str = "same") -> None:
        from desim_iov.env import DesimCentralEnv

        self.par = BatchedParallelEnv(scenario, num_envs, autoreset_mode, reseed)
        central = DesimCentralEnv(self.par.scenario)  # its spaces (no simulation is built)
        self.num_envs = num_envs
        self.single_observation_space = central.observation_space
        self.single_action_space = central.action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.metadata = {"autoreset_mode": self.par.autoreset_mode}
        self._obs: dict[str, Any] = {}

    def _flat(self, obs: dict[str, Any]) -> dict[str, np.ndarray]:
        self._obs = obs
        n = self.num_envs
        return {"observation": np.concatenate([o["observation"].reshape(n, -1) for o in obs.values()], axis=1),
                "action_mask": np.concatenate([o["action_mask"].reshape(n, -1) for o in obs.values()], axis=1)}

    def reset(self, *, seed: int | list[int] | None = None, options: dict | None = None):
        if seed is not None and isinstance(seed, int | np.integer):
            self._np_random, self._np_random_seed = gymnasium.utils.seeding.np_random(int(seed))
        obs, infos = self.par.reset(seed=seed, options=options)
        return self._flat(obs), infos

    def step(self, actions):
        a = np.asarray(actions)
        if a.shape != (self.num_envs, 3 * self.par.num_agents):
            raise ValueError(f"actions: expected shape ({self.num_envs}, {3 * self.par.num_agents}) (episode, "
                             f"every agent's 3 components), got {a.shape}")
        obs, rew, term, trunc, infos = self.par.step(a.reshape(self.num_envs, self.par.num_agents, 3))
        ended = infos["ended"]
        reward = np.add.accumulate(rew, axis=1)[:, -1]  # sum(rewards.values()): idle agents add 0.0
        truncated = ended & (trunc & infos["present"]).any(axis=1)
        return self._flat(obs), reward, ended & ~truncated, truncated, infos

    def action_masks(self) -> np.ndarray:
        """(N, sum nvec) bool for ``MaskablePPO``: the kernel's masks, a component with no
        allowed option open in full (``desim_iov.env.maskable``)."""
        m = self.par.model
        out = []
        for kind, o in self._obs.items():
            mk = o["action_mask"].astype(bool)
            off = 0
            for c in m.spaces.nvec[kind]:
                part = mk[..., off: off + c]
                part |= ~part.any(axis=-1, keepdims=True)
                off += c
            out.append(mk.reshape(self.num_envs, -1))
        return np.concatenate(out, axis=1)

    def close_extras(self, **kwargs: Any) -> None:
        self.par.close()


def batched_env(scenario: str | Scenario = "twin-city", num_envs: int = 16, *,
                autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP, reseed: str = "same",
                check_masks: bool = False, **overrides: Any) -> BatchedParallelEnv:
    """The multi-agent batched slot env of ``scenario`` (a preset name, YAML file or
    Scenario; ``overrides`` as in :func:`desim_iov.env.parallel_env`)."""
    return BatchedParallelEnv(make_scenario(scenario, **overrides), num_envs, autoreset_mode, reseed, check_masks)


def vector_env(scenario: str | Scenario = "twin-city", num_envs: int = 16, *,
               autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP, reseed: str = "same",
               **overrides: Any) -> TwinVectorEnv | OffloadVectorEnv:
    """The single-agent ``gymnasium.vector.VectorEnv`` of ``scenario``'s batched slot env
    (twin migration: :class:`TwinVectorEnv`; task offloading: :class:`OffloadVectorEnv`)."""
    sc = make_scenario(scenario, **overrides)
    cls = OffloadVectorEnv if sc.app == "task_offloading" else TwinVectorEnv
    return cls(sc, num_envs, autoreset_mode, reseed)
