"""Agent-steps per second of the batched slot env (desim_iov/vector) beside the scalar slot env,
in the same run, on one core.

One agent-step = one agent's decision applied (twin migration: one vehicle choosing its twin's
host for a slot). Both envs play the same policy, uniformly random among the servers each
agent's mask allows (one vectorised draw per step), and every episode gets a fresh seed, as
in training (scalar: ``reset(seed=k)``; batched: ``reseed="advance"`` with Gymnasium's
next-step autoreset), so the rates include the episodes' resets. The scalar env is
``parallel_env(scenario, fidelity="slot")``; the batched one ``batched_env(scenario, N)`` for
N = 1, 16, 256. Medians of ``--repeats`` runs each. Threads are limited to one and the
process is pinned to one CPU (``--no-pin`` leaves the affinity alone).

Last line: ``speedup=<batched at N=256 / scalar>``. Usage:
``python benchmarks/bench_vector_env.py [--scenario twin-city] [--repeats 5]``.
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


def _pick(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random allowed action per row of ``mask`` (..., M); 0 where none is."""
    keys = np.where(mask > 0, rng.random(mask.shape), -1.0)
    return keys.argmax(axis=-1)


def scalar_rate(scenario: str, agent_steps: int, seed0: int) -> float:
    env = parallel_env(scenario, fidelity="slot")
    rng = np.random.default_rng(seed0)
    seed = seed0
    obs, _ = env.reset(seed=seed)
    done_steps = 0
    t0 = time.perf_counter()
    while done_steps < agent_steps:
        if not env.agents:
            seed += 1
            obs, _ = env.reset(seed=seed)
        agents = env.agents
        acts = _pick(np.stack([obs[a]["action_mask"] for a in agents]), rng)
        obs, *_ = env.step(dict(zip(agents, acts.tolist(), strict=True)))
        done_steps += len(agents)
    return done_steps / (time.perf_counter() - t0)


def batched_rate(scenario: str, n: int, agent_steps: int, seed0: int) -> float:
    env = batched_env(scenario, n, reseed="advance")
    rng = np.random.default_rng(seed0)
    obs, info = env.reset(seed=seed0)
    acting = info["acting"]
    done_steps = 0
    t0 = time.perf_counter()
    while done_steps < agent_steps:
        acts = _pick(obs["action_mask"], rng)
        done_steps += int(acting.sum())  # an episode restarting this step applies no action
        obs, _, _, _, info = env.step(acts)
        acting = info["acting"]
    return done_steps / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="twin-city")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--agent-steps", type=int, default=4000, help="per scalar / N=1 run")
    ap.add_argument("--no-pin", action="store_true", help="do not pin the process to one CPU")
    args = ap.parse_args()
    if not args.no_pin and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    budgets = {1: args.agent_steps, 16: 4 * args.agent_steps, 256: 40 * args.agent_steps}
    batched_rate(args.scenario, 256, 2000, 10**8)  # warm-up (imports, caches), not timed
    res: dict[str, float] = {}
    res["scalar"] = statistics.median(scalar_rate(args.scenario, args.agent_steps, 10**6 * (r + 1))
                                      for r in range(args.repeats))
    print(f"{args.scenario} slot fidelity, one core, random masked actions, a fresh seed per episode")
    print(f"scalar parallel_env     {res['scalar']:>12,.0f} agent-steps/s (median of {args.repeats})")
    for n, budget in budgets.items():
        res[n] = statistics.median(batched_rate(args.scenario, n, budget, 10**7 * (r + 1))
                                   for r in range(args.repeats))
        print(f"batched N={n:<4}          {res[n]:>12,.0f} agent-steps/s  {res[n] / res['scalar']:7.1f}x scalar")
    print(f"speedup={res[256] / res['scalar']:.1f}")


if __name__ == "__main__":
    main()
