"""Where a batch of episodes' released subtasks go and what they cost: the closed form of
quantum-DRL Eq. 5–7 on each slot's frozen state (``OffloadNodes.path`` and ``closed_form``,
``Topology.access_level``/``relay_level_to``/``airtime``), for every (episode, vehicle) at
once, with the scalar code's floating-point operations in its order.

A vehicle that places releases all its waiting tasks; they all have ``offload.tasks.size``
bits and are split at one level, so its n subtasks share one placement: the path from its
first hop under the relays' standing rules (process here, or forward along an edge, never
in a loop, at most ``max_hops`` relay hops), per hop D/R (+ kappa_blk n/B) at the power level
the transmitter picked (the nearest stronger one that still meets R^, C8), the vehicle's and
relays' transmit energy P D/R, and at the processing node C D / (f_cpu x CPU level) (Eq. 5)
and xi C D (Eq. 54–55). A subtask dropped at the hop limit (``at_hop_limit: drop``) has no
processing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from desim_iov.config import Scenario
from desim_iov.topology import power_ratio
from desim_iov.vector.offload_topology import BatchTopology, Links
from models.energy import processing_energy_scalar_j


@dataclass
class Placements:
    """The slot's placements of E episodes x V vehicles (meaningful where ``placing``)."""

    placing: np.ndarray  # (E, V) bool: the vehicle releases its tasks now
    first: np.ndarray  # (E, V) first hop
    n_items: np.ndarray  # (E, V) subtasks released (waiting tasks x subtasks per task)
    split: np.ndarray  # (E, V) split level index
    nodes: np.ndarray  # (E, V, H + 1) the path (-1 past its end)
    n_nodes: np.ndarray  # (E, V)
    dropped: np.ndarray  # (E, V) bool
    latency: np.ndarray  # (E, V) s (NaN when dropped)
    e_vehicle: np.ndarray  # (E, V) J
    e_relay: np.ndarray  # (E, V, H) J of hop h + 1's transmitter
    e_proc: np.ndarray  # (E, V) J (0 when dropped)
    cycles: np.ndarray  # (E, V) cycles of one subtask


def first_level(rates: np.ndarray, level: np.ndarray, min_rate: float) -> np.ndarray:
    """Topology.access_level / relay_level_to: ``level``, or the nearest stronger one whose
    rate still meets R^ (level 0 always); ``rates`` (..., L) at each level."""
    ls = np.arange(rates.shape[-1])
    ok = ((rates >= min_rate) | (ls == 0)) & (ls <= level[..., None])
    return np.where(ok, ls, -1).max(axis=-1)


class Placer:
    """The constants of the closed form (per split level, per power level) and its batch."""

    def __init__(self, scenario: Scenario, topo: BatchTopology, p_max: np.ndarray) -> None:
        off = scenario.offload
        tc, net = off.tasks, off.network
        self.min_rate, self.max_hops = net.min_rate, net.max_hops
        self.drop = net.at_hop_limit == "drop"
        self.N, self.topo = topo.N, topo
        # per split level: subtasks per task, their bits, cycles, C D and xi C D (Python floats)
        n_sub = [tc.n_subtasks(lv) for lv in tc.split_levels]
        bits = [tc.size / n for n in n_sub]
        self.n_sub = np.array(n_sub, np.int64)
        self.bits = np.array(bits)
        self.cycles = np.array([b * tc.cycles_per_bit for b in bits])  # Subtask.cycles
        self.work = np.array([tc.cycles_per_bit * b for b in bits])  # processing_latency's c * d
        self.e_proc = np.array([processing_energy_scalar_j(b, tc.cycles_per_bit, off.energy.xi) for b in bits])
        # P at each power level: OffloadNodes.vehicle_power / relay_power (level_ratio of one level)
        ratio_v = [float(power_ratio(lv, net.power_step_db)) for lv in range(net.vehicle_power_levels)]
        ratio_r = [float(power_ratio(lv, net.power_step_db)) for lv in range(net.relay_power_levels)]
        self.p_vehicle = np.array([scenario.vehicles.tx_power * r for r in ratio_v])
        self.p_relay = np.array([[float(p) * r for r in ratio_r] for p in p_max])  # (N, L_r)
        # kappa_blk n / B per link (Topology.airtime's second term)
        bd = net.block_delay
        self.access_delay = np.array([bd * int(n) / float(b) for n, b in
                                      zip(topo.access_blocklength, topo.access_bw, strict=True)])
        self.relay_delay = np.array([[bd * int(topo.relay_blocklength[x, y]) / float(topo.relay_bw[x, y])
                                      for y in range(self.N)] for x in range(self.N)])

    def paths(self, first: np.ndarray, placing: np.ndarray, rules: np.ndarray, edge: np.ndarray):
        """OffloadNodes.path from every vehicle's first hop under the episodes' ``rules`` (E, N)
        (0 = process, 1 + w = forward to w) and relay edges (E, N, N): (nodes (E, V, H + 1),
        n_nodes, dropped). The checks in the packet process's order: loop guard, hop limit,
        link."""
        E, V = first.shape
        H, N = self.max_hops, self.N
        e = np.arange(E)[:, None]
        z = np.where(placing, first, 0)
        nodes = np.full((E, V, H + 1), -1, np.int64)
        nodes[..., 0] = np.where(placing, z, -1)
        visited = np.zeros((E, V, N), bool)
        np.put_along_axis(visited, z[..., None], placing[..., None], axis=2)
        n_nodes = placing.astype(np.int64)
        dropped = np.zeros((E, V), bool)
        going = placing.copy()
        for h in range(H + 1):
            if not going.any():
                break
            rule = rules[e, z]
            nxt = np.maximum(rule - 1, 0)
            stop = (rule == 0) | np.take_along_axis(visited, nxt[..., None], axis=2)[..., 0]
            limit = going & ~stop & (h >= H)
            dropped |= limit & self.drop
            going &= ~stop & ~limit & edge[e, z, nxt]
            z = np.where(going, nxt, z)
            if h < H:
                nodes[..., h + 1] = np.where(going, nxt, -1)
            ge, gv = np.nonzero(going)
            visited[ge, gv, z[ge, gv]] = True
            n_nodes += going
        return nodes, n_nodes, dropped

    def place(self, ln: Links, first: np.ndarray, power: np.ndarray, split: np.ndarray, placing: np.ndarray,
              n_pending: np.ndarray, rules: np.ndarray, relay_level: np.ndarray, f_cpu: np.ndarray,
              cpu_level: np.ndarray) -> Placements:
        """OffloadNodes.closed_form of every placing vehicle's subtasks (all of one size)."""
        E, V = first.shape
        H = self.max_hops
        e = np.arange(E)[:, None]
        v = np.arange(V)[None, :]
        f0 = np.where(placing, first, 0)
        bits = self.bits[split]
        nodes, n_nodes, dropped = self.paths(first, placing, rules, ln.relay_edge)
        # the access hop at the vehicle's power level, or the nearest stronger one meeting R^
        rates = self.topo.access_levels(ln.access_snr[e, v, f0], f0)  # (E, V, L_v)
        lvl = first_level(rates, power, self.min_rate)
        r0 = np.where(placing, np.take_along_axis(rates, lvl[..., None], axis=2)[..., 0], 1.0)
        latency = bits / r0 + self.access_delay[f0]  # sum(t_hops) starts from the access hop
        p_v = self.p_vehicle[lvl]
        e_v = np.where(p_v == 0, 0.0, p_v * (bits / r0))
        e_relay = np.zeros((E, V, H))
        for h in range(1, H + 1):
            hop = placing & (h < n_nodes)
            if not hop.any():
                break
            x, y = np.maximum(nodes[..., h - 1], 0), np.maximum(nodes[..., h], 0)
            rl = self.topo.relay_levels(ln.relay_snr[e, x, y], x, y)  # (E, V, L_r)
            lv = first_level(rl, relay_level[e, x], self.min_rate)
            r = np.where(hop, np.take_along_axis(rl, lv[..., None], axis=2)[..., 0], 1.0)
            with np.errstate(divide="ignore", invalid="ignore"):
                t_h = bits / r + self.relay_delay[x, y]
                p = self.p_relay[x, lv]
                e_h = np.where(p == 0, 0.0, p * (bits / r))
            latency = np.where(hop, latency + t_h, latency)
            e_relay[..., h - 1] = np.where(hop, e_h, 0.0)
        z = np.take_along_axis(nodes, np.maximum(n_nodes - 1, 0)[..., None], axis=2)[..., 0]
        z = np.maximum(z, 0)
        f = f_cpu[e, z] * cpu_level[e, z]
        work = self.work[split]
        with np.errstate(divide="ignore", invalid="ignore"):
            t_proc = np.where(work == 0, 0.0, work / f)
        latency = np.where(dropped, np.nan, latency + t_proc)
        e_proc = np.where(dropped, 0.0, self.e_proc[split])
        n_items = np.where(placing, n_pending * self.n_sub[split], 0)
        return Placements(placing, first, n_items, split, nodes, n_nodes, dropped, latency, e_v, e_relay, e_proc,
                          self.cycles[split])
