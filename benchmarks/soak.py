"""Soak: does a long packet-fidelity run hold its memory, and what does its trace cost per packet?

Runs twin-city (greedy, packet fidelity, trace written) with ``--vehicles`` (default 100) for
``--hours`` simulated hours (default 2) and, every ``--every`` simulated minutes (default 5),
samples: the process's resident set size (RSS), what the C allocator has handed out and holds
free (glibc's ``mallinfo2``, where available), the blocks Python's small-object allocator has in
use (``sys.getallocatedblocks``; with ``--tracemalloc`` also the traced Python memory, which
slows the run ~2x; with ``--count-objects`` the containers the cyclic collector tracks), the
packets in flight (generated, not yet ended), the rows and bytes of the trace so far. It writes
``soak.csv`` and ``soak.png`` (memory and packets in flight against simulated time) into
``--out`` and prints the trace's bytes per packet (file size / packets generated) and the
24-hour extrapolations: the trace grows linearly with packets; the memory by the slope of RSS
over the last hour.

Usage: ``python benchmarks/soak.py [--vehicles 100] [--hours 2] [--every 5] [--out DIR]
[--tracemalloc] [--count-objects] [--keep-trace PATH]``.
"""

from __future__ import annotations

import argparse
import csv
import gc
import os
import platform
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import psutil

from agents.base import make_policy
from desim_iov.config import load_scenario
from desim_iov.sim import Simulation

FIELDS = ("sim_time_s", "wall_s", "rss_mb", "malloc_in_use_mb", "malloc_free_mb", "py_blocks",
          "traced_mb", "gc_objects", "in_flight", "packets", "trace_rows", "trace_file_mb")


def _mallinfo():
    """glibc's mallinfo2 (bytes in use, bytes held free), or None elsewhere."""
    import ctypes
    import ctypes.util

    class MallInfo2(ctypes.Structure):
        _fields_ = [(f, ctypes.c_size_t) for f in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
            "fordblks", "keepcost")]

    try:
        fn = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallinfo2
    except (OSError, AttributeError):
        return None
    fn.restype = MallInfo2
    return fn


MALLINFO = _mallinfo()


class Sampler:
    """Memory and progress every ``every`` simulated seconds (a trace sampler of the run)."""

    def __init__(self, sim: Simulation, every: float, trace: Path, traced: bool, count: bool) -> None:
        self.sim, self.every, self.trace, self.traced, self.count = sim, every, trace, traced, count
        self.rows: list[dict[str, float]] = []
        self.next = 0.0
        self.t0 = time.perf_counter()
        self.proc = psutil.Process()

    def __call__(self, t: float) -> None:
        if t < self.next:
            return
        self.next = t + self.every
        app, rec = self.sim.app, self.sim.recorder
        rows = getattr(getattr(rec, "writer", None), "rows", {})
        m = MALLINFO() if MALLINFO is not None else None
        self.rows.append({
            "sim_time_s": t,
            "wall_s": time.perf_counter() - self.t0,
            "rss_mb": self.proc.memory_info().rss / 2**20,
            "malloc_in_use_mb": (m.uordblks + m.hblkhd) / 2**20 if m else float("nan"),
            "malloc_free_mb": m.fordblks / 2**20 if m else float("nan"),
            "py_blocks": sys.getallocatedblocks(),
            "traced_mb": tracemalloc.get_traced_memory()[0] / 2**20 if self.traced else float("nan"),
            "gc_objects": len(gc.get_objects()) if self.count else -1,
            "in_flight": len(app.packets.live),
            "packets": int(sum(app.stats.generated)),
            "trace_rows": int(sum(rows.values())),
            "trace_file_mb": self.trace.stat().st_size / 2**20 if self.trace.exists() else 0.0,
        })
        r = self.rows[-1]
        print(f"t={t / 60:6.1f} min  wall {r['wall_s']:7.1f} s  RSS {r['rss_mb']:7.1f} MB  "
              f"in flight {r['in_flight']:>7}  packets {r['packets']:>9}  trace {r['trace_file_mb']:7.1f} MB",
              flush=True)


def plot(rows: list[dict[str, float]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.array([r["sim_time_s"] for r in rows]) / 3600
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot(t, [r["rss_mb"] for r in rows], "o-", ms=3, label="RSS (MB)")
    ax.plot(t, [r["trace_file_mb"] for r in rows], "s-", ms=3, label="trace file as written (MB; compacted at close)")
    if not np.isnan(rows[0]["traced_mb"]):
        ax.plot(t, [r["traced_mb"] for r in rows], "^-", ms=3, label="tracemalloc (MB)")
    if not np.isnan(rows[0]["malloc_in_use_mb"]):
        ax.plot(t, [r["malloc_in_use_mb"] for r in rows], "v-", ms=3, label="malloc in use (MB)")
    ax.set_xlabel("simulated time (h)")
    ax.set_ylabel("MB")
    ax2 = ax.twinx()
    ax2.plot(t, [r["in_flight"] for r in rows], color="grey", ls="--", label="packets in flight")
    ax2.set_ylabel("packets in flight")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper left", fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vehicles", type=int, default=100)
    ap.add_argument("--hours", type=float, default=2.0)
    ap.add_argument("--every", type=float, default=5.0, help="simulated minutes between samples")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("docs/results/soak"))
    ap.add_argument("--tracemalloc", action="store_true")
    ap.add_argument("--count-objects", action="store_true",
                    help="also count the objects the cyclic collector tracks (a list of them per sample)")
    ap.add_argument("--keep-trace", type=Path, default=None, help="write the trace here and keep it")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    dur = a.hours * 3600
    with tempfile.TemporaryDirectory() as tmp:
        trace = a.keep_trace or Path(tmp) / "soak.h5"
        sc = load_scenario("twin-city", [f"duration={dur}", f"seed={a.seed}", f"vehicles.count={a.vehicles}"])
        if a.tracemalloc:
            tracemalloc.start()
        sim = Simulation(sc, make_policy("greedy"), trace_path=str(trace))
        sampler = Sampler(sim, a.every * 60, trace, a.tracemalloc, a.count_objects)
        sim.recorder.add_sampler(sampler)  # runs at the trace's sample instants
        t0 = time.perf_counter()
        stats = sim.run()
        wall = time.perf_counter() - t0
        size = trace.stat().st_size
        with_rows = sim.recorder.writer.rows
    rows = sampler.rows
    n = int(sum(stats.generated))
    title = (f"twin-city, {a.vehicles} vehicles, greedy, packet fidelity, {a.hours:g} h simulated "
             f"({n:,} packets, {wall:.0f} s wall)")
    with open(a.out / "soak.csv", "w", newline="") as f:
        w = csv.DictWriter(f, FIELDS)
        w.writeheader()
        w.writerows(rows)
    plot(rows, a.out / "soak.png", title)
    # memory slope over the last hour (or the last half of a shorter run), extrapolated
    t = np.array([r["sim_time_s"] for r in rows])
    rss = np.array([r["rss_mb"] for r in rows])
    last = t >= max(t[-1] - 3600, t[-1] / 2)
    slope = float(np.polyfit(t[last], rss[last], 1)[0]) * 3600 if last.sum() >= 2 else float("nan")
    per_packet = size / max(n, 1)
    print(f"# {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}; "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(title)
    print(f"outcomes: {stats.outcomes}")
    print(f"trace: {size / 2**20:.1f} MB for {n} packets = {per_packet:.2f} bytes/packet "
          f"(/packets rows {with_rows['packets']}); 24 h: {per_packet * n / dur * 86400 / 2**30:.2f} GiB")
    print(f"RSS: start {rows[0]['rss_mb']:.0f} MB, max {max(r['rss_mb'] for r in rows):.0f} MB, "
          f"last sample {rows[-1]['rss_mb']:.0f} MB; slope over the last hour {slope:+.1f} MB/h -> "
          f"24 h: {rows[-1]['rss_mb'] + slope * (24 - t[-1] / 3600):.0f} MB if it went on")
    print(f"wrote {a.out / 'soak.csv'} and {a.out / 'soak.png'}")


if __name__ == "__main__":
    main()
