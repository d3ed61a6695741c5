"""Heuristic policies of the task-offloading app (quantum-DRL paper baselines), for all three
agent kinds. Each returns one ``(target, level, level)`` action per acting agent, always inside
the kernel's mask (``OffloadObservation.mask``).

- ``nearest``: vehicles offload to the nearest BS/UAV with a link, full power, the first split
  level; relays process locally.
- ``max-rate``: vehicles offload to the BS/UAV of the highest access rate; relays process
  locally.
- ``min-latency``: vehicles pick the first hop of the path that minimises the digital twin's
  predicted delay (Dijkstra on the graph by D/R per hop, hop limit held, plus the queued and
  own cycles at the processing node over its estimated f^); relays process locally unless a
  successor's predicted completion (D/R + (queued + own cycles)/f^) beats their own.
- ``random``: every component uniformly among the allowed values (all kinds).

Relays keep their full CPU level and full power except under ``random``.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping

import numpy as np

from desim_iov.apps.offload_spaces import OffloadObservation
from desim_iov.kinds import VEHICLE_AGENT

PROCESS = 0


def _vehicle_hold(o: OffloadObservation) -> tuple[int, int, int] | None:
    n = o.nvec[0] - 1
    if not o.mask[:n].any():
        return (n, 0, 0)
    return None


class _Base(abc.ABC):
    name = "?"

    def __init__(self) -> None:
        self.rng = np.random.default_rng(0)

    def reset(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def act(self, observations: Mapping[str, OffloadObservation]) -> dict[str, np.ndarray]:
        out = {}
        for a, o in observations.items():
            if o.kind == VEHICLE_AGENT:
                act = _vehicle_hold(o) or self.vehicle(o)
            else:
                act = self.relay(o)
            out[a] = np.asarray(act, dtype=np.int64)
        return out

    @abc.abstractmethod
    def vehicle(self, o: OffloadObservation) -> tuple[int, int, int]:
        """A vehicle's action when it has at least one link."""

    def relay(self, o: OffloadObservation) -> tuple[int, int, int]:
        return (PROCESS, 0, 0)


class NearestPolicy(_Base):
    """Nearest BS/UAV with a link (distance of the access link)."""

    name = "nearest"

    def vehicle(self, o: OffloadObservation) -> tuple[int, int, int]:
        tp = o.dt.topology
        allowed = np.flatnonzero(o.mask[: tp.N])
        d = tp.access_distance[o.index, allowed]
        return (int(allowed[np.argmin(d)]), 0, 0)


class MaxRatePolicy(_Base):
    """BS/UAV of the highest access rate (full power)."""

    name = "max-rate"

    def vehicle(self, o: OffloadObservation) -> tuple[int, int, int]:
        return (o.dt.topology.fastest_access(o.index), 0, 0)  # the mask's targets are the edges


class MinLatencyPolicy(_Base):
    """Shortest predicted delay on the digital twin's graph (see the module docstring)."""

    name = "min-latency"

    def vehicle(self, o: OffloadObservation) -> tuple[int, int, int]:
        dt = o.dt
        tp = dt.topology
        bits = min(dt.max_subtask, dt.pending_bits.get(o.index, dt.max_subtask))
        cycles = bits * dt.cycles_per_bit
        delay, paths = tp.fastest_paths(tp.vehicle_node(o.index), bits)
        best, first = np.inf, -1
        for node, d in delay.items():
            if node >= tp.N:
                continue
            path = paths[node]
            if len(path) - 2 > dt.max_hops:  # vehicle, first hop, then at most max_hops relays
                continue
            total = d + (dt.queue_cycles[node] + cycles) / max(dt.f_est[node], 1.0)
            if total < best:
                best, first = total, path[1]
        if first < 0 or not o.mask[first]:
            return MaxRatePolicy.vehicle(self, o)  # type: ignore[arg-type]
        return (int(first), 0, 0)

    def relay(self, o: OffloadObservation) -> tuple[int, int, int]:
        dt = o.dt
        tp = dt.topology
        z = o.index
        bits = dt.max_subtask  # the size of the subtasks arriving is not known ahead: D^max
        cycles = bits * dt.cycles_per_bit
        own = (dt.queue_cycles[z] + cycles) / max(dt.f_est[z], 1.0)
        succ = np.flatnonzero(o.mask[1 : tp.N + 1])
        if succ.size == 0:
            return (PROCESS, 0, 0)
        rate = tp.relay_rate[z, succ]
        other = bits / rate + (dt.queue_cycles[succ] + cycles) / np.maximum(dt.f_est[succ], 1.0)
        k = int(np.argmin(other))
        if other[k] < own:
            return (1 + int(succ[k]), 0, 0)
        return (PROCESS, 0, 0)


class RandomOffloadPolicy(_Base):
    """Every action component uniformly among its allowed values."""

    name = "random"

    def _pick(self, o: OffloadObservation) -> tuple[int, int, int]:
        return tuple(int(self.rng.choice(np.flatnonzero(m))) for m in o.component_masks())  # type: ignore[return-value]

    def vehicle(self, o: OffloadObservation) -> tuple[int, int, int]:
        return self._pick(o)

    def relay(self, o: OffloadObservation) -> tuple[int, int, int]:
        return self._pick(o)


def nearest() -> NearestPolicy:
    return NearestPolicy()


def max_rate() -> MaxRatePolicy:
    return MaxRatePolicy()


def min_latency() -> MinLatencyPolicy:
    return MinLatencyPolicy()


def random() -> RandomOffloadPolicy:
    return RandomOffloadPolicy()
