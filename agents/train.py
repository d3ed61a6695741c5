"""Training and loading API of the learning agents (the CLI's ``train`` and ``eval`` wire in
here).

``train(name, env_fn, updates=..., seed=..., out_dir=...)`` writes into ``out_dir``:

- ``config.json``: agent, hyperparameters, seed, the env's layout and scenario;
- ``learning_curve.csv``: one row per update (see :data:`CURVE_COLUMNS`);
- ``checkpoint.pt``: networks, optimisers, normalisers, RNG streams and counters, every
  ``save_every`` updates and at the end (``torch.load(..., weights_only=True)`` reads it).

``resume=True`` reloads ``checkpoint.pt`` and continues the update counter up to ``updates``
(the *total*: re-running the same command after a crash finishes the job); curve rows written
after the last checkpoint are dropped, since those updates are redone.

``load_policy(name, checkpoint, scenario)`` returns a deterministic Policy (greedy actor,
Eq. 20/24) for ``Simulation(scenario, policy)``; agents/registry.py names the four agents
(``make_policy("dm-mappo", checkpoint=..., scenario=...)`` calls it).
"""

from __future__ import annotations

import csv
import dataclasses
import importlib
import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agents.blocks.checkpoints import load_checkpoint, save_checkpoint
from agents.blocks.layout import Layout
from agents.blocks.networks import Actor
from agents.blocks.policy import ActorPolicy
from agents.registry import ALL_LEARNERS

CURVE_COLUMNS = [
    "update", "episodes", "env_steps", "agent_steps", "wall_s", "episode_reward_mean",
    "latency_mean", "failure_rate", "invalid_rate", "loss_actor", "loss_critic", "entropy",
    "approx_kl", "clip_frac", "alpha", "rollout_s", "update_s",
    # task offloading: vehicle transmit energy and QoS per episode, Alg. 3's rounds and the
    # share of actions it changed (empty for the twin-migration learners)
    "energy_mean", "qos_mean", "nash_rounds", "nash_changed",
]


def _agent(name: str) -> tuple[Any, bool]:
    """(algorithm module, use_mask) of a learner declared in agents/registry.py."""
    if name not in ALL_LEARNERS:
        raise KeyError(f"unknown learning agent {name!r} (allowed: {', '.join(ALL_LEARNERS)})")
    lr = ALL_LEARNERS[name]
    return importlib.import_module(lr.algorithm), lr.use_mask


def make_config(name: str, **hyper: Any) -> Any:
    """The algorithm's Config with the variant's fixed fields (registry ``hyper``) and
    ``hyper`` applied; unknown names raise TypeError."""
    mod, use_mask = _agent(name)
    fields = {f.name for f in dataclasses.fields(mod.Config)} - {"use_mask"}
    bad = sorted(set(hyper) - fields)
    if bad:
        raise TypeError(f"{name}: unknown hyperparameter(s) {bad} (allowed: {', '.join(sorted(fields))})")
    return mod.Config(use_mask=use_mask, **{**ALL_LEARNERS[name].hyper, **hyper})


def scenario_for(name: str, scenario: Any) -> Any:
    """``scenario`` as learner ``name`` trains and runs on it: its app checked, the variant's
    fixed settings applied (the ablations: no forecaster, no digital twin). One-line
    ValueError when the scenario's app is not the learner's."""
    _agent(name)  # unknown names: the one-line KeyError
    lr = ALL_LEARNERS[name]
    if scenario.app != lr.app:
        raise ValueError(f"learner {name!r} is for app {lr.app}; scenario {scenario.name!r} is {scenario.app}")
    if not lr.overrides:
        return scenario
    from desim_iov.env import make_scenario

    return make_scenario(scenario, **dict(o.split("=", 1) for o in lr.overrides))


def _scenario_json(env: Any) -> Any:
    sc = getattr(getattr(env, "unwrapped", env), "scenario", None)
    return sc.model_dump(mode="json") if hasattr(sc, "model_dump") else None


def _read_curve(path: Path, upto: int) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return [r for r in csv.DictReader(f) if int(r["update"]) <= upto]


def train(agent_name: str, env_fn: Callable[[], Any], *, updates: int, seed: int, out_dir: Path | str,
          resume: bool = False, progress: bool = True, save_every: int = 10,
          on_update: Callable[[int, int], None] | None = None, **hyper: Any) -> Path:
    """Train ``agent_name`` (any of ``ALL_LEARNERS``) on ``env_fn()`` until ``updates`` updates
    in total; return the checkpoint's path. ``on_update(done, updates)`` is called after each
    update (a sweep's progress across processes). ``hyper`` overrides the
    algorithm's ``Config`` fields (agents/dm_mappo.py, agents/masac.py)."""
    if updates < 0:
        raise ValueError(f"updates must be >= 0, got {updates}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ckpt, curve_path, cfg_path = out / "checkpoint.pt", out / "learning_curve.csv", out / "config.json"
    mod, _ = _agent(agent_name)
    env = env_fn()
    start, wall0 = 0, 0.0
    if resume:
        if not ckpt.exists():
            raise FileNotFoundError(f"resume: no checkpoint at {ckpt}")
        saved_cfg, state = load_checkpoint(ckpt)
        if saved_cfg["agent"] != agent_name:
            raise ValueError(f"resume: {ckpt} is a {saved_cfg['agent']!r} checkpoint, not {agent_name!r}")
        hyper = {**saved_cfg["hyper"], **hyper}
        hyper.pop("use_mask", None)
        seed = int(saved_cfg["seed"])
        cfg = make_config(agent_name, **hyper)
        learner = mod.Learner(env, cfg, seed)
        learner.load_state_dict(state["learner"])
        start, wall0 = int(state["update"]), float(state["wall_s"])
    else:
        cfg = make_config(agent_name, **hyper)
        learner = mod.Learner(env, cfg, seed)
    if hasattr(learner, "plan"):  # exploration schedules that span the whole budget
        learner.plan(updates)
    torch_threads = torch.get_num_threads()
    layout = learner.layout
    config = {
        "agent": agent_name, "seed": seed, "hyper": dataclasses.asdict(cfg), "layout": layout.as_dict(),
        "scenario": _scenario_json(env), "save_every": save_every, "torch_threads": torch_threads,
        "torch_version": torch.__version__,
    }
    cfg_path.write_text(json.dumps(config, indent=2) + "\n")

    rows = _read_curve(curve_path, start) if resume else []
    with curve_path.open("w", newline="") as f:
        w = csv.DictWriter(f, CURVE_COLUMNS)
        w.writeheader()
        w.writerows({k: r.get(k, "") for k in CURVE_COLUMNS} for r in rows)

    def save(update: int, wall: float) -> None:
        save_checkpoint(ckpt, config, {"update": update, "wall_s": wall, "learner": learner.state_dict()})

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=updates, initial=min(start, updates), desc=f"train {agent_name}", unit="upd")
    t0 = time.perf_counter()
    update = start
    try:
        with curve_path.open("a", newline="") as f:
            w = csv.DictWriter(f, CURVE_COLUMNS)
            for update in range(start + 1, updates + 1):
                m = learner.update()
                _check_update(update, m, learner, ckpt)
                wall = wall0 + time.perf_counter() - t0
                row = {"update": update, "episodes": learner.episodes, "env_steps": learner.env_steps,
                       "agent_steps": learner.agent_steps, "wall_s": round(wall, 3), **m}
                w.writerow({k: _fmt(row.get(k, "")) for k in CURVE_COLUMNS})
                f.flush()
                if update % save_every == 0 or update == updates:
                    save(update, wall)
                if on_update is not None:
                    on_update(update, updates)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(R=f"{m['episode_reward_mean']:.2f}", T=f"{m['latency_mean']:.2f}",
                                    fail=f"{m['failure_rate']:.3f}")
        if update == start and not resume:  # updates == 0: still leave this run's checkpoint
            save(update, wall0)  # (not a stale one from an earlier run in out_dir)
    finally:
        if bar is not None:
            bar.close()
        close = getattr(env, "close", None)
        if close is not None:
            close()
    return ckpt


class TrainingDiverged(ValueError):
    """NaN/inf in a loss, a gradient norm or a weight; ``str(e)`` is one line naming the update
    and the quantity. The checkpoint on disk is the last one saved before it (never NaN)."""


def _check_update(update: int, metrics: dict[str, Any], learner: Any, ckpt: Path) -> None:
    """Stop at the first update with an infinite loss or statistic, or a NaN/inf weight, before
    anything of it is written (issue 14 item 6: learning never goes silent). A NaN statistic
    alone means "not computed in this update" (a learner before its first gradient step)."""
    where = f"the checkpoint {ckpt} keeps an earlier update" if ckpt.exists() else "no checkpoint was written"
    for k, v in metrics.items():
        if isinstance(v, float) and math.isinf(v):
            raise TrainingDiverged(f"update {update}: {k} is {v}; {where}")
    for name, t in _tensors(learner.state_dict(), ""):
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise TrainingDiverged(f"update {update}: non-finite weights in {name}; {where}")


def _tensors(state: Any, prefix: str):
    if isinstance(state, torch.Tensor):
        yield prefix, state
    elif isinstance(state, dict):
        for k, v in state.items():
            yield from _tensors(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(state, (list, tuple)):
        for i, v in enumerate(state):
            yield from _tensors(v, f"{prefix}[{i}]")


def _fmt(v: Any) -> Any:
    if isinstance(v, float):
        return "" if np.isnan(v) else f"{v:.6g}"
    return v


# ---------------------------------------------------------------------------- evaluation


def load_policy(agent_name: str, checkpoint: str | Path, scenario: Any) -> ActorPolicy:
    """The trained actor of ``checkpoint`` as a deterministic Policy for ``scenario`` (a
    preset name, YAML path or Scenario with the same vehicles and servers as in training)."""
    from desim_iov.env import DesimParallelEnv, make_scenario

    _agent(agent_name)
    cfg, state = load_checkpoint(checkpoint)
    if cfg["agent"] != agent_name:
        raise ValueError(f"{checkpoint}: a {cfg['agent']!r} checkpoint, not {agent_name!r}")
    sc = make_scenario(scenario) if isinstance(scenario, str) else scenario
    if ALL_LEARNERS[agent_name].app == "task_offloading":
        from agents.offload_policy import load_offload_policy

        return load_offload_policy(agent_name, checkpoint, cfg, state, sc)
    encoder = DesimParallelEnv(sc)
    layout = Layout.of_env(encoder)
    trained = Layout(cfg["layout"]["n_agents"], cfg["layout"]["n_servers"], tuple(cfg["layout"]["kinds"]))
    if layout != trained:
        raise ValueError(
            f"{checkpoint}: trained for {trained.n_agents} vehicles and {trained.n_servers} servers, "
            f"scenario {sc.name!r} has {layout.n_agents} and {layout.n_servers} (or other server kinds)")
    hyper = cfg["hyper"]
    actor = Actor(trained, hyper["hidden"], hyper["actor_arch"])
    actor.load_state_dict(state["learner"]["actor"])

    def encode(o: Any) -> np.ndarray:
        return encoder.encode(o)["observation"]  # the env's own Eq. 19 scaling

    return ActorPolicy(agent_name, actor, encode, bool(hyper["use_mask"]))

