"""What a twin-migration agent sees and may do: the kernel's :class:`Observation` (twin-migration
Eq. 19) and dynamic mask (Eq. 23, Fig. 4), and its encoding for learners
(:class:`TwinSpaces`: the PettingZoo/Gymnasium spaces, sized from the scenario alone).

Encoded observation: ``{"observation": [D_v (M-1 distances, km), S^o (M workloads as
fractions of L_max)], "action_mask": int8 (M,)}``; action: the server that should host the
vehicle's twin. Agents never compute masks: the kernel does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from desim_iov.decisions import AgentSpec
from desim_iov.kinds import SATELLITE, VEHICLE_AGENT

if TYPE_CHECKING:
    from desim_iov.config import Scenario


@dataclass(frozen=True, slots=True)
class Observation:
    """What one vehicle's agent sees at a decision epoch.

    ``distances`` (M,) metres to every server (the satellite's entry is its slant range; Eq. 19
    leaves it out, :meth:`vector` does too); ``workloads`` (M,) bits, S^o_m(t): data in the
    cache + the predicted background (with a predictor) + the slot data S_v of the driving
    vehicles whose twins m hosts (Eq. 8), the same for every vehicle; ``mask`` (M,) int8, 1 where
    the server is a feasible twin host (Eq. 23); ``current`` the server hosting (or receiving)
    the twin; ``kinds`` (M,) server kind codes (desim_iov.kinds)."""

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


class TwinSpaces:
    """Spaces and encoding of one scenario's twin-migration agents, from the scenario alone
    (no simulation is built to size them)."""

    DIST_SCALE = 1000.0  # metres -> km

    def __init__(self, scenario: Scenario) -> None:
        from desim_iov.world import server_column, server_kinds

        self.server_kinds = server_kinds(scenario)
        self.n_servers = len(self.server_kinds)
        self.load_scale = server_column(scenario, "cache", scenario.satellite.cache)
        n_obs = 2 * self.n_servers - int((self.server_kinds == SATELLITE).sum())
        # finite bounds: distances up to half the Earth's circumference (km), loads up to
        # 1e6 caches (background batches can overfill a cache; see docs/MODEL.md)
        n_d = n_obs - self.n_servers
        self.high = np.concatenate([np.full(n_d, 2.0e4), np.full(self.n_servers, 1.0e6)]).astype(np.float32)
        self.n_obs = n_obs

    def observation_space(self):
        from gymnasium import spaces

        return spaces.Dict({
            "observation": spaces.Box(0.0, self.high, (self.n_obs,), np.float32),
            "action_mask": spaces.Box(0, 1, (self.n_servers,), np.int8),
        })

    def action_space(self):
        from gymnasium import spaces

        return spaces.Discrete(self.n_servers)

    def spec(self, agent: str) -> AgentSpec:
        """This agent's own spaces (a new space object per agent, as PettingZoo asks)."""
        return AgentSpec(agent, VEHICLE_AGENT, self.observation_space(), self.action_space())

    def encode(self, o: Observation) -> dict[str, np.ndarray]:
        d = o.distances[self.server_kinds != SATELLITE] / self.DIST_SCALE
        s = o.workloads / self.load_scale
        vec = np.minimum(np.concatenate([d, s]), self.high).astype(np.float32)
        return {"observation": vec, "action_mask": o.mask.astype(np.int8)}

    #: agents join when their vehicle starts driving and leave when it arrives (the env
    #: terminates an agent that no longer acts)
    all_agents_live = False

    def zero(self) -> dict[str, np.ndarray]:
        """The observation of an agent that does not act (not driving)."""
        return {"observation": np.zeros(self.n_obs, np.float32),
                "action_mask": np.zeros(self.n_servers, np.int8)}

    def zero_for(self, agent: str) -> dict[str, np.ndarray]:
        """``agent``'s observation when it does not act: :meth:`zero` (every agent has the
        same spaces)."""
        return self.zero()
