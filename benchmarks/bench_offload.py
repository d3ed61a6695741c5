"""Task-offloading app on offload-urban: packet-kernel throughput, topology refresh cost,
slot-fidelity decision epochs per second, and packet/slot agreement.

Measured in one run, side by side:

- packet kernel (fidelity packet, policy min-latency, trace written as the CLI does, the
  preset's ``offload.tasks.prob_per_slot``): subtasks/s and SimPy events/s, medians of
  ``--repeats`` timed runs of ``--duration`` simulated seconds (about 1 s of wall each on the
  reference machine). Events are counted in an untimed pass on a counting environment (every
  ``env.step``); the timed runs use a plain one and must release the same subtasks (same seed).
- topology refresh per mobility step (an instrumented packet run): ``sim.app.topo.update``
  calls that refresh (median and mean µs, share of the run's wall time), and the networkx
  ``Topology.graph()`` build on each step's topology, timed separately (forced once per step;
  the min-latency policy builds it at most once per step and reuses it).
- slot fidelity: decision epochs/s of ``Simulation.advance()/act()`` driven by the min-latency
  heuristic's actions, no environment wrapper, no trace (``--slot-duration`` simulated seconds
  per run, median of ``--repeats``, timed in alternation with the packet runs); beside it the
  packet kernel's epochs/s.
- agreement: mean subtask latency (processed subtasks: in time or late) in packet vs slot
  fidelity at light load (``prob_per_slot`` 0.02, ``--agree-duration`` s, ``--seeds`` seeds
  pooled), as a relative difference (packet - slot) / slot, beside the same for the mean
  transmission time t_tx and the share of subtasks, paired by id, whose latencies agree to
  1e-9; once with the preset and once without the per-slot CPU deviation (Eq. 4), which the
  slot fidelity's closed form takes at release while the packet kernel's CPU runs a subtask
  at the frequency of the slot its service starts in.

Usage: ``python benchmarks/bench_offload.py [--duration 7] [--repeats 5] [--quick] [--json OUT]``
(``--quick``: tiny sizes, one repeat, for a CI smoke run). The last line is
``subtasks_per_s=<packet kernel median>``.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import simpy

from agents.base import make_policy
from desim_iov.config import Scenario, load_scenario
from desim_iov.sim import Simulation
from traces.reader import open_trace
from traces.schema import SUBTASK_CODE

SCENARIO, POLICY = "offload-urban", "min-latency"
PROCESSED = (SUBTASK_CODE["processed_in_time"], SUBTASK_CODE["processed_late"])


class CountingEnvironment(simpy.Environment):
    """Counts every processed event (``step``); used in untimed passes only."""

    def __init__(self) -> None:
        super().__init__()
        self.n_events = 0

    def step(self) -> None:
        self.n_events += 1
        super().step()


def scenario(fidelity: str = "packet", duration: float = 7.0, seed: int = 0,
             prob_per_slot: float | None = None, extra: tuple[str, ...] = ()) -> Scenario:
    over = [f"fidelity={fidelity}", f"duration={duration}", f"seed={seed}"]
    if prob_per_slot is not None:
        over.append(f"offload.tasks.prob_per_slot={prob_per_slot}")
    return load_scenario(SCENARIO, over + list(extra))


def policy():
    return make_policy(POLICY, app="task_offloading")


def packet_run(sc: Scenario, trace: Path | None, env: simpy.Environment | None = None):
    """(wall s of ``run()``, subtasks released, epochs, the simulation)."""
    sim = Simulation(sc, policy(), trace_path=str(trace) if trace else None, env=env)
    t0 = time.perf_counter()
    stats = sim.run()
    return time.perf_counter() - t0, stats.subtasks, round(sc.duration / sc.slot), sim


def slot_run(sc: Scenario):
    """Slot fidelity under external control, the heuristic's actions: (wall s, epochs)."""
    sim = Simulation(sc, None)
    pol = policy()
    pol.reset(np.random.default_rng(sc.seed))
    epochs = 0
    t0 = time.perf_counter()
    obs = sim.advance()
    while obs is not None:
        sim.act(pol.act(obs))
        epochs += 1
        obs = sim.advance()
    return time.perf_counter() - t0, epochs


def count_events(sc: Scenario, trace: Path) -> tuple[int, int]:
    """(SimPy events processed, subtasks released) of one untimed packet run."""
    env = CountingEnvironment()
    _, n_sub, _, _ = packet_run(sc, trace, env=env)
    return env.n_events, n_sub


def topology_cost(sc: Scenario, trace: Path | None = None) -> dict[str, float]:
    """One instrumented packet run: µs per refreshing ``topo.update`` call and per forced
    ``graph()`` build on the same step's topology."""
    sim = Simulation(sc, policy(), trace_path=str(trace) if trace else None)
    topo = sim.app.topo
    update, graph = topo.update, topo.graph
    t_upd: list[float] = []
    t_graph: list[float] = []
    edges: list[int] = []

    def timed_update(t: float) -> None:
        if t == topo.t:  # a repeated call (the epoch's observe): a no-op, not a refresh
            update(t)
            return
        t0 = time.perf_counter()
        update(t)
        t1 = time.perf_counter()
        g = graph()
        t2 = time.perf_counter()
        t_upd.append(t1 - t0)
        t_graph.append(t2 - t1)
        edges.append(g.number_of_edges())

    topo.update = timed_update
    t0 = time.perf_counter()
    sim.run()
    wall = time.perf_counter() - t0
    del topo.update
    return {
        "steps": len(t_upd),
        "update_median_us": statistics.median(t_upd) * 1e6,
        "update_mean_us": statistics.fmean(t_upd) * 1e6,
        "graph_median_us": statistics.median(t_graph) * 1e6,
        "graph_mean_us": statistics.fmean(t_graph) * 1e6,
        "update_share": sum(t_upd) / (wall - sum(t_graph)),  # of the run without the forced builds
        "graph_nodes": topo.N + topo.V,
        "graph_edges_mean": statistics.fmean(edges),
        "wall_s": wall,
    }


NO_CPU_DEVIATION = ("offload.network.cpu_deviation=none", "offload.network.dt_cpu_error=0")


def _processed(path: Path) -> dict[int, tuple[float, float]]:
    """subtask -> (latency, t_tx) of the processed subtasks of a trace."""
    sub = open_trace(path).df("subtasks")
    sub = sub[sub.outcome.isin(PROCESSED)]
    return dict(zip(sub.subtask.tolist(), zip(sub.latency.tolist(), sub.t_tx.tolist(), strict=True), strict=True))


def agreement(seeds: list[int], duration: float = 2.0, prob_per_slot: float = 0.02,
              extra: tuple[str, ...] = (), tmp: Path | None = None) -> dict[str, Any]:
    """Mean latency (and transmission time t_tx) of the processed subtasks, packet vs slot
    fidelity, pooled over ``seeds``; subtasks paired by id (the same arrivals and decisions)."""
    lat: dict[str, list[float]] = {"packet": [], "slot": []}
    ttx: dict[str, list[float]] = {"packet": [], "slot": []}
    paired = same = 0
    with tempfile.TemporaryDirectory(dir=tmp) as d:
        for seed in seeds:
            got = {}
            for fid in ("packet", "slot"):
                out = Path(d) / f"{fid}-{seed}.h5"
                sc = scenario(fid, duration, seed, prob_per_slot, extra)
                Simulation(sc, policy(), trace_path=str(out)).run()
                got[fid] = _processed(out)
                lat[fid] += [v[0] for v in got[fid].values()]
                ttx[fid] += [v[1] for v in got[fid].values()]
            for k, (v, _) in got["packet"].items():
                if k in got["slot"]:
                    paired += 1
                    same += abs(v - got["slot"][k][0]) <= 1e-9 * abs(v)
    if not lat["packet"] or not lat["slot"]:
        raise ValueError(f"no processed subtask in {len(seeds)} seeds x {duration} s: lengthen the runs")
    mp, ms = statistics.fmean(lat["packet"]), statistics.fmean(lat["slot"])
    tp, ts = statistics.fmean(ttx["packet"]), statistics.fmean(ttx["slot"])
    return {"seeds": len(seeds), "duration_s": duration, "prob_per_slot": prob_per_slot,
            "overrides": list(extra),
            "subtasks_packet": len(lat["packet"]), "subtasks_slot": len(lat["slot"]),
            "mean_latency_packet_s": mp, "mean_latency_slot_s": ms, "rel_diff": (mp - ms) / ms,
            "mean_t_tx_packet_s": tp, "mean_t_tx_slot_s": ts, "t_tx_rel_diff": (tp - ts) / ts,
            "paired": paired, "paired_equal_share": same / max(paired, 1)}


def benchmark(duration: float = 7.0, slot_duration: float = 8.0, repeats: int = 5,
              agree_seeds: int = 8, agree_duration: float = 2.0, progress: bool = False) -> dict[str, Any]:
    """Every measurement; a dict of plain numbers (the JSON output)."""
    say = print if progress else (lambda *a, **k: None)
    res: dict[str, Any] = {"scenario": SCENARIO, "policy": POLICY, "repeats": repeats}
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "bench.h5"
        pk_sc, sl_sc = scenario("packet", duration), scenario("slot", slot_duration)
        n_events, n_sub = count_events(pk_sc, trace)
        walls, slot_walls, slot_epochs = [], [], 0
        for r in range(repeats):  # in alternation
            wall, n, epochs, _ = packet_run(pk_sc, trace)
            if n != n_sub:
                raise SystemExit(f"packet runs differ: {n} subtasks, the counting pass had {n_sub}")
            walls.append(wall)
            wall_s, slot_epochs = slot_run(sl_sc)
            slot_walls.append(wall_s)
            say(f"repeat {r + 1}: packet {n / wall:,.0f} subtasks/s ({wall:.2f} s), "
                f"slot {slot_epochs / wall_s:,.0f} epochs/s ({wall_s:.2f} s)")
        w, ws = statistics.median(walls), statistics.median(slot_walls)
        res["packet"] = {"duration_s": duration, "subtasks": n_sub, "events": n_events,
                         "events_per_subtask": n_events / n_sub, "epochs": epochs, "slot_s": pk_sc.slot, "wall_s": w,
                         "subtasks_per_s": n_sub / w, "events_per_s": n_events / w,
                         "epochs_per_s": epochs / w, "walls": walls}
        res["slot"] = {"duration_s": slot_duration, "epochs": slot_epochs, "wall_s": ws,
                       "epochs_per_s": slot_epochs / ws, "walls": slot_walls}
        res["topology"] = topology_cost(pk_sc, trace)
        seeds = list(range(agree_seeds))
        res["agreement"] = agreement(seeds, agree_duration, tmp=Path(tmp))
        res["agreement_no_cpu_deviation"] = agreement(seeds, agree_duration, extra=NO_CPU_DEVIATION, tmp=Path(tmp))
    return res


def table(res: dict[str, Any]) -> list[str]:
    pk, sl, tp = res["packet"], res["slot"], res["topology"]
    n = res["repeats"]
    rows = [
        ("packet kernel: subtasks/s", f"{pk['subtasks_per_s']:,.0f}",
         f"median of {n}; {pk['subtasks']} subtasks in {pk['duration_s']:g} sim-s, {pk['wall_s']:.2f} s wall"),
        ("packet kernel: SimPy events/s", f"{pk['events_per_s']:,.0f}",
         f"{pk['events']:,} events, {pk['events_per_subtask']:.2f} per subtask"),
        ("packet kernel: decision epochs/s", f"{pk['epochs_per_s']:,.0f}", f"{pk['epochs']} epochs (slot {pk['slot_s'] * 1e3:g} ms)"),
        ("slot fidelity: decision epochs/s", f"{sl['epochs_per_s']:,.0f}",
         f"median of {n}; advance()/act(), {sl['epochs']} epochs, {sl['wall_s']:.2f} s wall"),
        ("  slot / packet epochs/s", f"{sl['epochs_per_s'] / pk['epochs_per_s']:.1f}x", ""),
        ("topology refresh per step (µs)", f"{tp['update_median_us']:,.0f}",
         f"median (mean {tp['update_mean_us']:,.0f}) over {tp['steps']} steps; "
         f"{tp['update_share']:.1%} of the packet run's wall"),
        ("networkx graph() build (µs)", f"{tp['graph_median_us']:,.0f}",
         f"median (mean {tp['graph_mean_us']:,.0f}); {tp['graph_nodes']} nodes, "
         f"{tp['graph_edges_mean']:.1f} edges on average"),
    ]
    for key, label in (("agreement", "preset"), ("agreement_no_cpu_deviation", "no CPU deviation")):
        ag = res[key]
        rows += [
            (f"agreement, {label}: mean latency", f"{ag['rel_diff']:+.2%}",
             f"(packet - slot) / slot: {ag['mean_latency_packet_s'] * 1e3:.2f} vs "
             f"{ag['mean_latency_slot_s'] * 1e3:.2f} ms; {ag['subtasks_packet']} vs {ag['subtasks_slot']} "
             f"processed subtasks, {ag['seeds']} seeds x {ag['duration_s']:g} s, p = {ag['prob_per_slot']:g}"),
            ("  mean transmission t_tx", f"{ag['t_tx_rel_diff']:+.2%}",
             f"{ag['mean_t_tx_packet_s'] * 1e3:.2f} vs {ag['mean_t_tx_slot_s'] * 1e3:.2f} ms; latencies equal "
             f"to 1e-9 in {ag['paired_equal_share']:.0%} of {ag['paired']} paired subtasks"),
        ]
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    out = [f"{SCENARIO}, policy {POLICY}"]
    out += [f"{a:<{w0}}  {b:>{w1}}  {c}".rstrip() for a, b, c in rows]
    out.append(f"subtasks_per_s={pk['subtasks_per_s']:.1f}")
    return out


def _finite(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=7.0, help="simulated s per packet run (~1 s wall)")
    ap.add_argument("--slot-duration", type=float, default=8.0, help="simulated s per slot-fidelity run (~1 s wall)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seeds", type=int, default=8, help="seeds of the agreement figure")
    ap.add_argument("--agree-duration", type=float, default=2.0)
    ap.add_argument("--quick", action="store_true", help="tiny sizes, one repeat (smoke)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    if args.quick:
        args.duration, args.slot_duration, args.repeats, args.seeds, args.agree_duration = 0.2, 0.4, 1, 2, 1.0
    res = benchmark(args.duration, args.slot_duration, args.repeats, args.seeds, args.agree_duration,
                    progress=True)
    for line in table(res):
        print(line)
    if args.json:
        args.json.write_text(json.dumps(res, indent=2, default=_finite) + "\n")


if __name__ == "__main__":
    main()
