"""Nodes of a scenario and their static parameters: vehicles, RSUs, UAVs, the satellite.

Server indices: RSUs ``0..N-1``, UAVs ``N..N+U-1``, the satellite last (``M-1``) when enabled.
Positions are local east/north/up metres about the scenario's origin (``models.geo``); every
moving node follows a :class:`models.mobility.Trajectory`, so random waypoint, UAV patrols and
recorded traces are driven the same way. :mod:`desim_iov.build` builds a world from a scenario.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from desim_iov.config import Scenario
from desim_iov.kinds import RSU, SATELLITE, UAV
from models.mobility import Trajectory


class PositionTable:
    """Positions of many trajectories at a sequence of (mostly increasing) times.

    Equivalent to ``positions_at(trajectories, t)`` (piecewise-linear, clamped at both ends),
    but keeps each trajectory's current segment between calls and interpolates all nodes in
    one numpy gather: the kernel asks once per mobility step, and the per-trajectory
    ``Trajectory.position`` path cost ~10 us a node per call (tested equal in
    tests/test_world.py)."""

    def __init__(self, trajectories: Sequence[Trajectory]) -> None:
        self.n = len(trajectories)
        lens = [len(tr.times) for tr in trajectories]
        self._off = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(int).tolist() if lens else []
        self._len = lens
        if self.n:
            x = np.concatenate([tr.positions for tr in trajectories])
            dx = np.zeros_like(x)
            dx[:-1] = x[1:] - x[:-1]
            last = np.cumsum(lens) - 1
            dx[last] = 0.0  # no segment beyond a trajectory's last point
            self._t = np.concatenate([tr.times for tr in trajectories]).tolist()
        else:
            x = dx = np.zeros((0, 3))
            self._t = []
        self._x, self._dx = x, dx
        self._seg = [0] * self.n
        self._last = -math.inf

    def at(self, t: float) -> np.ndarray:
        if self.n == 0:
            return np.zeros((0, 3))
        if t < self._last:
            self._seg = [0] * self.n
        self._last = t
        T = self._t
        g = [0] * self.n
        frac = [0.0] * self.n
        for i in range(self.n):
            o, k, s = self._off[i], self._len[i], self._seg[i]
            while s + 1 < k and T[o + s + 1] <= t:
                s += 1
            self._seg[i] = s
            g[i] = o + s
            t0 = T[o + s]
            if s + 1 < k and t > t0:
                frac[i] = (t - t0) / (T[o + s + 1] - t0)
        gi = np.asarray(g)
        return self._x[gi] + np.asarray(frac)[:, None] * self._dx[gi]


@runtime_checkable
class LiveVehicles(Protocol):
    """Vehicles whose positions are known only as the run goes (``vehicles.mobility: sumo``,
    :class:`desim_iov.sumo.fleet.SumoFleet`): stepped by their own SimPy process, entering
    and leaving during the run. ``start``/``end`` are ``inf`` until they happen."""

    count: int
    start: list[float]
    end: list[float]
    report: str

    def positions(self, t: float) -> np.ndarray: ...
    def active(self, v: int, t: float) -> bool: ...
    def bind(self, env: Any) -> None: ...
    def entry(self, v: int) -> Any: ...
    def road_points(self) -> np.ndarray: ...
    def close(self) -> None: ...


@dataclass
class World:
    """Static description of the nodes plus their trajectories."""

    kinds: np.ndarray  # (M,) uint8 server kind
    rsu_xyz: np.ndarray  # (N, 3)
    uav_routes: list[Trajectory]  # (U,)
    sat_xyz: np.ndarray | None  # (3,) or None
    range_m: np.ndarray  # (M,)
    cpu_hz: np.ndarray  # (M,)
    cache_bits: np.ndarray  # (M,)
    tx_power_w: np.ndarray  # (M,)
    bw_up_hz: np.ndarray  # (M,)
    bw_down_hz: np.ndarray  # (M,)
    antennas: np.ndarray  # (M,) int
    vehicles: list[Trajectory]  # (V,); empty when ``live`` drives the vehicles
    import_report: str = ""  # what a trace importer read and removed (or SUMO's setup)
    live: LiveVehicles | None = None  # vehicles.mobility sumo

    def __post_init__(self) -> None:
        self._veh_table = PositionTable(self.vehicles)
        self._uav_table = PositionTable(self.uav_routes)
        parts = [self.rsu_xyz, np.zeros((len(self.uav_routes), 3))]
        if self.sat_xyz is not None:
            parts.append(self.sat_xyz[None, :])
        self._srv = np.concatenate(parts, axis=0)

    @property
    def n_servers(self) -> int:
        return int(self.kinds.shape[0])

    @property
    def n_vehicles(self) -> int:
        return self.live.count if self.live is not None else len(self.vehicles)

    @property
    def n_rsu(self) -> int:
        return int(self.rsu_xyz.shape[0])

    @property
    def satellite(self) -> int:
        """Index of the satellite, or -1."""
        return self.n_servers - 1 if self.sat_xyz is not None else -1

    def server_positions(self, t: float) -> np.ndarray:
        """(M, 3) metres: RSUs fixed, UAVs on their patrols, the satellite overhead."""
        out = self._srv.copy()
        if self.uav_routes:
            out[self.n_rsu : self.n_rsu + len(self.uav_routes)] = self._uav_table.at(t)
        return out

    def vehicle_positions(self, t: float) -> np.ndarray:
        """(V, 3) metres."""
        if self.live is not None:
            return self.live.positions(t)
        return self._veh_table.at(t)

    def vehicle_active(self, v: int, t: float) -> bool:
        """Driving at ``t``: from its first fix until (excluding) its destination."""
        if self.live is not None:
            return self.live.active(v, t)
        tr = self.vehicles[v]
        return tr.start <= t < tr.end or t == tr.start

    def vehicle_start(self, v: int) -> float:
        """When vehicle ``v`` starts driving (s); ``inf`` while a live vehicle has not."""
        return self.live.start[v] if self.live is not None else self.vehicles[v].start

    def vehicle_end(self, v: int) -> float:
        """When vehicle ``v`` stops driving (s); ``inf`` while a live vehicle drives on."""
        return self.live.end[v] if self.live is not None else self.vehicles[v].end

    def start(self, env: Any) -> None:
        """Start the processes of live vehicles (before the kernel's clock)."""
        if self.live is not None:
            self.live.bind(env)

    def close(self) -> None:
        """Release what live vehicles hold (a SUMO simulation); idempotent."""
        if self.live is not None:
            self.live.close()


def server_classes(s: Scenario) -> list[tuple[int, Any, int]]:
    return [(RSU, s.rsus, s.rsus.count), (UAV, s.uavs, s.uavs.count)]


def server_kinds(s: Scenario) -> np.ndarray:
    """(M,) kind codes of the scenario's servers (RSUs, UAVs, the satellite), known before
    any world is built (the env sizes its spaces from it)."""
    return np.concatenate(
        [np.full(c, k, np.uint8) for k, _, c in server_classes(s)]
        + [np.full(int(s.satellite.enabled), SATELLITE, np.uint8)]
    )


def server_column(s: Scenario, attr: str, sat_value: float) -> np.ndarray:
    """(M,) a per-class server parameter (``cache``, ``range``, ...), ``sat_value`` for the
    satellite."""
    vals = [np.full(c, getattr(cfg, attr), float) for _, cfg, c in server_classes(s)]
    if s.satellite.enabled:
        vals.append(np.array([sat_value]))
    return np.concatenate(vals)


