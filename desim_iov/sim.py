"""The packet-level kernel: one ``simpy.Environment``, the world, the trace, the RNG streams.

Processes
- ``_clock``: every ``mobility_step`` moves every node (trajectories), recomputes the
  vehicle x server distance and rate matrices (vectorised, ``models``), adds the background
  workload, and — on slot boundaries — runs the decision epoch; it also samples the trace.
- ``_traffic`` (one per vehicle): constant-rate or Poisson packet generation.
- ``_packet`` (one per packet): uplink -> cache/CPU -> downlink, or a drop with a reason.
- ``_start_migration`` + ``_land`` (one per migration): S^mig bits over the server-to-server link (Eq. 11–12).

Queues are FIFO and work-conserving, so each one is tracked by its unfinished work (a
Lindley recursion) and a packet's completion time is known on arrival: the packet waits one
``timeout`` per stage. See docs/MODEL.md ("Kernel") for the model and its choices.
"""

from __future__ import annotations

import functools
import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from desim_iov import __version__
from desim_iov.config import Scenario
from desim_iov.decisions import (
    Observation,
    PolicyError,
    agent_id,
    feasibility_mask,
)
from desim_iov.kinds import RSU, SATELLITE, UAV
from desim_iov.rng import RngStreams
from desim_iov.world import build_world
from models.compute import computing_latency_s, service_rate_bps
from models.fading import small_scale_gain
from models.geo import pairwise_distance_m
from models.mobility import Trajectory
from models.objectives import migration_failed, server_load_bits, total_latency_s
from models.pathloss import gain
from models.rate import (
    fbl_rate_bps,
    shannon_bps,
    snr_linear,
    thermal_noise_w,
    transmission_latency_s,
)
from traces.schema import DTYPES, OUTCOME_CODE, OUTCOMES, decisions_dtype, mask_to_bytes
from traces.writer import TraceWriter

DELIVERED = OUTCOME_CODE["delivered"]
OUT_OF_RANGE = OUTCOME_CODE["out_of_range"]
CACHE_OVERFLOW = OUTCOME_CODE["cache_overflow"]
TWIN_MIGRATING = OUTCOME_CODE["twin_migrating"]
IN_FLIGHT_AT_END = OUTCOME_CODE["in_flight_at_end"]


class _NullWriter:
    rows: dict[str, int] = {}

    def append(self, name: str, row: tuple) -> None:
        pass

    def append_many(self, name: str, rows: np.ndarray) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self, complete: bool) -> None:
        pass

    def set_attrs(self, **attrs: Any) -> None:
        pass


@dataclass
class RunStats:
    """Counters kept while running (the trace holds the full record)."""

    generated: list[int] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)
    migrations: int = 0
    migrations_refused: int = 0


class Simulation:
    """One run of one scenario under one policy.

    ``trace_path`` None runs without a trace (tests of the kernel alone); the CLI always
    writes one. ``vehicle_trajectories`` replaces the scenario's mobility model (recorded
    traces, tests). ``provenance`` adds root attributes to the trace."""

    def __init__(
        self,
        scenario: Scenario,
        policy: Any,
        *,
        trace_path: str | None = None,
        vehicle_trajectories: Sequence[Trajectory] | None = None,
        provenance: dict[str, Any] | None = None,
        env: simpy.Environment | None = None,
    ) -> None:
        s = self.s = scenario
        self.env = env or simpy.Environment()
        self.streams = RngStreams(s.seed)
        w = self.world = build_world(s, self.streams, vehicle_trajectories)
        self.policy = policy
        if policy is not None:
            policy.reset(self.streams.get("policy"))
        self.pending: dict[str, Observation] | None = None  # external control only
        self.M, self.V = w.n_servers, w.n_vehicles
        self.sat = w.satellite
        self.kinds = w.kinds
        self.stats = RunStats(generated=[0] * self.V)
        self.n_outcome = [0] * len(OUTCOMES)

        # static per-server numbers
        e_v = s.vehicles.cycles_per_bit
        self.mu_arr = service_rate_bps(w.cpu_hz, e_v)
        self.mu = self.mu_arr.tolist()
        self.cache = w.cache_bits.tolist()
        self.bg_dropped = np.zeros(self.M)  # background bits refused by full caches
        ch = s.channel
        # the satellite's link is a fixed rate R_SAT: its radio columns are placeholders
        is_sat = w.kinds == SATELLITE
        self.bw_up = np.where(is_sat, 1.0, w.bw_up_hz)
        self.bw_down = np.where(is_sat, 1.0, w.bw_down_hz)
        self.p_srv = np.where(is_sat, 1.0, w.tx_power_w)
        if ch.noise_power is not None:  # sigma^2 given outright (quantum-DRL Table II)
            self.noise_up = self.noise_down = self.noise_mig = ch.noise_power
        else:
            self.noise_up = thermal_noise_w(self.bw_up, ch.noise_figure, ch.noise_density_dbm_hz)
            self.noise_down = thermal_noise_w(
                self.bw_down, ch.noise_figure, ch.noise_density_dbm_hz
            )
            self.noise_mig = thermal_noise_w(
                s.migration.bandwidth, ch.noise_figure, ch.noise_density_dbm_hz
            )
        # access-link path loss per server class (the channel's model unless overridden)
        self._blocks = []
        first = 0
        for cfg, count in ((s.rsus, w.n_rsu), (s.uavs, len(w.uav_routes))):
            model, params = (cfg.pathloss, cfg.pathloss_params) if cfg.pathloss else (
                ch.pathloss, ch.pathloss_params)
            if count and self._blocks and self._blocks[-1][2:] == (model, params) \
                    and self._blocks[-1][1] == first:  # same model: one vectorised call
                self._blocks[-1] = (self._blocks[-1][0], first + count, model, params)
            elif count:
                self._blocks.append((first, first + count, model, params))
            first += count
        # maximum-ratio combining (uplink) / transmission (downlink) with perfect CSI on M
        # antennas: ||h||^2 = M |h|^2 (quantum-DRL Eq. 13-14, 22)
        self.array_gain = w.antennas.astype(float)
        self._arrays = bool((w.antennas > 1).any())
        self._rng_fading = self.streams.get("fading")
        # per server: its class's K-factor, else the channel's (the satellite's is unused)
        k = [s.channel.rician_k if c.rician_k is None else c.rician_k for c in (s.rsus, s.uavs)]
        self._rician_k = np.where(w.kinds == RSU, k[0], np.where(w.kinds == UAV, k[1], 0.0))
        self.r_sat = s.satellite.rate
        self.always_reachable = w.kinds == SATELLITE
        # background workload: rho_m(t) = u (1 + a sin(2 pi t / P + phi_m)), RSUs and UAVs
        bg = s.background
        rng_bg = self.streams.get("background")
        self._bg_phase = rng_bg.uniform(0.0, 2.0 * math.pi, self.M)
        self._bg_on = (w.kinds != SATELLITE) & (bg.model != "none")
        self.bg_rate = np.zeros(self.M)
        if bg.model == "pems":
            self._pems_rho = self._load_pems(rng_bg)
        self._predictor = self._make_predictor() if s.predictor.name != "none" else None
        self._pred_cache: tuple[int, np.ndarray] | None = None

        # queue state: unfinished work (bits) of each server's cache/CPU at backlog_t
        self.backlog = [0.0] * self.M
        self.backlog_t = [0.0] * self.M
        # per-vehicle radio FIFOs: time each transmitter/receiver becomes free
        self.tx_free = [0.0] * self.V
        self.rx_free = [0.0] * self.V
        # twin state: on ``host``, or in flight to ``mig_dst`` until ``mig_end``
        self.in_flight = [False] * self.V
        self.mig_dst = [-1] * self.V
        self.mig_end = [0.0] * self.V
        self.live: dict[int, tuple[int, int, float, float]] = {}
        self._pid = 0
        self._radio_t = -1.0
        self._tick = s.mobility_step
        self._update_radio(0.0)
        self.host = [self._initial_host(v) for v in range(self.V)]

        self.pkt_bits = s.vehicles.traffic.packet_size
        self.result_ratio = s.vehicles.traffic.result_ratio
        self.slot_bits = s.vehicles.traffic.data_rate * s.slot  # S_v per slot
        self.hold = s.migration.packets_during == "hold"
        self.overflow_to_sat = s.overflow == "satellite" and self.sat >= 0

        if trace_path is None:
            self.writer: Any = _NullWriter()
        else:
            dtypes = dict(DTYPES)
            dtypes["decisions"] = decisions_dtype(self.M)
            attrs = {
                "scenario": s.to_json(),
                "seed": s.seed,
                "policy": getattr(policy, "name", "external"),
                # set at the end (SWMR allows updating attributes, not adding them)
                "end_time": np.float64(np.nan),
                "packets_generated": np.int64(-1),
                "migrations_refused": np.int64(-1),
                "background_dropped_bits": np.float64(np.nan),
                "desim_iov_version": __version__,
                "vehicle_trace_report": w.import_report,
            }
            attrs.update(provenance or {})
            self.writer = TraceWriter(
                trace_path,
                dtypes,
                attrs,
                chunk_rows=s.trace.chunk_rows,
                dataset_attrs={"packets": {"outcome_names": _json(OUTCOMES)}},
            )
            self._write_servers()
        self._finished = False
        if policy is not None and hasattr(policy, "bind"):  # privileged (hindsight) policies
            policy.bind(self)

    # ------------------------------------------------------------------ radio and load

    def _rate(self, bandwidth_hz, snr):
        """Shannon (twin-migration Eq. 4) or finite-blocklength (quantum-DRL Eq. 23) rate."""
        ch = self.s.channel
        if ch.rate == "fbl":
            return fbl_rate_bps(bandwidth_hz, snr, ch.blocklength, ch.error_prob)
        return shannon_bps(bandwidth_hz, snr)

    def _access_gain(self, d: np.ndarray) -> np.ndarray:
        """(V, M) linear gains vehicle -> server: A x 10^(-PL/10) of each class's path-loss
        model (twin-migration Eq. 3 for free space) x the server's array gain. The
        satellite's column is unused (fixed rate R_SAT)."""
        ch = self.s.channel
        h = np.zeros_like(d)
        for a, b, model, params in self._blocks:
            h[:, a:b] = gain(model, d[:, a:b], ch.carrier_frequency, **params)
        if ch.gain_coefficient != 1.0:
            h *= ch.gain_coefficient
        if ch.fading != "none":  # a draw per link and antenna each mobility step, own stream
            h *= small_scale_gain(ch.fading, self._rng_fading, d.shape,
                                  k_factor=self._rician_k, antennas=self.array_gain.astype(int))
        elif self._arrays:
            h *= self.array_gain  # MRC/MRT with perfect CSI, no fading: ||h||^2 = M |h|^2
        return h

    def _migration_rates(self, src: np.ndarray) -> np.ndarray:
        """(K, M) rates R^mig from each server in ``src`` to every server (twin-migration
        Eq. 11, the channel's path-loss model); R_SAT when an end is the satellite; inf to
        itself (nothing to move)."""
        ch = self.s.channel
        src = np.asarray(src, dtype=int)
        d = pairwise_distance_m(self.srv_pos[src], self.srv_pos)
        h = ch.gain_coefficient * gain(ch.pathloss, d, ch.carrier_frequency, **ch.pathloss_params)
        snr = snr_linear(self.p_srv[src][:, None], h, self.noise_mig)
        r = self._rate(self.s.migration.bandwidth, snr)
        if self.sat >= 0:
            r[:, self.sat] = self.r_sat
            r[src == self.sat, :] = self.r_sat
        r[np.arange(len(src)), src] = np.inf
        return r

    def _update_radio(self, t: float) -> None:
        """Positions, distances (Eq. 2), uplink/downlink rates (Eq. 3–5) at time ``t``."""
        if t == self._radio_t:
            return
        self._radio_t = t
        w = self.world
        vp = w.vehicle_positions(t)
        sp = w.server_positions(t)
        d = pairwise_distance_m(vp, sp)
        h = self._access_gain(d)
        r_up = self._rate(self.bw_up, snr_linear(self.s.vehicles.tx_power, h, self.noise_up))
        r_dn = self._rate(self.bw_down, snr_linear(self.p_srv, h, self.noise_down))
        # reachable: within D_max (Eq. 14) and a usable link both ways (an FBL rate can be 0)
        in_range = (d <= w.range_m) & (r_up > 0) & (r_dn > 0)
        if self.sat >= 0:
            r_up[:, self.sat] = self.r_sat
            r_dn[:, self.sat] = self.r_sat
            in_range[:, self.sat] = True
        self.veh_pos, self.srv_pos, self.dist = vp, sp, d
        self.rate_up_arr, self.rate_dn_arr = r_up, r_dn
        self.rate_up = r_up.tolist()
        self.rate_down = r_dn.tolist()
        self.in_range = in_range.tolist()

    def _initial_host(self, v: int) -> int:
        """Nearest RSU/UAV in range at t = 0, else the satellite, else the nearest server."""
        d = self.dist[v]
        ok = np.asarray(self.in_range[v]) & ~self.always_reachable
        if ok.any():
            return int(np.flatnonzero(ok)[np.argmin(d[ok])])
        if self.sat >= 0:
            return self.sat
        return int(np.argmin(d))

    def loads(self, t: float) -> np.ndarray:
        """Unfinished work S_m(t) (bits) in every server's cache at time ``t``."""
        b = np.asarray(self.backlog) - self.mu_arr * (t - np.asarray(self.backlog_t))
        return np.maximum(b, 0.0)

    def _load_pems(self, rng: np.random.Generator) -> np.ndarray:
        """(steps, M) background utilisation from PeMS flow (twin-migration Sec. V:
        S_m(t) = S_v c_m(t)): station flows dealt to servers by a seeded shuffle, scaled so
        the whole series' mean is ``background.utilisation``; row k covers [300 k, 300 (k+1))
        seconds after ``pems_start``."""
        import pandas as pd

        from desim_iov.config import ConfigError, resolve_path

        bg = self.s.background
        src = resolve_path(bg.pems_source, self.s)
        try:
            data = _read_pems(str(src.resolve()), src.stat().st_mtime if src.exists() else 0.0)
            start = pd.Timestamp(bg.pems_start)
        except ValueError as e:
            raise ConfigError(f"background.pems_source: {e}") from None
        step = (data.timestamps[1] - data.timestamps[0]).total_seconds()
        i0 = int(data.timestamps.searchsorted(start))
        n = int(math.ceil((self.s.duration + self.s.slot) / step)) + 1
        if i0 >= data.n_steps or data.timestamps[i0] != start or i0 + n > data.n_steps:
            raise ConfigError(
                f"background.pems_start {bg.pems_start}: the run needs {n} steps of {src} from "
                f"there; it spans {data.timestamps[0]} .. {data.timestamps[-1]}"
            )
        self._pems_step = step
        station = rng.permutation(data.n_stations)[np.arange(self.M) % data.n_stations]
        mean = float(data.flow.mean())
        self._pems = (data, i0, station, mean)
        return bg.utilisation * data.flow[i0 : i0 + n][:, station].astype(float) / mean

    def _make_predictor(self):
        """The scenario's workload predictor (models.forecast), checked against the data."""
        import pandas as pd

        from desim_iov.config import ConfigError

        pr = self.s.predictor
        if pr.name == "oracle":
            return "oracle"
        from models.forecast.predictor import make_predictor

        neural = pr.name not in ("naive", "seasonal_day", "seasonal_week")
        if neural and not pr.checkpoint:
            raise ConfigError(
                f"predictor {pr.name} needs predictor.checkpoint "
                "(`desim-iov forecast table --out DIR` writes them)"
            )
        try:
            pred = make_predictor(pr.name, pr.checkpoint if neural else None)
        except (OSError, ValueError, RuntimeError) as e:
            raise ConfigError(f"predictor.checkpoint {pr.checkpoint}: {e}") from None
        data, i0, _, _ = self._pems
        if i0 < pred.history_needed:
            raise ConfigError(
                f"predictor {pr.name} needs {pred.history_needed} steps of history before "
                f"background.pems_start; {self.s.background.pems_start} has {i0}"
            )
        fc = getattr(pred, "forecaster", None)
        if fc is not None:  # a checkpoint belongs to the stations it was trained on
            if fc.n_series != data.n_stations:
                raise ConfigError(
                    f"predictor.checkpoint {pr.checkpoint}: trained on {fc.n_series} series, "
                    f"{self.s.background.pems_source} has {data.n_stations} stations"
                )
            ids = [str(x) for x in data.station_ids]
            if fc.station_ids is not None and list(fc.station_ids) != ids:
                raise ConfigError(
                    f"predictor.checkpoint {pr.checkpoint}: trained on other stations than "
                    f"{self.s.background.pems_source} (first ids {fc.station_ids[:3]} vs {ids[:3]})"
                )
            until = getattr(fc, "fitted_until", None)
            if until is not None and data.timestamps[i0] <= pd.Timestamp(until):
                warnings.warn(
                    f"predictor.checkpoint {pr.checkpoint} was trained on data up to {until}; "
                    f"background.pems_start {self.s.background.pems_start} is not after it, so "
                    "it forecasts flow it was trained on",
                    stacklevel=2,
                )
        return pred

    def predicted_work(self, t: float, slot: int) -> np.ndarray:
        """S^pre_m (bits): background work each server is predicted to receive over the next
        slot (twin-migration Eq. 19, Fig. 4) — the forecast of the current 5-minute PeMS step
        from the steps before it (a one-step forecast, Alg. 1), scaled as the background.
        Writes the forecasts and their errors to /predictions once per step."""
        if self._predictor is None:
            return np.zeros(self.M)
        data, i0, station, mean = self._pems
        k = i0 + int(t // self._pems_step)
        if self._pred_cache is None or self._pred_cache[0] != k:
            actual = data.flow[k]
            if self._predictor == "oracle":
                flow = actual.astype(float)
            else:
                hist = data.flow[k - self._predictor.history_needed : k]
                kw = {}
                if getattr(getattr(self._predictor, "feature_cfg", None), "time_features", False):
                    kw["next_time"] = data.timestamps[k]
                flow = np.asarray(self._predictor.predict_next(hist, **kw), float)
            self._pred_cache = (k, flow)
            rows = np.zeros(int(self._bg_on.sum()), DTYPES["predictions"])
            servers = np.flatnonzero(self._bg_on)
            rows["time"], rows["slot"], rows["server"] = t, slot, servers
            rows["predicted"] = flow[station[servers]]
            rows["actual"] = actual[station[servers]]
            rows["error"] = rows["predicted"] - rows["actual"]
            rho = self.s.background.utilisation * flow[station[servers]] / mean
            rows["predicted_bits"] = rho * self.mu_arr[servers] * self.s.slot
            self.writer.append_many("predictions", rows)
        flow = self._pred_cache[1]
        rho = np.where(self._bg_on, self.s.background.utilisation * flow[station] / mean, 0.0)
        return rho * self.mu_arr * self.s.slot

    def background_rate(self, t: float) -> np.ndarray:
        """Mean background arrival rate lambda_m(t) (bit/s) of every server: the exogenous,
        deterministic part of S_m(t) (the batches drawn around it are random)."""
        bg = self.s.background
        if bg.model == "none":
            return np.zeros(self.M)
        if bg.model == "pems":
            rho = self._pems_rho[int(t // self._pems_step)]
        else:
            rho = np.full(self.M, bg.utilisation)
        if bg.model == "periodic":
            rho = rho * (1.0 + bg.amplitude * np.sin(2 * math.pi * t / bg.period + self._bg_phase))
        return np.where(self._bg_on, rho * self.mu_arr, 0.0)

    def _background(self, t: float, dt: float) -> None:
        """Add the background work arriving over [t, t + dt) as one batch at ``t``."""
        bg = self.s.background
        if bg.model == "none":
            return
        rate = self.background_rate(t)
        self.bg_rate = rate
        rng = self.streams.get("background")
        if bg.burst == "deterministic":
            factor = 1.0
        elif self._n_sub == 1:
            factor = rng.exponential(1.0, self.M)
        else:  # the sum of n Exp(1) batches: Gamma(n, 1), scaled to the mean
            factor = rng.gamma(self._n_sub, 1.0, self.M) / self._n_sub
        load = self.loads(t) + rate * dt * factor
        # the cache holds at most L_max (Eq. 14): background work that does not fit is
        # refused by the server and counted, per server, in /server_load
        cache = self.world.cache_bits
        excess = load - cache
        if (excess > 0.0).any():
            self.bg_dropped += np.maximum(excess, 0.0)
            load = np.minimum(load, cache)
        self.backlog = load.tolist()
        self.backlog_t = [t] * self.M

    # ------------------------------------------------------------------ processes

    _n_sub = 1  # background batches per tick (slot fidelity: a whole slot's worth)
    _arrivals_after_decision = False  # slot fidelity: decide on S_m(t), then the slot arrives

    def _after_decision(self, t: float) -> None:
        """Hook after an epoch's actions are applied (slot fidelity moves the slot's data)."""

    def _clock(self):
        s = self.s
        dt = self._tick
        per_slot = round(s.slot / dt)
        per_sample = max(1, round(s.trace.sample_interval / dt))
        flush_every = s.trace.flush_interval  # wall-clock seconds
        last_flush = time.monotonic()
        k = 0
        while True:
            t = k * dt
            self._update_radio(t)
            if not self._arrivals_after_decision:
                self._background(t, dt)
            if k % per_slot == 0:
                obs = self._observe(k // per_slot, t)
                if obs:
                    if self.policy is not None:
                        self._apply(self.policy.act(obs))
                    else:  # external control: act() applies the actions, then resumes us
                        self.pending = obs
                        self._waiting = self.env.event()
                        yield self._waiting
            if k % per_sample == 0 or k % per_slot == 0:  # slot starts: O_V from the trace
                self._sample(t)
            if self._arrivals_after_decision:  # slot fidelity: the slot's data arrives now
                self._background(t, dt)
                self._after_decision(t)
            if time.monotonic() - last_flush >= flush_every:
                self.writer.flush()
                last_flush = time.monotonic()
            k += 1
            yield self.env.timeout(k * dt - self.env.now)

    def _traffic(self, v: int):
        """Packets of ``packet_size`` bits at ``data_rate`` (S_v per second)."""
        env = self.env
        tr = self.s.vehicles.traffic
        mean_gap = tr.packet_size / tr.data_rate
        rng = self.streams.get(f"traffic.vehicle.{v}")
        traj = self.world.vehicles[v]
        start, end = traj.start, min(traj.end, self.s.duration)
        poisson = tr.arrivals == "poisson"
        bits = self.pkt_bits
        generated, process, packet = self.stats.generated, env.process, self._packet
        if start > env.now:
            yield env.timeout(start - env.now)
        # packets are created in [start, end): constant arrivals at start + k * gap exactly
        # (no accumulated rounding), Poisson ones after exponential gaps
        k, t = 0, start
        while True:
            if poisson:
                gaps = np.cumsum(rng.exponential(mean_gap, 1024)) + t
            else:
                gaps = start + mean_gap * np.arange(k, k + 1024)
            k += 1024
            for t in gaps.tolist():
                if t >= end:
                    return
                yield env.timeout(t - env.now)
                pid = self._pid
                self._pid = pid + 1
                generated[v] += 1
                process(packet(pid, v, bits))

    def _packet(self, pid: int, v: int, bits: float):
        # the hot path: attributes bound to locals, no allocation beyond the trace row
        env = self.env
        created = env.now
        if self.in_flight[v]:
            if not self.hold:
                self._end(pid, v, self.mig_dst[v], created, bits, TWIN_MIGRATING, 0, False)
                return
            m = self.mig_dst[v]
        else:
            m = self.host[v]
        rate = self.rate_up[v][m]
        if not self.in_range[v][m] or rate <= 0.0:
            self._end(pid, v, m, created, bits, OUT_OF_RANGE, 0, False)
            return
        self.live[pid] = (v, m, created, bits)
        # uplink (Eq. 4/6): the vehicle's transmitter is a FIFO; in hold mode it is blocked
        # until the twin has landed (see _start_migration)
        tx_free = self.tx_free
        start = tx_free[v]
        if start < created:
            start = created
        done = start + bits / rate
        tx_free[v] = done
        yield env.timeout(done - created)

        # cache and CPU (Eq. 8-9): FIFO behind the unfinished work of server m
        now = env.now
        overflowed = 0
        backlog, backlog_t, mu = self.backlog, self.backlog_t, self.mu
        w = backlog[m] - mu[m] * (now - backlog_t[m])
        if w < 0.0:
            w = 0.0
        if w + bits > self.cache[m]:
            if not self.overflow_to_sat or m == self.sat:
                self._end(pid, v, m, created, bits, CACHE_OVERFLOW, 0)
                return
            # Eq. 9: an overloaded RSU/UAV hands the data to the satellite's CPU
            yield env.timeout(bits / self.r_sat)
            now = env.now
            m = self.sat
            overflowed = 1
            w = backlog[m] - mu[m] * (now - backlog_t[m])
            if w < 0.0:
                w = 0.0
            if w + bits > self.cache[m]:
                self._end(pid, v, m, created, bits, CACHE_OVERFLOW, 1)
                return
        w += bits
        backlog[m] = w
        backlog_t[m] = now
        yield env.timeout(w / mu[m])

        # downlink (Eq. 5/7) from the server that computed the result
        now = env.now
        rate = self.rate_down[v][m]
        if not self.in_range[v][m] or rate <= 0.0:
            self._end(pid, v, m, created, bits, OUT_OF_RANGE, overflowed)
            return
        rx_free = self.rx_free
        start = rx_free[v]
        if start < now:
            start = now
        done = start + bits * self.result_ratio / rate
        rx_free[v] = done
        yield env.timeout(done - now)
        del self.live[pid]
        self.n_outcome[DELIVERED] += 1
        self.writer.append("packets", (pid, v, m, created, done, bits, DELIVERED, overflowed))

    def _end(
        self,
        pid: int,
        v: int,
        m: int,
        created: float,
        bits: float,
        outcome: int,
        overflowed: int,
        live: bool = True,
    ) -> None:
        if live:
            del self.live[pid]
        self.n_outcome[outcome] += 1
        self.writer.append("packets", (pid, v, m, created, self.env.now, bits, outcome, overflowed))

    def _start_migration(self, v: int, src: int, dst: int, rate: float) -> None:
        """Stop-and-copy: the twin leaves ``src`` now and is usable on ``dst`` after
        S^mig / R^mig seconds (Eq. 12). Meanwhile the vehicle's packets are held (or dropped).
        The state changes here, synchronously, so everything at this instant sees it."""
        env = self.env
        dur = float(transmission_latency_s(self.s.vehicles.twin_size, rate))
        self.in_flight[v] = True
        self.mig_dst[v] = dst
        end = env.now + dur
        self.mig_end[v] = end
        if self.hold and self.tx_free[v] < end:
            self.tx_free[v] = end
        self.stats.migrations += 1
        self.writer.append(
            "migrations", (v, src, dst, env.now, end, self.s.vehicles.twin_size, rate)
        )
        env.process(self._land(v, dst, dur))

    def _land(self, v: int, dst: int, dur: float):
        yield self.env.timeout(dur)
        self.host[v] = dst
        self.in_flight[v] = False
        self.mig_dst[v] = -1

    # ------------------------------------------------------------------ decisions

    def _observe(self, slot: int, t: float) -> dict[str, Observation]:
        """Observations and masks of the active vehicles at a decision epoch (kept for
        :meth:`_apply`); empty when no vehicle is driving."""
        w = self.world
        loads = self.loads(t)
        active = [v for v in range(self.V) if w.vehicle_active(v, t)]
        if not active:
            self._epoch = None
            return {}
        current = {v: self.mig_dst[v] if self.in_flight[v] else self.host[v] for v in active}
        # S^o_m(t), shared by all vehicles (Eq. 19): predicted workload + data already in the
        # cache (Fig. 4) + the slot data S_v of every driving vehicle whose twin m hosts
        # (Eq. 8, Alg. 1 line 16: S'_m = S_m + S_v for m = m_v^t)
        hosted = np.bincount(list(current.values()), minlength=self.M) * self.slot_bits
        seen = loads + self.predicted_work(t, slot) + hosted
        # Eq. 23: moving to m adds this vehicle's S_v there; its current host already counts it
        task = np.full((self.V, self.M), self.slot_bits)
        for v, cur in current.items():
            task[v, cur] = 0.0
        mask = feasibility_mask(
            self.dist, w.range_m, self.always_reachable, seen[None, :], w.cache_bits, task
        )
        obs: dict[str, Observation] = {}
        mig_rates = self._migration_rates(np.array([current[v] for v in active]))
        mask[active] &= (mig_rates > 0).astype(np.int8)  # a twin cannot move over a dead link
        mig_rate = dict(zip(active, mig_rates, strict=True))
        for v in active:
            cur = current[v]
            m_v = mask[v].copy()  # the policy gets its own copy
            if self.in_flight[v]:  # one migration at a time: only the destination
                m_v = np.zeros(self.M, np.int8)
                m_v[cur] = 1
            mask[v] = m_v
            obs[agent_id(v)] = Observation(
                v, t, slot, self.dist[v].copy(), seen.copy(), m_v, cur, self.kinds
            )
        self._epoch = (slot, t, active, current, mask, mig_rate, loads, obs)
        return obs

    def _apply(self, actions: dict[str, int]) -> np.ndarray:
        """Apply one epoch's actions: start migrations, write /decisions, then the slot's
        Eq. 6–14 terms for the chosen hosts to /slots."""
        slot, t, active, current, mask, mig_rate, loads, obs = self._epoch
        if set(actions) != set(obs):
            raise PolicyError(
                f"policy {getattr(self.policy, 'name', '?')} answered for {sorted(actions)}, "
                f"expected {sorted(obs)}"
            )
        assign = np.full(self.V, -1)
        src = np.full(self.V, -1)
        used_rate = np.zeros(self.V)
        for v in active:
            a = actions[agent_id(v)]
            if isinstance(a, np.integer):
                a = int(a)
            if not isinstance(a, int) or not 0 <= a < self.M:
                raise PolicyError(f"policy action {a!r} for vehicle {v}: not a server 0..{self.M - 1}")
            cur = current[v]
            target = cur
            if not self.in_flight[v] and a != cur:
                rate = float(mig_rate[v][a])
                if rate > 0.0:
                    target = a
                    src[v] = cur
                    used_rate[v] = rate
                    self._start_migration(v, cur, a, rate)
                else:  # an unmasked policy chose a server the twin cannot reach: it stays
                    self.stats.migrations_refused += 1
            assign[v] = target
            self._assign = assign
            self.writer.append(
                "decisions",
                (t, slot, v, a, cur, int(mask[v].sum()), mask_to_bytes(mask[v])),
            )
        return self._slot_terms(slot, t, np.asarray(active), assign, src, used_rate, loads)

    def _slot_terms(
        self,
        slot: int,
        t: float,
        active: np.ndarray,
        assign: np.ndarray,
        src: np.ndarray,
        mig_rate: np.ndarray,
        loads: np.ndarray,
    ) -> np.ndarray:
        """The paper's per-slot formulas (Eq. 6–9, 12–14) on the kernel's state at ``t``."""
        w = self.world
        s_load = server_load_bits(loads, assign, self.slot_bits)  # Eq. 8
        m = assign[active]
        d = self.dist[active, m]
        t_up = transmission_latency_s(self.slot_bits, self.rate_up_arr[active, m])  # Eq. 6
        t_dn = transmission_latency_s(
            self.slot_bits * self.result_ratio, self.rate_dn_arr[active, m]
        )  # Eq. 7
        c_s = w.cpu_hz[self.sat] if self.sat >= 0 else w.cpu_hz[m]
        t_cul = computing_latency_s(
            s_load[m], self.s.vehicles.cycles_per_bit, w.cpu_hz[m], w.cache_bits[m], c_s
        )  # Eq. 9
        moved = src[active] >= 0
        t_mig = np.where(  # Eq. 12 with the Eq. 11 rate the migration uses
            moved, transmission_latency_s(self.s.vehicles.twin_size, np.where(moved, mig_rate[active], 1.0)), 0.0
        )
        t_sum = total_latency_s(t_up, t_dn, t_cul, t_mig)  # Eq. 13
        failed = migration_failed(d, w.range_m[m], s_load[m], w.cache_bits[m])  # Eq. 14
        # "out of service range" also where the achievable rate is 0 (an FBL link, Eq. 23)
        failed |= ~np.asarray(self.in_range)[active, m]
        rows = np.zeros(len(active), DTYPES["slots"])
        rows["slot"], rows["time"], rows["vehicle"], rows["server"] = slot, t, active, m
        rows["distance"], rows["load"] = d, s_load[m]
        rows["t_up"], rows["t_down"], rows["t_cul"], rows["t_mig"] = t_up, t_dn, t_cul, t_mig
        rows["t_sum"], rows["failed"], rows["migrated"] = t_sum, failed, moved
        self.writer.append_many("slots", rows)
        return rows

    # ------------------------------------------------------------------ trace sampling

    def _write_servers(self) -> None:
        w = self.world
        sp = w.server_positions(0.0)
        rows = np.zeros(self.M, DTYPES["servers"])
        rows["server"] = np.arange(self.M)
        rows["kind"] = w.kinds
        rows["x"], rows["y"], rows["z"] = sp[:, 0], sp[:, 1], sp[:, 2]
        rows["range"], rows["cpu"], rows["cache"] = w.range_m, w.cpu_hz, w.cache_bits
        self.writer.append_many("servers", rows)

    def _sample(self, t: float) -> None:
        loads = self.loads(t)
        rows = np.zeros(self.M, DTYPES["server_load"])
        rows["time"], rows["server"], rows["load"] = t, np.arange(self.M), loads
        rows["background_rate"] = self.bg_rate
        rows["background_dropped"] = self.bg_dropped
        self.writer.append_many("server_load", rows)
        n_uav = len(self.world.uav_routes)
        pos = np.zeros(self.V + n_uav, DTYPES["positions"])
        pos["time"] = t
        pos["kind"][self.V :] = 1
        pos["id"][: self.V] = np.arange(self.V)
        pos["id"][self.V :] = np.arange(n_uav)
        xyz = np.concatenate([self.veh_pos, self.srv_pos[self.world.n_rsu : self.world.n_rsu + n_uav]])
        pos["x"], pos["y"], pos["z"] = xyz[:, 0], xyz[:, 1], xyz[:, 2]
        hosts = [-1 if self.in_flight[v] else self.host[v] for v in range(self.V)]
        pos["twin_host"][: self.V] = hosts
        pos["twin_host"][self.V :] = -1
        self.writer.append_many("positions", pos)

    # ------------------------------------------------------------------ running

    def start(self) -> None:
        if getattr(self, "_started", False):
            return
        self._started = True
        self.env.process(self._clock())
        for v in range(self.V):
            self.env.process(self._traffic(v))

    def run(self, progress: Any = None) -> RunStats:
        """Run to ``scenario.duration``; ``progress`` is a callable(t_now) or None.

        The trace is closed and marked complete on a clean finish, and marked incomplete
        (but readable) if anything raises."""
        if self.policy is None:
            raise PolicyError("run() needs a policy; without one, drive it with advance()/act()")
        self.start()
        dur = self.s.duration
        try:
            steps = 100 if progress else 1
            for i in range(1, steps + 1):
                self.env.run(until=dur * i / steps)
                if progress:
                    progress(self.env.now)
            self._finish()
        except BaseException:
            self.writer.close(complete=False)
            raise
        return self.stats

    # ------------------------------------------------------------------ external control

    def advance(self) -> dict[str, Observation] | None:
        """External control (``policy=None``): run to the next decision epoch and return its
        observations; at ``scenario.duration`` finish the run (trace complete) and return None.
        """
        self.start()
        if self.pending is not None:
            raise PolicyError("advance() called with a decision pending: call act() first")
        if self._finished:
            return None
        env, end = self.env, self.s.duration
        try:
            while self.pending is None:
                if env.peek() >= end:  # as run(until=end): nothing at or after the end
                    env.run(until=end)
                    self._finish()
                    return None
                env.step()
        except BaseException:
            self.close()
            raise
        return self.pending

    def act(self, actions: dict[str, int]) -> np.ndarray:
        """Apply the pending epoch's actions now, at the epoch's instant, and return its
        /slots rows (Eq. 6–14 per active vehicle); then :meth:`advance` again."""
        if self.pending is None:
            raise PolicyError("act() called with no decision pending")
        try:
            rows = self._apply(actions)
        except BaseException:
            self.close()
            raise
        self.pending = None
        waiting, self._waiting = self._waiting, None
        waiting.succeed()
        return rows

    def close(self) -> None:
        """Give up a run before its end: the trace stays readable, marked incomplete."""
        if not self._finished:
            self.writer.close(complete=False)
            self._finished = True

    def _finish(self) -> None:
        now = self.env.now
        for pid, (v, m, created, bits) in sorted(self.live.items()):
            self.n_outcome[IN_FLIGHT_AT_END] += 1
            self.writer.append("packets", (pid, v, m, created, math.nan, bits, IN_FLIGHT_AT_END, 0))
        self.live.clear()
        self.stats.outcomes = {OUTCOMES[c]: n for c, n in enumerate(self.n_outcome)}
        self.writer.set_attrs(
            end_time=now,
            packets_generated=int(sum(self.stats.generated)),
            migrations_refused=self.stats.migrations_refused,
            background_dropped_bits=float(self.bg_dropped.sum()),
        )
        self.writer.close(complete=True)
        self._finished = True


@functools.lru_cache(maxsize=4)
def _read_pems(path: str, mtime: float):
    """PeMS flow, read once per process (``mtime`` invalidates a changed file)."""
    from pathlib import Path

    from traces.pems import load_pems_d12, load_pems_npz

    data = load_pems_npz(path) if Path(path).suffix in (".npz", ".npy") else load_pems_d12(path)
    data.flow.flags.writeable = False
    return data


class SlotSimulation(Simulation):
    """``fidelity: slot`` — the twin-migration paper's per-slot model, no packet events.

    The same world, radio, decision epochs (observations, masks, policy or external control),
    migrations and trace schema as the packet kernel, but the state advances one slot at a time
    (positions held over the slot, as both papers assume): each epoch decides on S_m(t), the
    unfinished work; then the background work of the whole slot arrives (Gamma(n, 1)/n-distributed, n = slot / mobility_step, i.e. the same
    law as n per-step Poisson batches), the slot's /slots terms are the Eq. 6-14 formulas, and
    each driving vehicle's slot of data S_v joins its host's cache (Eq. 8) — lost when the host
    is out of range (Eq. 14), moved to the satellite's cache (Eq. 9) or lost when it does not
    fit. Caches drain at C_m / e_v (the FIFO backlog of the packet kernel, as a fluid). /packets
    stays empty: per-packet latency is not modelled here.
    """

    _arrivals_after_decision = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._tick = self.s.slot
        self._n_sub = max(1, round(self.s.slot / self.s.mobility_step))
        self.fluid_lost_bits = [0.0] * self.V

    def start(self) -> None:
        if getattr(self, "_started", False):
            return
        self._started = True
        self.env.process(self._clock())

    def _after_decision(self, t: float) -> None:
        assign = getattr(self, "_assign", None)
        if assign is None:
            return
        bits = self.slot_bits
        for v in np.flatnonzero(assign >= 0).tolist():
            m = int(assign[v])
            if not self.in_range[v][m]:
                self.fluid_lost_bits[v] += bits  # out of range: Eq. 14
                continue
            w = self.backlog[m] - self.mu[m] * (t - self.backlog_t[m])
            w = max(w, 0.0)
            if w + bits > self.cache[m]:
                if self.overflow_to_sat and m != self.sat:
                    m = self.sat  # Eq. 9: the satellite computes what does not fit
                    w = max(self.backlog[m] - self.mu[m] * (t - self.backlog_t[m]), 0.0)
                if w + bits > self.cache[m]:
                    self.fluid_lost_bits[v] += bits
                    continue
            self.backlog[m] = w + bits
            self.backlog_t[m] = t
        self._assign = None


def make_simulation(scenario: Scenario, policy: Any, **kwargs: Any) -> Simulation:
    """The kernel for the scenario's ``fidelity``: packet events or per-slot formulas."""
    cls = SlotSimulation if scenario.fidelity == "slot" else Simulation
    return cls(scenario, policy, **kwargs)


def _json(obj: Any) -> str:
    import json

    return json.dumps({str(k): v for k, v in obj.items()})
