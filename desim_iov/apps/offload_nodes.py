"""The BSs and UAVs of a task-offloading run: their CPU frequency per slot (quantum-DRL Eq. 4,
C7) and the digital twin's estimate of it (Table II), the agents' standing rules, CPU and power
levels for the slot, the priority CPUs (C3/C4) and FIFO transmitters, the per-slot accounting
written to /node_slots, and the closed form of Eq. 5–7 on the slot's frozen state (what the slot
fidelity runs and the rewards are computed from)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from desim_iov.apps.offload_records import Placement, Subtask
from desim_iov.kinds import UAV
from desim_iov.queues import PriorityCpu
from desim_iov.topology import power_ratio
from models.compute import cpu_frequency_hz, draw_cpu_deviation, processing_latency_scalar_s
from models.energy import processing_energy_scalar_j, transmit_energy_scalar_j

if TYPE_CHECKING:
    from desim_iov.config import Scenario
    from desim_iov.rng import RngStreams
    from desim_iov.topology import Topology
    from desim_iov.world import World

PROCESS = 0  # relay rule code: kappa = 1 (1 + w: forward to node w, kappa = 0)


class OffloadNodes:
    """Node state of one run (arrays indexed by BS/UAV node, ``desim_iov.topology``'s numbering)."""

    def __init__(self, scenario: Scenario, world: World, topo: Topology, env: simpy.Environment,
                 streams: RngStreams, recorder: Any) -> None:
        off = scenario.offload
        self.net, self.tasks, self.energy = off.network, off.tasks, off.energy
        self.topo, self.env, self.recorder = topo, env, recorder
        self.slot_len = scenario.slot
        self.p_vehicle = scenario.vehicles.tx_power
        N = self.N = topo.N
        self.p_max = world.tx_power_w[:N].astype(float)
        self.f_max = world.cpu_hz[:N].astype(float)
        self.f_min = self.f_max * self.net.f_min_ratio
        self.f_cpu = self.f_max.copy()
        self.f_est = self.f_max.copy()
        self._dev_run: np.ndarray | None = None
        self._rng_cpu, self._rng_dt = streams.get("cpu"), streams.get("dt")
        self.cpu_level = np.ones(N)
        self.relay_level = np.zeros(N, dtype=int)
        self.rule = [PROCESS] * N
        self._ratio: dict[int, float] = {}  # power level -> P / P_max
        self._relay_p: dict[tuple[int, int], float] = {}  # (node, power level) -> W
        self.cpu = [PriorityCpu(env, self._frequency(z), self.net.capacity_cycles, self.slot_len,
                                self._service_started(z)) for z in range(N)]
        self.tx = [simpy.Resource(env, 1) for _ in range(N)]
        # per-slot accounting; busy time may fall into later slots (slot -> per-node seconds)
        self._busy: dict[int, np.ndarray] = {}
        self.admitted = np.zeros(N)
        self.e_tx = np.zeros(N)
        self.e_proc = np.zeros(N)
        self._slot, self._slot_t = -1, 0.0
        self._kinds = np.where(topo.is_uav, UAV, 0).astype(np.uint8)

    # ------------------------------------------------------------------ CPUs

    def _frequency(self, z: int):
        return lambda: self.f_cpu[z] * self.cpu_level[z]

    def _service_started(self, z: int):
        def on_start(job: Subtask, start: float, end: float) -> None:
            job.t_queue += start - job.arrived
            job.t_proc = end - start
            job.proc_node = z
            job.e_proc = self.proc_energy(job.bits)
            self.e_proc[z] += job.e_proc
            self.admitted[z] += job.cycles
            self.add_busy(z, start, end)
        return on_start

    def add_busy(self, z: int, start: float, end: float) -> None:
        """Count node ``z``'s CPU busy over [start, end), split at slot boundaries."""
        tau = self.slot_len
        k = math.floor(start / tau + 1e-9)
        while start < end - 1e-15:
            stop = min(end, (k + 1) * tau)
            arr = self._busy.get(k)
            if arr is None:
                arr = self._busy[k] = np.zeros(self.N)
            arr[z] += stop - start
            start, k = stop, k + 1

    def queued_cycles(self) -> np.ndarray:
        return np.array([c.queued_cycles for c in self.cpu])

    # ------------------------------------------------------------------ per slot

    def new_slot(self, slot: int, t: float) -> None:
        """Close the previous slot (/node_slots) and draw this one's f_cpu (Eq. 4) and f^."""
        self.flush()
        self._slot, self._slot_t = slot, t
        self.admitted[:] = 0.0
        self.e_tx[:] = 0.0
        self.e_proc[:] = 0.0
        net, N = self.net, self.N
        if net.cpu_deviation != "none":
            if net.cpu_deviation_period == "slot" or self._dev_run is None:
                self._dev_run = draw_cpu_deviation(self._rng_cpu, N, distribution=net.cpu_deviation,
                                                   variance=net.cpu_deviation_scale,
                                                   half_width=net.cpu_deviation_scale)
            self.f_cpu = cpu_frequency_hz(self.f_max, self._dev_run, f_min_hz=self.f_min)
        err = net.dt_cpu_error
        self.f_est = np.maximum(self.f_cpu + self._rng_dt.uniform(-err, err, N), 0.0) if err else self.f_cpu.copy()

    def flush(self) -> None:
        """Write the current slot's /node_slots rows (at the next slot or the run's end)."""
        if self._slot < 0:
            return
        slot, N = self._slot, self.N
        rows = self.recorder.rows("node_slots", N)
        busy = self._busy.pop(slot, np.zeros(N))
        rows["slot"], rows["time"], rows["node"] = slot, self._slot_t, np.arange(N)
        rows["kind"] = self._kinds
        rows["f_cpu"], rows["f_est"], rows["cpu_level"] = self.f_cpu, self.f_est, self.cpu_level
        rows["power"] = self.p_max * power_ratio(self.relay_level, self.net.power_step_db)
        rows["target"] = [r - 1 for r in self.rule]
        rows["admitted_cycles"] = self.admitted
        rows["queue_cycles"] = self.queued_cycles()
        rows["busy_frac"] = busy / self.slot_len
        rows["e_tx"], rows["e_proc"] = self.e_tx, self.e_proc
        self.recorder.append_many("node_slots", rows)
        self._slot = -1

    # ------------------------------------------------------------------ powers and energy

    def level_ratio(self, level: int) -> float:
        """P / P_max at power ``level`` (``topology.power_ratio``, kept per level)."""
        r = self._ratio.get(level)
        if r is None:
            r = self._ratio[level] = float(power_ratio(level, self.net.power_step_db))
        return r

    def vehicle_power(self, level: int) -> float:
        return self.p_vehicle * self.level_ratio(level)

    def relay_power(self, z: int, level: int) -> float:
        p = self._relay_p.get((z, level))
        if p is None:
            p = self._relay_p[z, level] = float(self.p_max[z]) * self.level_ratio(level)
        return p

    def proc_energy(self, bits: float) -> float:
        """xi C D (Eq. 54–55)."""
        return processing_energy_scalar_j(bits, self.tasks.cycles_per_bit, self.energy.xi)

    # ------------------------------------------------------------------ the closed form

    def path(self, first: int, rules: list[int] | None = None) -> tuple[list[int], bool]:
        """Nodes a subtask placed at ``first`` visits under the slot's rules (or ``rules``), in
        the packet process's order of checks (loop guard, hop limit, link), and whether it is
        dropped at the hop limit (``at_hop_limit: drop``); otherwise the last node processes."""
        rules = self.rule if rules is None else rules
        nodes = [first]
        z = first
        while True:
            rule = rules[z]
            if rule == PROCESS or (rule - 1) in nodes:
                return nodes, False
            if len(nodes) - 1 >= self.net.max_hops:
                return nodes, self.net.at_hop_limit == "drop"
            if not self.topo.relay_edge[z, rule - 1]:
                return nodes, False
            z = rule - 1
            nodes.append(z)

    def closed_form(self, v: int, first: int, power: int, bits: float, *, rules: list[int] | None = None,
                    relay_level: np.ndarray | None = None, cpu_level: np.ndarray | None = None,
                    f_cpu: np.ndarray | None = None) -> Placement:
        """Eq. 5–7 on the slot's frozen state: sum of D/R over the path (+ kappa_blk n/B) plus
        C D / f at the processing node (its true f_cpu times its CPU level). The keywords
        replace the slot's rules, levels and frequencies (the digital twin's one-slot model,
        ``apps/offload_model.py``, evaluates other joint actions on f^ this way)."""
        tp = self.topo
        relay_level = self.relay_level if relay_level is None else relay_level
        cpu_level = self.cpu_level if cpu_level is None else cpu_level
        f_cpu = self.f_cpu if f_cpu is None else f_cpu
        nodes, dropped = self.path(first, rules)
        power = tp.access_level(v, first, power)
        r0 = float(tp.access_rate_levels[power, v, first])
        t_hops = [tp.airtime(bits, r0, int(tp.access_blocklength[first]), float(tp.access_bw[first]))]
        e_v = transmit_energy_scalar_j(self.vehicle_power(power), bits, r0)
        e_relay, rates, levels = [], [r0], [power]
        for x, y in zip(nodes[:-1], nodes[1:], strict=True):
            lvl = tp.relay_level_to(x, y, int(relay_level[x]))
            r = float(tp.relay_rate_levels[lvl, x, y])
            t_hops.append(tp.airtime(bits, r, int(tp.relay_blocklength[x, y]), float(tp.relay_bw[x, y])))
            e_relay.append(transmit_energy_scalar_j(self.relay_power(x, lvl), bits, r))
            rates.append(r)
            levels.append(lvl)
        if dropped:  # never processed: no processing time or energy
            return Placement(nodes, math.nan, e_v, e_relay, 0.0, t_hops, 0.0, rates, levels, True)
        z = nodes[-1]
        t_proc = processing_latency_scalar_s(bits, self.tasks.cycles_per_bit, f_cpu[z] * cpu_level[z])
        return Placement(nodes, sum(t_hops) + t_proc, e_v, e_relay, self.proc_energy(bits), t_hops,
                         t_proc, rates, levels)
