"""How the packet kernel's cost per packet grows with the city (issue 13, item 3).

Runs twin-city (greedy, packet fidelity, trace written) with 5, 25, 100 and 400 vehicles in one
process, ``--duration`` simulated seconds each (default 60), and prints for each size: packets
generated, SimPy events scheduled (a counting environment), wall time, packets/s and events/s,
the events per packet and the mean number of packets in flight (Little's law: arrival rate x
mean sojourn). Each size is the median of ``--repeats`` timed runs (default 3), sizes in
alternation, each started after a full garbage collection; the events are counted in a
separate untimed pass. The last line is
``ratio100=<packets/s at 100 / at 5> ratio400=<at 400 / at 5>`` (targets: >= 0.8 and >= 0.6); the
line before it gives the same ratios on the process's CPU time, less sensitive to what else
runs on a shared machine.
``--gc default`` leaves CPython's cyclic collector as it is instead of the kernel's timer
(``desim_iov/collector.py``), to see what its allocation-triggered passes cost.

Usage: ``python benchmarks/bench_scale.py [--sizes 5 25 100 400] [--duration 60] [--repeats 3]
[--gc timer|default]``.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from bench_kernel import CountingEnvironment  # benchmarks/ is the script's directory

from agents.base import make_policy
from desim_iov.config import load_scenario
from desim_iov.sim import Simulation
from traces.reader import open_trace


def run(n: int, duration: float, seed: int, out: Path, env=None, gc_interval: float | None = 60.0
        ) -> tuple[float, float, int, object]:
    sc = load_scenario("twin-city", [f"duration={duration}", f"seed={seed}", f"vehicles.count={n}"])
    sim = Simulation(sc, make_policy("greedy"), trace_path=str(out), env=env, gc_interval=gc_interval)
    gc.collect()  # the garbage of earlier runs is not this run's cost
    t0, c0 = time.perf_counter(), time.process_time()
    stats = sim.run()
    return time.perf_counter() - t0, time.process_time() - c0, int(sum(stats.generated)), sim


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[5, 25, 100, 400])
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--gc", choices=("timer", "default"), default="timer",
                    help="the kernel's collector policy, or CPython's as it is")
    a = ap.parse_args()
    gc_interval = 60.0 if a.gc == "timer" else None
    print(f"# {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}, "
          f"twin-city greedy, {a.duration:g} s simulated, median of {a.repeats}, gc {a.gc}, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    walls: dict[int, list[float]] = {n: [] for n in a.sizes}
    cpus: dict[int, list[float]] = {n: [] for n in a.sizes}
    packets: dict[int, int] = {}
    counted: dict[int, tuple[int, float]] = {}  # events scheduled, mean packets in flight
    with tempfile.TemporaryDirectory() as d:
        for n in a.sizes:  # untimed pass: events scheduled, packets in flight
            env = CountingEnvironment()
            _, _, packets[n], _ = run(n, a.duration, 1, Path(d) / f"c{n}.h5", env)
            pk = open_trace(Path(d) / f"c{n}.h5").df("packets")
            done = pk.dropna(subset=["finished"])
            sojourn = float((done.finished - done.created).mean()) if len(done) else 0.0
            counted[n] = (env.n_events, len(pk) / a.duration * sojourn)
            del env, pk, done
        for rep in range(a.repeats):
            for n in a.sizes:
                w, c, _, _ = run(n, a.duration, 1, Path(d) / f"t{n}.h5", gc_interval=gc_interval)
                walls[n].append(w)
                cpus[n].append(c)
                print(f"repeat {rep + 1}: {n:>4} vehicles  {w:7.2f} s wall  {c:7.2f} s cpu", flush=True)
    print(f"\n{'vehicles':>8} {'packets':>9} {'events':>10} {'ev/pkt':>7} {'in_flight':>9} {'wall_s':>8} "
          f"{'packets/s':>10} {'events/s':>10} {'ratio':>6} {'cpu_s':>7} {'pkt/cpu-s':>10} {'cpu_ratio':>9}")
    rate, cpu_rate = {}, {}
    first = a.sizes[0]
    for n in a.sizes:
        events, in_flight = counted[n]
        w, c = statistics.median(walls[n]), statistics.median(cpus[n])
        rate[n], cpu_rate[n] = packets[n] / w, packets[n] / c
        print(f"{n:>8} {packets[n]:>9} {events:>10} {events / max(1, packets[n]):>7.2f} {in_flight:>9.1f} "
              f"{w:>8.2f} {rate[n]:>10.0f} {events / w:>10.0f} {rate[n] / rate[first]:>6.2f} "
              f"{c:>7.2f} {cpu_rate[n]:>10.0f} {cpu_rate[n] / cpu_rate[first]:>9.2f}")
    print(f"# load average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}; cpu: this "
          "process's CPU time (less sensitive to other load on a shared machine)")
    print(" ".join(f"cpu_ratio{n}={cpu_rate[n] / cpu_rate[first]:.2f}" for n in a.sizes if n in (100, 400)))
    print(" ".join(f"ratio{n}={rate[n] / rate[first]:.2f}" for n in a.sizes if n in (100, 400)))


if __name__ == "__main__":
    main()
