"""Agent-steps per second of the batched task-offloading slot env (desim_iov/vector) beside the
scalar slot env, in the same run, on one core.

One agent-step = one agent's decision applied (a vehicle placing or holding its tasks, a UAV
or BS setting its rule, CPU and power levels for a slot; idle vehicles do not count). Both
envs play the same policy, every action component uniformly random among the values the
agent's mask allows (drawn vectorised, not timed: only the env's reset and step calls are),
and every episode gets a fresh seed, as in training (scalar: ``reset(seed=k)``; batched:
``reseed="advance"`` with Gymnasium's next-step autoreset), so the rates include the
episodes' resets: the scalar env plays ``--episodes`` whole episodes, the batched one
``--rounds`` whole episodes per env (N = 1: four times as many), its first reset timed. The scalar env is ``parallel_env(scenario, fidelity="slot")``; the batched
one ``batched_env(scenario, N)`` for N = 1, 16, 256. Medians of ``--repeats`` runs each, the
variants interleaved. Threads are limited to one and the process is pinned to one CPU
(``--no-pin`` leaves the affinity alone).

Last line: ``speedup=<batched at N=256 / scalar>``. Usage:
``python benchmarks/bench_vector_offload.py [--scenario offload-urban] [--repeats 5] [--rounds 2]``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from desim_iov.env import parallel_env  # noqa: E402
from desim_iov.vector.env import batched_env  # noqa: E402


def _pick(mask: np.ndarray, nvec, rng: np.random.Generator) -> np.ndarray:
    """(..., 3): each component uniformly random among the values ``mask`` (..., sum nvec)
    allows (0 where none is)."""
    out, off = [], 0
    for n in nvec:
        part = mask[..., off: off + n]
        keys = np.where(part > 0, rng.random(part.shape, dtype=np.float32), -1.0)
        out.append(keys.argmax(axis=-1))
        off += n
    return np.stack(out, axis=-1)


def scalar_rate(scenario: str, episodes: int, seed0: int) -> float:
    """Agent-steps per second of env time (reset and step calls) of the scalar slot env over
    ``episodes`` whole episodes."""
    env = parallel_env(scenario, fidelity="slot")
    nvec = {a: env.action_space(a).nvec for a in env.possible_agents}
    rng = np.random.default_rng(seed0)
    done_steps, spent = 0, 0.0
    for k in range(episodes):
        t0 = time.perf_counter()
        obs, _ = env.reset(seed=seed0 + k)
        spent += time.perf_counter() - t0
        while env.agents:
            acting = env.acting_agents
            acts = {a: _pick(obs[a]["action_mask"], nvec[a], rng) for a in acting}
            t0 = time.perf_counter()
            obs, *_ = env.step(acts)
            spent += time.perf_counter() - t0
            done_steps += len(acting)
    return done_steps / spent


def batched_rate(scenario: str, n: int, rounds: int, seed0: int) -> float:
    """Agent-steps per second of env time (the first reset and every step, autoresets
    inside) of the batched env while each of its n episodes runs ``rounds`` whole episodes."""
    env = batched_env(scenario, n, reseed="advance")
    m = env.model
    rng = np.random.default_rng(seed0)
    t0 = time.perf_counter()
    obs, info = env.reset(seed=seed0)
    spent = time.perf_counter() - t0
    acting = info["acting"]
    done_steps, ended = 0, 0
    acts = np.zeros((n, m.A, 3), np.int64)
    while ended < rounds:
        for kind, sl in m.kinds.items():
            acts[:, sl] = _pick(obs[kind]["action_mask"], m.spaces.nvec[kind], rng)
        done_steps += int(acting.sum())  # an episode restarting this step applies no action
        t0 = time.perf_counter()
        obs, _, _, _, info = env.step(acts)
        spent += time.perf_counter() - t0
        acting = info["acting"]
        ended += bool(info["ended"].all())  # every episode of the batch has the same length
    return done_steps / spent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="offload-urban")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--episodes", type=int, default=4, help="scalar run: whole episodes")
    ap.add_argument("--rounds", type=int, default=2, help="batched runs: whole episodes per env")
    ap.add_argument("--no-pin", action="store_true", help="do not pin the process to one CPU")
    args = ap.parse_args()
    if not args.no_pin and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    sizes = (1, 16, 256)
    batched_rate(args.scenario, 256, 1, 10**8)  # warm-up (imports, caches), not timed
    runs: dict[object, list[float]] = {"scalar": [], **{n: [] for n in sizes}}
    for r in range(args.repeats):  # interleaved, so that a change of load hits every variant
        runs["scalar"].append(scalar_rate(args.scenario, args.episodes, 10**6 * (r + 1)))
        for n in sizes:
            runs[n].append(batched_rate(args.scenario, n, args.rounds * (4 if n == 1 else 1), 10**7 * (r + 1)))
    res = {k: statistics.median(v) for k, v in runs.items()}
    print(f"{args.scenario} slot fidelity, one core, random masked actions, a fresh seed per episode; "
          f"env time only (reset and step calls); medians of {args.repeats}")
    print(f"scalar parallel_env     {res['scalar']:>12,.0f} agent-steps/s")
    for n in sizes:
        print(f"batched N={n:<4}          {res[n]:>12,.0f} agent-steps/s  {res[n] / res['scalar']:7.1f}x scalar")
    print(f"speedup={res[256] / res['scalar']:.1f}")


if __name__ == "__main__":
    main()
