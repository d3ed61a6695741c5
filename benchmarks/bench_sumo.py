"""Live SUMO coupling: the lockstep's cost per simulated second, and a whole run with and without
SUMO mobility at the same vehicle count.

For each size (``--vehicles``: V followed vehicles among N = 8 V SUMO vehicles, inserted one
every 160 / N s on the twin-city-sumo preset's 10 x 10 grid of 500 m blocks, 2 lanes):

- ``lockstep``: SUMO alone stepped in lockstep, as the kernel's process does it (one
  ``simulationStep`` per 1-s mobility step, positions of the V followed vehicles read and
  mapped), without the kernel: wall seconds per simulated second;
- ``live``: the whole packet-fidelity run (twin-city-sumo, greedy, no trace file) with SUMO
  stepping inside it; the SUMO part of it (``SumoFleet.step_wall_s``) per simulated second;
- ``replay``: the same run on the same vehicles' trajectories recorded beforehand (SUMO's FCD
  output of the same run, centred as the coupling does): the kernel's work without SUMO;
- ``rwp``: twin-city with V random-waypoint vehicles (the scenario without SUMO; the vehicles
  never leave, so more packets).

Setup (network and routes made once and cached, SUMO started) is timed apart. Medians of
``--repeats`` runs. Usage: ``python benchmarks/bench_sumo.py [--duration 600] [--repeats 5]
[--vehicles 5,50] [--interface libsumo|traci] [--json OUT]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from agents.base import make_policy
from desim_iov.config import load_scenario
from desim_iov.rng import RngStreams
from desim_iov.sim import Simulation
from models.mobility import Trajectory


def overrides(v: int, duration: float, interface: str) -> list[str]:
    n = 8 * v
    return [f"duration={duration}", f"vehicles.count={v}", f"vehicles.sumo.vehicles={n}",
            f"vehicles.sumo.period={160.0 / n!r} s", f"vehicles.sumo.interface={interface}"]


def lockstep(sc) -> tuple[float, float]:
    """(setup wall s, stepping wall s per simulated s) of SUMO alone."""
    from desim_iov.sumo import start_fleet

    t0 = time.perf_counter()
    fleet = start_fleet(sc, RngStreams(sc.seed))
    t1 = time.perf_counter()
    steps = round(sc.duration / sc.mobility_step)
    for k in range(1, steps):
        fleet.positions(k * sc.mobility_step)
    wall = time.perf_counter() - t1
    fleet.close()
    return t1 - t0, wall / sc.duration


def timed_run(sc, trajectories=None) -> tuple[float, float, int, object]:
    """(setup wall s, run wall s, packets, sim)."""
    t0 = time.perf_counter()
    sim = Simulation(sc, make_policy("greedy"), vehicle_trajectories=trajectories)
    t1 = time.perf_counter()
    stats = sim.run()
    return t1 - t0, time.perf_counter() - t1, sum(stats.generated), sim


def recorded(sc, tmp: Path) -> list[Trajectory]:
    """The followed vehicles' trajectories of the same SUMO run, from SUMO's FCD output,
    centred as the coupling centres them (before entering: at their first fix, as a trace)."""
    from traces.fcd import read_fcd

    fcd = tmp / "fcd.xml"
    su = sc.vehicles.sumo.model_copy(update={"options": ["--fcd-output", str(fcd)]})
    rec = sc.model_copy(update={"vehicles": sc.vehicles.model_copy(update={"sumo": su})})
    _, _, _, sim = timed_run(rec)
    live = sim.world.live
    half = (sc.vehicles.sumo.grid_size - 1) * sc.vehicles.sumo.grid_length / 2
    frame = read_fcd(fcd).frame
    out = []
    for vid in live.ids:
        f = frame[frame.vehicle == vid]
        xyz = np.column_stack([f.x - half, f.y - half, np.zeros(len(f))])
        out.append(Trajectory(f.t.to_numpy(), xyz))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=600.0)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--vehicles", default="5,50")
    ap.add_argument("--interface", default="libsumo", choices=["libsumo", "traci"])
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    med = statistics.median
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for v in (int(x) for x in args.vehicles.split(",")):
            sc = load_scenario("twin-city-sumo", overrides(v, args.duration, args.interface))
            rwp = load_scenario("twin-city", [f"duration={args.duration}", f"vehicles.count={v}"])
            traj = recorded(sc, Path(tmp))
            rows: dict[str, list] = {k: [] for k in ("lock_setup", "lock", "live_setup", "live",
                                                     "live_sumo", "live_pk", "replay", "replay_pk",
                                                     "rwp", "rwp_pk")}
            for _ in range(args.repeats):  # in alternation: load drifts hit all alike
                s, w = lockstep(sc)
                rows["lock_setup"].append(s)
                rows["lock"].append(w)
                s, w, pk, sim = timed_run(sc)
                rows["live_setup"].append(s)
                rows["live"].append(w / args.duration)
                rows["live_sumo"].append(sim.world.live.step_wall_s / args.duration)
                rows["live_pk"].append(pk)
                _, w, pk, _ = timed_run(sc, traj)
                rows["replay"].append(w / args.duration)
                rows["replay_pk"].append(pk)
                _, w, pk, _ = timed_run(rwp)
                rows["rwp"].append(w / args.duration)
                rows["rwp_pk"].append(pk)
            r = {k: med(x) for k, x in rows.items()}
            r.update(vehicles=v, sumo_vehicles=8 * v, interface=args.interface,
                     duration_s=args.duration, repeats=args.repeats)
            results.append(r)
            print(f"V={v} (N={8 * v} SUMO vehicles, {args.interface}), medians of {args.repeats}, "
                  f"{args.duration:g} s simulated:")
            print(f"  SUMO lockstep alone: {1e3 * r['lock']:.3f} ms per simulated s "
                  f"(setup {r['lock_setup']:.2f} s)")
            print(f"  live run:   {1e3 * r['live']:.2f} ms/sim-s, of which SUMO "
                  f"{1e3 * r['live_sumo']:.3f} ({100 * r['live_sumo'] / r['live']:.1f} %); "
                  f"{r['live_pk']:.0f} packets; setup {r['live_setup']:.2f} s")
            print(f"  replay (same trajectories, no SUMO): {1e3 * r['replay']:.2f} ms/sim-s, "
                  f"{r['replay_pk']:.0f} packets -> live/replay {r['live'] / r['replay']:.3f}")
            print(f"  random waypoint (twin-city): {1e3 * r['rwp']:.2f} ms/sim-s, "
                  f"{r['rwp_pk']:.0f} packets")
            print(f"lockstep_ms_per_sim_s={1e3 * r['lock']:.3f} live_over_replay="
                  f"{r['live'] / r['replay']:.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
