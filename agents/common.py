"""Shared building blocks of the learning agents (DESIGN.md Sec. 6): masked categorical
distribution (twin-migration Eq. 23–24), featurisation with one-hot agent identity, running
normalisers, the network pieces both algorithms use, episode collection over the PettingZoo
env, GAE (Eq. 25–27 style), a replay buffer (MASAC), seeding, checkpoints, and the Policy
object that runs a trained actor inside a :class:`~desim_iov.sim.Simulation`.

Shapes: ``V`` agents (``env.possible_agents``), ``M`` servers (actions), ``D = 2M - 1``
observation entries (Eq. 19: M-1 distances in km, M workloads as fractions of L_max),
``S = V * D`` global-state entries (``env.state()``).
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from desim_iov.apps.twin_spaces import Observation
from desim_iov.kinds import SATELLITE, vehicle_of
from models.checkpoint_io import load_weights_only

# ---------------------------------------------------------------------------- seeding


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python's, NumPy's and torch's global generators; return a fresh NumPy generator
    for the caller's own draws."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - third-party code may draw from the legacy global
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


# ---------------------------------------------------------------------------- masked distribution


class MaskedCategorical:
    """Categorical distribution over M actions whose masked entries have logit -inf, so
    probability exactly 0 (the dynamic mask of twin-migration Eq. 23–24: P_v K_v).

    ``mask`` (..., M) bool/int, 1 = allowed; None = every action allowed. A row with no allowed
    action falls back to the *unmasked* logits (a proper distribution over all M actions, finite
    entropy and gradients); callers that know a safer action (the Policy: stay on the current
    host, as the heuristics do) handle that row themselves. ``all_masked`` flags those rows.
    """

    def __init__(self, logits: torch.Tensor, mask: torch.Tensor | None = None) -> None:
        if mask is None:
            valid = torch.ones_like(logits, dtype=torch.bool)
        else:
            valid = mask.to(torch.bool).expand_as(logits)
        self.all_masked = ~valid.any(dim=-1)
        valid = valid | self.all_masked.unsqueeze(-1)  # fallback: the row is unmasked
        self.valid = valid
        self.logits = torch.where(valid, logits, torch.full_like(logits, float("-inf")))
        self.log_probs = torch.log_softmax(self.logits, dim=-1)  # -inf where masked
        self.probs = self.log_probs.exp()  # exactly 0 where masked

    @property
    def log_probs_safe(self) -> torch.Tensor:
        """log-probabilities with masked entries set to 0 (for p * log p sums: no 0 * -inf,
        no NaN gradients)."""
        return torch.where(self.valid, self.log_probs, torch.zeros_like(self.log_probs))

    def entropy(self) -> torch.Tensor:
        return -(self.probs * self.log_probs_safe).sum(-1)

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        return self.log_probs.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """One draw per row (Gumbel-max on the masked logits: masked actions are never drawn)."""
        u = torch.rand(self.logits.shape, generator=generator, dtype=self.logits.dtype)
        e = (-torch.log(u.clamp_min(1e-20))).clamp_min(1e-20)  # Exp(1) draws
        gumbel = -torch.log(e)
        return torch.argmax(self.logits + gumbel, dim=-1)

    def mode(self) -> torch.Tensor:
        """Greedy action (twin-migration Eq. 20/24: argmax of P_v K_v)."""
        return torch.argmax(self.logits, dim=-1)


# ---------------------------------------------------------------------------- normalisers


class RunningMeanStd(nn.Module):
    """Running mean and variance (parallel Welford/Chan update) kept as buffers, so they
    travel in the module's ``state_dict``."""

    def __init__(self, shape: tuple[int, ...] = (), eps: float = 1e-4) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(shape, dtype=torch.float64))
        self.register_buffer("var", torch.ones(shape, dtype=torch.float64))
        self.register_buffer("count", torch.tensor(eps, dtype=torch.float64))

    @torch.no_grad()
    def update(self, x: torch.Tensor | np.ndarray) -> None:
        x = torch.as_tensor(np.asarray(x), dtype=torch.float64)
        x = x.reshape(-1, *self.mean.shape)
        if x.shape[0] == 0:
            return
        b_mean, b_var, b_n = x.mean(0), x.var(0, unbiased=False), x.shape[0]
        delta = b_mean - self.mean
        tot = self.count + b_n
        self.mean += delta * b_n / tot
        m2 = self.var * self.count + b_var * b_n + delta**2 * self.count * b_n / tot
        self.var.copy_(m2 / tot)
        self.count.fill_(tot.item())

    def normalise(self, x: torch.Tensor, clip: float = 10.0) -> torch.Tensor:
        z = (x - self.mean.to(x.dtype)) / torch.sqrt(self.var.to(x.dtype) + 1e-8)
        return z.clamp(-clip, clip)


# ---------------------------------------------------------------------------- featurisation


@dataclass(frozen=True)
class Layout:
    """What the networks need to know about the env: V agents, M servers, which server is the
    satellite (Eq. 19 leaves its distance out), observation and state sizes."""

    n_agents: int
    n_servers: int
    kinds: tuple[int, ...]

    @property
    def obs_dim(self) -> int:
        return self.n_servers + len(self.terrestrial)

    @property
    def state_dim(self) -> int:
        return self.n_agents * self.obs_dim

    @property
    def terrestrial(self) -> list[int]:
        return [m for m, k in enumerate(self.kinds) if k != SATELLITE]

    def as_dict(self) -> dict[str, Any]:
        return {"n_agents": self.n_agents, "n_servers": self.n_servers, "kinds": list(self.kinds)}

    @classmethod
    def of_env(cls, env: Any) -> Layout:
        """From a ``DesimParallelEnv`` (or anything wrapping one: ``unwrapped``)."""
        base = getattr(env, "unwrapped", env)
        kinds = getattr(base, "server_kinds", None)
        if kinds is None and getattr(base, "sim", None) is not None:
            kinds = base.sim.kinds
        if kinds is None:
            raise TypeError("cannot find the servers' kinds on this env (expected a DesimParallelEnv)")
        return cls(len(env.possible_agents), int(len(kinds)), tuple(int(k) for k in kinds))


class Featuriser(nn.Module):
    """Network inputs from Eq. 19 observations.

    Two scalar running normalisers, one over every distance entry and one over every workload
    entry (one scale per feature *type*, so servers stay comparable to each other), give

    - ``flat(obs, ids)``: the normalised observation with the one-hot agent identity appended
      (D + V), the input of the shared actor's context;
    - ``servers(obs)``: per-server features (.., M, 3): [normalised distance (0 for the
      satellite), is-satellite flag, normalised workload];
    - ``state(state, ids)``: the normalised global state (every agent's observation block)
      with the one-hot identity of the agent whose value is asked for (S + V).
    """

    def __init__(self, layout: Layout) -> None:
        super().__init__()
        self.layout = layout
        m, d = layout.n_servers, layout.obs_dim
        self.n_dist = d - m
        self.dist_rms = RunningMeanStd(())
        self.load_rms = RunningMeanStd(())
        idx = torch.full((m,), -1, dtype=torch.long)
        idx[layout.terrestrial] = torch.arange(self.n_dist)
        self.register_buffer("dist_index", idx, persistent=False)
        self.register_buffer("is_sat", (idx < 0).float(), persistent=False)

    def update(self, obs: np.ndarray) -> None:
        obs = np.asarray(obs).reshape(-1, self.layout.obs_dim)
        self.dist_rms.update(obs[:, : self.n_dist].ravel())
        self.load_rms.update(obs[:, self.n_dist :].ravel())

    def _norm(self, obs: torch.Tensor) -> torch.Tensor:
        d = self.dist_rms.normalise(obs[..., : self.n_dist])
        s = self.load_rms.normalise(obs[..., self.n_dist :])
        return torch.cat([d, s], dim=-1)

    def _onehot(self, ids: torch.Tensor) -> torch.Tensor:
        return nn.functional.one_hot(ids.long(), self.layout.n_agents).float()

    def flat(self, obs: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        return torch.cat([self._norm(obs), self._onehot(ids)], dim=-1)

    def servers(self, obs: torch.Tensor) -> torch.Tensor:
        z = self._norm(obs)
        dist = z[..., : self.n_dist]
        d = torch.where(self.dist_index >= 0, dist[..., self.dist_index.clamp_min(0)], 0.0)
        sat = self.is_sat.expand_as(d)
        return torch.stack([d, sat, z[..., self.n_dist :]], dim=-1)

    def state(self, state: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        blocks = state.reshape(*state.shape[:-1], self.layout.n_agents, self.layout.obs_dim)
        z = self._norm(blocks).flatten(-2)
        return torch.cat([z, self._onehot(ids)], dim=-1)


# ---------------------------------------------------------------------------- networks


def layer_init(layer: nn.Linear, gain: float = float(np.sqrt(2)), bias: float = 0.0) -> nn.Linear:
    """Orthogonal weights, constant bias (the PPO implementation details, CleanRL)."""
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.constant_(layer.bias, bias)
    return layer


def mlp(n_in: int, hidden: int, n_out: int, out_gain: float = 1.0, layers: int = 2) -> nn.Sequential:
    mods: list[nn.Module] = []
    d = n_in
    for _ in range(layers):
        mods += [layer_init(nn.Linear(d, hidden)), nn.Tanh()]
        d = hidden
    mods.append(layer_init(nn.Linear(d, n_out), out_gain))
    return nn.Sequential(*mods)


class ServerScorer(nn.Module):
    """One score per server: ``score_m = g([x_m, e_m, c])`` with ``x_m`` the server's own
    features (distance, satellite flag, workload), ``e_m`` a learned embedding of server m and
    ``c = f(context)`` a summary of everything else (the whole observation or global state,
    with the agent identity). ``g`` is shared by all servers, so "near and lightly loaded"
    is learned once rather than M times. Used as the actor's logits (Eq. 24) and as the
    per-action Q values of MASAC."""

    def __init__(self, n_context: int, n_servers: int, hidden: int = 64, embed: int = 8,
                 out_gain: float = 0.01) -> None:
        super().__init__()
        self.context = mlp(n_context, 2 * hidden, hidden, out_gain=float(np.sqrt(2)), layers=1)
        self.embed = nn.Parameter(torch.randn(n_servers, embed) * 0.1)
        self.score = mlp(3 + embed + hidden, hidden, 1, out_gain=out_gain)

    def forward(self, context: torch.Tensor, servers: torch.Tensor) -> torch.Tensor:
        c = torch.tanh(self.context(context))
        m = servers.shape[-2]
        x = torch.cat([servers, self.embed.expand(*servers.shape[:-2], m, -1),
                       c.unsqueeze(-2).expand(*c.shape[:-1], m, c.shape[-1])], dim=-1)
        return self.score(x).squeeze(-1)


class Actor(nn.Module):
    """The shared actor pi_theta(a | o_v, id_v) of every agent: logits over the M servers.
    ``arch="server"`` scores servers with a shared :class:`ServerScorer`; ``arch="mlp"`` is a
    plain MLP from the flat input to M logits (the textbook MAPPO actor)."""

    def __init__(self, layout: Layout, hidden: int = 64, arch: str = "server") -> None:
        super().__init__()
        if arch not in ("server", "mlp"):
            raise TypeError(f"actor arch must be 'server' or 'mlp', got {arch!r}")
        self.arch = arch
        self.features = Featuriser(layout)
        n_in = layout.obs_dim + layout.n_agents
        if arch == "server":
            self.net: nn.Module = ServerScorer(n_in, layout.n_servers, hidden)
        else:
            self.net = mlp(n_in, 2 * hidden, layout.n_servers, out_gain=0.01)

    def forward(self, obs: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        flat = self.features.flat(obs, ids)
        if self.arch == "server":
            return self.net(flat, self.features.servers(obs))
        return self.net(flat)

    def dist(self, obs: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor | None) -> MaskedCategorical:
        return MaskedCategorical(self(obs, ids), mask)


# ---------------------------------------------------------------------------- episodes


@dataclass
class EpisodeBatch:
    """Whole episodes laid out step by step: index ``[t, v]`` is agent v at env step t.
    ``active[t, v]``: the agent acted at step t; ``done[t, v]``: its trajectory ends after
    step t (its vehicle arrived, or the episode ended). Entries with ``active`` False are zeros.
    ``mask`` is the env's (Eq. 23) whatever the learner used; ``extras`` holds what the
    learner's act function returned besides the action (log-probs, values)."""

    obs: np.ndarray  # (T, V, D) float32
    mask: np.ndarray  # (T, V, M) bool
    state: np.ndarray  # (T, S) float32
    active: np.ndarray  # (T, V) bool
    action: np.ndarray  # (T, V) int64
    reward: np.ndarray  # (T, V) float32
    done: np.ndarray  # (T, V) bool
    t_sum: np.ndarray  # (T, V) float64, NaN when the env does not report it
    failed: np.ndarray  # (T, V) float64, NaN when the env does not report it
    extras: dict[str, np.ndarray] = field(default_factory=dict)  # (T, V) each
    episode_returns: list[float] = field(default_factory=list)  # one per (episode, agent)

    @property
    def steps(self) -> int:
        return self.obs.shape[0]


ActFn = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, dict[str, np.ndarray]]]


def _hook_slot_rows(env: Any) -> list[np.ndarray] | None:
    """The env reports only Eq. 22 rewards; the learning curve also wants the kernel's
    T^sum and xi per decision. Record the /slots rows ``Simulation.act`` returns for this
    episode by wrapping that one bound method on this one Simulation instance (a new
    Simulation is built on every reset, so nothing outlives the episode). None when the env
    has no kernel underneath."""
    sim = getattr(getattr(env, "unwrapped", env), "sim", None)
    if sim is None or not callable(getattr(sim, "act", None)):
        return None
    rows: list[np.ndarray] = []
    inner = sim.act

    def act(actions: dict[str, int]) -> np.ndarray:
        r = inner(actions)
        rows.append(r)
        return r

    sim.act = act
    return rows


def collect_episodes(env: Any, act_fn: ActFn, seeds: list[int], latency_cap: float = 300.0) -> EpisodeBatch:
    """Run one episode per seed with ``act_fn(obs (N, D), mask (N, M) bool, state (S,),
    ids (N,)) -> (actions (N,), extras)`` for the N agents acting at each step."""
    agents = list(env.possible_agents)
    col = {a: i for i, a in enumerate(agents)}
    n_v = len(agents)
    rec: dict[str, list] = {k: [] for k in ("obs", "mask", "state", "active", "action", "reward", "done",
                                            "t_sum", "failed")}
    extras: dict[str, list] = {}
    returns: list[float] = []
    for seed in seeds:
        obs, _ = env.reset(seed=int(seed))
        rows = _hook_slot_rows(env)
        ep_ret = np.zeros(n_v)
        seen = np.zeros(n_v, bool)
        while env.agents:
            acting = list(env.agents)
            ids = np.array([col[a] for a in acting])
            o = np.stack([obs[a]["observation"] for a in acting])
            m = np.stack([obs[a]["action_mask"] for a in acting]).astype(bool)
            state = np.asarray(env.state(), np.float32)
            acts, ext = act_fn(o, m, state, ids)
            n_rows = len(rows) if rows is not None else 0
            obs, rew, term, trunc, infos = env.step({a: int(x) for a, x in zip(acting, acts, strict=True)})
            d_obs = np.zeros((n_v, o.shape[1]), np.float32)
            d_mask = np.zeros((n_v, m.shape[1]), bool)
            act = np.zeros(n_v, np.int64)
            r = np.zeros(n_v, np.float32)
            done = np.zeros(n_v, bool)
            active = np.zeros(n_v, bool)
            t_sum = np.full(n_v, np.nan)
            failed = np.full(n_v, np.nan)
            d_obs[ids], d_mask[ids], act[ids], active[ids] = o, m, acts, True
            for a, i in zip(acting, ids, strict=True):
                r[i] = rew[a]
                done[i] = bool(term[a] or trunc[a])
                info = infos.get(a, {})
                if "t_sum" in info:
                    t_sum[i], failed[i] = info["t_sum"], info.get("failed", np.nan)
            if rows is not None and len(rows) > n_rows:
                for row in rows[-1]:
                    t_sum[int(row["vehicle"])] = row["t_sum"]
                    failed[int(row["vehicle"])] = row["failed"]
            t_sum = np.minimum(t_sum, latency_cap)
            ep_ret += r
            seen |= active
            for k, v in (("obs", d_obs), ("mask", d_mask), ("state", state), ("active", active),
                         ("action", act), ("reward", r), ("done", done), ("t_sum", t_sum),
                         ("failed", failed)):
                rec[k].append(v)
            for k, v in ext.items():
                full = np.zeros(n_v, np.asarray(v).dtype)
                full[ids] = v
                extras.setdefault(k, []).append(full)
        if rec["done"]:  # the episode's last step ends every trajectory still running
            rec["done"][-1] = rec["done"][-1] | rec["active"][-1]
        returns += ep_ret[seen].tolist()
    return EpisodeBatch(
        **{k: np.stack(v) for k, v in rec.items()},
        extras={k: np.stack(v) for k, v in extras.items()},
        episode_returns=returns,
    )


def random_rollout_observations(env: Any, seeds: list[int], *, use_mask: bool,
                                rng: np.random.Generator) -> np.ndarray:
    """Observations (N, D) of every decision in one episode per seed played by uniformly
    random actions (among the mask's allowed servers when ``use_mask``, else among all M):
    the input statistics a fresh, near-uniform actor will meet (normaliser warm start)."""

    def act(obs: np.ndarray, mask: np.ndarray, state: np.ndarray, ids: np.ndarray):
        ok = mask if use_mask else np.ones_like(mask)
        ok = ok | ~ok.any(axis=1, keepdims=True)  # nothing allowed: any server
        keys = np.where(ok, rng.random(ok.shape), -1.0)
        return keys.argmax(axis=1), {}

    batch = collect_episodes(env, act, seeds)
    return batch.obs[batch.active]


def episode_metrics(batch: EpisodeBatch) -> dict[str, float]:
    """Learning-curve numbers of a batch of episodes: mean per-agent episode return (sum of
    Eq. 22 rewards), mean T^sum per decision (capped), failure rate xi per decision, share of
    decisions that picked a server the env's mask forbids."""
    act = batch.active
    chosen_ok = np.take_along_axis(batch.mask, batch.action[..., None], -1)[..., 0]
    return {
        "episode_reward_mean": float(np.mean(batch.episode_returns)) if batch.episode_returns else float("nan"),
        "latency_mean": float(np.nanmean(batch.t_sum[act])) if np.isfinite(batch.t_sum[act]).any() else float("nan"),
        "failure_rate": float(np.nanmean(batch.failed[act])) if np.isfinite(batch.failed[act]).any() else float("nan"),
        "invalid_rate": float(1.0 - chosen_ok[act].mean()) if act.any() else float("nan"),
    }


def latency_cap_of(env: Any) -> float:
    """The scenario's T^sum cap for the Eq. 22 reward (300 s when the env has no scenario)."""
    sc = getattr(getattr(env, "unwrapped", env), "scenario", None)
    return float(sc.reward.latency_cap) if sc is not None and hasattr(sc, "reward") else 300.0


# ---------------------------------------------------------------------------- GAE


def compute_gae(rewards: np.ndarray, values: np.ndarray, dones: np.ndarray, *, gamma: float,
                lam: float, valid: np.ndarray | None = None,
                last_values: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Generalised advantage estimation over (T, N) arrays, column by column.

    ``dones[t]`` 1 when the trajectory ends after step t (no bootstrap); otherwise step t+1's
    value (``last_values`` after the last row, 0 if None) is the bootstrap. ``valid`` (T, N)
    marks real entries: an invalid step t+1 also cuts the trajectory. Returns
    ``(advantages, returns)``; returns = advantages + values are the critic's targets — with
    lam = 1 they are the discounted sums of twin-migration Eq. 25/26."""
    rewards, values = np.asarray(rewards, np.float64), np.asarray(values, np.float64)
    t_len = rewards.shape[0]
    valid = np.ones_like(rewards, bool) if valid is None else np.asarray(valid, bool)
    nxt_v = np.zeros(rewards.shape[1:]) if last_values is None else np.asarray(last_values, np.float64)
    nxt_ok = np.ones(rewards.shape[1:], bool)
    adv = np.zeros_like(rewards)
    last = np.zeros(rewards.shape[1:])
    for t in reversed(range(t_len)):
        cont = (~np.asarray(dones[t], bool)) & nxt_ok
        delta = rewards[t] + gamma * nxt_v * cont - values[t]
        last = delta + gamma * lam * cont * last
        last = np.where(valid[t], last, 0.0)
        adv[t] = last
        nxt_v, nxt_ok = values[t], valid[t]
    return adv, adv + values


# ---------------------------------------------------------------------------- replay


class ReplayBuffer:
    """Fixed-size ring buffer of single-agent transitions (o, s, K, a, r, o', s', K', done, id)
    for off-policy learners (MASAC)."""

    def __init__(self, capacity: int, layout: Layout) -> None:
        d, s, m = layout.obs_dim, layout.state_dim, layout.n_servers
        self.capacity, self.pos, self.size = int(capacity), 0, 0
        self.data = {
            "obs": np.zeros((capacity, d), np.float32), "state": np.zeros((capacity, s), np.float32),
            "mask": np.zeros((capacity, m), bool), "action": np.zeros(capacity, np.int64),
            "reward": np.zeros(capacity, np.float32), "next_obs": np.zeros((capacity, d), np.float32),
            "next_state": np.zeros((capacity, s), np.float32), "next_mask": np.zeros((capacity, m), bool),
            "done": np.zeros(capacity, np.float32), "agent": np.zeros(capacity, np.int64),
        }

    def __len__(self) -> int:
        return self.size

    def add(self, **items: np.ndarray) -> None:
        n = len(items["action"])
        for i in range(0, n, self.capacity):  # more rows than capacity: keep the newest
            chunk = {k: np.asarray(v)[i : i + self.capacity] for k, v in items.items()}
            k_n = len(chunk["action"])
            idx = (self.pos + np.arange(k_n)) % self.capacity
            for k, v in chunk.items():
                self.data[k][idx] = v
            self.pos = int((self.pos + k_n) % self.capacity)
            self.size = min(self.size + k_n, self.capacity)

    def add_episodes(self, batch: EpisodeBatch, mask_key: str = "mask") -> None:
        """Every (t, v) an agent acted at, with its successor (t+1, v) unless done."""
        t_idx, v_idx = np.nonzero(batch.active)
        nxt = np.minimum(t_idx + 1, batch.steps - 1)
        done = batch.done[t_idx, v_idx]
        mask = getattr(batch, mask_key) if mask_key == "mask" else batch.extras[mask_key]
        self.add(
            obs=batch.obs[t_idx, v_idx], state=batch.state[t_idx], mask=mask[t_idx, v_idx],
            action=batch.action[t_idx, v_idx], reward=batch.reward[t_idx, v_idx],
            next_obs=batch.obs[nxt, v_idx], next_state=batch.state[nxt],
            next_mask=mask[nxt, v_idx], done=done.astype(np.float32), agent=v_idx,
        )

    def sample(self, n: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        idx = rng.integers(0, self.size, size=n)
        return {k: torch.as_tensor(v[idx]) for k, v in self.data.items()}

    def state_dict(self) -> dict[str, Any]:
        return {"pos": self.pos, "size": self.size,
                **{k: torch.as_tensor(v[: self.size]) for k, v in self.data.items()}}

    def load_state_dict(self, st: Mapping[str, Any]) -> None:
        self.size, self.pos = int(st["size"]), int(st["pos"])
        for k in self.data:
            self.data[k][: self.size] = st[k].numpy()


# ---------------------------------------------------------------------------- checkpoints


CHECKPOINT_FORMAT = 1


def save_checkpoint(path: str | Path, config: Mapping[str, Any], state: Mapping[str, Any]) -> Path:
    """``torch.save`` of ``{"format", "config" (JSON text), "state"}``; ``state`` holds only
    tensors, state_dicts and plain Python values, so :func:`load_checkpoint` can read it with
    ``weights_only=True``. Written to a temporary file first, then renamed: a crash never
    leaves a half-written checkpoint."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save({"format": CHECKPOINT_FORMAT, "config": json.dumps(dict(config)), "state": dict(state)}, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(config, state) of a checkpoint written by :func:`save_checkpoint`."""
    blob = load_weights_only(path, "agent checkpoint")
    if not isinstance(blob, dict) or blob.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not a desim_iov agent checkpoint (format {CHECKPOINT_FORMAT})")
    return json.loads(blob["config"]), blob["state"]


# ---------------------------------------------------------------------------- evaluation policy


class ActorPolicy:
    """A trained actor as a kernel Policy (agents/base.py): greedy, deterministic
    (twin-migration Eq. 20, or Eq. 24 with ``use_mask``). ``encode`` turns a kernel
    :class:`Observation` into the env's observation vector (the env's own encoder, so training
    and evaluation see identical inputs). With the mask and no feasible server, the twin stays
    where it is (the kernel records the failure), as the heuristics do."""

    def __init__(self, name: str, actor: Actor, encode: Callable[[Observation], np.ndarray],
                 use_mask: bool) -> None:
        self.name = name
        self.actor = actor.eval()  # safe: torch's inference mode, not Python's eval
        self.encode = encode
        self.use_mask = use_mask

    def reset(self, rng: np.random.Generator) -> None:
        pass  # deterministic: no exploration stream needed

    @torch.no_grad()
    def act(self, observations: Mapping[str, Observation]) -> dict[str, int]:
        if not observations:
            return {}
        keys = list(observations)
        n_agents = self.actor.features.layout.n_agents
        ids = [vehicle_of(a) for a in keys]
        if max(ids) >= n_agents:
            raise ValueError(f"{self.name}: trained for {n_agents} vehicles, asked about vehicle {max(ids)}")
        obs = torch.as_tensor(np.stack([self.encode(observations[a]) for a in keys]))
        masks = np.stack([np.asarray(observations[a].mask, bool) for a in keys])
        d = self.actor.dist(obs, torch.as_tensor(ids), torch.as_tensor(masks) if self.use_mask else None)
        acts = d.mode().numpy()
        out = {}
        for a, x, m in zip(keys, acts, masks, strict=True):
            out[a] = int(observations[a].current) if self.use_mask and not m.any() else int(x)
        return out
