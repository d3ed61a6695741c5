"""Environment steps per second (PettingZoo ParallelEnv), slot fidelity beside packet fidelity.

One step = one decision epoch for all agents (twin migration: the driving vehicles; task
offloading: vehicles, UAVs and BSs). Random masked actions (each agent's action space sampled
under its mask); the episode restarts at its end. Medians of ``--repeats`` runs of ``--steps`` steps each. Last line:
``steps_per_s=<slot fidelity>``. Usage: ``python benchmarks/bench_env.py [--scenario twin-city]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

from desim_iov.env import parallel_env


def rate(scenario: str, fidelity: str, steps: int) -> float:
    env = parallel_env(scenario, fidelity=fidelity)
    for i, a in enumerate(env.possible_agents):
        env.action_space(a).seed(i)
    obs, _ = env.reset(seed=0)
    t0 = time.perf_counter()
    for _ in range(steps):
        if not env.agents:
            obs, _ = env.reset()
        acts = {a: env.action_space(a).sample(mask=obs[a]["action_mask"]) for a in env.agents}
        obs, *_ = env.step(acts)
    return steps / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="twin-city")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    res = {}
    for fid, steps in (("packet", max(20, args.steps // 10)), ("slot", args.steps)):
        res[fid] = statistics.median(rate(args.scenario, fid, steps) for _ in range(args.repeats))
        print(f"{args.scenario} {fid:>6} fidelity: {res[fid]:,.1f} env steps/s (median of {args.repeats})")
    print(f"slot/packet speed-up: {res['slot'] / res['packet']:.1f}x")
    print(f"steps_per_s={res['slot']:.1f}")


if __name__ == "__main__":
    main()
