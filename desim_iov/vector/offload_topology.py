"""The offloading network's links for a batch of episodes at their current slots
(:class:`desim_iov.topology.Topology` after :class:`desim_iov.radio.Radio`, with a leading
episode axis), element by element as the scalar kernel computes them for one episode:

- access links V->B / V->U: distances (Eq. 2), each server class's path loss (UMa LoS,
  Eq. 16–18; air-to-ground, Eq. 27), the small-scale and array gain (Eq. 22, 24–25), the
  uplink SNR and the rate (FBL, Eq. 23, with the link type's block length), at full power and
  at every vehicle power level;
- relay links U->U', B->U, U->B (Eq. 26, 32–37): log-distance path loss with alpha_PL per pair
  and run, the drawn fading, the transmitter's P_max, rates at every relay power level;
- edges: a rate of at least R^ at full power (C1/C8).

The fading comes drawn (:mod:`desim_iov.vector.offload_inputs`); nothing here draws or keeps
state over time. UAV degree caps (Fig. 7) are not batched: the model refuses them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from desim_iov.config import Scenario
from desim_iov.radio import Radio
from desim_iov.rng import RngStreams
from desim_iov.topology import BU, NO_LINK, UB, UU, VB, VU, power_ratio
from desim_iov.vector.twin_radio import pairwise_distance
from desim_iov.world import World
from models.pathloss import gain, gain_from_path_loss_db, log_distance, path_loss_db
from models.rate import fbl_rate_bps, linear_to_db, shannon_bps, snr_linear, thermal_noise_w


@dataclass
class Links:
    """The links of E episodes at one slot each (leading axis E)."""

    access_gain: np.ndarray  # (E, V, N) linear, with fading and array gain
    access_pl_db: np.ndarray  # (E, V, N) large-scale path loss, dB
    access_snr: np.ndarray  # (E, V, N) uplink SNR at the vehicle's full power
    access_rate: np.ndarray  # (E, V, N) bit/s at full power
    access_edge: np.ndarray  # (E, V, N) bool
    relay_gain: np.ndarray  # (E, N, N) linear (0 where no link type)
    relay_pl_db: np.ndarray  # (E, N, N) dB (inf where no link type)
    relay_snr: np.ndarray  # (E, N, N) at the transmitter's P_max
    relay_rate: np.ndarray  # (E, N, N) bit/s at full power (0 where no link type)
    relay_edge: np.ndarray  # (E, N, N) bool


class BatchTopology:
    """The scenario's link model for a batch: a :class:`Radio` on one world lends its access
    path-loss blocks and noise; the relay columns are :class:`Topology`'s."""

    def __init__(self, scenario: Scenario, world: World) -> None:
        s, off = scenario, scenario.offload
        self.scenario = s
        self.B, self.U, self.V = world.n_rsu, len(world.uav_routes), world.n_vehicles
        B, N = self.B, self.B + self.U
        self.N = N
        radio = Radio(s, world, RngStreams(s.seed), access_rates=False)
        self.blocks = radio._blocks  # access path loss per server class: (first, stop, model, params)
        self.array_gain = radio.array_gain[:N]
        self.arrays = radio._arrays
        self.noise_up = radio.noise_up[:N] if np.ndim(radio.noise_up) else radio.noise_up
        ch = s.channel
        self.fbl, self.eps = ch.rate == "fbl", ch.error_prob
        self.min_rate = off.network.min_rate
        L = off.links
        is_uav = np.arange(N) >= B
        self.access_type = np.where(is_uav, VU, VB)
        self.access_blocklength = np.where(is_uav, L.vu_blocklength, L.vb_blocklength)
        self.access_bw = world.bw_up_hz[:N]
        t = np.full((N, N), NO_LINK, dtype=np.int8)
        t[:B, B:], t[B:, :B], t[B:, B:] = BU, UB, UU
        np.fill_diagonal(t, NO_LINK)
        self.relay_type = t
        self.link_cfg = {UU: L.uu, BU: L.bu, UB: L.ub}
        self.relay_blocklength = np.ones((N, N), dtype=np.int64)
        for code, cfg in self.link_cfg.items():
            self.relay_blocklength[t == code] = cfg.blocklength
        self.relay_bw = np.broadcast_to(world.bw_down_hz[:N, None], (N, N))
        self.relay_power = world.tx_power_w[:N]
        if ch.noise_power is not None:
            self.relay_noise = np.full((N, N), ch.noise_power)
        else:
            self.relay_noise = thermal_noise_w(self.relay_bw, ch.noise_figure, ch.noise_density_dbm_hz)
        net = off.network
        self.veh_ratio = power_ratio(np.arange(net.vehicle_power_levels), net.power_step_db)
        self.relay_ratio = power_ratio(np.arange(net.relay_power_levels), net.power_step_db)
        self.slices = {UU: (slice(B, N), slice(B, N)), BU: (slice(0, B), slice(B, N)), UB: (slice(B, N), slice(0, B))}

    def rate(self, bandwidth_hz, snr, blocklength):
        """Topology.rate: Eq. 23 with ``blocklength``, or Shannon."""
        if self.fbl:
            return fbl_rate_bps(bandwidth_hz, snr, blocklength, self.eps)
        return shannon_bps(bandwidth_hz, snr)

    def access_levels(self, snr: np.ndarray, z: np.ndarray) -> np.ndarray:
        """(..., L_v) Topology.access_rate_levels of the pairs with SNRs ``snr`` (...) to nodes
        ``z`` (...): the rates at every vehicle power level, element by element."""
        return self.rate(self.access_bw[z][..., None], snr[..., None] * self.veh_ratio,
                         self.access_blocklength[z][..., None])

    def relay_levels(self, snr: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """(..., L_r) Topology.relay_rate_levels of the links x -> y with SNRs ``snr``."""
        rl = self.rate(self.relay_bw[x, y][..., None], snr[..., None] * self.relay_ratio,
                       self.relay_blocklength[x, y][..., None])
        return np.where((self.relay_type[x, y] >= 0)[..., None], rl, 0.0)

    def links(self, vxyz: np.ndarray, nxyz: np.ndarray, fading: np.ndarray | None,
              relay_fading: dict[int, np.ndarray], exponent: dict[int, np.ndarray]) -> Links:
        """Links of E episodes from vehicle positions ``vxyz`` (E, V, 3), node positions ``nxyz``
        (E, N, 3), access fading (E, V, N) (None: ``channel.fading: none``), the relay blocks'
        fading (E, rows, cols) and alpha_PL (E, N, N) per link type."""
        s, ch, N = self.scenario, self.scenario.channel, self.N
        # Radio.access_gain / update (the BS and UAV columns)
        d = pairwise_distance(vxyz, nxyz)
        h = np.zeros_like(d)
        for a, b, model, params in self.blocks:
            if a < N:
                h[..., a:b] = gain(model, d[..., a:b], ch.carrier_frequency, **params)
        if ch.gain_coefficient != 1.0:
            h *= ch.gain_coefficient
        path_gain = h.copy()
        if fading is not None:
            h *= fading
        elif self.arrays:
            h *= self.array_gain
        snr = snr_linear(s.vehicles.tx_power, h, self.noise_up)
        # Topology.update: access links
        access_pl_db = -linear_to_db(np.maximum(path_gain, 1e-300))
        # the rates at full power; those at the other levels only where a subtask goes (levels)
        access_rate = self.rate(self.access_bw, snr, self.access_blocklength)
        # relay links
        E = d.shape[0]
        dr = pairwise_distance(nxyz, nxyz)
        f = ch.carrier_frequency
        pl = np.full((E, N, N), np.inf)
        g = np.zeros((E, N, N))
        for code, cfg in self.link_cfg.items():
            m = self.relay_type == code
            if not m.any():
                continue
            params = dict(cfg.pathloss_params)
            if cfg.exponent_range is not None:  # elementwise: the type's links alone
                pl[:, m] = log_distance(dr[:, m], f, exponent=exponent[code][:, m], **params)
            else:
                pl[:, m] = path_loss_db(cfg.pathloss, dr[:, m], f, **params)
            rows, cols = self.slices[code]
            g_blk = gain_from_path_loss_db(pl[:, rows, cols]) * relay_fading[code]
            g[:, rows, cols] = np.where(m[rows, cols], g_blk, 0.0)
        relay_snr = snr_linear(self.relay_power[:, None], g, self.relay_noise)
        linked = self.relay_type >= 0
        rr = self.rate(self.relay_bw, relay_snr, self.relay_blocklength)
        relay_rate = np.where(linked, rr, 0.0)
        return Links(h, access_pl_db, snr, access_rate, access_rate >= self.min_rate, g, pl, relay_snr,
                     relay_rate, (relay_rate >= self.min_rate) & linked)
