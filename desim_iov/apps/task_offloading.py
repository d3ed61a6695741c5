"""Task offloading (quantum-DRL paper, Sec. II–IV): vehicles split tasks into subtasks, offload
each whole to one BS or UAV (C2), which processes it or forwards it hop by hop over the
topology (Eq. 5–7) to another BS/UAV, up to a hop limit and never in a loop.

Per slot (one decision epoch): every node's CPU frequency f_cpu(t) = f_max (1 - Delta f) is
redrawn (Eq. 4) and the digital twin's estimate f^ = f_cpu + U(+-0.15 GHz) (Table II) taken;
new tasks appear at the vehicles (``offload.tasks``); vehicles with tasks to place, and every UAV
and BS, observe (Eq. 57/59/61) and act (Eq. 58/60/62): a vehicle picks the first hop, its power
level and the split level for its waiting tasks; a UAV/BS sets its standing rule for the slot
(process here, or forward to a successor), its CPU level and its power level.

Packet fidelity: a SimPy process per subtask: the vehicle's transmitter (one FIFO per link
class: dual connectivity to a BS and a UAV, Sec. II), then at each node its rule: forward
through the node's FIFO transmitter, or join its priority CPU (``queues.PriorityCpu``: P_ij
first, C_z cycles per slot). Rates and f_cpu are those of the moment a transmission or a
service starts. Slot fidelity: the same decisions, paths by the same rules, latency by the
closed form of Eq. 5–7 on the slot's frozen state (no queueing). Both: rewards (Eq. 63–68)
from the closed form at decision time, adjusted by Eq. 90–92 (R + I - P, Alg. 3 line 21).

Every subtask ends in exactly one /subtasks row (traces.schema.SUBTASK_OUTCOMES); a task that
never found a link ends in /tasks (status no_link). See docs/MODEL.md ("Task offloading").
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from desim_iov.apps.offload_spaces import OffloadObservation, OffloadSpaces, db100, features
from desim_iov.decisions import AgentSpec, PolicyError
from desim_iov.kinds import BS_AGENT, UAV, UAV_AGENT, VEHICLE_AGENT, parse_agent
from desim_iov.queues import PriorityCpu
from desim_iov.topology import VB, VU, Topology
from models.compute import cpu_frequency_hz, draw_cpu_deviation, subtask_priority
from models.energy import qos as qos_eq48
from models.energy import qos_normalised
from models.offload_rewards import (
    bs_reward,
    change_share,
    incentives_penalties,
    load_balance,
    task_distribution,
    uav_reward,
    vehicle_reward,
)
from traces.schema import OFFLOAD_DTYPES, SUBTASK_CODE, SUBTASK_OUTCOMES, TASK_CODE, TASK_STATUS

if TYPE_CHECKING:
    from desim_iov.config import Scenario
    from desim_iov.sim import Simulation

IN_TIME, LATE = SUBTASK_CODE["processed_in_time"], SUBTASK_CODE["processed_late"]
EDGE_VANISHED, HOP_LIMIT = SUBTASK_CODE["edge_vanished"], SUBTASK_CODE["hop_limit"]
IN_FLIGHT = SUBTASK_CODE["in_flight_at_end"]
DATASETS = ("tasks", "subtasks", "hops", "node_slots", "links", "agent_steps")
PROCESS = 0  # relay rule code: kappa = 1


class Task:
    __slots__ = ("id", "vehicle", "created", "bits", "slot")

    def __init__(self, id_: int, vehicle: int, created: float, bits: float, slot: int) -> None:
        self.id, self.vehicle, self.created, self.bits, self.slot = id_, vehicle, created, bits, slot


class Subtask:
    """One subtask's record while it runs (written to /subtasks when it ends)."""

    __slots__ = ("id", "task", "vehicle", "j", "priority", "bits", "cycles", "created", "released",
                 "first_node", "proc_node", "hops", "t_tx", "t_queue", "t_proc", "rerouted",
                 "e_tx_vehicle", "e_tx_relay", "e_proc", "arrived", "power_level", "done")

    def __init__(self, id_, task, j, priority, bits, cycles, released, first, level) -> None:
        self.id, self.task, self.vehicle, self.j = id_, task.id, task.vehicle, j
        self.priority, self.bits, self.cycles = priority, bits, cycles
        self.created, self.released = task.created, released
        self.first_node = first
        self.proc_node = -1
        self.hops = 0
        self.t_tx = self.t_queue = self.t_proc = 0.0
        self.rerouted = 0
        self.e_tx_vehicle = self.e_tx_relay = self.e_proc = 0.0
        self.arrived = released
        self.power_level = level
        self.done = False


@dataclass
class OffloadStats:
    """Counters kept while running (the trace holds the full record)."""

    tasks: int = 0
    subtasks: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SUBTASK_OUTCOMES.values(), 0))
    task_status: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TASK_STATUS.values(), 0))
    refused: int = 0
    hops: int = 0


@dataclass
class DigitalTwinView:
    """What the digital twin knows at an epoch (shared by the agents' observations; the
    paper's DT mirrors every node): the topology of the step, the estimated CPU frequencies
    f^, f_max, queued cycles per node, and the task parameters."""

    topology: Topology
    f_est: np.ndarray
    f_max: np.ndarray
    queue_cycles: np.ndarray
    queue_bits: np.ndarray
    cycles_per_bit: float
    max_subtask: float
    max_hops: int
    pending_bits: dict[int, float]


@dataclass
class Outcome:
    """What an epoch's actions earned: the adjusted reward per agent and the raw terms."""

    rewards: dict[str, float]
    infos: dict[str, dict[str, Any]]


@dataclass
class Placement:
    """A subtask's predicted path on the slot's frozen state (the closed form of Eq. 5–7)."""

    nodes: list[int]
    latency: float
    e_vehicle: float
    e_relay: list[float]
    e_proc: float
    t_hops: list[float]
    t_proc: float
    rates: list[float]
    levels: list[int]
    dropped: bool = False  # at the hop limit (at_hop_limit: drop): latency NaN


class TaskOffloadingApp:
    """The task-offloading application on one :class:`~desim_iov.sim.Simulation`."""

    name = "task_offloading"
    uses_server_queues = False  # its own PriorityCpus; no /server_load, no background

    # ------------------------------------------------------------------ static (per scenario)

    @staticmethod
    def datasets(scenario: Scenario, n_servers: int) -> dict[str, np.dtype]:
        return {k: OFFLOAD_DTYPES[k] for k in DATASETS}

    @staticmethod
    def dataset_attrs() -> dict[str, dict[str, Any]]:
        from desim_iov.topology import LINK_TYPES

        return {"subtasks": {"outcome_names": json.dumps({str(k): v for k, v in SUBTASK_OUTCOMES.items()})},
                "tasks": {"status_names": json.dumps({str(k): v for k, v in TASK_STATUS.items()})},
                "hops": {"link_type_names": json.dumps({str(k): v for k, v in LINK_TYPES.items()})},
                "links": {"link_type_names": json.dumps({str(k): v for k, v in LINK_TYPES.items()})}}

    @staticmethod
    def spaces(scenario: Scenario) -> OffloadSpaces:
        return OffloadSpaces(scenario)

    @staticmethod
    def agent_specs(scenario: Scenario) -> dict[str, AgentSpec]:
        return OffloadSpaces(scenario).specs()

    @staticmethod
    def reward_model(scenario: Scenario) -> None:
        """Rewards are computed by the app itself at each epoch (``Outcome.rewards``)."""
        return None

    @staticmethod
    def rewards(shaper: Any, outcome: Outcome) -> dict[str, float]:
        return dict(outcome.rewards)

    @staticmethod
    def infos(outcome: Outcome) -> dict[str, dict[str, Any]]:
        return outcome.infos

    @staticmethod
    def root_attrs() -> dict[str, Any]:
        return {"app": "task_offloading", "subtasks_generated": np.int64(-1),
                "tasks_generated": np.int64(-1)}

    # ------------------------------------------------------------------ one run

    def __init__(self, sim: Simulation) -> None:
        s, w, off = sim.scenario, sim.world, sim.scenario.offload
        self.sim, self.scenario, self.env, self.world = sim, s, sim.env, w
        self.radio, self.recorder, self.off = sim.radio, sim.recorder, off
        self.net, self.tasks_cfg, self.energy_cfg = off.network, off.tasks, off.energy
        self.slot_len = s.slot
        self.packet = s.fidelity == "packet"
        self.spaces_ = OffloadSpaces(s)
        self.topo = Topology(s, w, sim.radio, sim.streams)
        self.topo.update(sim.radio.t)
        B, U, V = self.topo.B, self.topo.U, self.topo.V
        self.B, self.U, self.V, self.N = B, U, V, B + U
        N = self.N
        self.stats = OffloadStats()
        self._rng_tasks = sim.streams.get("tasks")
        self._rng_prio = sim.streams.get("priority")  # chi of Eq. 1 (arrivals stay common to all policies)
        self._rng_cpu = sim.streams.get("cpu")
        self._rng_dt = sim.streams.get("dt")
        self.f_max = w.cpu_hz[:N].astype(float)
        self.f_min = self.f_max * self.net.f_min_ratio
        self.f_cpu = self.f_max.copy()
        self.f_est = self.f_max.copy()
        self._dev_run = None
        self.cpu_level = np.ones(N)
        self.relay_level = np.zeros(N, dtype=int)
        self.rule = [PROCESS] * N  # per node: 0 process, 1 + w forward to w
        self.cpu = [PriorityCpu(self.env, self._freq(z), self.net.capacity_cycles, self.slot_len,
                                self._busy_interval(z)) for z in range(N)]
        self.node_tx = [simpy.Resource(self.env, 1) for _ in range(N)]
        self.vehicle_tx = [(simpy.Resource(self.env, 1), simpy.Resource(self.env, 1)) for _ in range(V)]
        self.pending: list[list[Task]] = [[] for _ in range(V)]
        self.last_targets: list[list[int] | None] = [None] * V
        self.running: dict[int, Subtask] = {}
        self._next_task = 0
        self._next_sub = 0
        # per-slot node accounting (slot -> arrays); busy time may fall into later slots
        self._busy: dict[int, np.ndarray] = {}
        self._admitted = np.zeros(N)
        self._e_tx = np.zeros(N)
        self._e_proc = np.zeros(N)
        self._slot = -1
        self._slot_t = 0.0
        self._epoch: dict[str, Any] | None = None
        self._prev_xyz: tuple[np.ndarray, np.ndarray] | None = None
        self._velocity = (np.zeros((V, 3)), np.zeros((N, 3)))
        self._ap_task = self.recorder.appender("tasks", *OFFLOAD_DTYPES["tasks"].names)
        self._ap_sub = self.recorder.appender("subtasks", *OFFLOAD_DTYPES["subtasks"].names)
        self._ap_hop = self.recorder.appender("hops", *OFFLOAD_DTYPES["hops"].names)
        self._link_every = s.trace.sample_interval  # /links
        self._link_next = 0.0
        self._kinds = np.where(self.topo.is_uav, UAV, 0).astype(np.uint8)

    def _freq(self, z: int):
        return lambda: self.f_cpu[z] * self.cpu_level[z]

    def _busy_interval(self, z: int):
        def on_start(job: Subtask, start: float, end: float) -> None:
            job.t_queue += start - job.arrived
            job.t_proc = end - start
            job.proc_node = z
            job.e_proc = self.energy_cfg.xi * job.cycles
            self._e_proc[z] += job.e_proc
            self._admitted[z] += job.cycles
            self._add_busy(z, start, end)
        return on_start

    def _add_busy(self, z: int, start: float, end: float) -> None:
        tau = self.slot_len
        k = math.floor(start / tau + 1e-9)
        while start < end - 1e-15:
            stop = min(end, (k + 1) * tau)
            arr = self._busy.get(k)
            if arr is None:
                arr = self._busy[k] = np.zeros(self.N)
            arr[z] += stop - start
            start, k = stop, k + 1

    def twin_hosts(self) -> None:
        return None

    def agent_finished(self, agent: str) -> bool:
        return False

    def hindsight(self) -> Any:
        from desim_iov.apps.offload_hindsight import OffloadHindsight

        return OffloadHindsight(self)

    # ------------------------------------------------------------------ kernel hooks

    def tick(self, t: float) -> None:
        """Every mobility step, after the radio: refresh the topology; sample /links."""
        self.topo.update(t)
        r = self.radio
        if self._prev_xyz is not None and t > self._prev_t:
            dt = t - self._prev_t
            self._velocity = ((r.vehicle_xyz - self._prev_xyz[0]) / dt,
                              (r.server_xyz[: self.N] - self._prev_xyz[1]) / dt)
        self._prev_xyz, self._prev_t = (r.vehicle_xyz.copy(), r.server_xyz[: self.N].copy()), t
        if t + 1e-12 >= self._link_next:
            self._write_links(t)
            self._link_next = t + self._link_every

    def _write_links(self, t: float) -> None:
        tp, N = self.topo, self.N
        v, z = np.nonzero(tp.access_edge)
        a, b = np.nonzero(tp.relay_edge)
        rows = self.recorder.rows("links", len(v) + len(a))
        rows["time"] = t
        k = len(v)
        rows["src"][:k], rows["dst"][:k] = N + v, z
        rows["link_type"][:k] = tp.access_type[z]
        for name, arr in (("distance", tp.access_distance), ("pl_db", tp.access_pl_db),
                          ("gain", tp.access_gain), ("snr", tp.access_snr), ("rate", tp.access_rate)):
            rows[name][:k] = arr[v, z]
        rows["src"][k:], rows["dst"][k:] = a, b
        rows["link_type"][k:] = tp.relay_type[a, b]
        for name, arr in (("distance", tp.relay_distance), ("pl_db", tp.relay_pl_db),
                          ("gain", tp.relay_gain), ("snr", tp.relay_snr), ("rate", tp.relay_rate)):
            rows[name][k:] = arr[a, b]
        self.recorder.append_many("links", rows)

    def start_traffic(self) -> None:
        """Packet fidelity: subtask processes start when their subtasks are released."""

    def slot_arrivals(self, t: float) -> None:
        """Slot fidelity: subtasks are computed in closed form when released (``apply``)."""

    # ------------------------------------------------------------------ per slot

    def _new_slot(self, slot: int, t: float) -> None:
        if self._slot >= 0:
            self._write_node_slot(self._slot, self._slot_t)
        self._slot, self._slot_t = slot, t
        self._admitted[:] = 0.0
        self._e_tx[:] = 0.0
        self._e_proc[:] = 0.0
        net, N = self.net, self.N
        if net.cpu_deviation != "none":
            if net.cpu_deviation_period == "slot" or self._dev_run is None:
                dev = draw_cpu_deviation(self._rng_cpu, N, distribution=net.cpu_deviation,
                                         variance=net.cpu_deviation_scale,
                                         half_width=net.cpu_deviation_scale)
                self._dev_run = dev
            self.f_cpu = cpu_frequency_hz(self.f_max, self._dev_run, f_min_hz=self.f_min)
        err = net.dt_cpu_error
        self.f_est = np.maximum(self.f_cpu + self._rng_dt.uniform(-err, err, N), 0.0) if err else self.f_cpu.copy()

    def _write_node_slot(self, slot: int, t: float) -> None:
        rows = self.recorder.rows("node_slots", self.N)
        busy = self._busy.pop(slot, np.zeros(self.N))
        rows["slot"], rows["time"], rows["node"] = slot, t, np.arange(self.N)
        rows["kind"] = self._kinds
        rows["f_cpu"], rows["f_est"], rows["cpu_level"] = self.f_cpu, self.f_est, self.cpu_level
        rows["power"] = [self._relay_power(z, int(self.relay_level[z])) for z in range(self.N)]
        rows["target"] = [r - 1 for r in self.rule]
        rows["admitted_cycles"] = self._admitted
        rows["queue_cycles"] = [c.queued_cycles for c in self.cpu]
        rows["busy_frac"] = busy / self.slot_len
        rows["e_tx"], rows["e_proc"] = self._e_tx, self._e_proc
        self.recorder.append_many("node_slots", rows)

    def _arrivals(self, slot: int, t: float) -> None:
        tc = self.tasks_cfg
        if tc.arrivals == "per_step":
            new = np.ones(self.V, dtype=bool)
        else:
            new = self._rng_tasks.random(self.V) < tc.prob_per_slot
        for v in np.flatnonzero(new).tolist():
            self.pending[v].append(Task(self._next_task, v, t, tc.size, slot))
            self._next_task += 1
            self.stats.tasks += 1
        # tasks held too long without any link: dropped (C1 unmet)
        for v in range(self.V):
            keep = []
            for task in self.pending[v]:
                if slot - task.slot > tc.hold_slots:
                    self._write_task(task, np.nan, 0, 0, TASK_CODE["no_link"])
                else:
                    keep.append(task)
            self.pending[v] = keep

    def _write_task(self, task: Task, released: float, level: int, n_sub: int, status: int) -> None:
        self._ap_task((task.id, task.vehicle, task.created, task.bits, released, level, n_sub, status))
        self.stats.task_status[TASK_STATUS[status]] += 1

    # ------------------------------------------------------------------ observe

    def observe(self, slot: int, t: float) -> dict[str, OffloadObservation]:
        self.topo.update(t)
        self._new_slot(slot, t)
        self._arrivals(slot, t)
        tp, N = self.topo, self.N
        qc = np.array([c.queued_cycles for c in self.cpu])
        qb = np.array([sum(j.bits for j in c.jobs()) for c in self.cpu])
        dt = DigitalTwinView(tp, self.f_est.copy(), self.f_max, qc, qb, self.tasks_cfg.cycles_per_bit,
                             self.tasks_cfg.max_subtask, self.net.max_hops,
                             {v: sum(x.bits for x in self.pending[v]) for v in range(self.V) if self.pending[v]})
        sp = self.spaces_
        obs: dict[str, OffloadObservation] = {}
        vel_v, vel_s = self._velocity
        for a, kind, i in sp.agents():
            if kind == VEHICLE_AGENT:
                if not self.pending[i]:
                    continue
                feats = self._vehicle_features(i, vel_v[i])
                target = np.zeros(N + 1, np.int8)
                target[:N] = tp.access_edge[i]
                if not target.any():
                    target[N] = 1  # no edge: hold (retry next slot)
            else:
                feats = self._relay_features(i, kind, vel_s[i], qc, qb)
                target = np.zeros(N + 1, np.int8)
                target[PROCESS] = 1
                target[1:] = tp.relay_edge[i]
            nvec = sp.nvec[kind]
            mask = np.concatenate([target, np.ones(nvec[1] + nvec[2], np.int8)])
            obs[a] = OffloadObservation(a, kind, i, feats, mask, nvec, dt)
        self._epoch = {"slot": slot, "t": t, "obs": obs, "dt": dt}
        return obs

    def _motion(self, vel: np.ndarray) -> list[float]:
        speed = float(np.hypot(vel[0], vel[1]))
        heading = math.atan2(vel[1], vel[0]) if speed > 0 else 0.0
        ascent = math.atan2(vel[2], speed) if speed > 0 or vel[2] else 0.0
        return [speed / 50.0, vel[2] / 10.0, heading / math.pi, ascent / (math.pi / 2)]

    def _energy_left(self, used: float, budget: float) -> float:
        return 1.0 - used / budget

    def _vehicle_features(self, v: int, vel: np.ndarray) -> np.ndarray:
        tp, tc = self.topo, self.tasks_cfg
        head = self.pending[v][0]
        return features([
            self.radio.vehicle_xyz[v] / 1000.0, self._motion(vel),
            db100(tp.access_gain[v]), tp.access_pl_db[v] / 100.0,
            [head.bits / tc.max_subtask, tc.cycles_per_bit / 100.0, (self._slot - head.slot) / max(tc.hold_slots, 1)],
            [1.0],  # energy left: the vehicle budget is per slot and nothing is spent yet
        ])

    def _relay_features(self, z: int, kind: str, vel: np.ndarray, qc: np.ndarray, qb: np.ndarray) -> np.ndarray:
        tp, N, tc = self.topo, self.N, self.tasks_cfg
        jobs = self.cpu[z].jobs()
        if jobs:
            head = max(jobs, key=lambda j: j.priority)
            queue = [len(jobs) / 10.0, qb[z] / tc.max_subtask, qc[z] / max(qb[z], 1.0) / 100.0,
                     head.priority, head.bits / tc.max_subtask]
        else:
            queue = [0.0] * 5
        tail = [self.f_est[z] / self.f_max[z], self._energy_left(self._e_tx[z] + self._e_proc[z],
                                                                  self.energy_cfg.node_budget)]
        pos = self.radio.server_xyz[z] / 1000.0
        if kind == UAV_AGENT:
            others = np.arange(N) != z
            return features([pos, self._motion(vel), db100(tp.relay_gain[z, others]),
                             tp.relay_pl_db[z, others] / 100.0, queue, tail])
        # BS: links into it from every vehicle and every UAV
        gains = np.concatenate([tp.access_gain[:, z], tp.relay_gain[self.B:, z]])
        pls = np.concatenate([tp.access_pl_db[:, z], tp.relay_pl_db[self.B:, z]])
        parts = [pos, db100(gains)]
        if self.spaces_.bs_pl:
            parts.append(pls / 100.0)
        return features(parts + [queue, tail])

    # ------------------------------------------------------------------ apply

    def apply(self, actions: dict[str, Any], policy_name: str = "?") -> Outcome:
        ep = self._epoch
        if ep is None:
            raise PolicyError("apply() without an epoch")
        obs: dict[str, OffloadObservation] = ep["obs"]
        unknown = [a for a in actions if a not in obs]
        if unknown:
            raise PolicyError(f"policy {policy_name!r}: actions for agents not acting now: {unknown[:3]}")
        missing = [a for a in obs if a not in actions]
        if missing:
            raise PolicyError(f"policy {policy_name!r}: no action for {missing[:3]}")
        decoded: dict[str, tuple[int, int, int, bool]] = {}
        for a, o in obs.items():
            decoded[a] = self._decode(a, o, actions[a], policy_name)
        # relays first: their rules hold for the whole slot
        N = self.N
        for a, (target, lvl_a, lvl_b, _) in decoded.items():
            if obs[a].kind != VEHICLE_AGENT:
                z = obs[a].index
                self.rule[z] = target
                self.cpu_level[z] = self.net.cpu_levels[lvl_a]
                self.relay_level[z] = lvl_b
        released: dict[int, list[tuple[Subtask, Placement]]] = {}
        for a, (target, power, split, _) in decoded.items():
            o = obs[a]
            if o.kind != VEHICLE_AGENT or target == N:
                continue  # relays, or a vehicle holding its tasks
            released[o.index] = self._release(o.index, target, power, split)
        self._epoch = None
        return self._score(ep, decoded, released)

    def _decode(self, agent: str, o: OffloadObservation, action: Any, policy_name: str) -> tuple[int, int, int, bool]:
        """(target, level a, level b, refused): an action outside the mask is refused and
        replaced (vehicles: the fastest first hop; relays: process here)."""
        try:
            arr = np.asarray(action, dtype=np.int64).reshape(-1)
        except (TypeError, ValueError):
            raise PolicyError(f"policy {policy_name!r}: action {action!r} of {agent} is not 3 integers") from None
        if arr.shape != (3,) or not np.array_equal(arr, np.asarray(action, dtype=float).reshape(-1)):
            raise PolicyError(f"policy {policy_name!r}: action {action!r} of {agent} is not 3 integers")
        t, a, b = (int(x) for x in arr)
        if not (0 <= t < o.nvec[0] and 0 <= a < o.nvec[1] and 0 <= b < o.nvec[2]):
            raise PolicyError(f"policy {policy_name!r}: action {action!r} of {agent} outside {o.nvec}")
        if o.mask[t]:
            return t, a, b, False
        self.stats.refused += 1
        if o.kind == VEHICLE_AGENT:
            allowed = np.flatnonzero(o.mask[: self.N])
            if allowed.size:
                rates = self.topo.access_rate[o.index, allowed]
                return int(allowed[np.argmax(rates)]), a, b, True
            return self.N, a, b, True
        return PROCESS, a, b, True

    def _release(self, v: int, first: int, power: int, split: int) -> list[tuple[Subtask, Placement]]:
        tc = self.tasks_cfg
        level = tc.split_levels[split]
        t = self.env.now
        out = []
        for task in self.pending[v]:
            n = tc.n_subtasks(level)
            bits = task.bits / n
            chi = self._rng_prio.random(n)
            prio = subtask_priority(np.full(n, tc.cycles_per_bit), np.full(n, bits), chi,
                                    alpha=tc.priority.alpha, beta=tc.priority.beta, gamma=tc.priority.gamma)
            self._write_task(task, t, level, n, TASK_CODE["released"])
            for j in range(n):
                st = Subtask(self._next_sub, task, j, float(prio[j]), bits, bits * tc.cycles_per_bit,
                             t, first, power)
                self._next_sub += 1
                self.stats.subtasks += 1
                pl = self._closed_form(v, first, power, bits, st.cycles)
                out.append((st, pl))
                if self.packet:
                    self.running[st.id] = st
                    self.env.process(self._run(st))
                else:
                    self._finish_closed_form(st, pl)
        self.pending[v] = []
        return out

    # ------------------------------------------------------------------ the closed form

    def _path(self, first: int) -> tuple[list[int], bool]:
        """Nodes a subtask placed at ``first`` visits under the slot's rules, in the packet
        process's order of checks (loop guard, hop limit, link), and whether it is dropped at
        the hop limit (``at_hop_limit: drop``); otherwise the last node processes."""
        nodes = [first]
        z = first
        while True:
            rule = self.rule[z]
            if rule == PROCESS or (rule - 1) in nodes:
                return nodes, False
            if len(nodes) - 1 >= self.net.max_hops:
                return nodes, self.net.at_hop_limit == "drop"
            if not self.topo.relay_edge[z, rule - 1]:
                return nodes, False
            z = rule - 1
            nodes.append(z)

    def _closed_form(self, v: int, first: int, power: int, bits: float, cycles: float) -> Placement:
        """Eq. 5–7 on the slot's frozen state: sum of D/R over the path (+ kappa_blk n/B) plus
        C D / f at the processing node (its true f_cpu times its CPU level)."""
        tp = self.topo
        nodes, dropped = self._path(first)
        power = tp.access_level(v, first, power)
        r0 = float(tp.access_rate_levels[power, v, first])
        t_hops = [tp.airtime(bits, r0, int(tp.access_blocklength[first]), float(tp.access_bw[first]))]
        e_v = self._vehicle_power(power) * bits / r0
        e_relay, rates, levels = [], [r0], [power]
        for x, y in zip(nodes[:-1], nodes[1:], strict=True):
            lvl = tp.relay_level_to(x, y, int(self.relay_level[x]))
            r = float(tp.relay_rate_levels[lvl, x, y])
            t_hops.append(tp.airtime(bits, r, int(tp.relay_blocklength[x, y]), float(tp.relay_bw[x, y])))
            e_relay.append(self._relay_power(x, lvl) * bits / r)
            rates.append(r)
            levels.append(lvl)
        z = nodes[-1]
        t_proc = cycles / (self.f_cpu[z] * self.cpu_level[z])
        if dropped:  # never processed: no processing time or energy
            return Placement(nodes, math.nan, e_v, e_relay, 0.0, t_hops, 0.0, rates, levels, True)
        return Placement(nodes, sum(t_hops) + t_proc, e_v, e_relay, self.energy_cfg.xi * cycles, t_hops,
                         t_proc, rates, levels)

    def _vehicle_power(self, level: int) -> float:
        return self.scenario.vehicles.tx_power * 10 ** (-level * self.net.power_step_db / 10)

    def _relay_power(self, z: int, level: int) -> float:
        return float(self.world.tx_power_w[z]) * 10 ** (-level * self.net.power_step_db / 10)

    def _finish_closed_form(self, st: Subtask, pl: Placement) -> None:
        """Slot fidelity: the subtask's hops and outcome from the closed form, recorded as the
        packet kernel records them: a hop when it ends, processing energy when the service
        starts, nothing that would happen after the run's end (then ``in_flight_at_end``)."""
        tp, N, end_of_run = self.topo, self.N, self.scenario.duration
        t = st.released
        src = N + st.vehicle
        for h, dst in enumerate(pl.nodes):
            dur, rate = pl.t_hops[h], pl.rates[h]
            if t + dur > end_of_run:
                self._write_subtask(st, np.nan, IN_FLIGHT)
                return
            if h == 0:
                ltype, power, energy = int(tp.access_type[dst]), self._vehicle_power(pl.levels[0]), pl.e_vehicle
                st.e_tx_vehicle = energy
            else:
                ltype, energy = int(tp.relay_type[src, dst]), pl.e_relay[h - 1]
                power = self._relay_power(src, pl.levels[h])
                self._e_tx[src] += energy
                st.e_tx_relay += energy
                st.hops = h
            self._ap_hop((st.id, h, src, dst, ltype, t, t + dur, st.bits, rate, power, energy))
            st.t_tx += dur
            t += dur
            src = dst
        if pl.dropped:
            self._write_subtask(st, np.nan, HOP_LIMIT)
            return
        z = pl.nodes[-1]
        st.proc_node, st.t_proc, st.e_proc = z, pl.t_proc, pl.e_proc
        self._e_proc[z] += pl.e_proc
        self._admitted[z] += st.cycles
        self._add_busy(z, t, t + pl.t_proc)
        done = t + pl.t_proc
        self._write_subtask(st, done if done <= end_of_run else np.nan,
                            None if done <= end_of_run else IN_FLIGHT)

    # ------------------------------------------------------------------ packet fidelity

    def _run(self, st: Subtask):
        env, tp, N, v = self.env, self.topo, self.N, st.vehicle
        z = st.first_node
        tx = self.vehicle_tx[v][int(tp.is_uav[z])]
        req = tx.request()
        yield req
        try:
            if not tp.access_edge[v, z]:  # the first hop's link vanished while queued
                allowed = np.flatnonzero(tp.access_edge[v])
                if not allowed.size:
                    self._write_subtask(st, np.nan, EDGE_VANISHED)
                    return
                z = int(allowed[np.argmax(tp.access_rate[v, allowed])])
                st.rerouted += 1
                st.first_node = z
            lvl = tp.access_level(v, z, st.power_level)
            rate = float(tp.access_rate_levels[lvl, v, z])
            air = tp.airtime(st.bits, rate, int(tp.access_blocklength[z]), float(tp.access_bw[z]))
            start = env.now
            st.t_queue += start - st.arrived
            yield env.timeout(air)
        finally:
            tx.release(req)
        p_v = self._vehicle_power(lvl)
        st.e_tx_vehicle = p_v * st.bits / rate
        st.t_tx += air
        self._ap_hop((st.id, 0, N + v, z, int(tp.access_type[z]), start, start + air, st.bits, rate,
                      p_v, st.e_tx_vehicle))
        visited = [z]
        while True:
            st.arrived = env.now
            rule = self.rule[z]
            if rule == PROCESS or (rule - 1) in visited:
                break
            nxt = rule - 1
            if st.hops >= self.net.max_hops:
                if self.net.at_hop_limit == "drop":
                    self._write_subtask(st, np.nan, HOP_LIMIT)
                    return
                break
            if not tp.relay_edge[z, nxt]:
                st.rerouted += 1  # the rule's link is gone: process here
                break
            req = self.node_tx[z].request()
            yield req
            try:
                if not tp.relay_edge[z, nxt]:  # gone while waiting for the transmitter
                    st.rerouted += 1
                    st.t_queue += env.now - st.arrived
                    st.arrived = env.now
                    break
                lvl = tp.relay_level_to(z, nxt, int(self.relay_level[z]))
                rate = float(tp.relay_rate_levels[lvl, z, nxt])
                air = tp.airtime(st.bits, rate, int(tp.relay_blocklength[z, nxt]), float(tp.relay_bw[z, nxt]))
                start = env.now
                st.t_queue += start - st.arrived
                yield env.timeout(air)
            finally:
                self.node_tx[z].release(req)
            power = self._relay_power(z, lvl)
            energy = power * st.bits / rate
            st.e_tx_relay += energy
            self._e_tx[z] += energy
            st.t_tx += air
            st.hops += 1
            self._ap_hop((st.id, st.hops, z, nxt, int(tp.relay_type[z, nxt]), start, start + air,
                          st.bits, rate, power, energy))
            visited.append(nxt)
            z = nxt
        done = env.event()
        self.cpu[z].submit(st, st.priority, st.cycles, lambda job, s, e: done.succeed(e))
        end = yield done
        self._write_subtask(st, end, None)

    # ------------------------------------------------------------------ records

    def _write_subtask(self, st: Subtask, finished: float, outcome: int | None) -> None:
        deadline = self.tasks_cfg.deadline
        q = self.off.qos
        latency = finished - st.released
        met = False
        qv = qn = np.nan
        if outcome is None:
            met = latency <= deadline + 1e-12
            outcome = IN_TIME if met else LATE
            lat = max(latency, 1e-12)
            qv = float(qos_eq48(lat, st.e_tx_vehicle, w_l=q.w_l, w_e=q.w_e))
            qn = float(qos_normalised(lat, st.e_tx_vehicle, q_max=q.q_max, q_min=q.q_min,
                                      w_l=q.w_l, w_e=q.w_e, clip=q.clip))
        self._ap_sub((st.id, st.task, st.vehicle, st.j, st.priority, st.bits, st.cycles, st.created,
                      st.released, st.first_node, st.proc_node, st.hops, st.t_tx, st.t_queue, st.t_proc,
                      finished, latency, outcome, int(met), st.rerouted, st.e_tx_vehicle, st.e_tx_relay,
                      st.e_proc, qv, qn))
        st.done = True
        self.running.pop(st.id, None)
        self.stats.outcomes[SUBTASK_OUTCOMES[outcome]] += 1
        self.stats.hops += st.hops

    # ------------------------------------------------------------------ rewards

    def _score(self, ep: dict[str, Any], decoded: dict[str, tuple[int, int, int, bool]],
               released: dict[int, list[tuple[Subtask, Placement]]]) -> Outcome:
        """Eq. 63–68 per acting agent from the closed form of the slot's placements, adjusted
        by Eq. 90–92 (Alg. 3 line 21); /agent_steps rows."""
        cfg, tc, en, q = self.off.reward, self.tasks_cfg, self.energy_cfg, self.off.qos
        rho = tc.deadline
        N = self.N
        handled = np.zeros(N)
        lat_sum, met_sum = np.zeros(N), np.zeros(N)
        proc_cycles, e_node = np.zeros(N), np.zeros(N)
        drop_latency = cfg.drop_latency * rho

        def latency(pl: Placement) -> float:  # a subtask dropped at the hop limit never ends
            return drop_latency if pl.dropped else pl.latency

        for items in released.values():
            for st, pl in items:
                for k, z in enumerate(pl.nodes):
                    handled[z] += 1
                    lat_sum[z] += latency(pl)
                    met_sum[z] += latency(pl) <= rho
                    if k < len(pl.e_relay):
                        e_node[z] += pl.e_relay[k]
                if not pl.dropped:
                    z = pl.nodes[-1]
                    proc_cycles[z] += st.cycles
                    e_node[z] += pl.e_proc
        relay_ids = [o.index for o in ep["obs"].values() if o.kind != VEHICLE_AGENT]
        n_mean = float(handled[relay_ids].mean()) if relay_ids else 0.0
        rewards: dict[str, float] = {}
        infos: dict[str, dict[str, Any]] = {}
        rows = []
        for a, (target, la, lb, refused) in decoded.items():
            o = ep["obs"][a]
            kind, i = o.kind, o.index
            if kind == VEHICLE_AGENT:
                items = released.get(i, [])
                if items:
                    lat = float(np.mean([latency(pl) for _, pl in items]))
                    e = float(sum(pl.e_vehicle for _, pl in items))
                    qv = float(np.mean([qos_eq48(max(latency(pl), 1e-12), pl.e_vehicle, w_l=q.w_l, w_e=q.w_e)
                                        for _, pl in items]))
                    l_n, e_n, q_n = lat / rho, e / en.vehicle_budget, qv / q.q_min
                    r = vehicle_reward(l_n, e_n, q_n, cfg.w_vehicle)
                    targets = [pl.nodes[0] for _, pl in items]
                    chg = change_share(self.last_targets[i], targets)
                    self.last_targets[i] = targets
                    adj = incentives_penalties(l_n, e_n, q_n, omega=cfg.omega, lam=cfg.lam,
                                               extra_penalty=cfg.change_penalty * max(0.0, chg - cfg.max_change))
                    info = {"latency": lat, "energy": e, "qos": qv, "subtasks": len(items), "changed": chg}
                else:  # held: nothing placed this slot
                    r, adj = 0.0, incentives_penalties(None, 0.0, None, omega=cfg.omega, lam=cfg.lam)
                    info = {"latency": float("nan"), "energy": 0.0, "qos": float("nan"), "subtasks": 0, "changed": 0.0}
            else:
                n = handled[i]
                l_n = lat_sum[i] / n / rho if n else None
                e_n = e_node[i] / en.node_budget
                f = self.f_cpu[i] * self.cpu_level[i]
                busy = proc_cycles[i] / f
                ru = min(1.0, busy / self.slot_len)
                ql = self.cpu[i].queued_cycles / self.net.capacity_cycles
                if kind == UAV_AGENT:
                    eta = met_sum[i] / n if n else 0.0
                    lb_ = load_balance(task_distribution(n, n_mean), ru, ql, cfg.beta)
                    r = uav_reward(eta, l_n or 0.0, lb_, e_n, zeta_tf=cfg.zeta_tf, zeta_e=cfg.zeta_e, alpha=cfg.alpha)
                else:
                    r = bs_reward(ru, e_n, zeta_tp=cfg.zeta_tp, zeta_e=cfg.zeta_e)
                load_pen = cfg.load_penalty * max(0.0, busy - rho) / rho
                adj = incentives_penalties(l_n, e_n, None, omega=cfg.omega, lam=cfg.lam, extra_penalty=load_pen)
                info = {"handled": int(n), "energy": float(e_node[i]), "busy": busy,
                        "latency": (l_n * rho) if l_n is not None else float("nan")}
            r_adj = r + adj.incentive - adj.penalty
            rewards[a] = float(r_adj)
            info.update(reward=float(r), incentive=adj.incentive, penalty=adj.penalty, refused=refused)
            infos[a] = info
            rows.append((ep["slot"], ep["t"], kind.encode(), i if kind == VEHICLE_AGENT else
                         (i - self.B if kind == UAV_AGENT else i),
                         target if kind == VEHICLE_AGENT else target - 1, la, lb, int(refused),
                         int(o.mask[: o.nvec[0]].sum()), r, adj.incentive, adj.penalty, r_adj))
        if rows:
            arr = np.array(rows, dtype=OFFLOAD_DTYPES["agent_steps"])
            self.recorder.append_many("agent_steps", arr)
        return Outcome(rewards, infos)

    # ------------------------------------------------------------------ end

    def finish(self) -> dict[str, Any]:
        """End of the run: subtasks still running end ``in_flight_at_end``, tasks still held
        ``held_at_end``; the last slot's /node_slots; root attributes."""
        for st in sorted(self.running.values(), key=lambda s: s.id):
            self._write_subtask(st, np.nan, IN_FLIGHT)
        for v in range(self.V):
            for task in self.pending[v]:
                self._write_task(task, np.nan, 0, 0, TASK_CODE["held_at_end"])
            self.pending[v] = []
        if self._slot >= 0:
            self._write_node_slot(self._slot, self._slot_t)
            self._slot = -1
        return {"subtasks_generated": np.int64(self.stats.subtasks),
                "tasks_generated": np.int64(self.stats.tasks)}


def agent_index(agent: str, B: int) -> tuple[str, int]:
    """(kind, node or vehicle index) of an agent id: UAV ``uav_j`` is node B + j."""
    kind, i = parse_agent(agent)
    return kind, (B + i if kind == UAV_AGENT else i)


__all__ = ["BS_AGENT", "VB", "VU", "DigitalTwinView", "Outcome", "TaskOffloadingApp", "agent_index"]
