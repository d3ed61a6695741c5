"""Whole task-offloading episodes from the batched slot env (desim_iov/vector, N episodes in
lock-step), handed to an offloading learner exactly as :func:`agents.offload_blocks.play_episode`
hands the scalar env's: per step the kinds' stacked observations before and after
(:class:`~agents.offload_blocks.KindStep`), the actions, and the scalar env's reward and info
dicts (same keys, same order, NaN as None), one episode after the other in seed order.

The learner's ``act`` runs for each running episode in turn at every step (its random draws
interleave across the N episodes; with N = 1 they are the scalar loop's, so training equals
the scalar env's, tests/test_vector_offload_train.py); ``on_step`` sees each episode's steps
only once the batch has finished, in order. A learner that keeps state between ``act`` and
``on_step`` (PPO's log-probs and values) passes ``saved=(get, set)``: taken after each
``act``, restored before its step's ``on_step``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from agents.offload_blocks import KindStep, OffloadLayout, Step

#: the scalar app's info keys per agent kind, in its order (RewardScorer.vehicle_terms /
#: relay_terms, then reward, incentive, penalty, refused); the batched env's name for each
_VEHICLE = ("latency", "energy", "qos", "subtasks", "changed")
_RELAY = ("handled", "energy", "busy", "latency")
_ADJ = (("reward", "base_reward"), ("incentive", "incentive"), ("penalty", "penalty"), ("refused", "refused"))


def is_batched(env: Any) -> bool:
    return hasattr(env, "num_envs") and hasattr(env, "model")


def _kinds(layout: OffloadLayout, model: Any, obs: dict, acting: np.ndarray, e: int) -> dict[str, KindStep]:
    return {kind: KindStep(np.array(obs[kind]["observation"][e], np.float32),
                           obs[kind]["action_mask"][e].astype(bool), acting[e, model.kinds[kind]].copy())
            for kind in layout.kinds}


def _plain(v: Any) -> Any:
    if isinstance(v, bool | np.bool_):
        return bool(v)
    if isinstance(v, int | np.integer):
        return int(v)
    v = float(v)
    return None if math.isnan(v) else v


def scalar_dicts(model: Any, agents: list[str], rew: np.ndarray, info: dict, acted: np.ndarray,
                 e: int) -> tuple[dict[str, float], dict[str, dict[str, Any]]]:
    """Episode ``e``'s step as DesimParallelEnv.step returns its rewards and infos: the acting
    agents' rewards in agent order, then 0.0 for the idle ones; ``{"acting": False}`` for an
    idle agent, the app's terms for an acting one (NaN as None)."""
    V = model.V
    rewards = {a: float(rew[e, i]) for i, a in enumerate(agents) if acted[e, i]}
    rewards.update({a: 0.0 for i, a in enumerate(agents) if not acted[e, i]})
    infos: dict[str, dict[str, Any]] = {}
    for i, a in enumerate(agents):
        if not acted[e, i]:
            infos[a] = {"acting": False}
            continue
        keys = _VEHICLE if i < V else _RELAY
        d = {k: _plain(info[k][e, i]) for k in keys}
        d.update({k: _plain(info[b][e, i]) for k, b in _ADJ})
        infos[a] = d
    return rewards, infos


def play_batched(env: Any, layout: OffloadLayout, seeds: list[int],
                 act: Callable[[dict[str, KindStep]], dict[str, np.ndarray]],
                 on_step: Callable[[Step], None], on_end: Callable[[], None],
                 saved: tuple[Callable[[], Any], Callable[[Any], None]] | None = None) -> None:
    """One episode per seed on a batched env (``autoreset_mode="Disabled"``), ``env.num_envs``
    at a time; ``on_step`` for each step and ``on_end`` after each episode, in seed order."""
    from gymnasium.vector import AutoresetMode

    if env.autoreset_mode != AutoresetMode.DISABLED:
        raise ValueError("batched offloading rollouts need a batched env with autoreset_mode='Disabled'")
    m, n, agents = env.model, env.num_envs, list(env.possible_agents)
    col = {a: i for i, a in enumerate(agents)}
    for start in range(0, len(seeds), n):
        chunk = [int(x) for x in seeds[start: start + n]]
        k = len(chunk)
        on = np.arange(n) < k
        env_seeds = list(env.seeds)
        env_seeds[:k] = chunk
        obs, info = env.reset(seed=env_seeds, options={"reset_mask": on})
        steps: list[list[tuple[Any, Step]]] = [[] for _ in range(k)]
        run = on.copy()
        while run.any():
            acted = info["acting"].copy()
            acts = np.zeros((n, len(agents), 3), np.int64)
            before, chosen, kept = {}, {}, {}
            for e in np.flatnonzero(run).tolist():
                before[e] = _kinds(layout, m, obs, acted, e)
                chosen[e] = act(before[e])
                kept[e] = saved[0]() if saved else None
                for a, comp in chosen[e].items():
                    acts[e, col[a]] = np.asarray(comp, np.int64)
            obs, rew, _, _, info = env.step(acts)
            for e in np.flatnonzero(run).tolist():
                done = bool(info["ended"][e])
                rewards, infos = scalar_dicts(m, agents, rew, info, acted, e)
                after = _kinds(layout, m, obs, info["acting"], e)
                steps[e].append((kept[e], Step(before[e], chosen[e], rewards, infos, after, done)))
            run &= ~info["ended"]
        for e in range(k):
            for state, step in steps[e]:
                if saved:
                    saved[1](state)
                on_step(step)
            on_end()
