"""Records of the task-offloading app (``apps/task_offloading.py``): tasks and subtasks while
they run, the run's counters, the digital twin's view of an epoch, an epoch's outcome and a
subtask's closed-form placement (Eq. 5–7)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from traces.schema import SUBTASK_OUTCOMES, TASK_STATUS

if TYPE_CHECKING:
    from desim_iov.topology import Topology


class Task:
    __slots__ = ("id", "vehicle", "created", "bits", "slot")

    def __init__(self, id_: int, vehicle: int, created: float, bits: float, slot: int) -> None:
        self.id, self.vehicle, self.created, self.bits, self.slot = id_, vehicle, created, bits, slot


class Subtask:
    """One subtask's record while it runs (written to /subtasks when it ends)."""

    __slots__ = ("id", "task", "vehicle", "j", "priority", "bits", "cycles", "created", "released",
                 "first_node", "proc_node", "hops", "t_tx", "t_queue", "t_proc", "rerouted",
                 "e_tx_vehicle", "e_tx_relay", "e_proc", "arrived", "power_level", "done")

    def __init__(self, id_, task, j, priority, bits, cycles, released, first, level) -> None:
        self.id, self.task, self.vehicle, self.j = id_, task.id, task.vehicle, j
        self.priority, self.bits, self.cycles = priority, bits, cycles
        self.created, self.released = task.created, released
        self.first_node = first
        self.proc_node = -1
        self.hops = 0
        self.t_tx = self.t_queue = self.t_proc = 0.0
        self.rerouted = 0
        self.e_tx_vehicle = self.e_tx_relay = self.e_proc = 0.0
        self.arrived = released
        self.power_level = level
        self.done = False


@dataclass
class OffloadStats:
    """Counters kept while running (the trace holds the full record)."""

    tasks: int = 0
    subtasks: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SUBTASK_OUTCOMES.values(), 0))
    task_status: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TASK_STATUS.values(), 0))
    refused: int = 0
    hops: int = 0


@dataclass
class DigitalTwinView:
    """What the digital twin knows at an epoch (shared by the agents' observations; the
    paper's DT mirrors every node): the topology of the step, the estimated CPU frequencies
    f^, f_max, queued cycles per node, and the task parameters."""

    topology: Topology
    f_est: np.ndarray
    f_max: np.ndarray
    queue_cycles: np.ndarray
    queue_bits: np.ndarray
    cycles_per_bit: float
    max_subtask: float
    max_hops: int
    pending_bits: dict[int, float]
    #: the DT's one-slot model of the epoch (``EpochModel``, for Alg. 3), None without the DT
    model: Callable[[], Any] | None = None


@dataclass
class Outcome:
    """What an epoch's actions earned: the adjusted reward per agent and the raw terms."""

    rewards: dict[str, float]
    infos: dict[str, dict[str, Any]]


@dataclass
class Placement:
    """A subtask's predicted path on the slot's frozen state (the closed form of Eq. 5–7)."""

    nodes: list[int]
    latency: float
    e_vehicle: float
    e_relay: list[float]
    e_proc: float
    t_hops: list[float]
    t_proc: float
    rates: list[float]
    levels: list[int]
    dropped: bool = False  # at the hop limit (at_hop_limit: drop): latency NaN
