"""The documented hindsight view of the task-offloading app, for references only (the
``hindsight`` policy): the true CPU frequencies f_cpu of the slot (not the digital twin's
estimate), the true rates of the step at every power level, and the queued cycles per node.
No learner or heuristic reads it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from desim_iov.apps.task_offloading import TaskOffloadingApp


class OffloadHindsight:
    def __init__(self, app: TaskOffloadingApp) -> None:
        self._app = app

    @property
    def f_cpu(self) -> np.ndarray:
        """(N,) true CPU frequencies of the current slot, Hz."""
        return self._app.nodes.f_cpu.copy()

    @property
    def queue_cycles(self) -> np.ndarray:
        return self._app.nodes.queued_cycles()

    @property
    def access_rate_levels(self) -> np.ndarray:
        return self._app.topo.access_rate_levels

    @property
    def relay_rate(self) -> np.ndarray:
        return self._app.topo.relay_rate

    @property
    def split_levels(self) -> list[int]:
        return list(self._app.tasks_cfg.split_levels)

    def n_subtasks(self, level: int) -> int:
        return self._app.tasks_cfg.n_subtasks(level)
