"""Agents of the task-offloading app: their observations (quantum-DRL Eq. 57, 59, 61), action
components (Eq. 58, 60, 62) and kernel-computed masks, sized from the scenario alone.

Each agent's observation is ``{"observation": float32 (n,), "action_mask": int8 (sum nvec,)}``
with n <= 64 (the 6-qubit amplitude encoding takes at most 2^6 features); its action is a
``MultiDiscrete`` of three components:

- vehicle: (first-hop node 0..N-1, or N = hold; transmit power level; split level);
- UAV/BS: (standing rule for the slot: 0 = process here (kappa = 1), 1 + w = forward to node w
  (kappa = 0); CPU level; transmit power level).

The mask is the three component masks concatenated (1 = allowed). Hard constraints are
structural or masked: a target needs an edge now (C1/C8; no B->B and nothing into a vehicle
by construction), "hold" is allowed only when a vehicle has no edge at all. Soft ones
(deadline, energy, QoS, decision variability, load) are penalties (Eq. 90–92).

Features (scaled to O(1), clipped to [-10, 10]): the agent's state, then the digital twin's
forecast block. Vehicle (11 + 3N): position/km (3), speed/50, climb/10, heading/pi,
ascent/(pi/2) (4), per BS/UAV CSI gain in dB/100 (N) and path loss in dB/100 (N), the oldest
waiting task (size/D^max, C/100, slots waited/hold_slots; size and wait 0 without one) (3), energy
budget left (1). UAV (12 + 3N): position, velocity (7), gains and path losses to every other
BS/UAV (2(N-1)), its queue (count/10, queued bits/D^max, mean C/100, max priority, head
bits/D^max) (5), f^/f_max (the DT's estimate; without the DT its own exact f_cpu/f_max),
energy left. BS (10 + 2(V+U) + N): position (3), gains from every vehicle and UAV (V+U), path
losses (V+U), queue (5), f^/f_max, energy left. Forecast block (N, every kind, last): the
DT's predicted standing rule of every BS and UAV for the slot (normalised code, node order:
BSs then UAVs; zeros with ``offload.dt.predictor: none`` or without the DT). A kind whose total would exceed
64 drops its path-loss block (N, N-1 or V+U features); still too many is a ConfigError.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from gymnasium import spaces

from desim_iov.config import ConfigError
from desim_iov.decisions import AgentSpec
from desim_iov.kinds import BS_AGENT, UAV_AGENT, VEHICLE_AGENT, agent_id, parse_agent

if TYPE_CHECKING:
    from desim_iov.config import Scenario

MAX_FEATURES = 64  # 2^6: the quantum policy's amplitude encoding (Sec. VI: 6 qubits)
CLIP = 10.0


@dataclass
class OffloadObservation:
    """One agent's view at an epoch: encoded ``features``, the flat ``mask`` over the action
    components ``nvec``, and the digital twin's view ``dt`` that heuristics may read (shared by
    all agents of the epoch: the paper's DT holds every node's state; without the DT, each
    agent's own view of its local state, ``DigitalTwin.local_view``)."""

    agent: str
    kind: str
    index: int
    features: np.ndarray
    mask: np.ndarray
    nvec: tuple[int, int, int]
    dt: Any

    def component_masks(self) -> list[np.ndarray]:
        out, i = [], 0
        for n in self.nvec:
            out.append(self.mask[i : i + n])
            i += n
        return out


class FlatMaskMultiDiscrete(spaces.MultiDiscrete):
    """``MultiDiscrete`` whose :meth:`sample` also takes the agents' flat mask (or
    probability): the component masks concatenated, as in the observations' ``action_mask``
    (gymnasium wants a tuple of per-component arrays; that still works)."""

    def _split(self, m: Any) -> Any:
        if isinstance(m, np.ndarray) and m.ndim == 1 and self.nvec.ndim == 1 and m.shape[0] == int(self.nvec.sum()):
            return tuple(np.split(m, np.cumsum(self.nvec)[:-1]))
        return m

    def sample(self, mask: Any = None, probability: Any = None) -> np.ndarray:
        return super().sample(mask=self._split(mask), probability=self._split(probability))


class OffloadSpaces:
    """Per-kind sizes, spaces and the encoding of :class:`OffloadObservation`."""

    #: every agent is live for the whole episode: vehicles decide only in slots where they
    #: have tasks to place and come back, so the env keeps them (idle) in between
    all_agents_live = True

    def __init__(self, scenario: Scenario) -> None:
        s, off = scenario, scenario.offload
        self.B, self.U, self.V = s.rsus.count, s.uavs.count, s.vehicles.count
        self.N = N = self.B + self.U
        net = off.network
        self.nvec = {
            VEHICLE_AGENT: (N + 1, net.vehicle_power_levels, len(off.tasks.split_levels)),
            UAV_AGENT: (N + 1, len(net.cpu_levels), net.relay_power_levels),
            BS_AGENT: (N + 1, len(net.cpu_levels), net.relay_power_levels),
        }
        V, U = self.V, self.U
        # (state features with, without the path-loss block); every kind adds the N-feature
        # forecast block of the digital twin
        full = {VEHICLE_AGENT: (11 + 2 * N, 11 + N), UAV_AGENT: (12 + 2 * N, 13 + N),
                BS_AGENT: (10 + 2 * (V + U), 10 + V + U)}
        self.pl = {k: with_pl + N <= MAX_FEATURES for k, (with_pl, _) in full.items()}
        self.bs_pl = self.pl[BS_AGENT]
        self.n_state = {k: full[k][0 if self.pl[k] else 1] for k in full}
        self.n_obs = {k: n + N for k, n in self.n_state.items()}
        present = {VEHICLE_AGENT: V, UAV_AGENT: U, BS_AGENT: self.B}
        for kind, n in self.n_obs.items():
            if n > MAX_FEATURES and present[kind]:
                raise ConfigError(
                    f"{kind} observation needs {n} features > {MAX_FEATURES} (6-qubit amplitude "
                    f"encoding) even without its path losses: B + U = {N}, V = {V} are too many "
                    f"for the offloading agents")
        # where the relays' queued bits/D^max and f^/f_max sit
        links = {UAV_AGENT: (N - 1) * (2 if self.pl[UAV_AGENT] else 1),
                 BS_AGENT: (V + U) * (2 if self.pl[BS_AGENT] else 1)}
        self.load_index = {UAV_AGENT: 7 + links[UAV_AGENT] + 1, BS_AGENT: 3 + links[BS_AGENT] + 1}
        self.f_index = {k: self.n_state[k] - 2 for k in (UAV_AGENT, BS_AGENT)}
        # the forecast block's feature in a relay's o = [state, previous action]: the first
        # action component (its standing rule: 0 = process here, 1 + w = forward to w)
        self.block_index = {k: self.n_state[k] for k in (UAV_AGENT, BS_AGENT)}

    def agents(self) -> list[tuple[str, str, int]]:
        """(agent id, kind, index) in the env's order: vehicles, UAVs, BSs."""
        out = [(agent_id(v), VEHICLE_AGENT, v) for v in range(self.V)]
        out += [(agent_id(u, UAV_AGENT), UAV_AGENT, self.B + u) for u in range(self.U)]
        out += [(agent_id(b, BS_AGENT), BS_AGENT, b) for b in range(self.B)]
        return out

    def observation_space(self, kind: str) -> spaces.Dict:
        n, nv = self.n_obs[kind], self.nvec[kind]
        return spaces.Dict({
            "observation": spaces.Box(-CLIP, CLIP, (n,), np.float32),
            "action_mask": spaces.Box(0, 1, (sum(nv),), np.int8),
        })

    def action_space(self, kind: str) -> spaces.MultiDiscrete:
        return FlatMaskMultiDiscrete(list(self.nvec[kind]))

    def specs(self) -> dict[str, AgentSpec]:
        return {a: AgentSpec(a, kind, self.observation_space(kind), self.action_space(kind))
                for a, kind, _ in self.agents()}

    def encode(self, o: OffloadObservation) -> dict[str, np.ndarray]:
        return {"observation": o.features, "action_mask": o.mask}

    def zero(self, kind: str) -> dict[str, np.ndarray]:
        return {"observation": np.zeros(self.n_obs[kind], np.float32),
                "action_mask": np.zeros(sum(self.nvec[kind]), np.int8)}

    def zero_for(self, agent: str) -> dict[str, np.ndarray]:
        """``agent``'s observation in a slot where it does not act (a vehicle with no task):
        zero features and a mask that allows only the no-op (hold, resp. process here; the
        first level of the other components), so masked samplers stay defined. The env
        ignores the action."""
        kind = parse_agent(agent)[0]
        out = self.zero(kind)
        n0 = self.nvec[kind][0]
        out["action_mask"][[self.N if kind == VEHICLE_AGENT else 0, n0, n0 + self.nvec[kind][1]]] = 1
        return out


def features(parts: list[Any]) -> np.ndarray:
    """Concatenate feature parts, replace non-finite values, clip to [-CLIP, CLIP]."""
    x = np.concatenate([np.atleast_1d(np.asarray(p, dtype=np.float64)) for p in parts])
    x = np.nan_to_num(x, nan=0.0, posinf=CLIP, neginf=-CLIP)
    return np.clip(x, -CLIP, CLIP).astype(np.float32)


def db100(x: np.ndarray) -> np.ndarray:
    """Linear power gain -> dB / 100 (0 gain -> -3, i.e. -300 dB)."""
    return 10.0 * np.log10(np.maximum(np.asarray(x, dtype=float), 1e-30)) / 100.0


def motion(vel: np.ndarray) -> list[float]:
    """Velocity as the paper's state has it (Eq. 57/59): speed/50, climb/10, heading theta/pi,
    ascent phi/(pi/2)."""
    speed = float(np.hypot(vel[0], vel[1]))
    heading = math.atan2(vel[1], vel[0]) if speed > 0 else 0.0
    ascent = math.atan2(vel[2], speed) if speed > 0 or vel[2] else 0.0
    return [speed / 50.0, vel[2] / 10.0, heading / math.pi, ascent / (math.pi / 2)]


def vehicle_features(topo: Any, v: int, xyz: np.ndarray, vel: np.ndarray, head_bits: float,
                     waited_slots: int, tasks: Any, pl: bool = True) -> np.ndarray:
    """Eq. 57 for vehicle ``v`` (module docstring; ``head_bits``: its oldest waiting task, 0
    without one; ``pl``: with the path-loss block)."""
    return features([
        xyz / 1000.0, motion(vel),
        db100(topo.access_gain[v]), *([topo.access_pl_db[v] / 100.0] if pl else []),
        [head_bits / tasks.max_subtask, tasks.cycles_per_bit / 100.0, waited_slots / max(tasks.hold_slots, 1)],
        [1.0],  # energy left: the vehicle budget is per slot and nothing is spent yet
    ])


def relay_features(spaces: OffloadSpaces, topo: Any, z: int, kind: str, xyz: np.ndarray,
                   vel: np.ndarray, jobs: list, queued_cycles: float, queued_bits: float,
                   f_ratio: float, energy_left: float, tasks: Any) -> np.ndarray:
    """Eq. 59 (UAV) / Eq. 61 (BS) for node ``z``; ``jobs`` its CPU's queued subtasks."""
    if jobs:
        head = max(jobs, key=lambda j: j.priority)
        queue = [len(jobs) / 10.0, queued_bits / tasks.max_subtask,
                 queued_cycles / max(queued_bits, 1.0) / 100.0, head.priority, head.bits / tasks.max_subtask]
    else:
        queue = [0.0] * 5
    tail = [f_ratio, energy_left]
    pos = xyz / 1000.0
    if kind == UAV_AGENT:
        others = np.arange(topo.N) != z
        pl = [topo.relay_pl_db[z, others] / 100.0] if spaces.pl[UAV_AGENT] else []
        return features([pos, motion(vel), db100(topo.relay_gain[z, others]), *pl, queue, tail])
    # BS: links into it from every vehicle and every UAV
    B = topo.B
    parts = [pos, db100(np.concatenate([topo.access_gain[:, z], topo.relay_gain[B:, z]]))]
    if spaces.pl[BS_AGENT]:
        parts.append(np.concatenate([topo.access_pl_db[:, z], topo.relay_pl_db[B:, z]]) / 100.0)
    return features(parts + [queue, tail])


def agent_states(spaces: OffloadSpaces, topo: Any, radio: Any, velocity: tuple[np.ndarray, np.ndarray],
                 pending: list[list], cpus: list, queued_cycles: np.ndarray, queued_bits: np.ndarray,
                 f_ratio: np.ndarray, energy_left: np.ndarray, slot: int, tasks: Any) -> dict[str, np.ndarray]:
    """Every agent's state features (the observation without the forecast block), per kind
    (A, n_state) in agent index order: vehicles idle or not (``pending[v]``: its waiting tasks;
    none: size and wait 0), UAVs j = node B + j, BSs; ``f_ratio``, ``energy_left`` per node."""
    vel_v, vel_s = velocity
    out = {k: np.zeros((n, spaces.n_state[k]), np.float32)
           for k, n in ((VEHICLE_AGENT, spaces.V), (UAV_AGENT, spaces.U), (BS_AGENT, spaces.B))}
    for v in range(spaces.V):
        head = pending[v][0] if pending[v] else None
        out[VEHICLE_AGENT][v] = vehicle_features(topo, v, radio.vehicle_xyz[v], vel_v[v], head.bits if head else 0.0,
                                                 slot - head.slot if head else 0, tasks, spaces.pl[VEHICLE_AGENT])
    for z in range(spaces.N):
        kind = UAV_AGENT if z >= spaces.B else BS_AGENT
        out[kind][z - spaces.B if kind == UAV_AGENT else z] = relay_features(
            spaces, topo, z, kind, radio.server_xyz[z], vel_s[z], cpus[z].jobs(), queued_cycles[z],
            queued_bits[z], f_ratio[z], energy_left[z], tasks)
    return out


def target_mask(topo: Any, kind: str, i: int) -> np.ndarray:
    """The first component's mask: a vehicle's first hops with an edge now (C1/C8), "hold" only
    without any; a relay may always process (code 0) and forward along its edges."""
    N = topo.N
    m = np.zeros(N + 1, np.int8)
    if kind == VEHICLE_AGENT:
        m[:N] = topo.access_edge[i]
        if not m.any():
            m[N] = 1
    else:
        m[0] = 1
        m[1:] = topo.relay_edge[i]
    return m
