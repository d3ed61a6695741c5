"""Node kinds and agent ids, defined once: the kernel, the trace schema, the agents and the
analysis all read them from here. This module imports nothing, so ``traces`` may use it too.

Server kind codes (``/servers.kind``, ``Observation.kinds``, ``World.kinds``): RSU/base station
0, UAV 1, satellite 2. Server indices run RSUs first, then UAVs, then the satellite.
Node kind codes of ``/positions.kind``: vehicle 0, UAV 1.
Agent ids are ``"<kind>_<index>"`` (``vehicle_3``; the offloading app adds ``uav_`` and
``bs_`` agents).
"""

from __future__ import annotations

RSU, UAV, SATELLITE = 0, 1, 2
SERVER_KINDS: dict[int, str] = {RSU: "rsu", UAV: "uav", SATELLITE: "satellite"}

POSITION_VEHICLE, POSITION_UAV = 0, 1
NODE_KINDS: dict[int, str] = {POSITION_VEHICLE: "vehicle", POSITION_UAV: "uav"}

VEHICLE_AGENT, UAV_AGENT, BS_AGENT = "vehicle", "uav", "bs"
AGENT_KINDS: tuple[str, ...] = (VEHICLE_AGENT, UAV_AGENT, BS_AGENT)


def agent_id(index: int, kind: str = VEHICLE_AGENT) -> str:
    """``agent_id(3) == "vehicle_3"``; ``agent_id(0, "uav") == "uav_0"``."""
    if kind not in AGENT_KINDS:
        raise ValueError(f"agent kind {kind!r}: allowed {', '.join(AGENT_KINDS)}")
    return f"{kind}_{int(index)}"


def parse_agent(agent: str) -> tuple[str, int]:
    """``"vehicle_3" -> ("vehicle", 3)``; a one-line ValueError for anything else."""
    kind, _, idx = agent.rpartition("_")
    if kind not in AGENT_KINDS or not idx.isdigit():
        raise ValueError(f"agent id {agent!r}: expected <kind>_<index> with kind in {', '.join(AGENT_KINDS)}")
    return kind, int(idx)


def vehicle_of(agent: str) -> int:
    """The vehicle index of a vehicle agent's id."""
    kind, idx = parse_agent(agent)
    if kind != VEHICLE_AGENT:
        raise ValueError(f"agent id {agent!r} is not a vehicle's")
    return idx
