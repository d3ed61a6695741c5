"""Physical plausibility bounds on every number of a scenario (issue 14 item 2).

The schema's own constraints say what the code can run (a positive bandwidth, a probability in
[0, 1]); these bounds say what a researcher could mean. A 3e8 m/s car, a 1 TW transmitter, a
car 10^6 km high, a 1e-30 m area or a 1e36 Hz band are typing mistakes, and a run built on one
either hangs, crashes or prints numbers that look right. Each bound is wide enough for every
value of both papers (including their odd ones: a 10 ms deadline, 3-D "vehicles" 20 m up,
33.2 J node budgets) and for the neighbouring literature (THz bands, massive MIMO, LEO to GEO
satellites, HAPS UAVs), and every value of every preset lies inside it (tested).

Values are in the schema's SI units (s, m, m/s, Hz, bit, bit/s, W, J); ``docs/USAGE.md``
"Plausibility bounds" is :func:`markdown_table` (tested equal). A number outside its bound, or
not finite, is a one-line error naming the field, the value, the range and why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

DAY = 86_400.0


@dataclass(frozen=True)
class Bound:
    pattern: str  # a dotted field path; * matches one or more path parts (fnmatch)
    unit: str
    lo: float
    hi: float
    why: str


#: the first pattern that matches a field's path applies (specific ones first)
BOUNDS: tuple[Bound, ...] = (
    # time
    Bound("duration", "s", 1e-3, 30 * DAY, "1 ms to 30 simulated days"),
    Bound("slot", "s", 1e-4, 3600.0, "0.1 ms (6G TTI) to an hour"),
    Bound("mobility_step", "s", 1e-4, 60.0, "0.1 ms to a minute between position updates"),
    Bound("seed", "", 0, 2**63 - 1, "a 64-bit signed integer (HDF5 attribute)"),
    Bound("trace.sample_interval", "s", 1e-4, DAY, "as often as a slot, at most daily"),
    Bound("trace.flush_interval", "s", 1e-3, DAY, "how much a crash may lose"),
    Bound("trace.chunk_rows", "rows", 1, 10**7, "HDF5 chunks up to ~1 GB"),
    # area and geography
    Bound("area.width", "m", 1.0, 2e6, "a street to a 2,000 km region"),
    Bound("area.height", "m", 1.0, 2e6, "a street to a 2,000 km region"),
    Bound("area.origin_lat", "deg", -90.0, 90.0, "latitude"),
    Bound("area.origin_lon", "deg", -180.0, 180.0, "longitude"),
    # vehicles
    Bound("vehicles.count", "vehicles", 0, 100_000, "a metropolitan fleet"),
    Bound("vehicles.speed_min", "m/s", 0.0, 150.0, "standing to 540 km/h (road and rail)"),
    Bound("vehicles.speed_max", "m/s", 0.0, 150.0, "standing to 540 km/h (road and rail)"),
    Bound("vehicles.pause", "s", 0.0, DAY, "a waypoint pause of at most a day"),
    Bound("vehicles.z_min", "m", -500.0, 9000.0, "below sea level to the highest road (quantum-DRL's 3-D vehicles)"),
    Bound("vehicles.z_max", "m", -500.0, 9000.0, "below sea level to the highest road (quantum-DRL's 3-D vehicles)"),
    Bound("vehicles.max_ascent_deg", "deg", 0.0, 89.0, "a climb steeper than vertical is not a trajectory"),
    Bound("vehicles.tx_power", "W", 0.0, 100.0, "a UE (0.2 W) to a vehicle-mounted relay"),
    Bound("vehicles.twin_size", "bit", 0.0, 8e12, "up to a 1 TB digital twin"),
    Bound("vehicles.cycles_per_bit", "cycles/bit", 0.0, 1e6, "light to very heavy processing"),
    Bound("vehicles.traffic.data_rate", "bit/s", 0.0, 1e11, "up to 100 Gbit/s per vehicle"),
    Bound("vehicles.traffic.packet_size", "bit", 8.0, 8e10, "a byte to 10 GB"),
    Bound("vehicles.traffic.result_ratio", "", 0.0, 1000.0, "result size per uploaded bit"),
    Bound("vehicles.sumo.grid_size", "junctions", 2, 1000, "a SUMO grid's junctions per side"),
    Bound("vehicles.sumo.grid_length", "m", 10.0, 1e5, "a block of 10 m to 100 km"),
    Bound("vehicles.sumo.lanes", "lanes", 1, 16, "lanes per direction"),
    Bound("vehicles.sumo.speed_limit", "m/s", 0.1, 150.0, "a road's speed limit"),
    Bound("vehicles.sumo.vehicles", "vehicles", 0, 10**6, "SUMO trips of a run"),
    Bound("vehicles.sumo.period", "s", 1e-3, DAY, "time between SUMO departures"),
    Bound("vehicles.sumo.min_trip", "m", 0.0, 1e6, "shortest SUMO trip"),
    Bound("vehicles.sumo.step_length", "s", 1e-3, 60.0, "SUMO's own step"),
    # edge servers
    Bound("*.range", "m", 1.0, 1e6, "a femtocell to a satellite footprint"),
    Bound("*.cpu", "Hz", 1e6, 1e13, "1 MHz to 10 THz of aggregate cycles"),
    Bound("*.cpu_deviation_scale", "", 0.0, 1.0, "a relative deviation"),
    Bound("*.cache", "bit", 0.0, 8e15, "up to 1 PB"),
    Bound("*.tx_power", "W", 0.0, 1000.0, "up to a broadcast-class transmitter"),
    Bound("*.bandwidth_up", "Hz", 1e3, 1e12, "1 kHz to 1 THz (6G THz bands)"),
    Bound("*.bandwidth_down", "Hz", 1e3, 1e12, "1 kHz to 1 THz (6G THz bands)"),
    Bound("*.antennas", "antennas", 1, 4096, "up to massive MIMO"),
    Bound("*.rician_k", "", 0.0, 1e4, "Rician K (linear): Rayleigh (0) to nearly deterministic"),
    Bound("*.pathloss_params.h_*", "m", 0.0, 1e5, "antenna heights (up to HAPS)"),
    Bound("*.pathloss_params.*", "", -1e6, 1e6, "a path-loss model's parameter"),
    Bound("rsus.count", "sites", 0, 100_000, "base stations of a country"),
    Bound("rsus.min_separation", "m", 0.0, 1e6, "between sites"),
    Bound("rsus.cell", "m", 1.0, 1e6, "a grid cell"),
    Bound("*.extent", "m", 1.0, 2e6, "the square the servers cover"),
    Bound("rsus.height_min", "m", 0.0, 1000.0, "a mast to a tall tower"),
    Bound("rsus.height_max", "m", 0.0, 1000.0, "a mast to a tall tower"),
    Bound("uavs.count", "UAVs", 0, 10_000, "a large swarm"),
    Bound("uavs.altitude", "m", 0.0, 25_000.0, "ground to HAPS (20 km)"),
    Bound("uavs.altitude_max", "m", 0.0, 25_000.0, "ground to HAPS (20 km)"),
    Bound("uavs.speed", "m/s", 0.0, 150.0, "hovering to a fast fixed-wing UAV"),
    Bound("uavs.speed_max", "m/s", 0.0, 150.0, "hovering to a fast fixed-wing UAV"),
    Bound("uavs.route_length", "waypoints", 1, 10_000, "a patrol's waypoints"),
    Bound("satellite.rate", "bit/s", 1e3, 1e12, "a satellite link"),
    Bound("satellite.altitude", "m", 1.6e5, 4e7, "lowest LEO (160 km) to beyond GEO"),
    # channel
    Bound("channel.carrier_frequency", "Hz", 1e6, 1e13, "1 MHz to 10 THz"),
    Bound("channel.gain_coefficient", "", 1e-12, 1e6, "the path-loss constant A (twin-migration Eq. 3)"),
    Bound("channel.noise_density_dbm_hz", "dBm/Hz", -220.0, -100.0, "thermal noise is -174 dBm/Hz"),
    Bound("channel.noise_figure", "dB", 0.0, 40.0, "a receiver's noise figure"),
    Bound("*blocklength", "symbols", 1, 10**7, "a finite block (quantum-DRL Eq. 23)"),
    Bound("channel.error_prob", "", 1e-15, 0.5, "a decoding error probability (Eq. 23)"),
    Bound("channel.noise_power", "W", 1e-25, 1.0, "sigma^2 given outright"),
    Bound("migration.bandwidth", "Hz", 1e3, 1e12, "the backhaul of a migration"),
    # workload and reward (twin migration)
    Bound("background.utilisation", "", 0.0, 10.0, "mean background load per server (1 = its capacity)"),
    Bound("background.amplitude", "", 0.0, 10.0, "relative swing of the background"),
    Bound("background.period", "s", 1e-3, 365 * DAY, "a background cycle"),
    Bound("reward.w_*", "", 0.0, 1e6, "a reward weight"),
    Bound("reward.latency_cap", "s", 0.0, 1e6, "the latency cap of Eq. 22's term"),
    # task offloading
    Bound("offload.tasks.size", "bit", 8.0, 8e12, "a byte to 1 TB"),
    Bound("offload.tasks.max_subtask", "bit", 8.0, 8e12, "a byte to 1 TB"),
    Bound("offload.tasks.arrival_slots", "slots", 1, 10**9, "slots with arrivals"),
    Bound("offload.tasks.prob_per_slot", "", 0.0, 1.0, "a probability"),
    Bound("offload.tasks.split_levels", "subtasks", 1, 10**6, "subtasks per task"),
    Bound("offload.tasks.cycles_per_bit", "cycles/bit", 0.0, 1e6, "light to very heavy processing"),
    Bound("offload.tasks.deadline", "s", 1e-6, DAY, "1 us (URLLC) to a day"),
    Bound("offload.tasks.hold_slots", "slots", 0, 10**6, "how long a task may wait"),
    Bound("offload.tasks.priority.*", "", 0.0, 1.0, "a weight of Eq. 1-2"),
    Bound("offload.links.*.exponent_range", "", 1.0, 10.0, "path-loss exponents"),
    Bound("offload.network.min_rate", "bit/s", 0.0, 1e12, "the rate threshold R^ (C9)"),
    Bound("offload.network.max_hops", "hops", 0, 100, "relay hops of a subtask"),
    Bound("offload.network.capacity_cycles", "cycles", 0.0, 1e15, "a node's cycle capacity"),
    Bound("offload.network.f_min_ratio", "", 0.0, 1.0, "f_min / f_max"),
    Bound("offload.network.dt_cpu_error", "Hz", 0.0, 1e12, "the DT's CPU estimate error"),
    Bound("offload.network.cpu_levels", "", 0.0, 1.0, "CPU levels as shares of f_max"),
    Bound("offload.network.*_power_levels", "levels", 1, 1000, "discrete transmit powers"),
    Bound("offload.network.power_step_db", "dB", 0.0, 60.0, "between power levels"),
    Bound("offload.network.block_delay", "s", 0.0, 1.0, "airtime per block and hop"),
    Bound("offload.network.degree_cap.*", "links", 0, 100_000, "links per node type"),
    Bound("offload.energy.xi", "J/cycle", 0.0, 1e-3, "energy per cycle (Table II: 1e-6)"),
    Bound("offload.energy.vehicle_budget", "J", 0.0, 1e6, "a vehicle's energy budget"),
    Bound("offload.energy.node_budget", "J", 0.0, 1e9, "a node's energy budget"),
    Bound("offload.qos.w_*", "", 0.0, 1e3, "a QoS weight (Eq. 48)"),
    Bound("offload.qos.q_*", "", -1e12, 1e12, "Q bounds of Eq. 93 (1/s and J mixed)"),
    Bound("offload.reward.*", "", -1e6, 1e6, "a reward coefficient (Eq. 63-68, 90-92)"),
    Bound("offload.dt.window", "slots", 1, 100_000, "the forecaster's input window"),
    Bound("offload.dt.sync_delay_slots", "slots", 0, 10**6, "the twin's sync delay"),
)


def bound_for(path: str) -> Bound | None:
    for b in BOUNDS:
        if fnmatchcase(path, b.pattern):
            return b
    return None


def _leaves(node: Any, path: str) -> Any:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, f"{path}.{k}" if path else str(k))
    elif isinstance(node, (list, tuple)):
        for v in node:
            yield from _leaves(v, path)
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        yield path, node


def implausible(dumped: dict[str, Any]) -> str | None:
    """The first number of a dumped scenario outside its bound (or not finite), as one line;
    None when every number is plausible. ``policy`` and trace reader options are skipped (the
    policy and the reader check their own)."""
    for path, v in _leaves(dumped, ""):
        if path.startswith(("policy.", "vehicles.trace_options.")):
            continue
        if not math.isfinite(v):
            return f"field '{path}': {v} is not a finite number"
        b = bound_for(path)
        if b is not None and not b.lo <= v <= b.hi:
            unit = f" {b.unit}" if b.unit else ""
            return f"field '{path}': {v:g}{unit} is outside the plausible range [{b.lo:g}, {b.hi:g}]{unit}: {b.why}"
    return None


def markdown_table() -> str:
    """The bounds as the Markdown table of docs/USAGE.md."""
    rows = ["| field | unit | allowed | why |", "|---|---|---|---|"]
    rows += [f"| `{b.pattern}` | {b.unit or '-'} | {b.lo:g} .. {b.hi:g} | {b.why} |" for b in BOUNDS]
    return "\n".join(rows)
