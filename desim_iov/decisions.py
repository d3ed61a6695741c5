"""Decision epochs: per-vehicle observations (twin-migration Eq. 19) and dynamic action masks
(Eq. 23, Fig. 4), built by the kernel and handed to a policy. Agents never compute masks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from desim_iov.kinds import SATELLITE, agent_id, vehicle_of  # noqa: F401  (re-exported)


@dataclass(frozen=True, slots=True)
class Observation:
    """What one vehicle's agent sees at a decision epoch.

    ``distances`` (M,) metres to every server (the satellite's entry is its slant range; Eq. 19
    leaves it out, :meth:`vector` does too); ``workloads`` (M,) bits, S^o_m(t): data in the
    cache + the predicted background (with a predictor) + the slot data S_v of the driving
    vehicles whose twins m hosts (Eq. 8), the same for every vehicle; ``mask`` (M,) int8, 1 where
    the server is a feasible twin host (Eq. 23); ``current`` the server hosting (or receiving)
    the twin; ``kinds`` (M,) server kind codes (0 RSU, 1 UAV, 2 satellite)."""

    vehicle: int
    time: float
    slot: int
    distances: np.ndarray
    workloads: np.ndarray
    mask: np.ndarray
    current: int
    kinds: np.ndarray

    def vector(self) -> np.ndarray:
        """o_v^t = [D_v^o(t), S^o(t)] (twin-migration Eq. 19) as float32: distances to the
        M - 1 terrestrial/aerial servers, then the M workloads."""
        d = self.distances[self.kinds != SATELLITE]
        return np.concatenate([d, self.workloads]).astype(np.float32)


def feasibility_mask(
    distance_m: np.ndarray,
    max_range_m: np.ndarray,
    always_reachable: np.ndarray,
    predicted_load_bits: np.ndarray,
    cache_bits: np.ndarray,
    task_bits: np.ndarray,
) -> np.ndarray:
    """K_{v,m} (twin-migration Eq. 23, Fig. 4): 1 unless server m is out of range
    (D_{v,m} > D_max, Eq. 14) or would overflow (observed workload S^o_m + the vehicle's data
    for the slot > L_max). ``task_bits`` is per vehicle (V,) or per vehicle and server (V, M)
    (0 where the twin already is: S^o counts it there). Arrays broadcast as (V, M); int8."""
    in_range = (distance_m <= max_range_m) | always_reachable
    task = np.asarray(task_bits)
    if task.ndim < 2:
        task = task[..., None]
    fits = predicted_load_bits + task <= cache_bits
    return (in_range & fits).astype(np.int8)


class PolicyError(RuntimeError):
    """A policy returned something the kernel cannot apply."""
