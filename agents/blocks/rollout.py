"""Whole episodes over the PettingZoo env laid out as (step, agent) arrays, and the
learning-curve numbers of a batch of them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


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


def collect_episodes(env: Any, act_fn: ActFn, seeds: list[int], latency_cap: float = 300.0) -> EpisodeBatch:
    """Run one episode per seed with ``act_fn(obs (N, D), mask (N, M) bool, state (S,),
    ids (N,)) -> (actions (N,), extras)`` for the N agents acting at each step. T^sum (Eq. 13,
    capped at ``latency_cap``) and xi (Eq. 14) per decision are the env's ``infos``.

    ``env`` may be a batched slot env (desim_iov.vector, ``autoreset_mode="Disabled"``): its
    episodes then run ``env.num_envs`` at a time (:func:`collect_batched`), laid out exactly as
    here, one after the other in seed order."""
    if hasattr(env, "num_envs") and hasattr(env, "model"):
        return collect_batched(env, act_fn, seeds, latency_cap)
    agents = list(env.possible_agents)
    col = {a: i for i, a in enumerate(agents)}
    n_v = len(agents)
    rec: dict[str, list] = {k: [] for k in ("obs", "mask", "state", "active", "action", "reward", "done",
                                            "t_sum", "failed")}
    extras: dict[str, list] = {}
    returns: list[float] = []
    for seed in seeds:
        obs, _ = env.reset(seed=int(seed))
        ep_ret = np.zeros(n_v)
        seen = np.zeros(n_v, bool)
        while env.agents:
            acting = list(env.agents)
            ids = np.array([col[a] for a in acting])
            o = np.stack([obs[a]["observation"] for a in acting])
            m = np.stack([obs[a]["action_mask"] for a in acting]).astype(bool)
            state = np.asarray(env.state(), np.float32)
            acts, ext = act_fn(o, m, state, ids)
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


def collect_batched(env: Any, act_fn: ActFn, seeds: list[int], latency_cap: float = 300.0) -> EpisodeBatch:
    """:func:`collect_episodes` on a batched env: ``env.num_envs`` episodes at a time, each step
    one ``act_fn`` call for the agents acting in all of them (``state`` (S,) when they belong
    to one episode, as in the scalar loop, else one row (K, S) per agent). With one env (or
    one episode per step) the calls, and so the batch, equal the scalar loop's."""
    from gymnasium.vector import AutoresetMode

    if env.autoreset_mode != AutoresetMode.DISABLED:
        raise ValueError("collect_episodes needs a batched env with autoreset_mode='Disabled'")
    n_env, n_v = env.num_envs, env.num_agents
    keys = ("obs", "mask", "state", "active", "action", "reward", "done", "t_sum", "failed")
    episodes: list[dict[str, list]] = []
    returns: list[float] = []
    for start in range(0, len(seeds), n_env):
        chunk = [int(x) for x in seeds[start : start + n_env]]
        k = len(chunk)
        on = np.arange(n_env) < k
        env_seeds = list(env.seeds)
        env_seeds[:k] = chunk
        obs, info = env.reset(seed=env_seeds, options={"reset_mask": on})
        acting = info["acting"] & on[:, None]
        recs = [{key: [] for key in keys} | {"extras": {}} for _ in range(k)]
        ep_ret, seen = np.zeros((k, n_v)), np.zeros((k, n_v), bool)
        while acting.any():
            e_idx, ids = np.nonzero(acting)
            o = obs["observation"][e_idx, ids]
            m = obs["action_mask"][e_idx, ids].astype(bool)
            states = np.asarray(obs["observation"], np.float32).reshape(n_env, -1)
            one = len(np.unique(e_idx)) == 1
            acts, ext = act_fn(o, m, states[e_idx[0]] if one else states[e_idx], ids)
            full = np.zeros((n_env, n_v), np.int64)
            full[e_idx, ids] = acts
            nobs, rew, term, trunc, info = env.step(full)
            for e in np.unique(e_idx).tolist():
                sel = e_idx == e
                i = ids[sel]
                d_obs = np.zeros((n_v, o.shape[1]), np.float32)
                d_mask = np.zeros((n_v, m.shape[1]), bool)
                act, r = np.zeros(n_v, np.int64), np.zeros(n_v, np.float32)
                active = np.zeros(n_v, bool)
                t_sum, failed = np.full(n_v, np.nan), np.full(n_v, np.nan)
                d_obs[i], d_mask[i], act[i], active[i] = o[sel], m[sel], acts[sel], True
                r[i] = rew[e, i]
                done = (term[e] | trunc[e]) & active
                t_sum[i], failed[i] = info["t_sum"][e, i], info["failed"][e, i]
                t_sum = np.minimum(t_sum, latency_cap)
                ep_ret[e] += r
                seen[e] |= active
                rec = recs[e]
                for key, v in (("obs", d_obs), ("mask", d_mask), ("state", states[e]), ("active", active),
                               ("action", act), ("reward", r), ("done", done), ("t_sum", t_sum),
                               ("failed", failed)):
                    rec[key].append(v)
                for key, v in ext.items():
                    col = np.zeros(n_v, np.asarray(v).dtype)
                    col[i] = np.asarray(v)[sel]
                    rec["extras"].setdefault(key, []).append(col)
            obs, acting = nobs, info["acting"] & on[:, None]
        for e, rec in enumerate(recs):
            if rec["done"]:  # the episode's last step ends every trajectory still running
                rec["done"][-1] = rec["done"][-1] | rec["active"][-1]
            returns += ep_ret[e][seen[e]].tolist()
            episodes.append(rec)
    cat = {key: np.stack([x for rec in episodes for x in rec[key]]) for key in keys}
    ext_keys = episodes[0]["extras"].keys() if episodes else []
    extras = {key: np.stack([x for rec in episodes for x in rec["extras"][key]]) for key in ext_keys}
    return EpisodeBatch(**cat, extras=extras, episode_returns=returns)


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
