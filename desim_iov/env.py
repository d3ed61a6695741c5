"""Multi-agent RL interface over the simulator: a PettingZoo ``ParallelEnv`` (one agent per
vehicle) and a centralised Gymnasium wrapper, both driving the kernel through
:meth:`Simulation.advance` / :meth:`Simulation.act`.

Observation (twin-migration Eq. 19): ``{"observation": [D_v (M-1 distances, km), S^o (M
workloads as fractions of L_max)], "action_mask": int8 (M,)}`` — the mask is the kernel's
(Eq. 23). Action: the server that should host the vehicle's twin. Reward (Eq. 22, with the
paper's reward shaping): ``-(w_T z(T^sum) + w_s z(S'_m) + w_d xi)`` where ``z`` is a Z-score
over the episode so far ("in the time dimension"), T^sum the Eq. 13 latency (capped, see
docs/MODEL.md) and S'_m the Eq. 8 load of the chosen server. An agent leaves (terminated) when
its vehicle reaches its destination; all are truncated at ``scenario.duration``.

Constructors: ``parallel_env(scenario, **overrides)`` and ``gym_env(scenario, **overrides)``;
``scenario`` is a preset name, a YAML file or a :class:`Scenario`; ``overrides`` are dotted
fields (``parallel_env("twin-city", duration=300, **{"vehicles.count": 3})``).
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from desim_iov.apps import app_class
from desim_iov.apps.twin_spaces import Observation
from desim_iov.config import Scenario, load_scenario, scenario_from_dict
from desim_iov.sim import Simulation, make_simulation


def make_scenario(scenario: str | Scenario, **overrides: Any) -> Scenario:
    """A validated scenario with ``overrides`` (dotted keys) applied."""
    items = [f"{k}={v}" if not isinstance(v, dict | list) else f"{k}={_yaml(v)}" for k, v in overrides.items()]
    if isinstance(scenario, Scenario):
        if not items:
            return scenario
        from desim_iov.config import apply_overrides

        return scenario_from_dict(apply_overrides(scenario.model_dump(mode="json"), items), "scenario")
    return load_scenario(scenario, items)


def _yaml(v: Any) -> str:
    import json

    return json.dumps(v)


class DesimParallelEnv(ParallelEnv):
    """PettingZoo ParallelEnv over the scenario's app: its agents, each with its own spaces
    (``AgentSpec``), simultaneous decisions at every epoch. Twin migration: one agent per
    vehicle, decisions each slot."""

    metadata = {"name": "desim_iov_twin_migration_v0", "render_modes": []}

    def __init__(self, scenario: Scenario, trace_path: str | None = None) -> None:
        self.scenario = scenario
        self.trace_path = trace_path
        self.app_cls = app_class(scenario.app)
        self.specs = self.app_cls.agent_specs(scenario)  # sized from the scenario alone
        self.possible_agents = list(self.specs)
        self.agents: list[str] = []
        self.sim: Simulation | None = None
        self._seed = scenario.seed
        self.spaces = self.app_cls.spaces(scenario)  # encoding of the app's observations
        self.server_kinds = self.spaces.server_kinds
        self.n_servers = self.spaces.n_servers
        n = len(self.possible_agents)
        self.state_space = spaces.Box(0.0, np.tile(self.spaces.high, n), (n * self.spaces.n_obs,), np.float32)
        self._last_obs: dict[str, Observation] = {}

    def observation_space(self, agent: str) -> spaces.Space:
        return self.specs[agent].observation_space

    def action_space(self, agent: str) -> spaces.Space:
        return self.specs[agent].action_space

    def encode(self, o: Observation) -> dict[str, np.ndarray]:
        """The kernel's observation as this env's: Eq. 19 scaled (distances in km, workloads
        as fractions of L_max) and the kernel's mask."""
        return self.spaces.encode(o)

    # ------------------------------------------------------------------ API

    def reset(self, seed: int | None = None, options: dict | None = None):
        if self.sim is not None:
            self.sim.close()
        if seed is not None:
            self._seed = int(seed)
        sc = self.scenario if self._seed == self.scenario.seed else self.scenario.model_copy(
            update={"seed": self._seed})
        self.sim = make_simulation(sc, None, trace_path=self.trace_path)
        self._shaper = self.app_cls.reward_model(sc)
        obs = self.sim.advance() or {}
        self.agents = self._ordered(obs)
        self._last_obs = obs
        return {a: self.encode(o) for a, o in obs.items()}, {a: {} for a in obs}

    def _ordered(self, obs: dict[str, Any]) -> list[str]:
        return [a for a in self.possible_agents if a in obs]

    def step(self, actions: dict[str, Any]):
        assert self.sim is not None, "call reset() first"
        acting = list(self.agents)
        missing = [a for a in acting if a not in actions]
        if missing:
            raise ValueError(f"no action for {missing}")
        outcome = self.sim.act({a: int(actions[a]) for a in acting})
        rewards = self.app_cls.rewards(self._shaper, outcome)
        nxt = self.sim.advance()
        done = nxt is None
        nxt = nxt or {}
        self._last_obs = nxt
        new = [a for a in nxt if a not in acting]
        # an agent leaves when its vehicle reaches its destination (terminated); at the end of
        # the run the vehicles still driving are cut off (truncated)
        arrived = {a: self.sim.app.agent_finished(a) for a in acting}
        terminations = {a: (a not in nxt) if not done else arrived[a] for a in acting}
        truncations = {a: done and not arrived[a] for a in acting}
        for a in new:  # agents that start acting now: they join with no reward yet
            rewards[a], terminations[a], truncations[a] = 0.0, False, False
        obs = {a: self.encode(nxt[a]) if a in nxt else self.spaces.zero() for a in acting + new}
        infos: dict[str, dict] = {a: {} for a in acting + new}
        infos.update(self.app_cls.infos(outcome))
        self.agents = [] if done else self._ordered(nxt)
        return obs, rewards, terminations, truncations, infos

    def state(self) -> np.ndarray:
        """Global state for centralised critics: every agent's observation (zeros when not
        acting), concatenated in agent order."""
        parts = []
        for a in self.possible_agents:
            o = self._last_obs.get(a)
            parts.append(self.encode(o)["observation"] if o is not None else self.spaces.zero()["observation"])
        return np.concatenate(parts)

    def close(self) -> None:
        if self.sim is not None:
            self.sim.close()
            self.sim = None


class DesimGymEnv(gymnasium.Env):
    """Centralised single-agent view: one action per vehicle (MultiDiscrete), observations
    and masks stacked (V, .), reward = the sum of the vehicles' Eq. 22 rewards. Vehicles not
    driving get zero rows and an all-zero mask; their actions are ignored."""

    metadata = {"render_modes": []}

    def __init__(self, scenario: Scenario, trace_path: str | None = None) -> None:
        self.par = DesimParallelEnv(scenario, trace_path)
        v = len(self.par.possible_agents)
        n_obs = self.par.spaces.n_obs
        m = self.par.n_servers
        self.observation_space = spaces.Dict(
            {
                "observation": spaces.Box(0.0, np.tile(self.par.spaces.high, (v, 1)), (v, n_obs), np.float32),
                "action_mask": spaces.Box(0, 1, (v, m), np.int8),
            }
        )
        self.action_space = spaces.MultiDiscrete([m] * v)

    def _stack(self, obs: dict[str, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        zero = self.par.spaces.zero()
        rows = [obs.get(a, zero) for a in self.par.possible_agents]
        return {
            "observation": np.stack([r["observation"] for r in rows]),
            "action_mask": np.stack([r["action_mask"] for r in rows]),
        }

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        obs, _ = self.par.reset(seed=seed, options=options)
        return self._stack(obs), {}

    def step(self, action):
        acts = {a: int(action[i]) for i, a in enumerate(self.par.possible_agents) if a in self.par.agents}
        obs, rew, term, trunc, _ = self.par.step(acts)
        live = {a: o for a, o in obs.items() if a in self.par.agents}
        terminated = not self.par.agents and not any(trunc.values())
        truncated = bool(trunc) and all(trunc.values())
        return self._stack(live), float(sum(rew.values())), terminated, truncated, {}

    def close(self) -> None:
        self.par.close()


def parallel_env(scenario: str | Scenario = "twin-city", trace_path: str | None = None,
                 **overrides: Any) -> DesimParallelEnv:
    return DesimParallelEnv(make_scenario(scenario, **overrides), trace_path)


def gym_env(scenario: str | Scenario = "twin-city", trace_path: str | None = None,
            **overrides: Any) -> DesimGymEnv:
    return DesimGymEnv(make_scenario(scenario, **overrides), trace_path)
