"""Rewards of the task-offloading agents at each epoch (quantum-DRL Eq. 63–68, adjusted by
Eq. 90–92, Alg. 3 line 21), from the closed form of the slot's placements (Eq. 5–7), and the
epoch's /agent_steps rows. The formulas are in ``models/offload_rewards.py``; the readings of
the undefined metrics in docs/MODEL.md ("Task offloading", "Rewards")."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from desim_iov.apps.offload_records import Outcome, Placement, Subtask
from desim_iov.kinds import UAV_AGENT, VEHICLE_AGENT
from models.energy import qos_scalar as qos_eq48
from models.offload_rewards import (
    Adjustment,
    bs_reward,
    change_share,
    incentives_penalties,
    load_balance,
    task_distribution,
    uav_reward,
    vehicle_reward,
)
from traces.schema import OFFLOAD_DTYPES

if TYPE_CHECKING:
    from desim_iov.config import Scenario


class RewardScorer:
    """One run's reward computation; keeps each vehicle's previous first hops (C13)."""

    def __init__(self, scenario: Scenario, recorder: Any, n_bs: int) -> None:
        off = scenario.offload
        self.cfg, self.tc, self.en, self.q = off.reward, off.tasks, off.energy, off.qos
        self.capacity = off.network.capacity_cycles
        self.slot_len = scenario.slot
        self.recorder = recorder
        self.B = n_bs
        self.last_targets: list[list[int] | None] = [None] * scenario.vehicles.count

    def score(self, ep: dict[str, Any], decoded: dict[str, tuple[int, int, int, bool]],
              released: dict[int, list[tuple[Subtask, Placement]]], *, f_cpu: np.ndarray,
              cpu_level: np.ndarray, queued_cycles: np.ndarray) -> Outcome:
        """Eq. 63–68 per acting agent from the closed form of the slot's placements, adjusted
        by Eq. 90–92 (Alg. 3 line 21); /agent_steps rows; each vehicle's first hops kept for
        C13. ``f_cpu``, ``cpu_level``, ``queued_cycles``: per BS/UAV, the slot's."""
        rewards, infos, rows, targets = self.evaluate(ep, decoded, released, f_cpu=f_cpu, cpu_level=cpu_level,
                                                      queued_cycles=queued_cycles)
        for i, t in targets.items():
            self.last_targets[i] = t
        if rows:
            self.recorder.append_many("agent_steps", np.array(rows, dtype=OFFLOAD_DTYPES["agent_steps"]))
        return Outcome(rewards, infos)

    def evaluate(self, ep: dict[str, Any], decoded: dict[str, tuple[int, int, int, bool]],
                 released: dict[int, list[tuple[Any, Placement]]], *, f_cpu: np.ndarray,
                 cpu_level: np.ndarray, queued_cycles: np.ndarray, only: Collection[str] | None = None,
                 ) -> tuple[dict[str, float], dict[str, dict[str, Any]], list[tuple], dict[int, list[int]]]:
        """:meth:`score` without side effects: (adjusted rewards, infos, /agent_steps rows, each
        placing vehicle's first hops). Also the digital twin's one-slot model
        (apps/offload_model.py) for other joint actions; ``released`` items need only
        ``.cycles`` besides their placement; ``only``: the agents whose rewards are wanted
        (the others are skipped: a best response needs one agent's)."""
        handled, lat_sum, met_sum, proc_cycles, e_node = self.tally(released, len(f_cpu))
        relay_ids = relay_nodes(ep)
        n_mean = float(handled[relay_ids].mean()) if relay_ids else 0.0
        rewards: dict[str, float] = {}
        infos: dict[str, dict[str, Any]] = {}
        rows = []
        new_targets: dict[int, list[int]] = {}
        for a, (target, la, lb, refused) in decoded.items():
            if only is not None and a not in only:
                continue
            o = ep["obs"][a]
            kind, i = o.kind, o.index
            if kind == VEHICLE_AGENT:
                r_adj, r, adj, info, targets = self.vehicle_terms(i, released.get(i, []))
                if targets is not None:
                    new_targets[i] = targets
            else:
                r_adj, r, adj, info = self.relay_terms(kind, handled[i], lat_sum[i], met_sum[i], proc_cycles[i],
                                                       e_node[i], n_mean=n_mean, f=f_cpu[i] * cpu_level[i],
                                                       queued=queued_cycles[i])
            rewards[a] = float(r_adj)
            info.update(reward=float(r), incentive=adj.incentive, penalty=adj.penalty, refused=refused)
            infos[a] = info
            rows.append((ep["slot"], ep["t"], kind.encode(), i if kind == VEHICLE_AGENT else
                         (i - self.B if kind == UAV_AGENT else i),
                         target if kind == VEHICLE_AGENT else target - 1, la, lb, int(refused),
                         int(o.mask[: o.nvec[0]].sum()), r, adj.incentive, adj.penalty, r_adj))
        return rewards, infos, rows, new_targets

    # ------------------------------------------------------------------ the terms

    def latency(self, pl: Placement) -> float:
        """A subtask's latency; one dropped at the hop limit never ends (``drop_latency`` x rho)."""
        return self.cfg.drop_latency * self.tc.deadline if pl.dropped else pl.latency

    def tally(self, released: dict[int, list[tuple[Any, Placement]]], n_nodes: int,
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per BS/UAV node: subtasks handled (received), the sum of their latencies, how many
        met the deadline rho, cycles processed, energy spent (relaying, Eq. 54–55 processing)."""
        rho = self.tc.deadline
        handled = np.zeros(n_nodes)
        lat_sum, met_sum = np.zeros(n_nodes), np.zeros(n_nodes)
        proc_cycles, e_node = np.zeros(n_nodes), np.zeros(n_nodes)
        for items in released.values():
            for st, pl in items:
                lat = self.latency(pl)
                for k, z in enumerate(pl.nodes):
                    handled[z] += 1
                    lat_sum[z] += lat
                    met_sum[z] += lat <= rho
                    if k < len(pl.e_relay):
                        e_node[z] += pl.e_relay[k]
                if not pl.dropped:
                    z = pl.nodes[-1]
                    proc_cycles[z] += st.cycles
                    e_node[z] += pl.e_proc
        return handled, lat_sum, met_sum, proc_cycles, e_node

    def tally_node(self, released: Iterable[list[tuple[Any, Placement]]], z: int,
                   ) -> tuple[np.float64, np.float64, np.float64, np.float64, np.float64]:
        """:meth:`tally`'s entries of node ``z`` alone: the same additions in the same order
        (bit for bit; other nodes' sums never mix with z's), as numpy scalars like the tally's."""
        rho = self.tc.deadline
        handled = lat_sum = met_sum = proc_cycles = e_node = 0.0
        for items in released:
            for st, pl in items:
                nodes = pl.nodes
                if z not in nodes:  # a path visits a node at most once
                    continue
                lat = self.latency(pl)
                handled += 1
                lat_sum += lat
                met_sum += lat <= rho
                k = nodes.index(z)
                if k < len(pl.e_relay):
                    e_node += pl.e_relay[k]
                if not pl.dropped and nodes[-1] == z:
                    proc_cycles += st.cycles
                    e_node += pl.e_proc
        f64 = np.float64
        return f64(handled), f64(lat_sum), f64(met_sum), f64(proc_cycles), f64(e_node)

    def vehicle_terms(self, i: int, items: list[tuple[Any, Placement]],
                      ) -> tuple[float, float, Adjustment, dict[str, Any], list[int] | None]:
        """Vehicle ``i``'s adjusted reward R + I - P (Eq. 64, 90–92) from its released
        subtasks this slot: (R_adj, R, the adjustment, info, its first hops or None when it
        placed nothing). Depends on nothing else of the slot."""
        cfg, en, q = self.cfg, self.en, self.q
        if not items:  # held: nothing placed this slot
            r, adj = 0.0, incentives_penalties(None, 0.0, None, omega=cfg.omega, lam=cfg.lam)
            info = {"latency": float("nan"), "energy": 0.0, "qos": float("nan"), "subtasks": 0, "changed": 0.0}
            return r + adj.incentive - adj.penalty, r, adj, info, None
        latency = self.latency
        lat = _mean([latency(pl) for _, pl in items])
        e = float(sum(pl.e_vehicle for _, pl in items))
        qos_of: dict[int, float] = {}  # a task's subtasks often share one placement
        for _, pl in items:
            if id(pl) not in qos_of:
                qos_of[id(pl)] = qos_eq48(max(latency(pl), 1e-12), pl.e_vehicle, w_l=q.w_l, w_e=q.w_e)
        qv = _mean([qos_of[id(pl)] for _, pl in items])
        l_n, e_n, q_n = lat / self.tc.deadline, e / en.vehicle_budget, qv / q.q_min
        r = vehicle_reward(l_n, e_n, q_n, cfg.w_vehicle)
        targets = [pl.nodes[0] for _, pl in items]
        chg = change_share(self.last_targets[i], targets)
        adj = incentives_penalties(l_n, e_n, q_n, omega=cfg.omega, lam=cfg.lam,
                                   extra_penalty=cfg.change_penalty * max(0.0, chg - cfg.max_change))
        info = {"latency": lat, "energy": e, "qos": qv, "subtasks": len(items), "changed": chg}
        return r + adj.incentive - adj.penalty, r, adj, info, targets

    def relay_terms(self, kind: str, n: np.float64, lat_sum: np.float64, met_sum: np.float64,
                    proc_cycles: np.float64, e_node: np.float64, *, n_mean: float, f: np.float64,
                    queued: np.float64) -> tuple[float, float, Adjustment, dict[str, Any]]:
        """A BS's or UAV's adjusted reward R + I - P (Eq. 65–68, 90–92) from its :meth:`tally`
        entries, the mean subtasks handled per relay ``n_mean``, its CPU frequency ``f`` and
        queued cycles: (R_adj, R, the adjustment, info)."""
        cfg, en, rho = self.cfg, self.en, self.tc.deadline
        l_n = lat_sum / n / rho if n else None
        e_n = e_node / en.node_budget
        busy = proc_cycles / f
        ru = min(1.0, busy / self.slot_len)
        ql = queued / self.capacity
        if kind == UAV_AGENT:
            eta = met_sum / n if n else 0.0
            lb_ = load_balance(task_distribution(n, n_mean), ru, ql, cfg.beta)
            r = uav_reward(eta, l_n or 0.0, lb_, e_n, zeta_tf=cfg.zeta_tf, zeta_e=cfg.zeta_e, alpha=cfg.alpha)
        else:
            r = bs_reward(ru, e_n, zeta_tp=cfg.zeta_tp, zeta_e=cfg.zeta_e)
        load_pen = cfg.load_penalty * max(0.0, busy - rho) / rho
        adj = incentives_penalties(l_n, e_n, None, omega=cfg.omega, lam=cfg.lam, extra_penalty=load_pen)
        info = {"handled": int(n), "energy": float(e_node), "busy": busy,
                "latency": (l_n * rho) if l_n is not None else float("nan")}
        return r + adj.incentive - adj.penalty, r, adj, info


def _mean(xs: list[float]) -> float:
    """``float(np.mean(xs))``. Below 8 numbers numpy's pairwise sum is the sequential one
    from 0, Python's ``sum`` (the same bits, without numpy's per-call overhead); from 8 on
    numpy's (8 accumulators)."""
    return sum(xs) / len(xs) if len(xs) < 8 else float(np.mean(xs))


def relay_nodes(ep: dict[str, Any]) -> list[int]:
    """The nodes of the epoch's BS/UAV agents (TD's n_mean averages over them, A32)."""
    return [o.index for o in ep["obs"].values() if o.kind != VEHICLE_AGENT]
