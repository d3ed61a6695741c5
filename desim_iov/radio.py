"""Access and backhaul radio of one network, refreshed every mobility step.

For every vehicle x server pair: distances (twin-migration Eq. 2), linear gains A x 10^(-PL/10)
of each server class's path-loss model (twin-migration Eq. 3; quantum-DRL Eq. 16–18, 26–29)
with the servers' antenna arrays and small-scale fading (quantum-DRL Eq. 13–14, 22, 24–25),
and uplink/downlink rates by the channel's rate model (``models.rate.RATES``: Shannon,
twin-migration Eq. 4–5, or finite blocklength, quantum-DRL Eq. 23). Server-to-server rates
(twin-migration Eq. 11) on demand. The satellite's link is a fixed rate R_SAT.

Arrays (``rate_up``, ``rate_down``, ``distance``, ``reachable``, ``path_gain`` (large-scale),
``gain`` (with fading and the array gain), ``snr_up`` (at the vehicles' transmit power)) are
the vectorised truth;
``rate_up_rows``/``rate_down_rows``/``reachable_rows`` are the same as nested lists for the
per-packet path (plain floats, no numpy per packet).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from desim_iov.kinds import RSU, SATELLITE, UAV
from models.fading import small_scale_gain
from models.geo import pairwise_distance_m
from models.pathloss import gain
from models.rate import fbl_rate_bps, shannon_bps, snr_linear, thermal_noise_w

if TYPE_CHECKING:
    from desim_iov.config import Scenario
    from desim_iov.rng import RngStreams
    from desim_iov.world import World

#: ``channel.rate`` -> rate(bandwidth_hz, snr, channel) in bit/s
RATE_MODELS = {
    "shannon": lambda bw, snr, ch: shannon_bps(bw, snr),  # twin-migration Eq. 4-5
    "fbl": lambda bw, snr, ch: fbl_rate_bps(bw, snr, ch.blocklength, ch.error_prob),  # quantum-DRL Eq. 23
}


class Radio:
    """The radio state at the last :meth:`update` time ``t``."""

    def __init__(self, scenario: Scenario, world: World, streams: RngStreams, *,
                 access_rates: bool = True) -> None:
        s, w = scenario, world
        # False: gains and uplink SNRs only (task offloading computes its own rates per link
        # type in desim_iov.topology; rate_up/rate_down/reachable are then not kept)
        self.access_rates = access_rates
        self.scenario, self.world = s, w
        ch = s.channel
        self.satellite = w.satellite
        is_sat = w.kinds == SATELLITE
        # the satellite's link is a fixed rate R_SAT: its radio columns are placeholders
        self.bw_up = np.where(is_sat, 1.0, w.bw_up_hz)
        self.bw_down = np.where(is_sat, 1.0, w.bw_down_hz)
        self.tx_power = np.where(is_sat, 1.0, w.tx_power_w)
        if ch.noise_power is not None:  # sigma^2 given outright (quantum-DRL Table II)
            self.noise_up = self.noise_down = self.noise_mig = ch.noise_power
        else:
            self.noise_up = thermal_noise_w(self.bw_up, ch.noise_figure, ch.noise_density_dbm_hz)
            self.noise_down = thermal_noise_w(self.bw_down, ch.noise_figure, ch.noise_density_dbm_hz)
            self.noise_mig = thermal_noise_w(s.migration.bandwidth, ch.noise_figure, ch.noise_density_dbm_hz)
        # access-link path loss per server class (the channel's model unless overridden);
        # neighbouring classes with the same model share one vectorised call
        self._blocks: list[tuple[int, int, str, dict]] = []
        first = 0
        for cfg, count in ((s.rsus, w.n_rsu), (s.uavs, len(w.uav_routes))):
            model, params = (cfg.pathloss, cfg.pathloss_params) if cfg.pathloss else (
                ch.pathloss, ch.pathloss_params)
            if count and self._blocks and self._blocks[-1][2:] == (model, params) \
                    and self._blocks[-1][1] == first:
                self._blocks[-1] = (self._blocks[-1][0], first + count, model, params)
            elif count:
                self._blocks.append((first, first + count, model, params))
            first += count
        # maximum-ratio combining (uplink) / transmission (downlink) with perfect CSI on M
        # antennas: ||h||^2 = M |h|^2 (quantum-DRL Eq. 13-14, 22)
        self.array_gain = w.antennas.astype(float)
        self._arrays = bool((w.antennas > 1).any())
        self._rng_fading = streams.get("fading")
        # per server: its class's K-factor, else the channel's (the satellite's is unused)
        k = [ch.rician_k if c.rician_k is None else c.rician_k for c in (s.rsus, s.uavs)]
        self.rician_k = np.where(w.kinds == RSU, k[0], np.where(w.kinds == UAV, k[1], 0.0))
        self.r_sat = s.satellite.rate
        self.always_reachable = is_sat
        self._rate_fn = RATE_MODELS[ch.rate]
        self.t = -1.0

    def rate(self, bandwidth_hz, snr):
        """The channel's rate model (``channel.rate``) at ``snr``."""
        return self._rate_fn(bandwidth_hz, snr, self.scenario.channel)

    def access_gain(self, d: np.ndarray) -> np.ndarray:
        """(V, M) linear gains vehicle -> server at distances ``d``; draws this step's fading
        from the kernel's ``fading`` stream (one draw per link and antenna)."""
        ch = self.scenario.channel
        h = np.zeros_like(d)
        for a, b, model, params in self._blocks:
            h[:, a:b] = gain(model, d[:, a:b], ch.carrier_frequency, **params)
        if ch.gain_coefficient != 1.0:
            h *= ch.gain_coefficient
        self.path_gain = h.copy()  # large-scale only (path loss), for states and the topology
        if ch.fading != "none":
            h *= small_scale_gain(ch.fading, self._rng_fading, d.shape,
                                  k_factor=self.rician_k, antennas=self.array_gain.astype(int))
        elif self._arrays:
            h *= self.array_gain  # MRC/MRT with perfect CSI, no fading: ||h||^2 = M |h|^2
        return h

    def pair_gain(self, d: np.ndarray, server: np.ndarray) -> np.ndarray:
        """Linear access gains at distances ``d`` (m) to the servers ``server`` (an array of
        indices of the same shape), element by element as :meth:`access_gain` computes them
        for a whole (V, M) matrix: each server class's path-loss model (twin-migration Eq. 3),
        the gain coefficient and the array gain; 0 for the satellite (its link is the fixed
        R_SAT). Deterministic channels only (``channel.fading: none``): the batched slot env
        (desim_iov/vector) evaluates just the pairs it needs with it."""
        ch = self.scenario.channel
        if ch.fading != "none":
            raise ValueError(f"pair_gain: channel.fading {ch.fading!r} draws per step; only 'none' is deterministic")
        h = np.zeros(np.shape(d))
        for a, b, model, params in self._blocks:
            sel = (server >= a) & (server < b)
            if sel.all():
                h = np.asarray(gain(model, d, ch.carrier_frequency, **params), dtype=float)
            elif sel.any():
                h[sel] = gain(model, d[sel], ch.carrier_frequency, **params)
        if ch.gain_coefficient != 1.0:
            h = h * ch.gain_coefficient
        if self._arrays:
            h = h * self.array_gain[server]
        return h

    def update(self, t: float) -> None:
        """Positions, distances (Eq. 2), uplink/downlink rates (Eq. 3–5) at time ``t``."""
        if t == self.t:
            return
        self.t = t
        s, w = self.scenario, self.world
        vp = w.vehicle_positions(t)
        sp = w.server_positions(t)
        d = pairwise_distance_m(vp, sp)
        h = self.access_gain(d)
        snr_up = snr_linear(s.vehicles.tx_power, h, self.noise_up)
        self.vehicle_xyz, self.server_xyz, self.distance = vp, sp, d
        self.gain, self.snr_up = h, snr_up  # with this step's fading (and array gain)
        if not self.access_rates:
            return
        r_up = self.rate(self.bw_up, snr_up)
        r_dn = self.rate(self.bw_down, snr_linear(self.tx_power, h, self.noise_down))
        # reachable: within D_max (Eq. 14) and a usable link both ways (an FBL rate can be 0)
        ok = (d <= w.range_m) & (r_up > 0) & (r_dn > 0)
        if self.satellite >= 0:
            r_up[:, self.satellite] = self.r_sat
            r_dn[:, self.satellite] = self.r_sat
            ok[:, self.satellite] = True
        self.rate_up, self.rate_down, self.reachable = r_up, r_dn, ok
        self.rate_up_rows = r_up.tolist()
        self.rate_down_rows = r_dn.tolist()
        self.reachable_rows = ok.tolist()

    def migration_rates(self, src: np.ndarray) -> np.ndarray:
        """(K, M) rates R^mig from each server in ``src`` to every server (twin-migration
        Eq. 11, the channel's path-loss model) at the last update; R_SAT when an end is the
        satellite; inf to itself (nothing to move)."""
        s, ch = self.scenario, self.scenario.channel
        src = np.asarray(src, dtype=int)
        d = pairwise_distance_m(self.server_xyz[src], self.server_xyz)
        h = ch.gain_coefficient * gain(ch.pathloss, d, ch.carrier_frequency, **ch.pathloss_params)
        snr = snr_linear(self.tx_power[src][:, None], h, self.noise_mig)
        r = self.rate(s.migration.bandwidth, snr)
        if self.satellite >= 0:
            r[:, self.satellite] = self.r_sat
            r[src == self.satellite, :] = self.r_sat
        r[np.arange(len(src)), src] = np.inf
        return r
