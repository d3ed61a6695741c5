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

The digital twin (``desim_iov/digital_twin.py``, ``app.twin``) is synced every slot with
every agent's state and previous action, serves the f^ estimates and queues the agents and
heuristics see (``DigitalTwinView``; ``offload.dt``: sync delay, "without DT") and the
forecast block appended to every observation.

Every subtask ends in exactly one /subtasks row (traces.schema.SUBTASK_OUTCOMES); a task that
never found a link ends in /tasks (status no_link). See docs/MODEL.md ("Task offloading").
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from desim_iov.apps.offload_nodes import PROCESS, OffloadNodes
from desim_iov.apps.offload_process import IN_FLIGHT, finish_closed_form, subtask_process
from desim_iov.apps.offload_records import (
    DigitalTwinView,
    OffloadStats,
    Outcome,
    Placement,
    Subtask,
    Task,
)
from desim_iov.apps.offload_scoring import RewardScorer
from desim_iov.apps.offload_spaces import (
    OffloadObservation,
    OffloadSpaces,
    agent_states,
    target_mask,
)
from desim_iov.decisions import AgentSpec, PolicyError
from desim_iov.digital_twin import DigitalTwin
from desim_iov.kinds import UAV_AGENT, VEHICLE_AGENT
from desim_iov.topology import Topology
from models.compute import (
    subtask_priority,
)
from models.energy import qos as qos_eq48
from models.energy import qos_normalised
from traces.schema import OFFLOAD_DTYPES, SUBTASK_CODE, SUBTASK_OUTCOMES, TASK_CODE, TASK_STATUS

if TYPE_CHECKING:
    from desim_iov.config import Scenario
    from desim_iov.sim import Simulation

IN_TIME, LATE = SUBTASK_CODE["processed_in_time"], SUBTASK_CODE["processed_late"]
DATASETS = ("tasks", "subtasks", "hops", "node_slots", "links", "agent_steps", "dt_states")


class TaskOffloadingApp:
    """The task-offloading application on one :class:`~desim_iov.sim.Simulation`."""

    name = "task_offloading"
    uses_server_queues = False  # its own PriorityCpus; no /server_load, no background

    # ------------------------------------------------------------------ static (per scenario)

    @staticmethod
    def datasets(scenario: Scenario, n_servers: int) -> dict[str, np.dtype]:
        out = {k: OFFLOAD_DTYPES[k] for k in DATASETS}
        dt = scenario.offload.dt
        if dt.enabled and dt.predictor != "none":
            out["dt_predictions"] = OFFLOAD_DTYPES["dt_predictions"]
        return out

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
        self.scenario, self.env = s, sim.env
        self.radio, self.recorder, self.off = sim.radio, sim.recorder, off
        self.net, self.tasks_cfg, self.energy_cfg = off.network, off.tasks, off.energy
        self.packet = s.fidelity == "packet"
        self.spaces_ = OffloadSpaces(s)
        self.topo = Topology(s, w, sim.radio, sim.streams)
        self.topo.update(sim.radio.t)
        B, V, N = self.topo.B, self.topo.V, self.topo.N
        self.B, self.V, self.N = B, V, N
        self.stats = OffloadStats()
        self._rng_tasks = sim.streams.get("tasks")
        self._rng_prio = sim.streams.get("priority")  # chi of Eq. 1 (arrivals stay common to all policies)
        self.nodes = OffloadNodes(s, w, self.topo, self.env, sim.streams, self.recorder)
        self.vehicle_tx = [(simpy.Resource(self.env, 1), simpy.Resource(self.env, 1)) for _ in range(V)]
        self.pending: list[list[Task]] = [[] for _ in range(V)]
        self.scorer = RewardScorer(s, self.recorder, B)
        self.running: dict[int, Subtask] = {}
        self._next_task = 0
        self._next_sub = 0
        self._epoch: dict[str, Any] | None = None
        self._prev_xyz: tuple[np.ndarray, np.ndarray] | None = None
        self._velocity = (np.zeros((V, 3)), np.zeros((N, 3)))
        self._ap_task = self.recorder.appender("tasks", *OFFLOAD_DTYPES["tasks"].names)
        self._ap_sub = self.recorder.appender("subtasks", *OFFLOAD_DTYPES["subtasks"].names)
        self._ap_hop = self.recorder.appender("hops", *OFFLOAD_DTYPES["hops"].names)
        self._link_every = s.trace.sample_interval  # /links
        self._link_next = 0.0
        self.twin = DigitalTwin(off.dt, self.spaces_, self.nodes.f_max, self.recorder)
        self._last_actions = DigitalTwin.no_actions(self.twin.counts)  # of the previous slot

    @property
    def dt_enabled(self) -> bool:
        """Whether the digital twin runs (``offload.dt.enabled``): without it ("without DT",
        reading A45) agents see local state only, there is no forecast, and no model of the
        slot to evaluate (a Nash-equilibrium step on the DT's one-slot model is unavailable)."""
        return self.twin.enabled

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
            self.topo.write_links(self.recorder, t)
            self._link_next = t + self._link_every

    def start_traffic(self) -> None:
        """Packet fidelity: subtask processes start when their subtasks are released."""

    def slot_arrivals(self, t: float) -> None:
        """Slot fidelity: subtasks are computed in closed form when released (``apply``)."""

    # ------------------------------------------------------------------ per slot

    def _arrivals(self, slot: int, t: float) -> None:
        tc = self.tasks_cfg
        if tc.arrival_slots is not None and slot >= tc.arrival_slots:
            new = np.zeros(self.V, dtype=bool)
        elif tc.arrivals == "per_step":
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
        self.nodes.new_slot(slot, t)
        self._arrivals(slot, t)
        tp, nodes, twin = self.topo, self.nodes, self.twin
        qc = np.array([c.queued_cycles for c in nodes.cpu])
        qb = np.array([sum(j.bits for j in c.jobs()) for c in nodes.cpu])
        # the synced state: a relay's f feature is the DT's f^ (without the DT its own f_cpu)
        spent = (nodes.e_tx + nodes.e_proc) / self.energy_cfg.node_budget
        states = agent_states(self.spaces_, tp, self.radio, self._velocity, self.pending, nodes.cpu, qc, qb,
                              (nodes.f_est if twin.enabled else nodes.f_cpu) / nodes.f_max, 1.0 - spent,
                              slot, self.tasks_cfg)
        twin.sync(slot, t, states, self._last_actions, f_est=nodes.f_est, queue_cycles=qc, queue_bits=qb)
        self._last_actions = DigitalTwin.no_actions(twin.counts)
        f_dt, qc_dt, qb_dt = twin.served()  # k slots old; nominal/empty without the DT
        dt = DigitalTwinView(tp, f_dt, nodes.f_max, qc_dt, qb_dt, self.tasks_cfg.cycles_per_bit,
                             self.tasks_cfg.max_subtask, self.net.max_hops,
                             {v: sum(x.bits for x in self.pending[v]) for v in range(self.V) if self.pending[v]},
                             self._epoch_model if twin.enabled else None)
        block = twin.forecast_block()
        stale_f = twin.enabled and twin.delay > 0
        sp = self.spaces_
        obs: dict[str, OffloadObservation] = {}
        for a, kind, i in sp.agents():
            if kind == VEHICLE_AGENT and not self.pending[i]:
                continue
            base = states[kind][i - self.B if kind == UAV_AGENT else i]
            if kind != VEHICLE_AGENT and stale_f:  # the DT's f^ as it knows it, k slots old
                base = base.copy()
                base[sp.f_index[kind]] = f_dt[i] / nodes.f_max[i]
            view = twin.local_view(dt, kind, None if kind == VEHICLE_AGENT else i, f_cpu=nodes.f_cpu,
                                   queue_cycles=qc, queue_bits=qb, vehicle=i if kind == VEHICLE_AGENT else None)
            nvec = sp.nvec[kind]
            mask = np.concatenate([target_mask(tp, kind, i), np.ones(nvec[1] + nvec[2], np.int8)])
            obs[a] = OffloadObservation(a, kind, i, np.concatenate([base, block]), mask, nvec, view)
        self._epoch = {"slot": slot, "t": t, "obs": obs, "dt": dt}
        return obs

    def _epoch_model(self) -> Any:
        """The DT's one-slot model of the open epoch (Alg. 3; apps/offload_model.py)."""
        from desim_iov.apps.offload_model import EpochModel

        return EpochModel(self)

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
            k = o.index - self.B if o.kind == UAV_AGENT else o.index
            self._last_actions[o.kind][k] = decoded[a][:3]  # what the DT syncs next slot
        # relays first: their rules hold for the whole slot
        N = self.N
        for a, (target, lvl_a, lvl_b, _) in decoded.items():
            if obs[a].kind != VEHICLE_AGENT:
                z = obs[a].index
                self.nodes.rule[z] = target
                self.nodes.cpu_level[z] = self.net.cpu_levels[lvl_a]
                self.nodes.relay_level[z] = lvl_b
        released: dict[int, list[tuple[Subtask, Placement]]] = {}
        for a, (target, power, split, _) in decoded.items():
            o = obs[a]
            if o.kind != VEHICLE_AGENT or target == N:
                continue  # relays, or a vehicle holding its tasks
            released[o.index] = self._release(o.index, target, power, split)
        self._epoch = None
        return self.scorer.score(ep, decoded, released, f_cpu=self.nodes.f_cpu, cpu_level=self.nodes.cpu_level,
                                 queued_cycles=self.nodes.queued_cycles())

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
            z = self.topo.fastest_access(o.index)
            return (z if z >= 0 else self.N), a, b, True
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
                pl = self.nodes.closed_form(v, first, power, bits)
                out.append((st, pl))
                if self.packet:
                    self.running[st.id] = st
                    self.env.process(subtask_process(self, st))
                else:
                    finish_closed_form(self, st, pl)
        self.pending[v] = []
        return out

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
        self.nodes.flush()
        return {"subtasks_generated": np.int64(self.stats.subtasks),
                "tasks_generated": np.int64(self.stats.tasks)}
