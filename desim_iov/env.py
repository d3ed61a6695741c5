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

import functools
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from desim_iov.config import Scenario, load_scenario, scenario_from_dict
from desim_iov.decisions import Observation
from desim_iov.kinds import SATELLITE, agent_id, vehicle_of
from desim_iov.sim import Simulation, make_simulation
from models.objectives import ShapedReward


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
    """PettingZoo ParallelEnv: one agent per vehicle, simultaneous decisions each slot."""

    metadata = {"name": "desim_iov_twin_migration_v0", "render_modes": []}

    def __init__(self, scenario: Scenario, trace_path: str | None = None) -> None:
        self.scenario = scenario
        self.trace_path = trace_path
        self.possible_agents = [agent_id(v) for v in range(self._n_vehicles())]
        self.agents: list[str] = []
        self.sim: Simulation | None = None
        self._seed = scenario.seed
        self._probe = Simulation(scenario, None)  # servers and kinds: fixed per scenario
        self.n_servers = self._probe.M
        self.server_kinds = self._probe.kinds
        self._dist_scale = 1000.0  # metres -> km
        self._load_scale = self._probe.world.cache_bits.copy()
        n_obs = 2 * self.n_servers - int((self.server_kinds == SATELLITE).sum())
        # finite bounds: distances up to half the Earth's circumference (km), loads up to
        # 1e6 caches (background batches can overfill a cache; see docs/MODEL.md)
        n_d = n_obs - self.n_servers
        high = np.concatenate([np.full(n_d, 2.0e4), np.full(self.n_servers, 1.0e6)]).astype(np.float32)
        self._high = high
        self._obs_space = spaces.Dict(
            {
                "observation": spaces.Box(0.0, high, (n_obs,), np.float32),
                "action_mask": spaces.Box(0, 1, (self.n_servers,), np.int8),
            }
        )
        self._act_space = spaces.Discrete(self.n_servers)
        self.state_space = spaces.Box(
            0.0, np.tile(high, len(self.possible_agents)), (len(self.possible_agents) * n_obs,), np.float32)

    def _n_vehicles(self) -> int:
        return self.scenario.vehicles.count

    @functools.cache  # noqa: B019 - one space object per agent, as PettingZoo asks
    def observation_space(self, agent: str) -> spaces.Space:
        return self._obs_space

    @functools.cache  # noqa: B019
    def action_space(self, agent: str) -> spaces.Space:
        return self._act_space

    # ------------------------------------------------------------------ conversion

    def encode(self, o: Observation) -> dict[str, np.ndarray]:
        d = o.distances[self.server_kinds != SATELLITE] / self._dist_scale
        s = o.workloads / self._load_scale
        vec = np.minimum(np.concatenate([d, s]), self._high).astype(np.float32)
        return {"observation": vec, "action_mask": o.mask.astype(np.int8)}

    def _rewards(self, rows: np.ndarray) -> dict[str, float]:
        """Eq. 22 per acting agent, Z-scores over the episode so far."""
        r = self._shaper(rows["t_sum"], rows["load"], rows["failed"])
        return {agent_id(int(v)): float(x) for v, x in zip(rows["vehicle"], r, strict=True)}

    # ------------------------------------------------------------------ API

    def reset(self, seed: int | None = None, options: dict | None = None):
        if self.sim is not None:
            self.sim.close()
        if seed is not None:
            self._seed = int(seed)
        sc = self.scenario if self._seed == self.scenario.seed else self.scenario.model_copy(
            update={"seed": self._seed})
        self.sim = make_simulation(sc, None, trace_path=self.trace_path)
        self._shaper = ShapedReward(**sc.reward.model_dump())
        obs = self.sim.advance() or {}
        self.agents = sorted(obs, key=lambda a: int(a.rsplit("_", 1)[1]))
        self._last_obs = obs
        return {a: self.encode(o) for a, o in obs.items()}, {a: {} for a in obs}

    def step(self, actions: dict[str, Any]):
        assert self.sim is not None, "call reset() first"
        acting = list(self.agents)
        missing = [a for a in acting if a not in actions]
        if missing:
            raise ValueError(f"no action for {missing}")
        rows = self.sim.act({a: int(actions[a]) for a in acting})
        rewards = self._rewards(rows)
        nxt = self.sim.advance()
        done = nxt is None
        nxt = nxt or {}
        self._last_obs = nxt
        new = [a for a in nxt if a not in acting]
        # an agent leaves when its vehicle reaches its destination (terminated); at the end of
        # the run the vehicles still driving are cut off (truncated)
        end = self.sim.s.duration
        arrived = {a: self.sim.world.vehicles[vehicle_of(a)].end <= end for a in acting}
        terminations = {a: (a not in nxt) if not done else arrived[a] for a in acting}
        truncations = {a: done and not arrived[a] for a in acting}
        for a in new:  # vehicles that start driving now: they join with no reward yet
            rewards[a], terminations[a], truncations[a] = 0.0, False, False
        obs = {a: self.encode(nxt[a]) if a in nxt else self._zero_obs() for a in acting + new}
        infos: dict[str, dict] = {a: {} for a in acting + new}
        for r in rows:  # the slot's Eq. 13 latency, Eq. 8 load and Eq. 14 failure per agent
            infos[agent_id(int(r["vehicle"]))] = {
                "t_sum": float(r["t_sum"]), "load": float(r["load"]), "failed": bool(r["failed"]),
                "migrated": bool(r["migrated"]),
            }
        self.agents = [] if done else sorted(nxt, key=lambda a: int(a.rsplit("_", 1)[1]))
        return obs, rewards, terminations, truncations, infos

    def _zero_obs(self) -> dict[str, np.ndarray]:
        return {
            "observation": np.zeros(self._obs_space["observation"].shape, np.float32),
            "action_mask": np.zeros(self.n_servers, np.int8),
        }

    def state(self) -> np.ndarray:
        """Global state for centralised critics: every vehicle's observation (zeros when
        not driving), concatenated in vehicle order."""
        parts = []
        for a in self.possible_agents:
            o = self._last_obs.get(a)
            parts.append(self.encode(o)["observation"] if o is not None else self._zero_obs()["observation"])
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
        n_obs = self.par._obs_space["observation"].shape[0]
        m = self.par.n_servers
        self.observation_space = spaces.Dict(
            {
                "observation": spaces.Box(0.0, np.tile(self.par._high, (v, 1)), (v, n_obs), np.float32),
                "action_mask": spaces.Box(0, 1, (v, m), np.int8),
            }
        )
        self.action_space = spaces.MultiDiscrete([m] * v)

    def _stack(self, obs: dict[str, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        zero = self.par._zero_obs()
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
