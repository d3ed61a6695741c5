"""Observations and masks of the task-offloading agents for a batch of episodes
(``apps/offload_spaces.py``: ``agent_states``, ``vehicle_features``, ``relay_features``,
``target_mask``, ``zero_for``), with a leading episode axis and the same operations on each
element, so that every row equals the scalar env's:

- vehicle (Eq. 57): position/km, speed/50, climb/10, heading/pi, ascent/(pi/2), per BS/UAV
  CSI gain in dB/100 and path loss in dB/100, the oldest waiting task (size/D^max, C/100,
  slots waited/hold_slots), energy left;
- UAV (Eq. 59): position, motion, gains and path losses to every other BS/UAV, its queue
  (slot fidelity queues nothing: zeros), f^/f_max (the DT's; without the DT its own f_cpu),
  energy left (nothing is spent before a slot's decisions: 1);
- BS (Eq. 61): position, gains and path losses from every vehicle and UAV, queue, f, energy;
- then the digital twin's forecast block (N): zeros without a forecast, with ``persistence``
  the standing rule each BS/UAV took ``sync_delay_slots`` + 1 slots ago, encoded as the DT
  encodes actions (``models.dt_data.encode_actions``; -1 for none).

Masks (Eq. 58/60/62 components): a vehicle's first hops with an edge now (C1/C8), "hold"
only without one; a relay may always process and forward along its edges; the power, CPU and
split components are free. A vehicle with no task shows ``zero_for``: zero features, only the
no-op allowed.
"""

from __future__ import annotations

import numpy as np

from desim_iov.apps.offload_spaces import CLIP, OffloadSpaces
from desim_iov.kinds import BS_AGENT, UAV_AGENT, VEHICLE_AGENT
from desim_iov.vector.offload_topology import Links


def db100(x: np.ndarray) -> np.ndarray:
    """offload_spaces.db100: linear power gain -> dB / 100."""
    return 10.0 * np.log10(np.maximum(x, 1e-30)) / 100.0


def finish(x: np.ndarray) -> np.ndarray:
    """offload_spaces.features' last steps: NaN -> 0, +-inf -> +-CLIP, clipped to
    [-CLIP, CLIP] (the clip takes the infinities there itself), float32."""
    return np.where(np.isnan(x), 0.0, np.clip(x, -CLIP, CLIP)).astype(np.float32)


class ObservationBuilder:
    """Per-kind state features, observations and masks of E episodes at one slot each."""

    def __init__(self, spaces: OffloadSpaces, tasks) -> None:
        sp = self.spaces = spaces
        self.tasks = tasks
        self.B, self.U, self.V, self.N = sp.B, sp.U, sp.V, sp.N
        N, B = self.N, self.B
        # a UAV's "others": every BS/UAV but itself, in node order
        self.others = np.array([[x for x in range(N) if x != B + u] for u in range(self.U)], np.int64).reshape(
            self.U, max(N - 1, 0))
        self.n_mask = {k: int(sum(sp.nvec[k])) for k in sp.nvec}

    # ------------------------------------------------------------------ state features

    def vehicles(self, xyz: np.ndarray, motion: np.ndarray, ln: Links, has_task: np.ndarray,
                 waited: np.ndarray) -> np.ndarray:
        """(E, V, n_state) float32: vehicle_features of every vehicle (idle or not)."""
        sp, tc, N = self.spaces, self.tasks, self.N
        E, V = xyz.shape[:2]
        out = np.empty((E, V, sp.n_state[VEHICLE_AGENT]))
        out[..., 0:3] = xyz / 1000.0
        out[..., 3:7] = motion
        out[..., 7: 7 + N] = db100(ln.access_gain)
        c = 7 + N
        if sp.pl[VEHICLE_AGENT]:
            out[..., c: c + N] = ln.access_pl_db / 100.0
            c += N
        out[..., c] = np.where(has_task, tc.size, 0.0) / tc.max_subtask
        out[..., c + 1] = tc.cycles_per_bit / 100.0
        out[..., c + 2] = waited / max(tc.hold_slots, 1)
        out[..., c + 3] = 1.0  # energy left: the vehicle budget is per slot
        return finish(out)

    def relays(self, node_xyz: np.ndarray, node_motion: np.ndarray, ln: Links,
               f_ratio: np.ndarray) -> dict[str, np.ndarray]:
        """{uav: (E, U, n_state), bs: (E, B, n_state)} float32: relay_features of every node."""
        sp, B, N, U = self.spaces, self.B, self.N, self.U
        E = node_xyz.shape[0]
        out = {}  # the queue block (5) stays zero: slot fidelity queues nothing
        if U:
            x = np.zeros((E, U, sp.n_state[UAV_AGENT]))
            x[..., 0:3] = node_xyz[:, B:] / 1000.0
            x[..., 3:7] = node_motion[:, B:]
            rows = np.arange(B, N)[:, None]
            x[..., 7: 7 + N - 1] = db100(ln.relay_gain[:, rows, self.others])
            if sp.pl[UAV_AGENT]:
                x[..., 7 + N - 1: 7 + 2 * (N - 1)] = ln.relay_pl_db[:, rows, self.others] / 100.0
            x[..., -2], x[..., -1] = f_ratio[:, B:], 1.0
            out[UAV_AGENT] = finish(x)
        if B:
            V = self.V
            x = np.zeros((E, B, sp.n_state[BS_AGENT]))
            x[..., 0:3] = node_xyz[:, :B] / 1000.0
            into = np.concatenate([ln.access_gain[:, :, :B], ln.relay_gain[:, B:, :B]], axis=1)  # (E, V+U, B)
            x[..., 3: 3 + V + U] = db100(into).transpose(0, 2, 1)
            if sp.pl[BS_AGENT]:
                pl = np.concatenate([ln.access_pl_db[:, :, :B], ln.relay_pl_db[:, B:, :B]], axis=1)
                x[..., 3 + V + U: 3 + 2 * (V + U)] = (pl / 100.0).transpose(0, 2, 1)
            x[..., -2], x[..., -1] = f_ratio[:, :B], 1.0
            out[BS_AGENT] = finish(x)
        return out

    # ------------------------------------------------------------------ masks

    def masks(self, ln: Links) -> dict[str, np.ndarray]:
        """{kind: (E, A_k, sum nvec) int8}: the kernel's masks of every agent as if acting."""
        B, N = self.B, self.N
        E = ln.access_edge.shape[0]
        out = {}
        if self.V:
            m = np.ones((E, self.V, self.n_mask[VEHICLE_AGENT]), np.int8)
            m[..., :N] = ln.access_edge
            m[..., N] = ~ln.access_edge.any(axis=2)
            out[VEHICLE_AGENT] = m
        for kind, nodes in ((UAV_AGENT, slice(B, N)), (BS_AGENT, slice(0, B))):
            n = nodes.stop - nodes.start
            if n:
                m = np.ones((E, n, self.n_mask[kind]), np.int8)
                m[..., 1: N + 1] = ln.relay_edge[:, nodes]
                out[kind] = m
        return out

    def zero_for(self, kind: str) -> np.ndarray:
        """The mask of ``zero_for`` an agent of ``kind`` (only the no-op allowed)."""
        sp = self.spaces
        m = np.zeros(self.n_mask[kind], np.int8)
        n0 = sp.nvec[kind][0]
        m[[self.N if kind == VEHICLE_AGENT else 0, n0, n0 + sp.nvec[kind][1]]] = 1
        return m
