"""The documented hindsight view of a twin-migration run (DESIGN.md Sec. 6): what a hindsight
reference (the oracle, agents/oracle.py) may read at a decision epoch — the truth of the
current instant and the exogenous future (trajectories, mean background rates), never the
kernel's private state. No learner gets it: ``Simulation`` hands it only to a policy that
asks for one with ``bind(view)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from desim_iov.apps.twin_migration import TwinMigrationApp


class TwinHindsight:
    """Read-only questions about one running twin-migration simulation."""

    def __init__(self, app: TwinMigrationApp) -> None:
        self._app = app
        s, w = app.scenario, app.world
        if w.live is not None:
            from desim_iov.config import ConfigError

            raise ConfigError("a hindsight reference (oracle) needs the vehicles' future "
                              "positions, which live SUMO mobility does not know: use a trace")
        self.scenario = s
        #: per-server constants: count, satellite index (-1: none), D_max, C_m, L_max, and
        #: the servers always in reach (the satellite)
        self.n_servers = w.n_servers
        self.satellite = w.satellite
        self.range_m = w.range_m
        self.cpu_hz = w.cpu_hz
        self.cache_bits = w.cache_bits
        self.always_reachable = app.radio.always_reachable
        #: S_v (bits per slot) and the result/data size ratio of the downlink
        self.slot_bits = app.slot_bits
        self.result_ratio = app.result_ratio

    def positions(self, t: float, vehicles: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """True positions at ``t`` (now or in the future): ((A, 3) of ``vehicles``, (M, 3)
        of every server), from the trajectories."""
        w = self._app.world
        srv = w.rsu_xyz
        if w.uav_routes:
            srv = np.concatenate([srv, np.stack([r.position(t) for r in w.uav_routes])])
        if w.sat_xyz is not None:
            srv = np.concatenate([srv, w.sat_xyz[None]])
        return np.stack([w.vehicles[v].position(t) for v in vehicles]), srv

    def reachable(self, vehicles: list[int]) -> np.ndarray:
        """(A, M) usable links now: in range and a positive rate both ways."""
        return self._app.radio.reachable[vehicles]

    def rates(self, vehicles: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """(A, M) uplink and downlink rates (bit/s) now."""
        r = self._app.radio
        return r.rate_up[vehicles], r.rate_down[vehicles]

    def in_flight(self, vehicles: list[int]) -> np.ndarray:
        """(A,) whether each vehicle's twin is migrating."""
        return np.array([self._app.twins.in_flight[v] for v in vehicles])

    def migration_rates(self, src: np.ndarray) -> np.ndarray:
        """(K, M) Eq. 11 rates from each server in ``src`` to every server now (inf to itself)."""
        return self._app.radio.migration_rates(src)

    def background_rate(self, t: float) -> np.ndarray:
        """(M,) mean background arrival rate lambda_m(t) (bit/s), now or in the future."""
        return self._app.servers.background.rate(t)

    def loads(self, t: float) -> np.ndarray:
        """(M,) unfinished work S_m(t) (bits) in every cache now."""
        return self._app.servers.loads(t)
