"""Kernel throughput against a bare-SimPy model with the same number of events per packet.

Runs the default scenario (twin-city, greedy) in packet fidelity, trace written, and in the
same process a bare SimPy model of the same event schedule: one generator process per vehicle
at the same packet rate, one process per packet doing nothing but the same mean count of
timeouts (checked within 5 %), with delays that give the kernel's mean packet sojourn (so the
event heap holds as many events: SimPy's own cost per event grows with it). Both are timed in
alternation, ``--repeats`` times; the medians give the ratio, printed last:
``ratio=<kernel packets/s / bare packets/s>`` (equal events per packet, so it is also the ratio
of event rates). For reference it also prints the ratio against bare packets that live 3 ms. Usage: ``python benchmarks/bench_kernel.py [--duration 300] [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import simpy

from agents.base import make_policy
from desim_iov.collector import paused
from desim_iov.config import load_scenario
from desim_iov.sim import Simulation
from traces.reader import open_trace


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
    gc.collect()  # the garbage of earlier runs is not this run's cost
    t0 = time.perf_counter()
    stats = sim.run()
    return time.perf_counter() - t0, sum(stats.generated), sim


def bare_run(n_vehicles: int, rate_pps: float, duration: float, timeouts_per_packet: float,
             sojourn_s: float, env: simpy.Environment | None = None):
    """Bare SimPy on the kernel's event schedule: Poisson sources (gaps drawn 1024 at a time,
    as the kernel does) and one process per packet doing ``timeouts_per_packet`` timeouts on
    average (floor or ceil, so the mean matches a fractional count exactly), with exponential
    delays whose sum has the kernel's mean packet sojourn ``sojourn_s``. Equal arrival rate
    and sojourn give the same number of packets in flight (Little's law), hence the same size
    of SimPy's event heap: only the kernel's own work differs."""
    env = env or simpy.Environment()
    rng = np.random.default_rng(0)
    count = [0]
    base = int(timeouts_per_packet)
    extra_p = timeouts_per_packet - base
    mean_delay = sojourn_s / timeouts_per_packet

    def packet(delays):
        for d in delays:
            yield env.timeout(d)

    def source():
        while True:
            gaps = rng.exponential(1.0 / rate_pps, 1024).tolist()
            extra = (rng.random(1024) < extra_p).tolist()
            delays = rng.exponential(mean_delay, (1024, base + 1)).tolist()
            for gap, x, d in zip(gaps, extra, delays, strict=True):
                yield env.timeout(gap)
                count[0] += 1
                env.process(packet(d[: base + x]))

    for _ in range(n_vehicles):
        env.process(source())
    gc.collect()
    t0 = time.perf_counter()
    with paused():  # as the kernel runs (desim_iov/collector.py): the same collector for both
        env.run(until=duration)
    return time.perf_counter() - t0, count[0], env


class HeapSampler:
    """Mean size of SimPy's event heap, sampled every 50 events (untimed passes only)."""

    def __init__(self, env: simpy.Environment) -> None:
        self.sizes: list[int] = []
        step = env.step

        def sampled_step() -> None:
            if env.n_events % 50 == 0:
                self.sizes.append(len(env._queue))
            step()

        env.step = sampled_step

    @property
    def mean(self) -> float:
        return float(np.mean(self.sizes))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=300.0, help="simulated seconds per run")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    sc = load_scenario("twin-city")
    rate_pps = sc.vehicles.traffic.data_rate / sc.vehicles.traffic.packet_size
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.h5"
        # untimed pass: events per packet, sojourn and event-heap size of the kernel
        cenv = CountingEnvironment()
        kheap = HeapSampler(cenv)
        _, n_k, _ = kernel_run(args.duration, 0, out, env=cenv)
        epp_kernel = cenv.n_events / n_k
        pk = open_trace(out).df("packets")
        sojourn = float((pk.finished - pk.created).mean())  # NaN (still in flight) skipped
        # bare model: generator timeout + process init + k timeouts + process end = k + 3
        k = max(1.0, epp_kernel - 3)
        benv = CountingEnvironment()
        bheap = HeapSampler(benv)
        _, n_b, _ = bare_run(sc.vehicles.count, rate_pps, args.duration, k, sojourn, env=benv)
        epp_bare = benv.n_events / n_b
        if abs(epp_bare - epp_kernel) > 0.05 * epp_kernel:
            raise SystemExit(f"events per packet differ: kernel {epp_kernel:.3f}, bare {epp_bare:.3f}")
        kernel_pps, bare_pps, short_pps = [], [], []
        for r in range(args.repeats):
            wall, n, _ = kernel_run(args.duration, 0, out)
            kernel_pps.append(n / wall)
            wall, n, _ = bare_run(sc.vehicles.count, rate_pps, args.duration, k, sojourn)
            bare_pps.append(n / wall)
            # the same events, but packets that live 3 ms: a near-empty heap (for reference)
            wall, n, _ = bare_run(sc.vehicles.count, rate_pps, args.duration, k, 3e-3)
            short_pps.append(n / wall)
            print(f"repeat {r + 1}: kernel {kernel_pps[-1]:,.0f} packets/s, bare {bare_pps[-1]:,.0f} "
                  f"packets/s, bare with 3 ms packets {short_pps[-1]:,.0f} packets/s")
    km, bm = statistics.median(kernel_pps), statistics.median(bare_pps)
    print(f"scenario twin-city/greedy, {args.duration:g} sim-s, {n_k} packets per run")
    print(f"events/packet: kernel {epp_kernel:.3f}, bare {epp_bare:.3f} ({k:.3f} timeouts per packet)")
    print(f"event heap (mean size): kernel {kheap.mean:.1f}, bare {bheap.mean:.1f}; "
          f"mean packet sojourn {sojourn:.3f} s")
    print(f"kernel: {km:,.0f} packets/s, {km * epp_kernel:,.0f} events/s (median of {args.repeats})")
    print(f"bare:   {bm:,.0f} packets/s, {bm * epp_bare:,.0f} events/s (median of {args.repeats})")
    sm = statistics.median(short_pps)
    print(f"bare, 3 ms packets: {sm:,.0f} packets/s; kernel / that = {km / sm:.3f} "
          "(a smaller event heap: not the kernel's schedule)")
    print(f"ratio={km / bm:.3f}")


if __name__ == "__main__":
    main()
