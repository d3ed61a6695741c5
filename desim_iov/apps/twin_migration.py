"""Twin migration (twin-migration paper): every vehicle streams packets to the edge server that
hosts its digital twin; one agent per vehicle chooses the host each slot; twins migrate over
server-to-server links (Eq. 10–12).

Packet fidelity, per packet (apps/twin_packets.py): uplink (Eq. 4/6) through the vehicle's
FIFO transmitter -> the host's cache and CPU (Eq. 8–9, overflow to the satellite) -> downlink
(Eq. 5/7), or a drop with a reason (/packets). Slot fidelity: each driving vehicle's slot of data S_v joins its
host's cache as a fluid at the slot start (lost when out of range or when it does not fit).
Both: at each epoch, observations (Eq. 19) and masks (Eq. 23, Fig. 4) of the driving vehicles;
the actions start migrations (/decisions, /migrations) and the slot's Eq. 6–14 terms are
written to /slots. See docs/MODEL.md ("Kernel").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from desim_iov.apps.twin_packets import TwinPackets
from desim_iov.apps.twin_spaces import Observation, TwinSpaces, feasibility_mask
from desim_iov.decisions import AgentSpec, PolicyError
from desim_iov.kinds import agent_id, vehicle_of
from desim_iov.migration import TwinRegistry
from models.compute import computing_latency_s
from models.objectives import ShapedReward, migration_failed, server_load_bits, total_latency_s
from models.rate import transmission_latency_s
from traces.schema import FLUID_LOSS_REASONS, OUTCOMES, decisions_dtype, mask_to_bytes

if TYPE_CHECKING:
    from desim_iov.config import Scenario
    from desim_iov.sim import Simulation

#: the trace datasets this app writes (schema in traces.schema; /decisions sized per run)
DATASETS = ("packets", "migrations", "decisions", "slots", "fluid_losses")
FLUID_LOST = {name: code for code, name in FLUID_LOSS_REASONS.items()}


@dataclass
class RunStats:
    """Counters kept while running (the trace holds the full record)."""

    generated: list[int] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)
    migrations: int = 0
    migrations_refused: int = 0
    fluid_lost_bits: float = 0.0


@dataclass
class Epoch:
    """One decision epoch's state, kept from observe() to apply()."""

    slot: int
    t: float
    active: list[int]
    current: dict[int, int]
    mask: np.ndarray
    mig_rate: dict[int, np.ndarray]
    loads: np.ndarray
    obs: dict[str, Observation]


class TwinMigrationApp:
    """The twin-migration application on one :class:`~desim_iov.sim.Simulation`."""

    name = "twin_migration"
    uses_server_queues = True

    # ------------------------------------------------------------------ static (per scenario)

    @staticmethod
    def datasets(scenario: Scenario, n_servers: int) -> dict[str, np.dtype]:
        from traces.schema import DTYPES

        out = {k: DTYPES[k] for k in DATASETS if k != "decisions"}
        out["decisions"] = decisions_dtype(n_servers)
        return out

    @staticmethod
    def dataset_attrs() -> dict[str, dict[str, Any]]:
        import json

        return {"packets": {"outcome_names": json.dumps({str(k): v for k, v in OUTCOMES.items()})},
                "fluid_losses": {"reason_names": json.dumps({str(v): k for k, v in FLUID_LOST.items()})}}

    @staticmethod
    def spaces(scenario: Scenario) -> TwinSpaces:
        """Spaces and observation encoding of this scenario's agents (from the scenario alone)."""
        return TwinSpaces(scenario)

    @staticmethod
    def agent_specs(scenario: Scenario) -> dict[str, AgentSpec]:
        """One agent per vehicle; its own spaces (all vehicles' have the same shape)."""
        spaces = TwinSpaces(scenario)
        return {agent_id(v): spaces.spec(agent_id(v)) for v in range(scenario.vehicles.count)}

    @staticmethod
    def reward_model(scenario: Scenario) -> ShapedReward:
        """Eq. 22 per acting agent, Z-scores over the episode so far (one per episode)."""
        return ShapedReward(**scenario.reward.model_dump())

    @staticmethod
    def rewards(shaper: ShapedReward, rows: np.ndarray) -> dict[str, float]:
        r = shaper(rows["t_sum"], rows["load"], rows["failed"])
        return {agent_id(int(v)): float(x) for v, x in zip(rows["vehicle"], r, strict=True)}

    @staticmethod
    def infos(rows: np.ndarray) -> dict[str, dict[str, Any]]:
        """The slot's Eq. 13 latency, Eq. 8 load and Eq. 14 failure per acting agent."""
        return {agent_id(int(r["vehicle"])): {
            "t_sum": float(r["t_sum"]), "load": float(r["load"]), "failed": bool(r["failed"]),
            "migrated": bool(r["migrated"])} for r in rows}

    # ------------------------------------------------------------------ one run

    def __init__(self, sim: Simulation) -> None:
        s, w = sim.scenario, sim.world
        self.sim, self.scenario, self.env, self.world = sim, s, sim.env, w
        self.radio, self.servers, self.recorder = sim.radio, sim.servers, sim.recorder
        self.V, self.M = w.n_vehicles, w.n_servers
        self.stats = RunStats(generated=[0] * self.V)
        self.slot_bits = s.slot_bits  # S_v per slot
        self.result_ratio = s.vehicles.traffic.result_ratio
        self.hold = s.migration.packets_during == "hold"
        self.twins = TwinRegistry(self.env, [self._initial_host(v) for v in range(self.V)],
                                  s.vehicles.twin_size, self._migration_started)
        self._epoch: Epoch | None = None
        self._assign: np.ndarray | None = None
        self.packets = TwinPackets(self)  # packet fidelity
        self._rec_migration = self.recorder.appender("migrations", "vehicle", "src", "dst", "start", "end",
                                           "bits", "rate")

    @staticmethod
    def root_attrs() -> dict[str, Any]:
        """Root attributes set at the end (created now: SWMR allows no new ones later)."""
        return {"packets_generated": np.int64(-1), "migrations_refused": np.int64(-1),
                "fluid_lost_bits": np.float64(np.nan)}

    def _initial_host(self, v: int) -> int:
        """Nearest RSU/UAV in range at t = 0, else the satellite, else the nearest server."""
        r = self.radio
        d = r.distance[v]
        ok = r.reachable[v] & ~r.always_reachable
        if ok.any():
            return int(np.flatnonzero(ok)[np.argmin(d[ok])])
        if r.satellite >= 0:
            return r.satellite
        return int(np.argmin(d))

    def twin_hosts(self) -> list[int]:
        """Per vehicle, the server hosting its twin (-1 while in flight): /positions.twin_host."""
        return self.twins.placed()

    def agent_finished(self, agent: str) -> bool:
        """The agent's vehicle reached its destination within the run (it leaves terminated,
        not truncated)."""
        return self.world.vehicle_end(vehicle_of(agent)) <= self.scenario.duration

    def hindsight(self) -> Any:
        """The documented hindsight view (apps/twin_hindsight.py) for reference policies."""
        from desim_iov.apps.twin_hindsight import TwinHindsight

        return TwinHindsight(self)

    # ------------------------------------------------------------------ packet fidelity

    def tick(self, t: float) -> None:
        """Every mobility step: nothing (the radio is all this app reads)."""

    def start_traffic(self) -> None:
        self.packets.start()

    def _migration_started(self, v: int, src: int, dst: int, start: float, end: float, rate: float) -> None:
        """Stop-and-copy (Eq. 12): meanwhile the vehicle's packets are held (or dropped)."""
        if self.hold:
            self.packets.hold(v, end)
        self.stats.migrations += 1
        self._rec_migration((v, src, dst, start, end, self.scenario.vehicles.twin_size, rate))

    # ------------------------------------------------------------------ slot fidelity

    def slot_arrivals(self, t: float) -> None:
        """Each acting vehicle's slot of data S_v joins its host's cache now (Eq. 8), as a
        fluid: lost when the host is out of range (Eq. 14) or when it does not fit, after the
        satellite's cache was tried (Eq. 9). Losses go to /fluid_losses."""
        assign, self._assign = self._assign, None
        if assign is None:
            return
        bits = self.slot_bits
        servers, reach = self.servers, self.radio.reachable_rows
        slot = self._epoch.slot if self._epoch is not None else -1
        for v in np.flatnonzero(assign >= 0).tolist():
            m = int(assign[v])
            if not reach[v][m]:
                self._fluid_lost(t, slot, v, m, bits, "out_of_range")
                continue
            if servers.queues[m].admit(bits, t) < 0.0:
                if servers.overflow_to_satellite and m != servers.satellite:
                    m = servers.satellite  # Eq. 9: the satellite computes what does not fit
                    if servers.queues[m].admit(bits, t) >= 0.0:
                        continue
                self._fluid_lost(t, slot, v, m, bits, "cache_overflow")

    def _fluid_lost(self, t: float, slot: int, v: int, m: int, bits: float, reason: str) -> None:
        self.stats.fluid_lost_bits += bits
        self.recorder.append("fluid_losses", time=t, slot=slot, vehicle=v, server=m, bits=bits,
                             reason=FLUID_LOST[reason])

    # ------------------------------------------------------------------ decisions

    def observe(self, slot: int, t: float) -> dict[str, Observation]:
        """Observations and masks of the driving vehicles at a decision epoch (kept for
        :meth:`apply`); empty when no vehicle is driving."""
        w, radio, twins = self.world, self.radio, self.twins
        loads = self.servers.loads(t)
        active = [v for v in range(self.V) if w.vehicle_active(v, t)]
        if not active:
            self._epoch = None
            return {}
        current = {v: twins.current(v) for v in active}
        # S^o_m(t), shared by all vehicles (Eq. 19): predicted workload + data already in the
        # cache (Fig. 4) + the slot data S_v of every driving vehicle whose twin m hosts
        # (Eq. 8, Alg. 1 line 16: S'_m = S_m + S_v for m = m_v^t)
        hosted = np.bincount(list(current.values()), minlength=self.M) * self.slot_bits
        seen = loads + self.sim.predicted_work(t, slot) + hosted
        # Eq. 23: moving to m adds this vehicle's S_v there; its current host already counts it
        task = np.full((self.V, self.M), self.slot_bits)
        for v, cur in current.items():
            task[v, cur] = 0.0
        mask = feasibility_mask(radio.distance, w.range_m, radio.always_reachable, seen[None, :],
                                w.cache_bits, task)
        mig_rates = radio.migration_rates(np.array([current[v] for v in active]))
        mask[active] &= (mig_rates > 0).astype(np.int8)  # a twin cannot move over a dead link
        obs: dict[str, Observation] = {}
        for v in active:
            cur = current[v]
            m_v = mask[v].copy()  # the policy gets its own copy
            if twins.in_flight[v]:  # one migration at a time: only the destination
                m_v = np.zeros(self.M, np.int8)
                m_v[cur] = 1
            mask[v] = m_v
            obs[agent_id(v)] = Observation(
                v, t, slot, radio.distance[v].copy(), seen.copy(), m_v, cur, w.kinds
            )
        self._epoch = Epoch(slot, t, active, current, mask, dict(zip(active, mig_rates, strict=True)),
                            loads, obs)
        return obs

    def apply(self, actions: dict[str, Any], policy_name: str = "?") -> np.ndarray:
        """Apply one epoch's actions: start migrations, write /decisions, then the slot's
        Eq. 6–14 terms for the chosen hosts to /slots (returned)."""
        ep = self._epoch
        if ep is None or set(actions) != set(ep.obs):
            raise PolicyError(
                f"policy {policy_name} answered for {sorted(actions)}, "
                f"expected {sorted(ep.obs) if ep else []}"
            )
        assign = np.full(self.V, -1)
        src = np.full(self.V, -1)
        used_rate = np.zeros(self.V)
        twins, rec = self.twins, self.recorder
        for v in ep.active:
            a = actions[agent_id(v)]
            if isinstance(a, np.integer):
                a = int(a)
            if not isinstance(a, int) or not 0 <= a < self.M:
                raise PolicyError(f"policy action {a!r} for vehicle {v}: not a server 0..{self.M - 1}")
            cur = ep.current[v]
            target = cur
            if not twins.in_flight[v] and a != cur:
                rate = float(ep.mig_rate[v][a])
                if rate > 0.0:
                    target = a
                    src[v] = cur
                    used_rate[v] = rate
                    twins.migrate(v, cur, a, rate)
                else:  # an unmasked policy chose a server the twin cannot reach: it stays
                    self.stats.migrations_refused += 1
            assign[v] = target
            self._assign = assign
            rec.append("decisions", time=ep.t, slot=ep.slot, agent=v, action=a, previous=cur,
                       n_feasible=int(ep.mask[v].sum()), mask=mask_to_bytes(ep.mask[v]))
        return self._slot_terms(ep, np.asarray(ep.active), assign, src, used_rate)

    def _slot_terms(self, ep: Epoch, active: np.ndarray, assign: np.ndarray, src: np.ndarray,
                    mig_rate: np.ndarray) -> np.ndarray:
        """The paper's per-slot formulas (Eq. 6–9, 12–14) on the kernel's state at the epoch."""
        w, radio, s = self.world, self.radio, self.scenario
        s_load = server_load_bits(ep.loads, assign, self.slot_bits)  # Eq. 8
        m = assign[active]
        d = radio.distance[active, m]
        t_up = transmission_latency_s(self.slot_bits, radio.rate_up[active, m])  # Eq. 6
        t_dn = transmission_latency_s(self.slot_bits * self.result_ratio, radio.rate_down[active, m])  # Eq. 7
        sat = radio.satellite
        c_s = w.cpu_hz[sat] if sat >= 0 else w.cpu_hz[m]
        t_cul = computing_latency_s(s_load[m], s.vehicles.cycles_per_bit, w.cpu_hz[m], w.cache_bits[m], c_s)  # Eq. 9
        moved = src[active] >= 0
        t_mig = np.where(  # Eq. 12 with the Eq. 11 rate the migration uses
            moved, transmission_latency_s(s.vehicles.twin_size, np.where(moved, mig_rate[active], 1.0)), 0.0
        )
        t_sum = total_latency_s(t_up, t_dn, t_cul, t_mig)  # Eq. 13
        failed = migration_failed(d, w.range_m[m], s_load[m], w.cache_bits[m])  # Eq. 14
        # "out of service range" also where the achievable rate is 0 (an FBL link, Eq. 23)
        failed |= ~radio.reachable[active, m]
        rows = self.recorder.rows("slots", len(active))
        rows["slot"], rows["time"], rows["vehicle"], rows["server"] = ep.slot, ep.t, active, m
        rows["distance"], rows["load"] = d, s_load[m]
        rows["t_up"], rows["t_down"], rows["t_cul"], rows["t_mig"] = t_up, t_dn, t_cul, t_mig
        rows["t_sum"], rows["failed"], rows["migrated"] = t_sum, failed, moved
        self.recorder.append_many("slots", rows)
        return rows

    # ------------------------------------------------------------------ end of run

    def finish(self) -> dict[str, Any]:
        """Packets still travelling end as ``in_flight_at_end``; the root attributes."""
        self.packets.finish()
        self.stats.outcomes = {OUTCOMES[c]: n for c, n in enumerate(self.packets.n_outcome)}
        return {"packets_generated": int(sum(self.stats.generated)),
                "migrations_refused": self.stats.migrations_refused,
                "fluid_lost_bits": float(self.stats.fluid_lost_bits)}


