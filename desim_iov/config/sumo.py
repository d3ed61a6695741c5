"""The ``vehicles.sumo`` block: live SUMO coupling (``vehicles.mobility: sumo``).

SUMO itself is an optional extra (``pip install 'desim_iov[sumo]'``); this schema imports
nothing of it, so that a scenario validates without SUMO installed and the run fails in one
line naming the extra (:mod:`desim_iov.sumo.tools`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from desim_iov.config.schema_base import Count, Meters, MetersNN, Seconds, Speed, Strict

if TYPE_CHECKING:
    from desim_iov.config.schema import Scenario

#: options the coupling sets itself (from the scenario), refused in ``vehicles.sumo.options``
OWN_OPTIONS = {
    "--step-length": "it is vehicles.sumo.step_length (default: mobility_step)",
    "--seed": "it is drawn from the scenario's seed",
    "--begin": "SUMO starts at 0 with the run", "-b": "SUMO starts at 0 with the run",
    "--end": "the run's duration ends it", "-e": "the run's duration ends it",
    "--net-file": "use vehicles.sumo.net", "-n": "use vehicles.sumo.net",
    "--route-files": "use vehicles.sumo.routes", "-r": "use vehicles.sumo.routes",
    "--configuration-file": "give net and routes", "-c": "give net and routes",
    "--remote-port": "the coupling connects itself",
}


class Sumo(Strict):
    """A SUMO simulation stepped in lockstep with the kernel (docs/USAGE.md, "Live SUMO").

    ``net``: ``grid`` (generated with ``netgenerate``: ``grid_size`` x ``grid_size``
    junctions ``grid_length`` apart, ``lanes`` per direction, ``speed_limit``) or a SUMO
    network file (``*.net.xml[.gz]``, ``data:`` allowed; the grid fields are then unused).
    ``routes``: ``random`` (trips made by SUMO's ``randomTrips.py`` and routed by
    ``duarouter``, seeded from the scenario's seed: ``vehicles`` of them, default
    ``vehicles.count``, one every ``period``, at least ``min_trip`` apart as the crow flies)
    or route files (comma-separated ``*.rou.xml``; the three trip fields are then unused).
    The kernel follows the first ``vehicles.count`` vehicles to depart; any others are
    background traffic. ``step_length``: SUMO's step (default ``mobility_step``, of which it
    must be a whole fraction). ``frame``: how SUMO's x/y become the scenario's local metres
    (``centre``: the network's bounding box centred on the origin; ``net``: as they are;
    ``geo``: through lon/lat about ``area.origin_lat/lon``, for geo-referenced networks;
    ``auto``: ``geo`` when the network is geo-referenced, else ``centre``). ``interface``:
    ``libsumo`` (in process) or ``traci`` (a SUMO process over a socket); ``auto`` takes
    libsumo when it imports. ``options``: more SUMO command-line options."""

    net: str = "grid"
    routes: str = "random"
    grid_size: Count = Field(5, ge=2, le=200)
    grid_length: Meters = 200.0
    lanes: Count = Field(1, ge=1, le=8)
    speed_limit: Speed = 13.89
    vehicles: Count | None = Field(None, ge=1, le=1_000_000)
    period: Seconds = 1.0
    min_trip: MetersNN = 0.0
    step_length: Seconds | None = None
    frame: Literal["auto", "centre", "net", "geo"] = "auto"
    interface: Literal["auto", "libsumo", "traci"] = "auto"
    options: list[str] = []

    @model_validator(mode="after")
    def _consistent(self) -> Sumo:
        if self.net != "grid" and not self.net.endswith((".net.xml", ".net.xml.gz")):
            raise ValueError(f"net {self.net!r}: 'grid' or a SUMO network file (*.net.xml[.gz])")
        for opt in self.options:
            key = opt.split("=", 1)[0]
            if key in OWN_OPTIONS:
                raise ValueError(f"options: {key} is set by the coupling ({OWN_OPTIONS[key]})")
        return self

    def route_files(self) -> list[str]:
        """The route files of ``routes`` (empty for ``random``)."""
        return [] if self.routes == "random" else [r.strip() for r in self.routes.split(",") if r.strip()]


def check_sumo(s: Scenario) -> None:
    """Scenario-level rules of ``vehicles.mobility: sumo`` (ValueError, one line)."""
    vs, su = s.vehicles, s.vehicles.sumo
    step = su.step_length or s.mobility_step
    ratio = s.mobility_step / step
    if abs(ratio - round(ratio)) > 1e-9 or round(ratio) < 1:
        raise ValueError(f"vehicles.sumo.step_length {step:g} s must divide mobility_step "
                         f"{s.mobility_step:g} s (SUMO steps in lockstep with the kernel)")
    if abs(step * 1000 - round(step * 1000)) > 1e-6:
        raise ValueError(f"SUMO steps in whole milliseconds: step {step:g} s "
                         "(vehicles.sumo.step_length, else mobility_step)")
    if su.routes == "random" and (su.vehicles or vs.count) < vs.count:
        raise ValueError(f"vehicles.sumo.vehicles {su.vehicles} is below vehicles.count "
                         f"{vs.count}: the kernel follows vehicles.count of SUMO's vehicles")
    if s.policy.name == "oracle":
        raise ValueError("policy oracle needs the vehicles' future positions, which a live "
                         "SUMO run does not know: use a recorded trace (vehicles.trace)")

