"""Applications on one network (DESIGN.md Sec. 8), selected by the scenario's ``app:`` key.

An app owns its traffic processes, its agents (``agent_specs``: kind, observation space,
action space, from the scenario alone), its observations and kernel-computed masks
(``observe``), how actions apply and its per-slot objective terms (``apply``), its slot
fidelity arrivals (``slot_arrivals``), its reward (``reward_model``/``rewards``/``infos``) and
its trace datasets (``datasets``). It uses the network's public API (``sim.radio``,
``sim.servers``, ``sim.recorder``, ``sim.world``, ``sim.streams``) and never another app's
internals. Adding one: a module here, a line in ``APPS``, its config section, its datasets in
``traces.schema``, its tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from desim_iov.config import Scenario
    from desim_iov.decisions import AgentSpec
    from desim_iov.sim import Simulation


class App(Protocol):
    """What the kernel, the decision process and the env ask of an application."""

    name: str
    stats: Any
    uses_server_queues: bool  # the network's WorkQueues, background and forecaster (/server_load)

    # per scenario (no simulation needed)
    @staticmethod
    def datasets(scenario: Scenario, n_servers: int) -> dict[str, np.dtype]: ...
    @staticmethod
    def dataset_attrs() -> dict[str, dict[str, Any]]: ...
    @staticmethod
    def spaces(scenario: Scenario) -> Any: ...
    @staticmethod
    def agent_specs(scenario: Scenario) -> dict[str, AgentSpec]: ...
    @staticmethod
    def reward_model(scenario: Scenario) -> Any: ...
    @staticmethod
    def rewards(shaper: Any, outcome: Any) -> dict[str, float]: ...
    @staticmethod
    def infos(outcome: Any) -> dict[str, dict[str, Any]]: ...

    # one run
    def __init__(self, sim: Simulation) -> None: ...
    @staticmethod
    def root_attrs() -> dict[str, Any]: ...
    def tick(self, t: float) -> None: ...
    def start_traffic(self) -> None: ...
    def slot_arrivals(self, t: float) -> None: ...
    def observe(self, slot: int, t: float) -> dict[str, Any]: ...
    def apply(self, actions: dict[str, Any], policy_name: str = "?") -> Any: ...
    def twin_hosts(self) -> list[int] | None: ...
    def agent_finished(self, agent: str) -> bool: ...
    def finish(self) -> dict[str, Any]: ...
    def hindsight(self) -> Any: ...


def _twin_migration() -> type:
    from desim_iov.apps.twin_migration import TwinMigrationApp

    return TwinMigrationApp


def _task_offloading() -> type:
    from desim_iov.apps.task_offloading import TaskOffloadingApp

    return TaskOffloadingApp


#: ``app:`` name -> a loader of its class (imported on first use)
APPS: dict[str, Any] = {"twin_migration": _twin_migration, "task_offloading": _task_offloading}


def app_class(name: str) -> type:
    if name not in APPS:
        raise KeyError(f"unknown app {name!r} (allowed: {', '.join(APPS)})")
    return APPS[name]()
