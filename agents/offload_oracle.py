"""A hindsight reference for task offloading: with the true CPU frequencies and rates of the
slot (``desim_iov.apps.offload_hindsight``), each slot's first hops are assigned greedily,
largest pending work first, to the BS/UAV of the earliest predicted completion (transmission at
full power + the node's queued cycles and the cycles already assigned this slot, over its true
f_cpu), at the finest split level; relays process where they are. It is a per-slot greedy
assignment on perfect information, not a proven optimum: learners are reported as a gap to it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from agents.base import HindsightReference
from desim_iov.apps.offload_spaces import OffloadObservation
from desim_iov.kinds import VEHICLE_AGENT


class HindsightOffloadPolicy(HindsightReference):
    name = "hindsight"

    def act(self, observations: Mapping[str, OffloadObservation]) -> dict[str, np.ndarray]:
        hv = self.viewed()
        f = np.maximum(hv.f_cpu, 1.0)
        load = hv.queue_cycles.astype(float)
        levels = hv.split_levels
        finest = int(np.argmax(levels))
        out: dict[str, np.ndarray] = {}
        vehicles = [o for o in observations.values() if o.kind == VEHICLE_AGENT]
        vehicles.sort(key=lambda o: (-o.dt.pending_bits.get(o.index, 0.0), o.index))
        for o in vehicles:
            n_nodes = o.nvec[0] - 1
            allowed = np.flatnonzero(o.mask[:n_nodes])
            if not allowed.size:
                out[o.agent] = np.array([n_nodes, 0, 0])
                continue
            bits = o.dt.pending_bits.get(o.index, o.dt.max_subtask)
            sub = bits / hv.n_subtasks(levels[finest])
            cycles = bits * o.dt.cycles_per_bit
            rate = hv.access_rate_levels[0, o.index, allowed]
            done = sub / rate + (load[allowed] + cycles) / f[allowed]
            k = int(np.argmin(done))
            load[allowed[k]] += cycles
            out[o.agent] = np.array([int(allowed[k]), 0, finest])
        for a, o in observations.items():
            if o.kind != VEHICLE_AGENT:
                out[a] = np.array([0, 0, 0])
        return out
