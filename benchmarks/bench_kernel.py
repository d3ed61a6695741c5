"""Kernel throughput against a bare-SimPy model with the same number of events per packet.

Runs the default scenario (twin-city, greedy) in packet fidelity, trace written, and in the
same process a bare SimPy model: one generator process per vehicle at the same packet rate,
one process per packet doing nothing but the same count of timeouts. Both are timed in
alternation, ``--repeats`` times; the medians give the ratio, printed last:
``ratio=<kernel packets/s / bare packets/s>`` (equal events per packet, so it is also the ratio
of event rates). Usage: ``python benchmarks/bench_kernel.py [--duration 300] [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import simpy

from agents.base import make_policy
from desim_iov.config import load_scenario
from desim_iov.sim import Simulation


class CountingEnvironment(simpy.Environment):
    """Counts every scheduled event (used in a separate, untimed pass)."""

    def __init__(self) -> None:
        super().__init__()
        self.n_events = 0

    def schedule(self, event, priority=1, delay=0):  # noqa: D401 - SimPy's signature
        self.n_events += 1
        super().schedule(event, priority, delay)


def kernel_run(duration: float, seed: int, out: Path, env: simpy.Environment | None = None):
    sc = load_scenario("twin-city", [f"duration={duration}", f"seed={seed}"])
    sim = Simulation(sc, make_policy("greedy"), trace_path=str(out), env=env)
    t0 = time.perf_counter()
    stats = sim.run()
    return time.perf_counter() - t0, sum(stats.generated), sim


def bare_run(n_vehicles: int, rate_pps: float, duration: float, timeouts_per_packet: int,
             env: simpy.Environment | None = None):
    env = env or simpy.Environment()
    rng = np.random.default_rng(0)
    count = [0]

    def packet():
        for _ in range(timeouts_per_packet):
            yield env.timeout(1e-3)

    def source():
        while True:
            yield env.timeout(rng.exponential(1.0 / rate_pps))
            count[0] += 1
            env.process(packet())

    for _ in range(n_vehicles):
        env.process(source())
    t0 = time.perf_counter()
    env.run(until=duration)
    return time.perf_counter() - t0, count[0], env


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=300.0, help="simulated seconds per run")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    sc = load_scenario("twin-city")
    rate_pps = sc.vehicles.traffic.data_rate / sc.vehicles.traffic.packet_size
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.h5"
        # untimed pass: events per packet of the kernel
        cenv = CountingEnvironment()
        _, n_k, _ = kernel_run(args.duration, 0, out, env=cenv)
        epp_kernel = cenv.n_events / n_k
        # bare model: generator timeout + process init + k timeouts + process end = k + 3
        k = max(1, round(epp_kernel - 3))
        benv = CountingEnvironment()
        _, n_b, _ = bare_run(sc.vehicles.count, rate_pps, args.duration, k, env=benv)
        epp_bare = benv.n_events / n_b
        kernel_pps, bare_pps = [], []
        for r in range(args.repeats):
            wall, n, _ = kernel_run(args.duration, 0, out)
            kernel_pps.append(n / wall)
            wall, n, _ = bare_run(sc.vehicles.count, rate_pps, args.duration, k)
            bare_pps.append(n / wall)
            print(f"repeat {r + 1}: kernel {kernel_pps[-1]:,.0f} packets/s, bare {bare_pps[-1]:,.0f} packets/s")
    km, bm = statistics.median(kernel_pps), statistics.median(bare_pps)
    print(f"scenario twin-city/greedy, {args.duration:g} sim-s, {n_k} packets per run")
    print(f"events/packet: kernel {epp_kernel:.3f}, bare {epp_bare:.3f} ({k} timeouts per packet)")
    print(f"kernel: {km:,.0f} packets/s, {km * epp_kernel:,.0f} events/s (median of {args.repeats})")
    print(f"bare:   {bm:,.0f} packets/s, {bm * epp_bare:,.0f} events/s (median of {args.repeats})")
    print(f"ratio={km / bm:.3f}")


if __name__ == "__main__":
    main()
