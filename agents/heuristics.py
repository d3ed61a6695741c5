"""Heuristic baselines of the twin-migration paper (Sec. VII-A) and a load-balancing one.

All take ``use_mask`` (default True): with it they choose among the servers the kernel's
dynamic mask allows (Eq. 23); without it, among all servers (the paper's Fig. 9 comparison).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from desim_iov.apps.twin_spaces import Observation
from desim_iov.kinds import SATELLITE


def _candidates(obs: Observation, use_mask: bool) -> np.ndarray:
    if use_mask:
        idx = np.flatnonzero(obs.mask)
        if idx.size:
            return idx
        return np.array([obs.current])  # nothing feasible: stay (the failure is recorded)
    return np.arange(obs.mask.shape[0])


def _nearest(obs: Observation, cand: np.ndarray) -> int:
    """Nearest candidate; the satellite only when no RSU/UAV is a candidate."""
    d = np.where(obs.kinds[cand] == SATELLITE, np.inf, obs.distances[cand])
    if np.all(np.isinf(d)):
        return int(cand[0])
    return int(cand[np.argmin(d)])


class RandomPolicy:
    """Uniformly random host every slot, no optimisation (the paper's Random)."""

    name = "random"

    def __init__(self, use_mask: bool = True) -> None:
        self.use_mask = bool(use_mask)
        self.rng = np.random.default_rng(0)

    def reset(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def act(self, observations: Mapping[str, Observation]) -> dict[str, int]:
        return {
            a: int(self.rng.choice(_candidates(o, self.use_mask)))
            for a, o in observations.items()
        }


class GreedyPolicy:
    """Geographically closest server, with probability ``epsilon`` (10 %) a random one
    (the paper's Greedy, Sec. VII-A)."""

    name = "greedy"

    def __init__(self, epsilon: float = 0.1, use_mask: bool = True) -> None:
        if isinstance(epsilon, bool) or not isinstance(epsilon, int | float) \
                or not 0.0 <= epsilon <= 1.0:
            raise TypeError(f"epsilon must be a number in [0, 1], got {epsilon!r}")
        self.epsilon = float(epsilon)
        self.use_mask = bool(use_mask)
        self.rng = np.random.default_rng(0)

    def reset(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def act(self, observations: Mapping[str, Observation]) -> dict[str, int]:
        out = {}
        for a, o in observations.items():
            cand = _candidates(o, self.use_mask)
            # one uniform draw per agent and decision, whatever the branch: the stream's
            # consumption does not depend on the state
            explore = self.rng.random() < self.epsilon
            pick = int(self.rng.integers(cand.size))
            out[a] = int(cand[pick]) if explore else _nearest(o, cand)
        return out


class LeastLoadedPolicy:
    """The feasible RSU/UAV with the smallest workload S^pre_m (ties: nearest); the
    satellite only when no RSU/UAV is feasible."""

    name = "least-loaded"

    def __init__(self, use_mask: bool = True) -> None:
        self.use_mask = bool(use_mask)

    def reset(self, rng: np.random.Generator) -> None:
        pass

    def act(self, observations: Mapping[str, Observation]) -> dict[str, int]:
        out = {}
        for a, o in observations.items():
            cand = _candidates(o, self.use_mask)
            terrestrial = cand[o.kinds[cand] != SATELLITE]
            if terrestrial.size == 0:
                out[a] = int(cand[0])
                continue
            order = np.lexsort((o.distances[terrestrial], o.workloads[terrestrial]))
            out[a] = int(terrestrial[order[0]])
        return out

