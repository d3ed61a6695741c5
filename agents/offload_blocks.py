"""Building blocks of the task-offloading learners (quantum-DRL paper Alg. 2, its baselines and
ablations; agents/qdrl.py, agents/ppo_offload.py, agents/ddpg_offload.py):

- :class:`ActionCodec`: an agent kind's ``MultiDiscrete`` action components as *codes* of at
  most 6 bits (the 2^6 measurement outcomes of the 6-qubit circuit, Eq. 85/88): components are
  packed most significant first into groups of <= 6 bits (vehicle: target 4 bits + power
  2 bits, then split 2 bits; UAV/BS: rule 4 + CPU 1 + power 1); a code is valid when every
  component value exists and the kernel's mask allows it;
- :class:`KindLayout` / :class:`OffloadLayout`: the env's agents per kind, their observation
  sizes, codecs, and the learners' inputs (features + one-hot agent index within the kind:
  parameters are shared within a kind, Alg. 2 "for each agent type");
- :func:`stack_kinds`: one env step's observations as per-kind arrays (idle agents: zeros);
- :class:`KindReplay`: per-kind replay memory (Alg. 2's D_x) of (o, mask, a, r, o', mask', done);
- :class:`EpisodeLog`: the learning-curve numbers (episode reward, latency, energy, QoS);
- :class:`OffloadActorPolicy`: a trained actor of any of these learners as a kernel policy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from desim_iov.kinds import AGENT_KINDS, parse_agent

N_QUBITS = 6
N_OUTCOMES = 2**N_QUBITS


def bits_for(n: int) -> int:
    """Bits of a component with ``n`` values (1 value: 0 bits)."""
    return 0 if n <= 1 else math.ceil(math.log2(n))


class ActionCodec:
    """Components ``nvec`` packed into groups of codes of at most ``max_bits`` bits each."""

    def __init__(self, nvec: tuple[int, ...] | list[int], max_bits: int = N_QUBITS) -> None:
        self.nvec = tuple(int(n) for n in nvec)
        self.offsets = np.concatenate([[0], np.cumsum(self.nvec)]).astype(int)
        bits = [bits_for(n) for n in self.nvec]
        if max(bits) > max_bits:
            raise ValueError(f"an action component of {max(self.nvec)} values needs {max(bits)} bits > {max_bits}")
        self.groups: list[list[int]] = []
        cur: list[int] = []
        for c, b in enumerate(bits):
            if cur and sum(bits[i] for i in cur) + b > max_bits:
                self.groups.append(cur)
                cur = []
            cur.append(c)
        self.groups.append(cur)
        self.bits = bits
        self.group_bits = [sum(bits[c] for c in g) for g in self.groups]
        self.sizes = [2**gb for gb in self.group_bits]
        # per group: code -> component values (sizes[g], len(g)) and which codes exist
        self.values: list[np.ndarray] = []
        self.exists: list[np.ndarray] = []
        for g, gb in zip(self.groups, self.group_bits, strict=True):
            codes = np.arange(2**gb)
            vals, shift = [], gb
            for c in g:
                shift -= bits[c]
                vals.append((codes >> shift) & ((1 << bits[c]) - 1))
            v = np.stack(vals, axis=1)
            self.values.append(v)
            self.exists.append(np.all(v < np.array([self.nvec[c] for c in g]), axis=1))

    @property
    def n_joint(self) -> int:
        """Codes of all groups together (the critic's outputs)."""
        return int(np.prod(self.sizes))

    def code_masks(self, flat_masks: np.ndarray) -> list[np.ndarray]:
        """Per group, (B, size) bool: codes whose components all exist and are allowed by the
        kernel's flat masks (B, sum nvec)."""
        m = np.asarray(flat_masks, bool)
        out = []
        for g, vals, ok in zip(self.groups, self.values, self.exists, strict=True):
            allowed = np.broadcast_to(ok, (m.shape[0], len(ok))).copy()
            for k, c in enumerate(g):
                comp = m[:, self.offsets[c] : self.offsets[c + 1]]
                idx = np.minimum(vals[:, k], self.nvec[c] - 1)
                allowed &= comp[:, idx] & ok
            out.append(allowed)
        return out

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """(B, groups) codes -> (B, components) action values."""
        codes = np.asarray(codes, np.int64).reshape(-1, len(self.groups))
        out = np.zeros((codes.shape[0], len(self.nvec)), np.int64)
        for gi, (g, vals) in enumerate(zip(self.groups, self.values, strict=True)):
            out[:, g] = vals[codes[:, gi]]
        return out

    def encode(self, actions: np.ndarray) -> np.ndarray:
        """(B, components) action values -> (B, groups) codes."""
        a = np.asarray(actions, np.int64).reshape(-1, len(self.nvec))
        out = np.zeros((a.shape[0], len(self.groups)), np.int64)
        for gi, g in enumerate(self.groups):
            code = np.zeros(a.shape[0], np.int64)
            for c in g:
                code = (code << self.bits[c]) | a[:, c]
            out[:, gi] = code
        return out

    def joint_index(self, codes: np.ndarray) -> np.ndarray:
        """(B, groups) codes -> (B,) index into the critic's n_joint outputs (row-major)."""
        codes = np.asarray(codes, np.int64).reshape(-1, len(self.groups))
        return np.ravel_multi_index(tuple(codes.T), self.sizes)

    def component_masks(self, flat_masks: np.ndarray) -> list[np.ndarray]:
        m = np.asarray(flat_masks, bool)
        return [m[:, self.offsets[c] : self.offsets[c + 1]] for c in range(len(self.nvec))]


@dataclass
class KindLayout:
    kind: str
    agents: list[str]
    n_obs: int
    nvec: tuple[int, ...]
    codec: ActionCodec

    @property
    def n(self) -> int:
        return len(self.agents)

    @property
    def n_in(self) -> int:
        """Features + one-hot agent index (the classical networks' input)."""
        return self.n_obs + self.n


@dataclass
class OffloadLayout:
    """The offloading env's agents grouped by kind (vehicle, UAV, BS) in env order."""

    kinds: dict[str, KindLayout] = field(default_factory=dict)

    @classmethod
    def of_env(cls, env: Any) -> OffloadLayout:
        base = getattr(env, "unwrapped", env)
        by: dict[str, list[str]] = {k: [] for k in AGENT_KINDS}
        for a in base.possible_agents:
            by[parse_agent(a)[0]].append(a)
        out = cls()
        for kind, agents in by.items():
            if not agents:
                continue
            osp, asp = base.observation_space(agents[0]), base.action_space(agents[0])
            nvec = tuple(int(n) for n in asp.nvec)
            out.kinds[kind] = KindLayout(kind, agents, int(osp["observation"].shape[0]), nvec, ActionCodec(nvec))
        return out

    def as_dict(self) -> dict[str, Any]:
        return {k: {"agents": len(kl.agents), "n_obs": kl.n_obs, "nvec": list(kl.nvec)} for k, kl in self.kinds.items()}

    def check(self, saved: Mapping[str, Any], what: str) -> None:
        """One-line ValueError unless ``saved`` (a checkpoint's layout) matches this env's."""
        mine = self.as_dict()
        if {k: dict(v) for k, v in saved.items()} != mine:
            def short(d: Mapping[str, Any]) -> str:
                return ", ".join(f"{k}: {v['agents']} x {v['n_obs']} features" for k, v in d.items())
            raise ValueError(f"{what}: trained for {short(saved)}; this scenario has {short(mine)}")


@dataclass
class KindStep:
    """One env step of one kind: every agent of the kind in order (idle ones: zeros)."""

    obs: np.ndarray  # (n, n_obs) float32
    mask: np.ndarray  # (n, sum nvec) bool
    acting: np.ndarray  # (n,) bool


def stack_kinds(layout: OffloadLayout, obs: Mapping[str, Mapping[str, np.ndarray]],
                acting: list[str] | set[str], zero_for: Callable[[str], Mapping[str, np.ndarray]]) -> dict[str, KindStep]:
    out = {}
    acting = set(acting)
    for kind, kl in layout.kinds.items():
        rows = [obs[a] if a in obs else zero_for(a) for a in kl.agents]
        out[kind] = KindStep(np.stack([r["observation"] for r in rows]).astype(np.float32),
                             np.stack([r["action_mask"] for r in rows]).astype(bool),
                             np.array([a in acting for a in kl.agents]))
    return out


class KindReplay:
    """Ring buffer of one kind's transitions (Alg. 2's replay D_x): agent index, observation,
    flat mask, action (components), reward, next observation and mask, done, and a learner's
    flag (quantum-DRL: the action came from the Nash-equilibrium step)."""

    def __init__(self, capacity: int, kl: KindLayout) -> None:
        d, m, k = kl.n_obs, sum(kl.nvec), len(kl.nvec)
        self.capacity, self.pos, self.size = int(capacity), 0, 0
        self.data = {"agent": np.zeros(capacity, np.int64), "obs": np.zeros((capacity, d), np.float32),
                     "mask": np.zeros((capacity, m), bool), "action": np.zeros((capacity, k), np.int64),
                     "reward": np.zeros(capacity, np.float32), "next_obs": np.zeros((capacity, d), np.float32),
                     "next_mask": np.zeros((capacity, m), bool), "done": np.zeros(capacity, np.float32),
                     "flag": np.zeros(capacity, np.float32)}

    def __len__(self) -> int:
        return self.size

    def add(self, **items: np.ndarray) -> None:
        n = len(items["agent"])
        idx = (self.pos + np.arange(n)) % self.capacity
        for k, v in items.items():
            self.data[k][idx] = v
        self.pos = int((self.pos + n) % self.capacity)
        self.size = min(self.size + n, self.capacity)

    def sample(self, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        idx = rng.integers(0, self.size, size=n)
        return {k: v[idx] for k, v in self.data.items()}

    def state_dict(self) -> dict[str, Any]:
        return {"pos": self.pos, "size": self.size,
                **{k: torch.as_tensor(v[: self.size]) for k, v in self.data.items()}}

    def load_state_dict(self, st: Mapping[str, Any]) -> None:
        self.size, self.pos = int(st["size"]), int(st["pos"])
        for k in self.data:
            self.data[k][: self.size] = st[k].numpy()


class EpisodeLog:
    """Per-episode sums of the env's rewards and infos: the learning-curve numbers."""

    def __init__(self) -> None:
        self.returns: list[float] = []  # one per episode: sum over steps and agents
        self.latency: list[float] = []  # mean over the episode's vehicle decisions (s)
        self.energy: list[float] = []  # vehicle transmit energy per episode (J)
        self.qos: list[float] = []
        self.refused: list[float] = []
        self._open()

    def _open(self) -> None:
        self._ret, self._lat, self._e, self._q, self._ref, self._n = 0.0, [], 0.0, [], 0, 0

    def step(self, rewards: Mapping[str, float], infos: Mapping[str, Mapping[str, Any]]) -> None:
        self._ret += float(sum(rewards.values()))
        for a, info in infos.items():
            if not info or "reward" not in info:
                continue
            self._n += 1
            self._ref += bool(info.get("refused"))
            if a.startswith("vehicle_") and info.get("subtasks"):
                self._lat.append(float(info["latency"]))
                self._e += float(info["energy"])
                if info.get("qos") is not None:
                    self._q.append(float(info["qos"]))

    def end(self) -> None:
        self.returns.append(self._ret)
        self.latency.append(float(np.mean(self._lat)) if self._lat else float("nan"))
        self.energy.append(self._e)
        self.qos.append(float(np.mean(self._q)) if self._q else float("nan"))
        self.refused.append(self._ref / self._n if self._n else float("nan"))
        self._open()

    def metrics(self, last: int) -> dict[str, float]:
        """The learning-curve columns of agents/train.py over the last ``last`` episodes."""
        def mean(x: list[float]) -> float:
            x = [v for v in x[-last:] if np.isfinite(v)]
            return float(np.mean(x)) if x else float("nan")
        return {"episode_reward_mean": mean(self.returns), "latency_mean": mean(self.latency),
                "failure_rate": float("nan"), "invalid_rate": mean(self.refused),
                "energy_mean": mean(self.energy), "qos_mean": mean(self.qos)}


class OffloadActorPolicy:
    """A trained offloading learner as a kernel policy (greedy). ``act_kind(kind, x, masks)``
    returns (n, components) actions for the kind's observations ``x`` (n, n_obs) with agent
    indices ``ids``; the same encoding as the env (apps/offload_spaces.py)."""

    def __init__(self, name: str, layout: OffloadLayout, act_kind: Callable[[str, np.ndarray, np.ndarray, np.ndarray], np.ndarray]) -> None:
        self.name, self.layout, self.act_kind = name, layout, act_kind

    def reset(self, rng: np.random.Generator) -> None:
        pass

    @torch.no_grad()
    def act(self, observations: Mapping[str, Any]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for kind, kl in self.layout.kinds.items():
            keys = [a for a in kl.agents if a in observations]
            if not keys:
                continue
            pos = {a: i for i, a in enumerate(kl.agents)}
            x = np.stack([observations[a].features for a in keys]).astype(np.float32)
            m = np.stack([observations[a].mask for a in keys]).astype(bool)
            acts = self.act_kind(kind, x, m, np.array([pos[a] for a in keys]))
            out.update({a: np.asarray(acts[i], np.int64) for i, a in enumerate(keys)})
        return out


class Budget:
    """The training budget and exploration schedule shared by the offloading learners (mixed
    into their ``Learner``; needs ``cfg.episodes_per_update``, ``seed``, ``episodes`` and, for
    :meth:`epsilon`, the ``eps_*`` fields of the config)."""

    planned_episodes: int = 1000

    def plan(self, updates: int) -> None:
        """The driver's total budget (epsilon decays over a share of it)."""
        self.planned_episodes = max(1, updates * self.cfg.episodes_per_update)

    def epsilon(self) -> float:
        """Linear from eps_start to eps_end over ``eps_episodes`` (or ``eps_fraction`` of the
        planned episodes): Fig. 3's exploration phase."""
        c = self.cfg
        span = c.eps_episodes or max(1.0, c.eps_fraction * self.planned_episodes)
        return c.eps_start + min(1.0, self.episodes / span) * (c.eps_end - c.eps_start)

    def episode_seed(self, k: int) -> int:
        """Training episodes use seeds 1e6 * (seed + 1) + k: never the small evaluation seeds."""
        return 1_000_000 * (self.seed + 1) + k


@dataclass
class Step:
    """One env step as the learners store it: per kind the observations before (``before``)
    and after (``after``; zeros for agents idle next), the actions taken (agent -> components),
    rewards and infos, and whether the episode ended."""

    before: dict[str, KindStep]
    actions: dict[str, np.ndarray]
    rewards: dict[str, float]
    infos: dict[str, dict[str, Any]]
    after: dict[str, KindStep]
    done: bool

    def transitions(self, layout: OffloadLayout, kind: str, team: bool = False) -> dict[str, np.ndarray]:
        """The kind's acting agents' transitions (KindReplay columns but ``flag``); ``team``:
        every agent earns the sum of all rewards (the single-agent baseline)."""
        kl, b, a = layout.kinds[kind], self.before[kind], self.after[kind]
        rows = np.flatnonzero(b.acting)
        team_r = float(sum(self.rewards.values()))
        return {"agent": rows, "obs": b.obs[rows], "mask": b.mask[rows],
                "action": np.stack([self.actions[kl.agents[i]] for i in rows]) if rows.size
                else np.zeros((0, len(kl.nvec)), np.int64),
                "reward": np.array([team_r if team else self.rewards.get(kl.agents[i], 0.0) for i in rows], np.float32),
                "next_obs": a.obs[rows], "next_mask": a.mask[rows],
                # an agent idle at the next epoch (a vehicle with no task) ends its trajectory
                # there: its zero observation is never a decision, so nothing bootstraps from it
                "done": (~a.acting[rows] | self.done).astype(np.float32)}


def play_episode(env: Any, layout: OffloadLayout, seed: int,
                 act: Callable[[dict[str, KindStep]], dict[str, np.ndarray]],
                 on_step: Callable[[Step], None]) -> None:
    """One episode of the PettingZoo env: ``act(kinds) -> {agent: components}`` for the agents
    acting now, ``on_step(step)`` after every env step."""
    zero = env.spaces.zero_for
    obs, _ = env.reset(seed=int(seed))
    while env.agents:
        before = stack_kinds(layout, obs, env.acting_agents, zero)
        actions = act(before)
        obs, rew, _, _, infos = env.step(actions)
        done = not env.agents
        on_step(Step(before, actions, rew, infos, stack_kinds(layout, obs, env.acting_agents if not done else [], zero),
                     done))


# ---------------------------------------------------------------- the classical baselines' policy
# (agents/ppo_offload.py, agents/ddpg_offload.py): self-contained, kept at the end of the file

from agents.blocks.distributions import MaskedCategorical  # noqa: E402


class ComponentCategorical:
    """Factorised masked categorical over a ``MultiDiscrete`` action: one
    :class:`MaskedCategorical` per component on its slice of the flat logits (B, sum nvec) and
    of the flat mask (B, sum nvec; None: unmasked), the layout of the env's ``action_mask``.
    Components are independent given the observation (the kernel's mask is a product of the
    component masks), so log-probabilities and entropies add up over components."""

    def __init__(self, logits: torch.Tensor, flat_mask: torch.Tensor | None, nvec: tuple[int, ...]) -> None:
        edges = np.concatenate([[0], np.cumsum(nvec)]).astype(int)
        self.parts = [MaskedCategorical(logits[..., lo:hi], None if flat_mask is None else flat_mask[..., lo:hi])
                      for lo, hi in zip(edges[:-1], edges[1:], strict=True)]

    @property
    def masked_logits(self) -> torch.Tensor:
        """(B, sum nvec) logits with -inf where masked."""
        return torch.cat([d.logits for d in self.parts], -1)

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        return sum(d.log_prob(actions[..., c]) for c, d in enumerate(self.parts))

    def entropy(self) -> torch.Tensor:
        return sum(d.entropy() for d in self.parts)

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """(B, components) draws, never a masked value."""
        return torch.stack([d.sample(generator) for d in self.parts], -1)

    def mode(self) -> torch.Tensor:
        """(B, components) greedy actions: the argmax of each component under its mask."""
        return torch.stack([d.mode() for d in self.parts], -1)
