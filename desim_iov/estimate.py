"""What a run will cost, before it starts (issue 14 item 2): the kernel events a scenario's
simulated time implies, and so the wall time it will take at the kernel's measured rate.

A run's event count is set by its rates, not by its duration alone: 2 vehicles sending
1-byte packets at 16 Mbit/s for an hour are 2.9e10 packets, a day of wall time, while the same
hour with 800 kB packets is 5.8e4. The estimate counts

- packets (twin migration: vehicles x data rate / packet size, each packet ~6 kernel events:
  creation, uplink, queue, CPU, downlink, delivery; task offloading: tasks per slot x the most
  subtasks a task splits into x (1 + max hops) transmissions, each ~4 events) in packet fidelity,
- mobility steps of every moving node, and
- decision slots,

over the scenario's duration. It is an order of magnitude, not a prediction: the commands
print it when a run is long and refuse above :data:`REFUSE_EVENTS` unless ``--force``.
"""

from __future__ import annotations

from dataclasses import dataclass

from desim_iov.config import Scenario

EVENTS_PER_S = 1.5e5  # kernel events per wall second on one core (benchmarks/bench_scale.py, 5-25 vehicles)
SAY_EVENTS = 3e7  # print the estimate from ~3 minutes of wall time
REFUSE_EVENTS = 3e9  # refuse from ~6 hours of wall time unless --force


@dataclass(frozen=True)
class Estimate:
    events: float
    packets: float
    mobility: float
    slots: float

    @property
    def wall_s(self) -> float:
        return self.events / EVENTS_PER_S

    def line(self) -> str:
        return (f"expected ~{self.events:.2g} kernel events ({self.packets:.2g} packets, {self.mobility:.2g} "
                f"position updates, {self.slots:.2g} slots): ~{_duration(self.wall_s)} of wall time at "
                f"~{EVENTS_PER_S:.2g} events/s")


def _duration(s: float) -> str:
    for unit, size in (("days", 86_400.0), ("h", 3600.0), ("min", 60.0)):
        if s >= size:
            return f"{s / size:.3g} {unit}"
    return f"{s:.2g} s"


def estimate(s: Scenario) -> Estimate:
    """The kernel events of ``s`` over its duration (see the module docstring)."""
    movers = s.vehicles.count + s.uavs.count
    mobility = movers * s.duration / s.mobility_step
    slots = s.duration / s.slot
    packets = 0.0
    per_packet = 0.0
    if s.fidelity == "packet":
        if s.app == "task_offloading":
            t = s.offload.tasks
            per_slot = s.vehicles.count * (1.0 if t.arrivals == "per_step" else t.prob_per_slot)
            n_slots = min(slots, t.arrival_slots) if t.arrival_slots else slots
            packets = per_slot * n_slots * max(t.split_levels) * (1 + s.offload.network.max_hops)
            per_packet = 4.0
        else:
            tr = s.vehicles.traffic
            packets = s.vehicles.count * tr.data_rate / tr.packet_size * s.duration
            per_packet = 6.0
    return Estimate(packets * per_packet + mobility + slots, packets, mobility, slots)


def check_cost(s: Scenario, *, force: bool) -> str | None:
    """The line to print before a long run (None for a short one); ValueError (one line) when
    the run is beyond :data:`REFUSE_EVENTS` and not ``force``d."""
    e = estimate(s)
    if e.events >= REFUSE_EVENTS and not force:
        raise ValueError(f"{e.line()}; refused (limit {REFUSE_EVENTS:.0e} events): shorten the run, coarsen "
                         "mobility_step or packet_size, or pass --force")
    return e.line() if e.events >= SAY_EVENTS else None
