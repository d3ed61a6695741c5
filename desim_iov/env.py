"""Multi-agent RL interface over the simulator: a PettingZoo ``ParallelEnv`` (the app's
agents, each with its own spaces) and centralised Gymnasium wrappers, all driving the kernel
through :meth:`Simulation.advance` / :meth:`Simulation.act`. Nothing here is app-specific:
spaces come from the app's ``agent_specs``, encodings from its ``spaces`` object (``encode``,
``zero_for``, ``all_agents_live``), rewards and infos from the app.

Twin migration (one agent per vehicle). Observation (Eq. 19): ``{"observation": [D_v (M-1
distances, km), S^o (M workloads as fractions of L_max)], "action_mask": int8 (M,)}`` — the
mask is the kernel's (Eq. 23). Action: the server that should host the vehicle's twin. Reward
(Eq. 22, with the paper's reward shaping): ``-(w_T z(T^sum) + w_s z(S'_m) + w_d xi)`` where
``z`` is a Z-score over the episode so far ("in the time dimension"), T^sum the Eq. 13 latency
(capped, see docs/MODEL.md) and S'_m the Eq. 8 load of the chosen server. An agent leaves
(terminated) when its vehicle reaches its destination; all are truncated at
``scenario.duration``.

Task offloading (vehicle, UAV and BS agents; apps/offload_spaces.py): observation
``{"observation": float32 (n_kind,), "action_mask": int8 (sum nvec,)}``, action
``MultiDiscrete`` of 3 components, reward the app's adjusted Eq. 63–68 reward. Every agent is
live for the whole episode (PettingZoo never revives an agent): a vehicle with no task to
place is idle at that epoch (zero observation, a mask allowing only the no-op, reward 0, its
action ignored); all are truncated at ``scenario.duration``. Centralised view:
:class:`DesimCentralEnv` (the paper's single-agent baseline).

Constructors: ``parallel_env(scenario, **overrides)`` and ``gym_env(scenario, **overrides)``;
``scenario`` is a preset name, a YAML file or a :class:`Scenario`; ``overrides`` are dotted
fields (``parallel_env("twin-city", duration=300, **{"vehicles.count": 3})``).
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from desim_iov.apps import app_class
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


class NonFiniteError(ValueError):
    """NaN or inf in what the environment hands a learner; ``str(e)`` is one line."""


def _check_finite(obs: dict[str, Any], rewards: dict[str, float], now: float) -> None:
    """Learning never goes silent: a NaN/inf observation or reward stops the run in one line
    naming the agent, the quantity and the simulated time (issue 14 item 6)."""
    for a, r in rewards.items():
        if not math.isfinite(r):
            raise NonFiniteError(f"reward of {a} is {r} at t = {now:g} s (a degenerate scenario value?)")
    for a, o in obs.items():
        x = o["observation"]
        if not np.isfinite(x).all():
            bad = int(np.flatnonzero(~np.isfinite(x))[0])
            raise NonFiniteError(f"observation of {a} has {x[bad]} at index {bad}, t = {now:g} s")


class DesimParallelEnv(ParallelEnv):
    """PettingZoo ParallelEnv over the scenario's app: its agents, each with its own spaces
    (``AgentSpec``), simultaneous decisions at every epoch; observations encoded by the app's
    spaces object (``encode``, ``zero_for``). Twin migration: one agent per vehicle, decisions
    each slot. Task offloading: vehicle, UAV and BS agents.

    Liveness (the app's ``spaces.all_agents_live``): False (twin migration), an agent joins
    when it first acts and leaves, terminated, when it no longer does (its vehicle arrived);
    True (task offloading), every agent is live from ``reset`` to the end of the episode, as
    PettingZoo never revives an agent that left: one with nothing to decide at an epoch (a
    vehicle with no task to place) is idle: observation ``spaces.zero_for(agent)``, reward 0,
    info ``{"acting": False}``, its action (if any) ignored. At ``scenario.duration`` the
    agents still live are truncated, or terminated where the app says they finished
    (``agent_finished``)."""

    metadata = {"name": "desim_iov_v0", "render_modes": []}

    def __init__(self, scenario: Scenario, trace_path: str | None = None) -> None:
        self.scenario = scenario
        self.trace_path = trace_path
        self.app_cls = app_class(scenario.app)
        self.metadata = {"name": f"desim_iov_{scenario.app}_v0", "render_modes": []}
        self.specs = self.app_cls.agent_specs(scenario)  # sized from the scenario alone
        self.possible_agents = list(self.specs)
        self.agents: list[str] = []
        self.sim: Simulation | None = None
        self._seed = scenario.seed
        self.spaces = self.app_cls.spaces(scenario)  # encoding of the app's observations
        self.all_agents_live = bool(getattr(self.spaces, "all_agents_live", False))
        self.server_kinds = getattr(self.spaces, "server_kinds", None)  # twin migration's layout
        self.n_servers = getattr(self.spaces, "n_servers", None)
        boxes = [self.specs[a].observation_space["observation"] for a in self.possible_agents]
        self.state_space = spaces.Box(np.concatenate([b.low for b in boxes]),
                                      np.concatenate([b.high for b in boxes]), dtype=np.float32)
        self._last_obs: dict[str, Any] = {}

    def observation_space(self, agent: str) -> spaces.Space:
        return self.specs[agent].observation_space

    def action_space(self, agent: str) -> spaces.Space:
        return self.specs[agent].action_space

    def encode(self, o: Any) -> dict[str, np.ndarray]:
        """The kernel's observation as this env's (the app's encoding; the mask is the
        kernel's)."""
        return self.spaces.encode(o)

    def _view(self, agent: str, obs: dict[str, Any]) -> dict[str, np.ndarray]:
        o = obs.get(agent)
        return self.encode(o) if o is not None else self.spaces.zero_for(agent)

    def _to_app(self, agent: str, action: Any) -> Any:
        """An action as the app takes it: Discrete -> int, MultiDiscrete -> int64 array."""
        space = self.specs[agent].action_space
        if isinstance(space, spaces.Discrete):
            return int(action)
        if isinstance(space, spaces.MultiDiscrete):
            return np.asarray(action, dtype=np.int64)
        return action

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
        self._last_obs = obs
        if self.all_agents_live and obs:
            self.agents = list(self.possible_agents)
        else:
            self.agents = self._ordered(obs)
        return ({a: self._view(a, obs) for a in self.agents},
                {a: {} if a in obs else {"acting": False} for a in self.agents})

    @property
    def acting_agents(self) -> list[str]:
        """The live agents with a decision pending now (the others are idle)."""
        return self._ordered(self._last_obs)

    def _ordered(self, agents: Any) -> list[str]:
        return [a for a in self.possible_agents if a in agents]

    def step(self, actions: dict[str, Any]):
        assert self.sim is not None, "call reset() first"
        live = list(self.agents)
        acting = self.acting_agents
        missing = [a for a in acting if a not in actions]
        if missing:
            raise ValueError(f"no action for {missing}")
        outcome = self.sim.act({a: self._to_app(a, actions[a]) for a in acting})
        rewards = self.app_cls.rewards(self._shaper, outcome)
        nxt = self.sim.advance()
        done = nxt is None
        nxt = nxt or {}
        self._last_obs = nxt
        new = [a for a in self._ordered(nxt) if a not in live]
        # the end of the run: an agent whose vehicle reached its destination is terminated,
        # the others are cut off (truncated); before it, an agent that no longer acts leaves
        # (terminated: its vehicle arrived) unless all agents stay live (idle)
        arrived = {a: self.sim.app.agent_finished(a) for a in live} if done else {}
        if done:
            terminations = {a: arrived[a] for a in live}
        elif self.all_agents_live:
            terminations = dict.fromkeys(live, False)
        else:
            terminations = {a: a not in nxt for a in live}
        truncations = {a: done and not arrived[a] for a in live}
        for a in live:
            rewards.setdefault(a, 0.0)  # idle: nothing decided, nothing earned
        for a in new:  # agents that start acting now: they join with no reward yet
            rewards[a], terminations[a], truncations[a] = 0.0, False, False
        obs = {a: self._view(a, nxt) for a in live + new}
        _check_finite(obs, rewards, float(self.sim.env.now))
        infos: dict[str, dict] = {a: {} if a in acting or a in new else {"acting": False} for a in live + new}
        infos.update(_plain(self.app_cls.infos(outcome)))
        if done:
            self.agents = []
        elif self.all_agents_live:
            self.agents = self._ordered(set(live) | set(new))
        else:
            self.agents = self._ordered(nxt)
        return obs, rewards, terminations, truncations, infos

    def state(self) -> np.ndarray:
        """Global state for centralised critics: every possible agent's observation (zeros
        when not acting), concatenated in agent order."""
        return np.concatenate([self._view(a, self._last_obs)["observation"] for a in self.possible_agents])

    def close(self) -> None:
        if self.sim is not None:
            self.sim.close()
            self.sim = None


def maskable(mask: np.ndarray, nvec: Any) -> np.ndarray:
    """A flat int8 mask as sb3-contrib's ``action_masks()`` wants it for a ``MultiDiscrete``
    action: bool, one entry per option of every component. A component whose options the
    kernel forbids all (an agent that does not act, whose action the env ignores; or one with
    no feasible server, whose choice then fails in the env as it would anyway) allows every
    option, since a masked distribution needs at least one."""
    out = np.asarray(mask).astype(bool)
    start = 0
    for n in np.asarray(nvec).ravel().tolist():
        if not out[start : start + n].any():
            out[start : start + n] = True
        start += n
    return out


def _plain(infos: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The app's per-agent infos with a float NaN (no measurement: nothing handled, nothing
    placed) as None, so that identical runs give equal infos (NaN != NaN)."""
    return {a: {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in d.items()}
            for a, d in infos.items()}


class DesimGymEnv(gymnasium.Env):
    """Centralised single-agent view for agents that share one observation space and one
    ``Discrete`` action space (twin migration): one action per agent (MultiDiscrete),
    observations and masks stacked (V, .), reward = the sum of the agents' rewards (Eq. 22).
    Agents not acting get zero rows and an all-zero mask; their actions are ignored.
    ``action_masks()`` serves sb3-contrib's ``MaskablePPO`` without a wrapper."""

    metadata = {"render_modes": []}

    def __init__(self, scenario: Scenario, trace_path: str | None = None) -> None:
        self.par = DesimParallelEnv(scenario, trace_path)
        agents = self.par.possible_agents
        v = len(agents)
        first = self.par.observation_space(agents[0])
        box = first["observation"]
        m = int(self.par.action_space(agents[0]).n)
        self.observation_space = spaces.Dict(
            {
                "observation": spaces.Box(np.tile(box.low, (v, 1)), np.tile(box.high, (v, 1)),
                                          dtype=np.float32),
                "action_mask": spaces.Box(0, 1, (v, m), np.int8),
            }
        )
        self.action_space = spaces.MultiDiscrete([m] * v)

    def _stack(self, obs: dict[str, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        rows = [obs[a] if a in obs else self.par.spaces.zero_for(a) for a in self.par.possible_agents]
        return {
            "observation": np.stack([r["observation"] for r in rows]),
            "action_mask": np.stack([r["action_mask"] for r in rows]),
        }

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        obs, _ = self.par.reset(seed=seed, options=options)
        self._last = self._stack(obs)
        return self._last, {}

    def step(self, action):
        acts = {a: int(action[i]) for i, a in enumerate(self.par.possible_agents) if a in self.par.agents}
        obs, rew, term, trunc, _ = self.par.step(acts)
        live = {a: o for a, o in obs.items() if a in self.par.agents}
        ended = not self.par.agents
        truncated = ended and any(trunc.values())  # cut off at the run's end
        terminated = ended and not truncated  # every agent reached its destination
        self._last = self._stack(live)
        return self._last, float(sum(rew.values())), terminated, truncated, {}

    def action_masks(self) -> np.ndarray:
        """sb3-contrib's ``MaskablePPO`` convention: (V * M,) bool, the kernel's masks (Eq. 23)
        of the last observation, agent after agent (see :func:`maskable`)."""
        return maskable(self._last["action_mask"].ravel(), self.action_space.nvec)

    def close(self) -> None:
        self.par.close()


class DesimCentralEnv(gymnasium.Env):
    """Centralised single-agent view for any app, agents of any spaces (task offloading: the
    paper's single-agent baseline): observation ``{"observation": every possible agent's
    observation concatenated in agent order (zeros when not acting), "action_mask": their
    masks concatenated}``; action: one ``MultiDiscrete`` over every agent's components in the
    same order (a ``Discrete`` agent has one); actions of agents not acting are ignored;
    reward = the sum of the acting agents' rewards. An agent not acting shows
    ``spaces.zero_for(agent)`` (task offloading: its mask allows only the no-op)."""

    metadata = {"render_modes": []}

    def __init__(self, scenario: Scenario, trace_path: str | None = None) -> None:
        self.par = DesimParallelEnv(scenario, trace_path)
        agents = self.par.possible_agents
        boxes, masks, nvecs, kinds, self._slices = [], [], [], set(), {}
        i = 0
        for a in agents:
            osp, asp = self.par.observation_space(a), self.par.action_space(a)
            boxes.append(osp["observation"])
            masks.append(osp["action_mask"])
            nv = [int(asp.n)] if isinstance(asp, spaces.Discrete) else [int(n) for n in asp.nvec]
            kinds.add(type(asp))
            self._slices[a] = slice(i, i + len(nv))
            nvecs += nv
            i += len(nv)
        self.observation_space = spaces.Dict({
            "observation": spaces.Box(np.concatenate([b.low for b in boxes]),
                                      np.concatenate([b.high for b in boxes]), dtype=np.float32),
            "action_mask": spaces.Box(0, 1, (sum(int(m.shape[0]) for m in masks),), np.int8),
        })
        # the agents' MultiDiscrete class where they share one (task offloading: it samples
        # from the flat mask too)
        cls = kinds.pop() if len(kinds) == 1 else spaces.MultiDiscrete
        if not issubclass(cls, spaces.MultiDiscrete):
            cls = spaces.MultiDiscrete
        self.action_space = cls(nvecs)

    def _flat(self, obs: dict[str, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        rows = [obs[a] if a in obs else self.par.spaces.zero_for(a) for a in self.par.possible_agents]
        return {"observation": np.concatenate([r["observation"] for r in rows]).astype(np.float32),
                "action_mask": np.concatenate([r["action_mask"] for r in rows]).astype(np.int8)}

    def agent_action(self, action: Any, agent: str) -> Any:
        """``agent``'s part of a joint action."""
        part = np.asarray(action)[self._slices[agent]]
        return part[0] if isinstance(self.par.action_space(agent), spaces.Discrete) else part

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        obs, _ = self.par.reset(seed=seed, options=options)
        self._last = self._flat(obs)
        return self._last, {}

    def step(self, action):
        acts = {a: self.agent_action(action, a) for a in self.par.acting_agents}
        obs, rew, term, trunc, _ = self.par.step(acts)
        live = {a: o for a, o in obs.items() if a in self.par.agents}
        ended = not self.par.agents
        truncated = ended and any(trunc.values())
        terminated = ended and not truncated
        self._last = self._flat(live)
        return self._last, float(sum(rew.values())), terminated, truncated, {}

    def action_masks(self) -> np.ndarray:
        """sb3-contrib's ``MaskablePPO`` convention: (sum nvec,) bool, every agent's mask of the
        last observation concatenated (see :func:`maskable`)."""
        return maskable(self._last["action_mask"], self.action_space.nvec)

    def close(self) -> None:
        self.par.close()


#: the paper's single-agent (centralised) baseline for task offloading
OffloadCentralEnv = DesimCentralEnv


def parallel_env(scenario: str | Scenario = "twin-city", trace_path: str | None = None,
                 **overrides: Any) -> DesimParallelEnv:
    return DesimParallelEnv(make_scenario(scenario, **overrides), trace_path)


def gym_env(scenario: str | Scenario = "twin-city", trace_path: str | None = None,
            **overrides: Any) -> DesimGymEnv | DesimCentralEnv:
    """The centralised Gymnasium env for the scenario's app: :class:`DesimGymEnv` (stacked)
    where every agent has the same spaces and a ``Discrete`` action (twin migration), else
    :class:`DesimCentralEnv` (concatenated; task offloading)."""
    sc = make_scenario(scenario, **overrides)
    specs = list(app_class(sc.app).agent_specs(sc).values())
    same = all(isinstance(s.action_space, spaces.Discrete) and s.action_space == specs[0].action_space
               and s.observation_space == specs[0].observation_space for s in specs)
    return DesimGymEnv(sc, trace_path) if specs and same else DesimCentralEnv(sc, trace_path)
