"""Fidelities: the same scenario, models and decision process at two levels of detail,
selected by the scenario's ``fidelity`` (``FIDELITIES``).

- ``packet``: the kernel ticks every mobility step; the app's per-packet processes run
  (``start_traffic``); each tick's background batch arrives before the decisions.
- ``slot``: the kernel ticks once per slot, positions held over the slot (as both papers
  assume); decisions are taken on S_m(t), then the slot's background batch (Gamma(n, 1)/n
  around the mean, n = slot / mobility_step: the same law as n per-step Poisson batches)
  and the app's slot arrivals (``slot_arrivals``, a fluid) join the queues. No packets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from desim_iov.config import Scenario
    from desim_iov.sim import Simulation


class Fidelity:
    """The hooks the clock calls; the defaults do nothing."""

    name = ""

    @staticmethod
    def tick(s: Scenario) -> float:
        """Seconds between clock ticks."""
        return s.mobility_step

    @staticmethod
    def batches_per_tick(s: Scenario) -> int:
        """Background batches summed into one tick's batch (its Gamma shape)."""
        return 1

    @staticmethod
    def start(sim: Simulation) -> None:
        """Start the fidelity's own processes."""

    @staticmethod
    def before_decisions(sim: Simulation, t: float, dt: float) -> None:
        """Each tick, after the radio update, before a decision epoch."""

    @staticmethod
    def after_decisions(sim: Simulation, t: float, dt: float) -> None:
        """Each tick, after the epoch and the trace samples."""


class PacketFidelity(Fidelity):
    name = "packet"

    @staticmethod
    def start(sim: Simulation) -> None:
        sim.app.start_traffic()

    @staticmethod
    def before_decisions(sim: Simulation, t: float, dt: float) -> None:
        sim.servers.add_background(t, dt)


class SlotFidelity(Fidelity):
    name = "slot"

    @staticmethod
    def tick(s: Scenario) -> float:
        return s.slot

    @staticmethod
    def batches_per_tick(s: Scenario) -> int:
        return max(1, round(s.slot / s.mobility_step))

    @staticmethod
    def after_decisions(sim: Simulation, t: float, dt: float) -> None:
        sim.servers.add_background(t, dt)
        sim.app.slot_arrivals(t)


FIDELITIES: dict[str, type[Fidelity]] = {"packet": PacketFidelity, "slot": SlotFidelity}
