"""The offloading network's topology (quantum-DRL paper Sec. II-D, Table I): vehicles, BSs and
UAVs, linked only by the paper's five link types, refreshed every mobility step.

- V->B (SIMO, M BS antennas, maximum-ratio combining) and V->U (SISO): the kernel's access
  radio (:class:`desim_iov.radio.Radio`: the ``rsus``/``uavs`` path-loss models, fading from
  the kernel's ``fading`` stream), rate by Eq. 23 with the type's block length.
- U->U' (Eq. 32–33, SISO), B->U (Eq. 34–35, MISO with maximum-ratio transmission), U->B
  (Eq. 36–37, SIMO): computed here, path loss per type (Eq. 26 with alpha_PL drawn U(2.25,
  2.75) per node pair and run by default), small-scale fading from the ``links`` stream, the
  transmitter's P_max, rate by Eq. 23 with the type's block length.
- No B->B link (BSs reach each other only through UAVs) and nothing into a vehicle (results
  return at no cost, Sec. III).

An edge exists iff its rate at the transmitter's full power is at least R^ (C8; for access
links this is also C1's coverage). Optional per-UAV degree caps keep the strongest links by
neighbour kind (Fig. 7, reading A40).

Node numbering (also the trace's): servers ``0..N-1`` as the kernel's (BSs, then UAVs),
vehicles ``N..N+V-1``. numpy arrays are the truth (``access_*`` (V, N), ``relay_*`` (N, N));
:meth:`Topology.graph` builds a ``networkx.DiGraph`` of the current step on demand
(successors, hop-limited reachability, shortest paths by delay, snapshots).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import networkx as nx
import numpy as np

from models.fading import small_scale_gain
from models.geo import pairwise_distance_m
from models.pathloss import gain_from_path_loss_db
from models.rate import fbl_rate_bps, linear_to_db, shannon_bps, snr_linear, thermal_noise_w

if TYPE_CHECKING:
    from desim_iov.config import Scenario
    from desim_iov.radio import Radio
    from desim_iov.rng import RngStreams
    from desim_iov.world import World

#: link type codes (the trace's ``link_type``); -1: no link type (B->B, self)
VB, VU, UU, BU, UB = 0, 1, 2, 3, 4
LINK_TYPES: dict[int, str] = {VB: "vb", VU: "vu", UU: "uu", BU: "bu", UB: "ub"}
NO_LINK = -1


def power_ratio(level: int | np.ndarray, step_db: float) -> np.ndarray:
    """Transmit power of ``level`` relative to P_max: level 0 is P_max, each level
    ``step_db`` lower."""
    return 10.0 ** (-np.asarray(level, dtype=float) * step_db / 10.0)


class Topology:
    """Links and graph of one run at the last :meth:`update` time ``t``."""

    def __init__(self, scenario: Scenario, world: World, radio: Radio, streams: RngStreams) -> None:
        s, off = scenario, scenario.offload
        self.scenario, self.world, self.radio = s, world, radio
        self.B, self.U, self.V = world.n_rsu, len(world.uav_routes), world.n_vehicles
        B, N = self.B, self.B + self.U
        self.N = N
        self.is_uav = np.arange(N) >= B
        self.min_rate = off.network.min_rate
        ch = s.channel
        self._fbl = ch.rate == "fbl"
        self._eps = ch.error_prob
        L = off.links
        # access links: block length and bandwidth per server column
        self.access_type = np.where(self.is_uav, VU, VB)
        self.access_blocklength = np.where(self.is_uav, L.vu_blocklength, L.vb_blocklength)
        self.access_bw = world.bw_up_hz[:N]
        # relay links: type per (transmitter, receiver)
        t = np.full((N, N), NO_LINK, dtype=np.int8)
        t[:B, B:] = BU
        t[B:, :B] = UB
        t[B:, B:] = UU
        np.fill_diagonal(t, NO_LINK)
        self.relay_type = t
        self._relay_cfg = {UU: L.uu, BU: L.bu, UB: L.ub}
        self.relay_blocklength = np.ones((N, N), dtype=np.int64)  # 1 where no link type (masked)
        for code, cfg in self._relay_cfg.items():
            self.relay_blocklength[t == code] = cfg.blocklength
        self.relay_bw = np.broadcast_to(world.bw_down_hz[:N, None], (N, N))
        self.relay_power = world.tx_power_w[:N]  # P_max,b / P_max,u (C16–C17)
        if ch.noise_power is not None:
            self.relay_noise = np.full((N, N), ch.noise_power)
        else:
            self.relay_noise = thermal_noise_w(self.relay_bw, ch.noise_figure, ch.noise_density_dbm_hz)
        self._antennas = world.antennas[:N].astype(int)
        self._rng = streams.get("links")
        # alpha_PL per node pair and run (Table II's range), drawn once
        self._exponent = {}
        for code, cfg in self._relay_cfg.items():
            if cfg.exponent_range is not None:
                lo, hi = cfg.exponent_range
                self._exponent[code] = self._rng.uniform(lo, hi, (N, N))
        self.cap = off.network.degree_cap
        net = off.network
        self._veh_ratio = power_ratio(np.arange(net.vehicle_power_levels), net.power_step_db)
        self._relay_ratio = power_ratio(np.arange(net.relay_power_levels), net.power_step_db)
        self.block_delay = off.network.block_delay
        self.t = -1.0
        self._graph: nx.DiGraph | None = None
        self._graph_t = -2.0

    # ------------------------------------------------------------------ rates

    def rate(self, bandwidth_hz, snr, blocklength):
        """The channel's rate model (Eq. 23 with ``blocklength``, or Shannon)."""
        if self._fbl:
            return fbl_rate_bps(bandwidth_hz, snr, blocklength, self._eps)
        return shannon_bps(bandwidth_hz, snr)

    def access_level(self, v: int, z: int, level: int) -> int:
        """The power level vehicle ``v`` transmits to ``z`` at: ``level``, or the nearest
        stronger one whose rate still meets R^ (C8 holds at every level used; level 0 = P_max
        meets it on every edge)."""
        r = self.access_rate_levels[:, v, z]
        while level > 0 and r[level] < self.min_rate:
            level -= 1
        return level

    def relay_level_to(self, x: int, y: int, level: int) -> int:
        """As :meth:`access_level` for the relay link x -> y."""
        r = self.relay_rate_levels[:, x, y]
        while level > 0 and r[level] < self.min_rate:
            level -= 1
        return level

    def airtime(self, bits: float, rate: float, blocklength: int, bandwidth: float) -> float:
        """Seconds on air: D/R (+ kappa_blk n / B, reading A14)."""
        return bits / rate + self.block_delay * blocklength / bandwidth

    # ------------------------------------------------------------------ refresh

    def update(self, t: float) -> None:
        """Refresh every link at ``t`` (after the radio's update at ``t``)."""
        if t == self.t:
            return
        self.t = t
        r, N = self.radio, self.N
        # access links: from the kernel's radio
        self.access_distance = r.distance[:, :N]
        self.access_pl_db = -linear_to_db(np.maximum(r.path_gain[:, :N], 1e-300))
        self.access_gain = r.gain[:, :N]
        self.access_snr = r.snr_up[:, :N]
        self.access_rate = self.rate(self.access_bw, self.access_snr, self.access_blocklength)
        # relay links
        xyz = r.server_xyz[:N]
        d = pairwise_distance_m(xyz, xyz)
        f = self.scenario.channel.carrier_frequency
        pl = np.full((N, N), np.inf)
        g = np.zeros((N, N))
        ant = np.ones((N, N), dtype=int)
        B = self.B
        for code, cfg in self._relay_cfg.items():
            m = self.relay_type == code
            if not m.any():
                continue
            params = dict(cfg.pathloss_params)
            if code in self._exponent:
                pl_db = _log_distance_db(d, f, self._exponent[code], params)
            else:
                pl_db = np.asarray(_pl_db(cfg.pathloss, d, f, params))
            pl[m] = pl_db[m]
            # fading over the type's block (common random numbers: a fixed draw count per step)
            rows, cols = (slice(B, N), slice(B, N)) if code == UU else \
                (slice(0, B), slice(B, N)) if code == BU else (slice(B, N), slice(0, B))
            blk_ant = self._antennas[rows][:, None] if code == BU else (
                self._antennas[cols][None, :] if code == UB else 1)
            shape = (rows.stop - rows.start, cols.stop - cols.start)
            if shape[0] and shape[1]:
                fad = small_scale_gain(cfg.fading, self._rng, shape, k_factor=cfg.rician_k,
                                       antennas=np.broadcast_to(blk_ant, shape))
                g_blk = gain_from_path_loss_db(pl[rows, cols]) * fad
                g[rows, cols] = np.where(m[rows, cols], g_blk, 0.0)
                ant[rows, cols] = np.broadcast_to(blk_ant, shape)
        self.relay_distance = d
        self.relay_pl_db = pl
        self.relay_gain = g
        self.relay_snr = snr_linear(self.relay_power[:, None], g, self.relay_noise)
        rate = self.rate(self.relay_bw, self.relay_snr, self.relay_blocklength)
        self.relay_rate = np.where(self.relay_type >= 0, rate, 0.0)
        # rates at every power level (the hot path looks them up)
        self.access_rate_levels = self.rate(
            self.access_bw, self.access_snr[None] * self._veh_ratio[:, None, None], self.access_blocklength)
        rl = self.rate(self.relay_bw, self.relay_snr[None] * self._relay_ratio[:, None, None],
                       self.relay_blocklength)
        self.relay_rate_levels = np.where(self.relay_type >= 0, rl, 0.0)
        # edges: rate >= R^ (C8), degree caps (Fig. 7)
        self.access_edge = self.access_rate >= self.min_rate
        self.relay_edge = (self.relay_rate >= self.min_rate) & (self.relay_type >= 0)
        self._apply_caps()
        self._graph = None

    def _apply_caps(self) -> None:
        """Per UAV, keep its strongest ``cap`` links with each neighbour kind (A40)."""
        c, B, N = self.cap, self.B, self.N
        for u in range(B, N):
            if c.vehicles is not None:
                _keep_top(self.access_edge[:, u], self.access_rate[:, u], c.vehicles)
            for cap, sl in ((c.bss, slice(0, B)), (c.uavs, slice(B, N))):
                if cap is None:
                    continue
                # links both ways with a neighbour count once: rank by the better direction
                both = self.relay_edge[u, sl] | self.relay_edge[sl, u]
                score = np.maximum(self.relay_rate[u, sl], self.relay_rate[sl, u])
                keep = both.copy()
                _keep_top(keep, score, cap)
                self.relay_edge[u, sl] &= keep
                self.relay_edge[sl, u] &= keep

    # ------------------------------------------------------------------ graph queries

    def successors(self, z: int) -> np.ndarray:
        """BS/UAV indices node ``z`` can forward to now."""
        return np.flatnonzero(self.relay_edge[z])

    def fastest_access(self, v: int) -> int:
        """Vehicle ``v``'s BS/UAV of the highest access rate among its edges now; -1 if none."""
        edges = np.flatnonzero(self.access_edge[v])
        return int(edges[np.argmax(self.access_rate[v, edges])]) if edges.size else -1

    def vehicle_node(self, v: int) -> int:
        return self.N + v

    def write_links(self, recorder, t: float) -> None:
        """/links: every edge of the current step with its attributes (a snapshot)."""
        tp, N = self, self.N
        v, z = np.nonzero(tp.access_edge)
        a, b = np.nonzero(tp.relay_edge)
        rows = recorder.rows("links", len(v) + len(a))
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
        recorder.append_many("links", rows)

    def graph(self) -> nx.DiGraph:
        """A ``networkx.DiGraph`` of the current step: nodes with ``kind`` (vehicle/bs/uav)
        and ``index``; edges with ``type``, ``distance``, ``pl_db``, ``gain``, ``snr``,
        ``rate`` (at full power) and ``delay`` (s per bit, 1/rate)."""
        if self._graph is not None and self._graph_t == self.t:
            return self._graph
        G = nx.DiGraph(t=self.t)
        N = self.N
        G.add_nodes_from((z, {"kind": "uav" if self.is_uav[z] else "bs", "index": z}) for z in range(N))
        G.add_nodes_from((N + v, {"kind": "vehicle", "index": v}) for v in range(self.V))
        vs, zs = np.nonzero(self.access_edge)
        G.add_edges_from(
            (N + v, z, {"type": int(self.access_type[z]), "distance": float(self.access_distance[v, z]),
                        "pl_db": float(self.access_pl_db[v, z]), "gain": float(self.access_gain[v, z]),
                        "snr": float(self.access_snr[v, z]), "rate": float(self.access_rate[v, z]),
                        "delay": 1.0 / float(self.access_rate[v, z])})
            for v, z in zip(vs.tolist(), zs.tolist(), strict=True))
        a, b = np.nonzero(self.relay_edge)
        G.add_edges_from(
            (x, y, {"type": int(self.relay_type[x, y]), "distance": float(self.relay_distance[x, y]),
                    "pl_db": float(self.relay_pl_db[x, y]), "gain": float(self.relay_gain[x, y]),
                    "snr": float(self.relay_snr[x, y]), "rate": float(self.relay_rate[x, y]),
                    "delay": 1.0 / float(self.relay_rate[x, y])})
            for x, y in zip(a.tolist(), b.tolist(), strict=True))
        self._graph, self._graph_t = G, self.t
        return G

    def within_hops(self, source: int, hops: int) -> dict[int, int]:
        """Nodes reachable from ``source`` (a graph node) in at most ``hops`` edges -> the
        fewest edges to each."""
        return nx.single_source_shortest_path_length(self.graph(), source, cutoff=hops)

    def fastest_paths(self, source: int, bits: float) -> tuple[dict[int, float], dict[int, list[int]]]:
        """Dijkstra from ``source`` by transmission delay of ``bits`` (D/R per edge): delay
        and path to every reachable node."""
        return nx.single_source_dijkstra(self.graph(), source, weight=lambda u, v, e: bits * e["delay"])


def _keep_top(mask: np.ndarray, score: np.ndarray, k: int) -> None:
    """In place: keep at most ``k`` True entries of ``mask``, those of highest ``score``."""
    idx = np.flatnonzero(mask)
    if idx.size > k:
        drop = idx[np.argsort(-score[idx], kind="stable")[k:]]
        mask[drop] = False


def _log_distance_db(d: np.ndarray, f: float, exponent: np.ndarray, params: dict) -> np.ndarray:
    from models.pathloss import log_distance

    return np.asarray(log_distance(d, f, exponent=exponent, **params))


def _pl_db(model: str, d: np.ndarray, f: float, params: dict) -> np.ndarray:
    from models.pathloss import path_loss_db

    return path_loss_db(model, d, f, **params)


__all__ = ["BU", "LINK_TYPES", "NO_LINK", "UB", "UU", "VB", "VU", "Topology", "power_ratio"]
