"""Live SUMO coupling (``vehicles.mobility: sumo``): :mod:`.tools` finds the ``[sumo]``
extra's binaries and interface, :mod:`.network` makes or checks the network and routes,
:mod:`.fleet` steps SUMO in lockstep with the kernel. Nothing here imports SUMO until a
scenario asks for it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from desim_iov.config import Scenario
    from desim_iov.rng import RngStreams
    from desim_iov.sumo.fleet import SumoFleet


def start_fleet(s: Scenario, streams: RngStreams) -> SumoFleet:
    """SUMO started on the scenario's network and routes (generated when asked), at t = 0."""
    from desim_iov.sumo import tools
    from desim_iov.sumo.fleet import SumoFleet
    from desim_iov.sumo.network import sumo_inputs

    tools.sumo_package()  # the one-line error naming the extra comes first
    return SumoFleet(s, sumo_inputs(s, streams))
