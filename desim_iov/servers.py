"""Edge servers' compute: a cache + CPU queue per server (twin-migration Eq. 8–9), overflow
to the satellite, and the background workload S_m(t) of everyone else (by name:
``BACKGROUNDS``, the scenario's ``background.model``).

Each server is a :class:`~desim_iov.queues.WorkQueue` of rate C_m / e_v and capacity L_max.
Background work arrives once per kernel tick as one batch per server (the packet fidelity's
tick is the mobility step; the slot fidelity's a whole slot, whose batch is the sum of its
steps' batches: Gamma(n, 1)/n around the mean); work that does not fit the cache is refused
and counted per server (``dropped``).
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING

import numpy as np

from desim_iov.kinds import SATELLITE
from desim_iov.queues import WorkQueue
from models.compute import service_rate_bps

if TYPE_CHECKING:
    from desim_iov.config import Scenario
    from desim_iov.recorder import Recorder
    from desim_iov.rng import RngStreams
    from desim_iov.world import World


class Background:
    """No background work (``none``); the base of the others: ``rate(t)`` is the mean
    arrival rate lambda_m(t) (bit/s) of every server, the exogenous, deterministic part of
    S_m(t) (the batches drawn around it are random)."""

    def __init__(self, scenario: Scenario, mu: np.ndarray, on: np.ndarray, phase: np.ndarray,
                 rng: np.random.Generator) -> None:
        self.scenario, self.mu, self.on, self.phase = scenario, mu, on, phase
        self.active = False

    def utilisation(self, t: float) -> np.ndarray:
        return np.full(len(self.mu), self.scenario.background.utilisation)

    def rate(self, t: float) -> np.ndarray:
        if not self.active:
            return np.zeros(len(self.mu))
        return np.where(self.on, self.utilisation(t) * self.mu, 0.0)


class ConstantBackground(Background):
    """rho_m(t) = u: a constant utilisation of every RSU and UAV."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.active = True


class PeriodicBackground(ConstantBackground):
    """rho_m(t) = u (1 + a sin(2 pi t / P + phi_m)), a random phase per server."""

    def utilisation(self, t: float) -> np.ndarray:
        bg = self.scenario.background
        return super().utilisation(t) * (1.0 + bg.amplitude * np.sin(2 * math.pi * t / bg.period + self.phase))


class PemsBackground(ConstantBackground):
    """Utilisation from PeMS flow (twin-migration Sec. V: S_m(t) = S_v c_m(t)): station flows
    dealt to servers by a seeded shuffle, scaled so the whole series' mean is
    ``background.utilisation``; row k covers [300 k, 300 (k+1)) seconds after ``pems_start``.
    Public for the forecaster: ``data``, ``i0`` (row of ``pems_start``), ``station`` (per
    server), ``mean`` (the flow's mean), ``step`` (seconds per row)."""

    def __init__(self, scenario: Scenario, mu: np.ndarray, on: np.ndarray, phase: np.ndarray,
                 rng: np.random.Generator) -> None:
        import pandas as pd

        from desim_iov.config import ConfigError, resolve_path

        super().__init__(scenario, mu, on, phase, rng)
        s, bg = scenario, scenario.background
        src = resolve_path(bg.pems_source, s)
        try:
            data = _read_pems(str(src.resolve()), src.stat().st_mtime if src.exists() else 0.0)
            start = pd.Timestamp(bg.pems_start)
        except ValueError as e:
            raise ConfigError(f"background.pems_source: {e}") from None
        step = (data.timestamps[1] - data.timestamps[0]).total_seconds()
        i0 = int(data.timestamps.searchsorted(start))
        n = int(math.ceil((s.duration + s.slot) / step)) + 1
        if i0 >= data.n_steps or data.timestamps[i0] != start or i0 + n > data.n_steps:
            raise ConfigError(
                f"background.pems_start {bg.pems_start}: the run needs {n} steps of {src} from "
                f"there; it spans {data.timestamps[0]} .. {data.timestamps[-1]}"
            )
        m = len(mu)
        self.step = step
        self.station = rng.permutation(data.n_stations)[np.arange(m) % data.n_stations]
        self.mean = float(data.flow.mean())
        if not math.isfinite(self.mean) or self.mean <= 0:  # traces.pems refuses both: a guard
            raise ConfigError(f"background.pems_source {src}: mean flow {self.mean:g}, so the "
                              "background cannot be scaled to background.utilisation")
        self.data, self.i0 = data, i0
        self._rho = bg.utilisation * data.flow[i0 : i0 + n][:, self.station].astype(float) / self.mean

    def utilisation(self, t: float) -> np.ndarray:
        return self._rho[int(t // self.step)]


BACKGROUNDS: dict[str, type[Background]] = {
    "none": Background,
    "constant": ConstantBackground,
    "periodic": PeriodicBackground,
    "pems": PemsBackground,
}


@functools.lru_cache(maxsize=4)
def _read_pems(path: str, mtime: float):
    """PeMS flow, read once per process (``mtime`` invalidates a changed file)."""
    from pathlib import Path

    from traces.pems import load_pems_d12, load_pems_npz

    data = load_pems_npz(path) if Path(path).suffix in (".npz", ".npy") else load_pems_d12(path)
    data.flow.flags.writeable = False
    return data


class EdgeServers:
    """Every server's queue (``queues[m]``), CPU service rate ``mu`` (bit/s, C_m / e_v), the
    background model, and what the satellite takes over (Eq. 9)."""

    def __init__(self, scenario: Scenario, world: World, streams: RngStreams, batches_per_tick: int) -> None:
        s, w = scenario, world
        self.scenario, self.world = s, w
        self.n = w.n_servers
        self.mu = service_rate_bps(w.cpu_hz, s.vehicles.cycles_per_bit)
        self.capacity = w.cache_bits
        self.queues = [WorkQueue(r, c) for r, c in zip(self.mu.tolist(), w.cache_bits.tolist(), strict=True)]
        self.satellite = w.satellite
        self.overflow_to_satellite = s.overflow == "satellite" and self.satellite >= 0
        self.dropped = np.zeros(self.n)  # background bits refused by full caches
        self.background_rate = np.zeros(self.n)  # lambda_m of the last batch (bit/s)
        self._batches = batches_per_tick
        self._rng = streams.get("background")
        phase = self._rng.uniform(0.0, 2.0 * math.pi, self.n)
        self.background_on = (w.kinds != SATELLITE) & (s.background.model != "none")
        self.background = BACKGROUNDS[s.background.model](s, self.mu, self.background_on, phase, self._rng)

    def loads(self, t: float) -> np.ndarray:
        """Unfinished work S_m(t) (bits) in every server's cache at time ``t``."""
        qs = self.queues
        b = np.asarray([q.work for q in qs]) - self.mu * (t - np.asarray([q.t for q in qs]))
        return np.maximum(b, 0.0)

    def add_background(self, t: float, dt: float) -> None:
        """Add the background work arriving over [t, t + dt) as one batch at ``t``; the
        cache holds at most L_max (Eq. 14): what does not fit is refused and counted."""
        bg = self.scenario.background
        if not self.background.active:
            return
        rate = self.background.rate(t)
        self.background_rate = rate
        if bg.burst == "deterministic":
            factor = 1.0
        elif self._batches == 1:
            factor = self._rng.exponential(1.0, self.n)
        else:  # the sum of n Exp(1) batches: Gamma(n, 1), scaled to the mean
            factor = self._rng.gamma(self._batches, 1.0, self.n) / self._batches
        load = self.loads(t) + rate * dt * factor
        excess = load - self.capacity
        if (excess > 0.0).any():
            self.dropped += np.maximum(excess, 0.0)
            load = np.minimum(load, self.capacity)
        for q, x in zip(self.queues, load.tolist(), strict=True):
            q.work = x  # the batch computed for all servers at once (vectorised above)
            q.t = t

    def write_static(self, rec: Recorder) -> None:
        """/servers: kind, position at t = 0, range, CPU, cache."""
        w = self.world
        sp = w.server_positions(0.0)
        rows = rec.rows("servers", self.n)
        rows["server"] = np.arange(self.n)
        rows["kind"] = w.kinds
        rows["x"], rows["y"], rows["z"] = sp[:, 0], sp[:, 1], sp[:, 2]
        rows["range"], rows["cpu"], rows["cache"] = w.range_m, w.cpu_hz, w.cache_bits
        rec.append_many("servers", rows)

    def sample(self, rec: Recorder, t: float) -> None:
        """/server_load at ``t``: unfinished work, background rate, refused background."""
        rows = rec.rows("server_load", self.n)
        rows["time"], rows["server"], rows["load"] = t, np.arange(self.n), self.loads(t)
        rows["background_rate"] = self.background_rate
        rows["background_dropped"] = self.dropped
        rec.append_many("server_load", rows)
