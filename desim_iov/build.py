"""Building a :class:`~desim_iov.world.World` from a scenario: vehicles (random waypoint or a
recorded trace, ``VEHICLE_MOBILITY``), RSU sites (``RSU_LAYOUTS``), UAV routes
(``UAV_MOBILITY``) and the servers' CPUs, each drawn from its own named random stream; and the
choice of recorded vehicles that drive among the RSUs (``most_covered``)."""

from __future__ import annotations

import functools
import json
import re
import warnings
from collections.abc import Callable, Sequence

import numpy as np

from desim_iov.config import Scenario
from desim_iov.rng import RngStreams
from desim_iov.world import LiveVehicles, World, server_classes, server_column, server_kinds
from models.compute import cpu_frequency_hz, draw_cpu_deviation
from models.mobility import Trajectory, patrol, random_waypoint_3d
from models.placement import along_density, grid_positions, scattered_positions


def _uav_random_waypoint(s: Scenario, rsu_xyz: np.ndarray, streams: RngStreams) -> list[Trajectory]:
    """3-D random waypoint legs in the UAVs' box (quantum-DRL Eq. 8–10)."""
    ua = s.uavs
    e = ua.extent or max(s.area.width, s.area.height)
    low = np.array([-e / 2, -e / 2, ua.altitude])
    high = np.array([e / 2, e / 2, ua.altitude_max if ua.altitude_max is not None else ua.altitude])
    speeds = (ua.speed, ua.speed_max if ua.speed_max is not None else ua.speed)
    return [random_waypoint_3d(streams.get(f"uav.{u}"), low, high, speeds, s.duration + s.slot)
            for u in range(ua.count)]


def _uav_patrol(s: Scenario, rsu_xyz: np.ndarray, streams: RngStreams) -> list[Trajectory]:
    """Each UAV loops over ``route_length`` neighbouring RSUs at its altitude (twin-migration
    Sec. VII-A); the ``uav.{u}`` stream draws the first RSU, the rest is :func:`patrol_route`."""
    n = rsu_xyz.shape[0]
    return [patrol_route(s, rsu_xyz, int(streams.get(f"uav.{u}").integers(n))) for u in range(s.uavs.count)]


def patrol_route(s: Scenario, rsu_xyz: np.ndarray, first: int) -> Trajectory:
    """The patrol of a UAV whose route starts at RSU ``first``: the ``route_length`` RSUs
    nearest to it, visited in angular order about their centre at ``uavs.altitude`` and
    ``uavs.speed`` (the whole route is a function of ``first``; the batched slot env caches it)."""
    horizon = s.duration + s.slot
    k = min(s.uavs.route_length, rsu_xyz.shape[0])
    d = np.hypot(*(rsu_xyz[:, :2] - rsu_xyz[first, :2]).T)
    near = np.argsort(d, kind="stable")[:k]
    pts = rsu_xyz[near].copy()
    centre = pts[:, :2].mean(axis=0)
    ang = np.arctan2(pts[:, 1] - centre[1], pts[:, 0] - centre[0])
    pts = pts[np.argsort(ang, kind="stable")]
    pts[:, 2] = s.uavs.altitude
    if k == 1:
        return Trajectory(np.array([0.0]), pts)
    return patrol(pts, s.uavs.speed, horizon, start_index=0, t0=0.0)


#: ``uavs.mobility`` -> routes(scenario, rsu_xyz, streams)
UAV_MOBILITY = {"patrol": _uav_patrol, "random_waypoint": _uav_random_waypoint}


def _vehicles_random_waypoint(s: Scenario, streams: RngStreams):
    """3-D random waypoint in the area (quantum-DRL Eq. 8–10); (trajectories, None, "")."""
    vs, w, h = s.vehicles, s.area.width, s.area.height
    low = np.array([-w / 2, -h / 2, vs.z_min])
    high = np.array([w / 2, h / 2, vs.z_max])
    return [
        random_waypoint_3d(streams.get(f"mobility.vehicle.{v}"), low, high, (vs.speed_min, vs.speed_max),
                           s.duration + s.slot, pause_s=vs.pause, max_ascent_deg=vs.max_ascent_deg)
        for v in range(vs.count)
    ], None, ""


def _rsu_extent(s: Scenario) -> tuple[float, float]:
    rs = s.rsus
    return (rs.extent, rs.extent) if rs.extent else (s.area.width, s.area.height)


def _layout_grid(s: Scenario, streams: RngStreams, fixes: Callable[[], np.ndarray]) -> np.ndarray:
    return grid_positions(*_rsu_extent(s), s.rsus.count)


def _layout_scattered(s: Scenario, streams: RngStreams, fixes: Callable[[], np.ndarray]) -> np.ndarray:
    return scattered_positions(*_rsu_extent(s), s.rsus.count, streams.get("placement"), s.rsus.min_separation)


def _layout_file(s: Scenario, streams: RngStreams, fixes: Callable[[], np.ndarray]) -> np.ndarray:
    return _sites_from_file(s)


def _layout_density(s: Scenario, streams: RngStreams, fixes: Callable[[], np.ndarray]) -> np.ndarray:
    """Along the traffic's fixes (every vehicle of a trace, not only the simulated ones)."""
    rs = s.rsus
    try:
        return along_density(fixes(), rs.count, layout=rs.layout.removeprefix("density_"),
                             rng=streams.get("placement"), cell_m=rs.cell,
                             min_separation_m=rs.min_separation or None)
    except ValueError as e:
        from desim_iov.config import ConfigError

        raise ConfigError(f"rsus.layout {rs.layout}: {e}") from None


#: ``rsus.layout`` -> (x, y) or (x, y, z) sites(scenario, streams, fixes) with ``fixes()`` the
#: traffic's (x, y) fixes
RSU_LAYOUTS = {"grid": _layout_grid, "scattered": _layout_scattered, "file": _layout_file,
               "density_city": _layout_density, "density_rural": _layout_density}


def _natural(key: str) -> list:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", key)]


def trajectories_from_trace(s: Scenario) -> tuple[list[Trajectory], np.ndarray, str]:
    """``vehicles.count`` vehicles of ``vehicles.trace`` (``trace_select``), in
    local metres about the scenario's origin, times relative to the trace's start; and the
    (x, y) fixes of every vehicle read (the traffic that density layouts place RSUs along);
    and the importer's report of what it read and removed.

    Raises ConfigError (one line) when the file is missing, unreadable or too small."""
    from desim_iov.config import ConfigError, resolve_path
    from traces.errors import TraceFormatError

    vs = s.vehicles
    path = resolve_path(vs.trace or "", s)
    if not path.exists():
        raise ConfigError(f"vehicles.trace: {path}: no such file or directory")
    fmt = None if vs.trace_format == "auto" else vs.trace_format
    options = json.dumps(vs.trace_options, sort_keys=True)
    try:
        found, report = _read_trace(str(path.resolve()), path.stat().st_mtime, fmt, options,
                                    s.area.origin_lon, s.area.origin_lat)
    except TraceFormatError as e:
        raise ConfigError(f"vehicles.trace: {e}") from None
    except (TypeError, ValueError) as e:
        raise ConfigError(f"vehicles.trace {path}: {e}") from None
    found = list(found)
    if vs.trace_select == "most_fixes":  # stable: ties keep the natural id order
        found = sorted(found, key=lambda item: -len(item[1]))
    if len(found) < vs.count:
        raise ConfigError(
            f"vehicles.trace {path}: {len(found)} vehicles after cleaning, vehicles.count is "
            f"{vs.count} (import: {report})"
        )
    # most_covered: every candidate; build_world picks after placing the RSUs
    keep = found if vs.trace_select == "most_covered" else found[: vs.count]
    out = []
    for _, t, xy in keep:
        xyz = xy if xy.shape[1] == 3 else np.column_stack([xy, np.zeros(len(t))])
        out.append(Trajectory(t, xyz))
    return out, np.concatenate([xy[:, :2] for _, _, xy in found]), report


def _sites_from_file(s: Scenario) -> np.ndarray:
    """RSU sites of ``rsus.positions`` (traces.placement.from_file) in the local frame about
    the scenario's origin; exactly ``rsus.count`` of them."""
    from desim_iov.config import ConfigError, resolve_path
    from traces.errors import TraceFormatError
    from traces.placement import from_file

    path = resolve_path(s.rsus.positions or "", s)
    try:
        sites = from_file(path, lon0=s.area.origin_lon, lat0=s.area.origin_lat)
    except (TraceFormatError, ValueError) as e:
        raise ConfigError(f"rsus.positions: {e}") from None
    if len(sites) != s.rsus.count:
        raise ConfigError(
            f"rsus.positions {path}: {len(sites)} sites, rsus.count is {s.rsus.count} "
            f"(set rsus.count={len(sites)})"
        )
    return sites


def _slot_coverage(tr: Trajectory, rsu_xyz: np.ndarray, rsu_range_m: float,
                   t: np.ndarray, slot_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(driving, covered, moving) at the slot starts ``t``: between the first and last fix,
    within ``rsu_range_m`` of some RSU (ground distance), moving > 10 m by the next slot."""
    p = tr.position(t)[:, :2]
    nxt = tr.position(t + slot_s)[:, :2]
    driving = (t >= tr.start) & (t < tr.end)
    if len(rsu_xyz):
        d = np.hypot(p[:, None, 0] - rsu_xyz[None, :, 0], p[:, None, 1] - rsu_xyz[None, :, 1])
        covered = d.min(axis=1) <= rsu_range_m
    else:
        covered = np.zeros(len(t), bool)
    return driving, covered, np.hypot(*(nxt - p).T) > 10.0


def most_covered(candidates: Sequence[Trajectory], rsu_xyz: np.ndarray, rsu_range_m: float,
                 duration_s: float, slot_s: float, count: int) -> list[Trajectory]:
    """The ``count`` candidates that drive the most slots within an RSU's range during the run
    (slots where the vehicle is driving, covered and moving; :func:`_slot_coverage`). Ties keep
    the candidates' order. Recorded fleets hold many taxis that park, report late or drive
    outside the covered district; a twin-migration run wants vehicles that move among the edge
    servers."""
    t = np.arange(0.0, duration_s, slot_s)
    scores = [int(np.logical_and.reduce(_slot_coverage(tr, rsu_xyz, rsu_range_m, t, slot_s)).sum())
              for tr in candidates]
    order = sorted(range(len(candidates)), key=lambda i: -scores[i])  # stable
    return [candidates[i] for i in order[:count]]


def warn_if_uncovered(vehicles: Sequence[Trajectory], rsu_xyz: np.ndarray, rsu_range_m: float,
                      duration_s: float, slot_s: float) -> None:
    """Warn when recorded vehicles spend under half of their driving slots within reach of any
    RSU: usually a trace in another city than ``area.origin_lat/lon`` (lon/lat input) or in
    other local coordinates (metric input). Each vehicle that never drives within reach during
    the run is named with why (traces/coverage.py)."""
    from traces.coverage import idle_vehicles

    for line in idle_vehicles(vehicles, duration_s, slot_s, rsu_xy=rsu_xyz, reach_m=rsu_range_m):
        warnings.warn(f"vehicles.trace: {line}", stacklevel=3)
    t = np.arange(0.0, duration_s, slot_s)
    driving = covered = 0
    for tr in vehicles:
        d, c, _ = _slot_coverage(tr, rsu_xyz, rsu_range_m, t, slot_s)
        driving += int(d.sum())
        covered += int((d & c).sum())
    if not driving:
        first = min(tr.start for tr in vehicles)
        warnings.warn(
            f"vehicles.trace: no vehicle drives during the run (0 .. {duration_s:g} s); the "
            f"first fix is at {first:g} s (narrow trace_options.window or lengthen duration)",
            stacklevel=3,
        )
    elif covered < 0.5 * driving and len(rsu_xyz):
        warnings.warn(
            f"vehicles.trace: the vehicles are within reach of an RSU in only {covered} of "
            f"their {driving} driving slots; check area.origin_lat/origin_lon (lon/lat traces) "
            "or the trace's coordinates against the RSU layout",
            stacklevel=3,
        )


def _vehicles_from_trace(s: Scenario, streams: RngStreams):
    return trajectories_from_trace(s)


def _vehicles_sumo(s: Scenario, streams: RngStreams):
    """A live SUMO simulation (desim_iov.sumo; needs the [sumo] extra)."""
    from desim_iov.sumo import start_fleet

    fleet = start_fleet(s, streams)
    return fleet, None, fleet.report


#: ``vehicles.mobility`` -> (trajectories or live vehicles, the fleet's (x, y) fixes or None,
#: import report)
VEHICLE_MOBILITY = {"random_waypoint": _vehicles_random_waypoint, "trace": _vehicles_from_trace,
                    "sumo": _vehicles_sumo}


@functools.lru_cache(maxsize=8)
def _read_trace(path: str, mtime: float, fmt: str | None, options: str, lon0: float, lat0: float):
    """(vehicles in natural id order as (id, t, coords), import report) of a trace file, read
    once per process (RL training rebuilds the world every episode; the file is unchanged,
    ``mtime`` says so)."""
    from traces.detect import load_trajectories

    ts = load_trajectories(path, fmt, **json.loads(options))
    if ts.crs == "lonlat":
        ts = ts.to_xy(lon0, lat0)
    found = sorted(ts.per_vehicle(), key=lambda item: _natural(item[0]))
    for _, t, xy in found:  # shared between worlds: never to be written
        t.flags.writeable = False
        xy.flags.writeable = False
    return tuple(found), ts.report.summary()


def build_world(
    s: Scenario, streams: RngStreams, vehicle_trajectories: Sequence[Trajectory] | None = None
) -> World:
    """Place the servers and draw (or take) the vehicles' trajectories (or start live ones)."""
    fixes, report, live = None, "", None
    if vehicle_trajectories is None:
        vehicle_trajectories, fixes, report = VEHICLE_MOBILITY[s.vehicles.mobility](s, streams)
        if isinstance(vehicle_trajectories, LiveVehicles):
            live, vehicle_trajectories = vehicle_trajectories, []
    try:
        return _build(s, streams, vehicle_trajectories, fixes, report, live)
    except BaseException:
        if live is not None:
            live.close()
        raise


def _build(s: Scenario, streams: RngStreams, vehicle_trajectories: Sequence[Trajectory],
           fixes: np.ndarray | None, report: str, live: LiveVehicles | None) -> World:
    rs = s.rsus
    n = rs.count

    def traffic_fixes() -> np.ndarray:
        """(x, y) of every fix: a trace's whole fleet, else the simulated vehicles' (live
        vehicles: points along the roads they will drive)."""
        if fixes is not None:
            return fixes
        if live is not None:
            return live.road_points()
        return np.concatenate([tr.positions[:, :2] for tr in vehicle_trajectories])

    rsu_xy = RSU_LAYOUTS[rs.layout](s, streams, traffic_fixes) if n else np.zeros((0, 2))
    if rs.height_max > rs.height_min:
        z = streams.get("placement.height").uniform(rs.height_min, rs.height_max, n)
    else:
        z = np.full(n, rs.height_min)
    if rsu_xy.shape[1] == 3:  # heights from the positions file
        rsu_xy, z = rsu_xy[:, :2], rsu_xy[:, 2]
    rsu_xyz = np.column_stack([rsu_xy, z])
    if s.vehicles.mobility == "trace" and s.vehicles.trace_select == "most_covered" \
            and len(vehicle_trajectories) > s.vehicles.count:
        vehicle_trajectories = most_covered(
            vehicle_trajectories, rsu_xyz, s.rsus.range, s.duration, s.slot, s.vehicles.count)
    if fixes is not None:  # recorded vehicles (not tests' hand-made trajectories)
        warn_if_uncovered(vehicle_trajectories, rsu_xyz, s.rsus.range, s.duration, s.slot)
    uav_routes = UAV_MOBILITY[s.uavs.mobility](s, rsu_xyz, streams) if s.uavs.count else []
    sat_xyz = np.array([0.0, 0.0, s.satellite.altitude]) if s.satellite.enabled else None

    classes = server_classes(s)
    kinds = server_kinds(s)

    def col(attr: str, sat_value: float) -> np.ndarray:
        return server_column(s, attr, sat_value)

    sat = s.satellite
    cpu = col("cpu", sat.cpu)
    rng_cpu = streams.get("cpu")
    start = 0
    for _, cfg, c in classes:  # quantum-DRL Eq. 4: each server's available CPU, once per run
        if cfg.cpu_deviation != "none" and c:
            # a reduction below f_max (constraint C7, f <= f_max): |deviation|
            dev = np.abs(draw_cpu_deviation(
                rng_cpu, c, distribution=cfg.cpu_deviation,
                variance=cfg.cpu_deviation_scale, half_width=cfg.cpu_deviation_scale,
            ))
            cpu[start : start + c] = cpu_frequency_hz(cfg.cpu, dev)
        start += c
    return World(
        kinds=kinds,
        rsu_xyz=rsu_xyz,
        uav_routes=uav_routes,
        sat_xyz=sat_xyz,
        range_m=col("range", np.inf),
        cpu_hz=cpu,
        cache_bits=col("cache", sat.cache),
        tx_power_w=col("tx_power", np.nan),
        bw_up_hz=col("bandwidth_up", np.nan),
        bw_down_hz=col("bandwidth_down", np.nan),
        antennas=col("antennas", 1).astype(int),
        vehicles=list(vehicle_trajectories),
        import_report=report,
        live=live,
    )
