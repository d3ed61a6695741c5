"""Sweep wall time of one 24-run grid on each backend, side by side in one run (issue 13):
``serial`` (1 worker), ``processes`` (a local pool of 2) and ``dask`` (a LocalCluster of 2
single-threaded worker processes).

The grid: twin-city, 3 policies (greedy, random, least-loaded) x 2 fleet sizes (3, 5 vehicles)
x 4 seeds, ``--duration`` simulated seconds each (default 120), packet fidelity. Each repeat
runs the whole sweep from an empty directory (nothing reused). Reported per backend, median of
``--repeats`` (default 3): wall time, speed-up over serial, and the overhead per run:
``(wall x workers - sum of the runs' own wall times) / runs`` (what the backend adds: process
start, imports, scheduling, result transfer). The backends alternate within each repeat.

Usage: ``python benchmarks/bench_sweep.py [--repeats 3] [--duration 120] [--workers 2]``. The
last line is ``speedup=<serial wall / processes wall>``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

from desim_iov.sweep import run_sweep, sweep_from_dict  # noqa: E402


def grid(duration: float) -> object:
    return sweep_from_dict({"scenario": "twin-city", "set": [f"duration={duration}"],
                            "grid": {"policy": ["greedy", "random", "least-loaded"], "vehicles.count": [3, 5]},
                            "seeds": 4})


def one(backend: str, workers: int, duration: float) -> tuple[float, float, int]:
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        res = run_sweep(grid(duration), d, backend=backend, workers=workers, progress=False)
        wall = time.perf_counter() - t0
        if res.failed:
            raise RuntimeError(f"{backend}: {res.failed} run(s) failed: {res.results.error.iloc[0]}")
        return wall, float(res.results.wall_s.sum()), len(res.results)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--duration", type=float, default=120.0)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}")
    backends = [("serial", 1), ("processes", a.workers), ("dask", a.workers)]
    walls: dict[str, list[float]] = {b: [] for b, _ in backends}
    over: dict[str, list[float]] = {b: [] for b, _ in backends}
    runs = 0
    for rep in range(a.repeats):
        for b, w in backends:
            wall, inside, runs = one(b, w, a.duration)
            walls[b].append(wall)
            over[b].append((wall * w - inside) / runs)
            print(f"repeat {rep + 1}: {b:<10} workers {w}  wall {wall:7.2f} s  overhead/run {over[b][-1]:.3f} s",
                  flush=True)
    base = statistics.median(walls["serial"])
    print(f"\n{runs} runs of {a.duration:g} s, median of {a.repeats}:")
    print(f"{'backend':<10} {'workers':>7} {'wall_s':>8} {'speedup':>8} {'overhead_s_per_run':>19}")
    for b, w in backends:
        m = statistics.median(walls[b])
        print(f"{b:<10} {w:>7} {m:>8.2f} {base / m:>8.2f} {statistics.median(over[b]):>19.3f}")
    print(f"speedup={base / statistics.median(walls['processes']):.2f}")


if __name__ == "__main__":
    main()
