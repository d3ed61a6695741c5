"""Rewards of the task-offloading agents for a batch of episodes (``apps/offload_scoring.py``:
``RewardScorer.tally``, ``vehicle_terms``, ``relay_terms``; ``models/offload_rewards.py``),
with the scalar code's floating-point operations in its order:

- vehicle (Eq. 64): R_V = -omega_L L/rho - omega_E E/E_max + omega_Q Q/Q_min over its released
  subtasks (mean latency, summed energy, mean QoS of Eq. 48), C13's change of first hop as a
  penalty;
- UAV (Eq. 65–67): R_U = zeta_TF (alpha_eta eta - alpha_L L + alpha_LB LB) - zeta_E E with the
  forwarding success eta, the load balance LB of TD, RU and QL;
- BS (Eq. 68): R_B = zeta_TP TP - zeta_E E;
- every one adjusted by Eq. 90–92 (R + I - P, Alg. 3 line 21).

The scalar code sums floats one subtask at a time (Python's ``sum``, ``+=`` per node, numpy's
``mean`` from 8 values on): the sums here repeat those additions in that order (a loop over
the vehicles and their subtasks, each step vectorised over the episodes), so the bits agree.
"""

from __future__ import annotations

import numpy as np

from desim_iov.config import Scenario
from desim_iov.vector.offload_place import Placements


def _sequential(x: float, n: int) -> float:
    s = 0.0
    for _ in range(n):
        s += x
    return s


#: CPython's ``sum`` of floats adds them one after the other (3.12 compensates instead)
_PY_SUM_SEQUENTIAL = sum([0.1] * 10) == _sequential(0.1, 10) and sum([1e16, 1.0, -1e16]) == 0.0


def copies_sum(x: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Python's ``sum([x] * n)`` element by element (0.0 where n is 0)."""
    if not _PY_SUM_SEQUENTIAL:  # another summation: ask Python itself
        return np.array([float(sum([a] * int(k))) for a, k in zip(x.ravel().tolist(), n.ravel().tolist(),
                                                                    strict=True)]).reshape(x.shape)
    out = np.zeros(x.shape)
    for j in range(int(n.max(initial=0))):
        out = np.where(j < n, out + x, out)
    return out


def copies_mean(x: np.ndarray, n: np.ndarray) -> np.ndarray:
    """``offload_scoring._mean([x] * n)``: Python's sum / n below 8 values, ``np.mean`` (its
    pairwise sum) from 8 on; NaN where n is 0."""
    with np.errstate(invalid="ignore", divide="ignore"):
        out = copies_sum(x, np.where(n < 8, n, 0)) / n
    for k in np.unique(n[n >= 8]).tolist():
        sel = n == k
        out[sel] = np.add.reduce(np.repeat(x[sel][:, None], k, axis=1), axis=1) / k
    return out


def pos(x: np.ndarray) -> np.ndarray:
    """Python's ``max(0.0, x)``."""
    return np.where(x > 0.0, x, 0.0)


class Scorer:
    """The reward weights of one scenario and the batch's reward terms."""

    def __init__(self, scenario: Scenario) -> None:
        off = scenario.offload
        self.cfg, self.tc, self.en, self.q = off.reward, off.tasks, off.energy, off.qos
        self.capacity = off.network.capacity_cycles
        self.slot_len = scenario.slot
        self.drop_latency = self.cfg.drop_latency * self.tc.deadline  # RewardScorer.latency of a drop

    def latency(self, pl: Placements) -> np.ndarray:
        return np.where(pl.dropped, self.drop_latency, pl.latency)

    def adjust(self, l_n, e_n, q_n, extra, has_l, has_q):
        """incentives_penalties (Eq. 90–92): (I, P); ``has_l``/``has_q`` False: the term is 0."""
        om, lam = self.cfg.omega, self.cfg.lam
        inc = om[1] * (1.0 - e_n)
        pen = lam[1] * pos(e_n - 1.0) + extra
        inc = np.where(has_l, inc + om[0] * pos(1.0 - l_n), inc)
        pen = np.where(has_l, pen + lam[0] * pos(l_n - 1.0), pen)
        if q_n is not None:
            inc = np.where(has_q, inc + om[2] * pos(q_n - 1.0), inc)
            pen = np.where(has_q, pen + lam[2] * pos(1.0 - q_n), pen)
        return inc, pen

    def vehicles(self, pl: Placements, acting: np.ndarray, last_first: np.ndarray) -> dict[str, np.ndarray]:
        """RewardScorer.vehicle_terms of every acting vehicle (E, V): the adjusted reward and
        the infos (NaN / -1 where a vehicle does not act)."""
        cfg, tc, q = self.cfg, self.tc, self.q
        placed, n = pl.placing, pl.n_items
        lat_i = self.latency(pl)
        with np.errstate(invalid="ignore", divide="ignore"):
            lat = copies_mean(lat_i, n)
            e = copies_sum(pl.e_vehicle, n)
            qos_i = q.w_l / np.where(1e-12 > lat_i, 1e-12, lat_i) - q.w_e * pl.e_vehicle  # Eq. 48
            qv = copies_mean(qos_i, n)
            l_n, e_n, q_n = lat / tc.deadline, e / self.en.vehicle_budget, qv / q.q_min
            w = cfg.w_vehicle
            r = -w[0] * l_n - w[1] * e_n + w[2] * q_n  # Eq. 64
            chg = np.where((last_first >= 0) & (pl.first != last_first), 1.0, 0.0)  # C13 (A25)
            extra = cfg.change_penalty * pos(chg - cfg.max_change)
            inc, pen = self.adjust(l_n, e_n, q_n, extra, placed, placed)
            r = np.where(placed, r, 0.0)
            inc_h, pen_h = self.adjust(0.0, 0.0, None, 0.0, False, False)  # held: nothing placed
            inc, pen = np.where(placed, inc, inc_h), np.where(placed, pen, pen_h)
            r_adj = r + inc - pen
        nan = np.where(acting, 0.0, np.nan)
        return {"reward": np.where(acting, r_adj, 0.0), "base_reward": r + nan, "incentive": inc + nan,
                "penalty": pen + nan, "latency": np.where(placed, lat, np.nan), "energy": np.where(placed, e, 0.0) + nan,
                "qos": np.where(placed, qv, np.nan), "subtasks": np.where(acting, n, -1),
                "changed": np.where(placed, chg, 0.0) + nan}

    def tally(self, pl: Placements, lat_i: np.ndarray, N: int):
        """RewardScorer.tally per node (E, N): handled, the latency sum, how many met rho,
        cycles processed, energy (relaying; processing), each float sum in the scalar order:
        vehicle after vehicle, each of its subtasks in turn (their addends are equal)."""
        E, V, H1 = pl.nodes.shape
        handled, met = np.zeros((E, N)), np.zeros((E, N))
        acc = np.zeros((3, E, N))  # latency sum, energy, cycles processed
        on = pl.placing[..., None] & (np.arange(H1) < pl.n_nodes[..., None])
        ee, vv, kk = np.nonzero(on)  # every node of every path
        if not len(ee):
            return handled, acc[0], met, acc[2], acc[1]
        zz, n = pl.nodes[ee, vv, kk], pl.n_items[ee, vv]
        lat = lat_i[ee, vv]
        last = kk == pl.n_nodes[ee, vv] - 1
        proc = last & ~pl.dropped[ee, vv]  # the processing node: xi C D and the cycles
        relay = pl.e_relay[ee, vv, np.minimum(kk, H1 - 2)] if H1 > 1 else np.zeros(len(ee))
        add = np.zeros((V, 3, E, N))  # what one subtask of vehicle v adds (0: nothing, exactly)
        add[vv, 0, ee, zz] = lat
        add[vv, 1, ee, zz] = np.where(last, np.where(proc, pl.e_proc[ee, vv], 0.0), relay)
        add[vv, 2, ee, zz] = np.where(proc, pl.cycles[ee, vv], 0.0)
        np.add.at(handled, (ee, zz), n)  # counts: exact in any order
        np.add.at(met, (ee, zz), np.where(lat <= self.tc.deadline, n, 0))
        for v in np.unique(vv).tolist():
            rows = np.flatnonzero(pl.placing[:, v])
            sub, a, n_r = acc[:, rows], add[v][:, rows], pl.n_items[rows, v][None, :, None]
            for j in range(int(n_r.max())):
                sub = np.where(j < n_r, sub + a, sub)
            acc[:, rows] = sub
        return handled, acc[0], met, acc[2], acc[1]

    def relays(self, pl: Placements, f: np.ndarray, is_uav: np.ndarray) -> dict[str, np.ndarray]:
        """RewardScorer.relay_terms of every BS/UAV node (E, N); ``f`` = f_cpu x CPU level."""
        cfg, rho = self.cfg, self.tc.deadline
        N = f.shape[1]
        lat_i = self.latency(pl)
        n, lat_sum, met_sum, proc, e_node = self.tally(pl, lat_i, N)
        n_mean = n.sum(axis=1, keepdims=True) / N  # counts: any order gives these bits
        has = n > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            l_n = lat_sum / n / rho
            e_n = e_node / self.en.node_budget
            busy = proc / f
            ru = np.where(busy / self.slot_len < 1.0, busy / self.slot_len, 1.0)
            ql = 0.0 / self.capacity  # slot fidelity queues nothing
            eta = np.where(has, met_sum / n, 0.0)
            td = 1.0 - np.abs(n - n_mean) / np.where(1.0 > n_mean, 1.0, n_mean)
            b, a = cfg.beta, cfg.alpha
            lb = b[0] * td + b[1] * ru - b[2] * ql  # Eq. 67
            r_uav = cfg.zeta_tf * (a[0] * eta - a[1] * np.where(has, l_n, 0.0) + a[2] * lb) - cfg.zeta_e * e_n
            r_bs = cfg.zeta_tp * ru - cfg.zeta_e * e_n  # Eq. 68
            r = np.where(is_uav, r_uav, r_bs)
            load_pen = cfg.load_penalty * pos(busy - rho) / rho
            inc, pen = self.adjust(l_n, e_n, None, load_pen, has, False)
        return {"reward": r + inc - pen, "base_reward": r, "incentive": inc, "penalty": pen,
                "handled": n.astype(np.int64), "energy": e_node, "busy": busy,
                "latency": np.where(has, l_n * rho, np.nan)}
