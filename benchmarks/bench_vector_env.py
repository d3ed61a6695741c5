"""Agent-steps per second of the batched slot env (desim_iov/vector) beside the scalar slot env,
in the same run, on one core.

One agent-step = one agent's decision applied (twin migration: one vehicle choosing its twin's
host for a slot). Both envs play the same policy, uniformly random among the servers each
agent's mask allows (one vectorised draw per step, not timed: only the env's reset and step
calls are), and every episode gets a fresh seed, as in training (scalar: ``reset(seed=k)``;
batched: ``reseed="advance"`` with Gymnasium's next-step autoreset), so the rates include
the episodes' resets. The scalar env is ``parallel_env(scenario, fidelity="slot")``; the
batched one ``batched_env(scenario, N)`` for N = 1, 16, 256. Medians of ``--repeats`` runs
each, the variants interleaved. Threads are limited to one and the process is pinned to one
CPU (``--no-pin`` leaves the affinity alone).

Each variant's line shows the median and, in brackets, the lowest and highest of the repeats;
the line before the last gives the spread of the per-repeat ratios (N=256 over the scalar run
of the same repeat), which tells a shared machine's load apart from a change of speed.
Last line: ``speedup=<batched at N=256 / scalar>`` (the ratio of the medians). Usage:
``python benchmarks/bench_vector_env.py [--scenario twin-city] [--repeats 7]``.
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
    keys = np.where(mask > 0, rng.random(mask.shape, dtype=np.float32), -1.0)
    return keys.argmax(axis=-1)


def scalar_rate(scenario: str, agent_steps: int, seed0: int) -> float:
    """Agent-steps per second of env time (reset and step calls) of the scalar slot env."""
    env = parallel_env(scenario, fidelity="slot")
    rng = np.random.default_rng(seed0)
    seed = seed0
    obs, _ = env.reset(seed=seed)
    done_steps, spent = 0, 0.0
    while done_steps < agent_steps:
        t0 = time.perf_counter()
        if not env.agents:
            seed += 1
            obs, _ = env.reset(seed=seed)
        spent += time.perf_counter() - t0
        agents = env.agents
        acts = dict(zip(agents, _pick(np.stack([obs[a]["action_mask"] for a in agents]), rng).tolist(),
                        strict=True))
        t0 = time.perf_counter()
        obs, *_ = env.step(acts)
        spent += time.perf_counter() - t0
        done_steps += len(agents)
    return done_steps / spent


def batched_rate(scenario: str, n: int, agent_steps: int, seed0: int) -> float:
    """Agent-steps per second of env time (step calls, autoresets inside) of the batched env."""
    env = batched_env(scenario, n, reseed="advance")
    rng = np.random.default_rng(seed0)
    obs, info = env.reset(seed=seed0)
    acting = info["acting"]
    done_steps, spent = 0, 0.0
    while done_steps < agent_steps:
        acts = _pick(obs["action_mask"], rng)
        done_steps += int(acting.sum())  # an episode restarting this step applies no action
        t0 = time.perf_counter()
        obs, _, _, _, info = env.step(acts)
        spent += time.perf_counter() - t0
        acting = info["acting"]
    return done_steps / spent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="twin-city")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--agent-steps", type=int, default=4000, help="per scalar / N=1 run")
    ap.add_argument("--no-pin", action="store_true", help="do not pin the process to one CPU")
    args = ap.parse_args()
    if not args.no_pin and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    sizes = {1: args.agent_steps, 16: 4 * args.agent_steps, 256: 40 * args.agent_steps}
    batched_rate(args.scenario, 256, 2000, 10**8)  # warm-up (imports, caches), not timed
    runs: dict[object, list[float]] = {"scalar": [], **{n: [] for n in sizes}}
    for r in range(args.repeats):  # interleaved, so that a change of load hits every variant
        runs["scalar"].append(scalar_rate(args.scenario, args.agent_steps, 10**6 * (r + 1)))
        for n, budget in sizes.items():
            runs[n].append(batched_rate(args.scenario, n, budget, 10**7 * (r + 1)))
    res = {k: statistics.median(v) for k, v in runs.items()}
    span = {k: f"[{min(v):,.0f} .. {max(v):,.0f}]" for k, v in runs.items()}
    print(f"{args.scenario} slot fidelity, one core, random masked actions, a fresh seed per episode; "
          f"env time only (reset and step calls); medians of {args.repeats} [lowest .. highest]")
    print(f"scalar parallel_env     {res['scalar']:>12,.0f} agent-steps/s  {span['scalar']}")
    for n in sizes:
        print(f"batched N={n:<4}          {res[n]:>12,.0f} agent-steps/s  {res[n] / res['scalar']:7.1f}x scalar  "
              f"{span[n]}")
    ratios = sorted(b / a for a, b in zip(runs["scalar"], runs[256], strict=True))
    print("per-repeat N=256/scalar: " + " ".join(f"{r:.1f}" for r in ratios)
          + f" (median {statistics.median(ratios):.1f})")
    print(f"speedup={res[256] / res['scalar']:.1f}")


if __name__ == "__main__":
    main()
