"""The task-offloading slot model of N episodes at once (quantum-DRL paper, Sec. II–IV): every
episode's state as arrays with a leading episode axis, advanced one slot per
:meth:`OffloadSlotBatch.step` without a Python loop over the episodes (the loops in a step run
over the hops of a path, and over the vehicles and their subtasks where the scalar rewards
add floats one subtask at a time: :mod:`desim_iov.vector.offload_score`).

It evaluates what the scalar slot fidelity evaluates (``apps/task_offloading.py``,
``offload_nodes.py``, ``offload_scoring.py``, ``offload_spaces.py``, ``topology.py``,
``digital_twin.py``) with the same floating-point operations in the same order, so each
episode equals a scalar ``parallel_env(scenario, fidelity="slot")`` reset with the same seed,
bit for bit (tests/test_vector_offload.py). Per slot: the links (:mod:`.offload_topology`),
new tasks and tasks held too long dropped, observations (Eq. 57/59/61) and masks
(:mod:`.offload_obs`); then the actions (Eq. 58/60/62; a masked one is refused and replaced
as ``TaskOffloadingApp._decode`` does), the relays' standing rules, CPU and power levels, the
placements of the released subtasks by the closed form of Eq. 5–7 (:mod:`.offload_place`)
and the rewards, Eq. 63–68 adjusted by Eq. 90–92 (:mod:`.offload_score`).

Layout (agents in ``possible_agents`` order: vehicles, UAVs, BSs; A of them): observations
per agent kind ``{kind: {"observation": (N, A_k, n_obs_k) float32, "action_mask": (N, A_k,
sum nvec_k) int8}}`` (kinds with agents only: their sizes differ); actions (N, A, 3) integers
(every agent's action has three components); rewards, terminations, truncations and the
info terms (N, A). A vehicle with no task, and every agent of an ended episode, shows the
scalar env's ``zero_for`` (zero features, only the no-op allowed).
"""

from __future__ import annotations

import numpy as np

from desim_iov.apps.offload_spaces import OffloadSpaces
from desim_iov.config import ConfigError, Scenario
from desim_iov.decisions import PolicyError
from desim_iov.kinds import BS_AGENT, UAV_AGENT, VEHICLE_AGENT
from desim_iov.vector.offload_inputs import OffloadEpisodeInputs, OffloadInputs
from desim_iov.vector.offload_obs import ObservationBuilder
from desim_iov.vector.offload_place import Placer
from desim_iov.vector.offload_score import Scorer
from desim_iov.vector.offload_topology import BatchTopology

KINDS = (VEHICLE_AGENT, UAV_AGENT, BS_AGENT)
#: the info terms of a step (N, A): float ones NaN where the scalar env reports none
FLOAT_INFOS = ("base_reward", "incentive", "penalty", "latency", "energy", "qos", "changed", "busy")
INT_INFOS = ("subtasks", "handled")  # -1 where none


def supported(s: Scenario) -> None:
    """One-line ConfigError for what the batched offloading slot model does not cover."""
    if s.app != "task_offloading":
        raise ConfigError(f"batched offloading env: app {s.app!r}; this model is task_offloading's")
    cap = s.offload.network.degree_cap
    if (cap.vehicles, cap.bss, cap.uavs) != (None, None, None):
        raise ConfigError("batched offloading env: offload.network.degree_cap is not batched (allowed: no caps)")
    dt = s.offload.dt
    if dt.enabled and dt.predictor not in ("none", "persistence"):
        raise ConfigError(f"batched offloading env: offload.dt.predictor {dt.predictor!r} is not batched "
                          "(allowed: none, persistence)")
    if s.vehicles.mobility == "sumo":
        raise ConfigError("batched offloading env: vehicles.mobility 'sumo' is not batched "
                          "(allowed: random_waypoint, trace)")


class OffloadSlotBatch:
    """State of ``n`` task-offloading slot episodes (leading axis: the episode)."""

    all_agents_live = True  # the scalar env keeps every agent live (idle vehicles show zero_for)

    def __init__(self, scenario: Scenario, n: int, fast_inputs: bool | None = None) -> None:
        supported(scenario)
        s = self.scenario = scenario
        self.n = n
        self.inputs = OffloadInputs(s, fast_inputs)
        w = self.inputs.world
        self.spaces = sp = OffloadSpaces(s)
        self.topo = BatchTopology(s, w)
        self.obs_builder = ObservationBuilder(sp, s.offload.tasks)
        self.placer = Placer(s, self.topo, w.tx_power_w[: sp.N])
        self.scorer = Scorer(s)
        self.V, self.U, self.B, self.N = sp.V, sp.U, sp.B, sp.N
        V, U, B, N = self.V, self.U, self.B, self.N
        self.A = V + U + B
        self.kinds = {k: sl for k, sl in zip(KINDS, (slice(0, V), slice(V, V + U), slice(V + U, self.A)),
                                             strict=True) if sl.stop > sl.start}
        self.node_of = np.r_[np.arange(B, N), np.arange(B)].astype(np.int64)  # relay agents' nodes
        self.is_uav = np.arange(N) >= B
        self.K = len(self.inputs.t)
        net, dt = s.offload.network, s.offload.dt
        self.cpu_levels = np.asarray(net.cpu_levels, float)
        self.dt_on, self.delay = bool(dt.enabled), int(dt.sync_delay_slots)
        self.persistence = self.dt_on and dt.predictor == "persistence"
        self.H = s.offload.tasks.hold_slots + 1  # a task waits at most hold_slots slots
        self.nvec = np.array([sp.nvec[k] for k in (VEHICLE_AGENT, UAV_AGENT, BS_AGENT)
                              for _ in range({VEHICLE_AGENT: V, UAV_AGENT: U, BS_AGENT: B}[k])],
                             np.int64).reshape(self.A, 3)
        self.agents = [a for a, _, _ in sp.agents()]
        self._zero_mask = {k: self.obs_builder.zero_for(k) for k in self.kinds}
        K = self.K
        self.seed = np.zeros(n, np.int64)
        self.loaded = np.zeros(n, bool)
        self.x: OffloadEpisodeInputs | None = None  # every episode's inputs (allocated at the first reset)
        self.k = np.zeros(n, np.int64)
        self.done = np.ones(n, bool)
        self.pending = np.zeros((n, V, self.H), bool)  # waiting tasks by age (slots waited)
        self.last_first = np.full((n, V), -1, np.int64)  # RewardScorer.last_targets (C13)
        self.rule = np.zeros((n, N), np.int64)
        self.cpu_level = np.ones((n, N))
        self.relay_level = np.zeros((n, N), np.int64)
        self.hist = np.full((n, K, N), -1, np.int64)  # the relays' decoded rules per slot (the DT's syncs)
        self.acting = np.zeros((n, self.A), bool)
        self.finished = np.zeros((n, self.A), bool)  # no agent ever finishes (truncated at the end)
        self.links = None
        self.placements = None
        self._obs: dict | None = None

    # ------------------------------------------------------------------ episodes

    @property
    def live(self) -> np.ndarray:
        """(N, A) the agents the scalar env keeps live: all of a running episode's."""
        return np.broadcast_to(~self.done[:, None], (self.n, self.A))

    def reset(self, idx: np.ndarray, seeds: list[int], observe: bool = True) -> None:
        """Start episodes ``idx`` with ``seeds`` (inputs drawn unless an episode replays the
        seed it holds) and observe their first slot."""
        idx = np.asarray(idx, np.int64)
        if not len(idx):
            return
        seeds = [int(x) for x in seeds]
        fresh = [i for i, (e, x) in enumerate(zip(idx.tolist(), seeds, strict=True))
                 if not (self.loaded[e] and self.seed[e] == x)]
        if fresh:
            self._store(idx[fresh], self.inputs.build([seeds[i] for i in fresh]))
        self.k[idx], self.done[idx] = 0, False
        self.pending[idx], self.last_first[idx], self.hist[idx] = False, -1, -1
        self.rule[idx], self.cpu_level[idx], self.relay_level[idx] = 0, 1.0, 0
        sel = np.zeros(self.n, bool)
        sel[idx] = True
        self._new_slot(sel)
        if observe:
            self.observe()

    def _store(self, idx: np.ndarray, x: OffloadEpisodeInputs) -> None:
        if self.x is None:  # allocate every field for all n episodes, shaped as the first draw
            def grow(a):
                return None if a is None else np.zeros((self.n,) + a.shape[1:], a.dtype)
            self.x = OffloadEpisodeInputs(
                self.seed, *(grow(getattr(x, f)) for f in ("vehicle_xyz", "node_xyz", "vehicle_motion",
                                                           "node_motion", "access_fading")),
                {c: grow(a) for c, a in x.relay_fading.items()}, {c: grow(a) for c, a in x.exponent.items()},
                *(grow(getattr(x, f)) for f in ("f_max", "f_cpu", "f_est", "arrivals")))
        X = self.x
        for f in ("vehicle_xyz", "node_xyz", "vehicle_motion", "node_motion", "access_fading", "f_max",
                  "f_cpu", "f_est", "arrivals"):
            a = getattr(x, f)
            if a is not None:
                getattr(X, f)[idx] = a
        for c, a in x.relay_fading.items():
            X.relay_fading[c][idx] = a
        for c, a in x.exponent.items():
            X.exponent[c][idx] = a
        self.seed[idx], self.loaded[idx] = x.seeds, True

    def _new_slot(self, sel: np.ndarray) -> None:
        """TaskOffloadingApp._arrivals at the slot of episodes ``sel``: the waiting tasks age,
        those past ``hold_slots`` are dropped, this slot's new ones join."""
        if not sel.any():
            return
        e = np.flatnonzero(sel)
        p = self.pending[e]
        p[..., 1:] = p[..., :-1].copy()
        p[..., 0] = self.x.arrivals[e, np.minimum(self.k[e], self.K - 1)]
        self.pending[e] = p

    # ------------------------------------------------------------------ the epoch

    def observe(self) -> None:
        """Links, observations and masks of the pending slot of every episode."""
        X, N, B = self.x, self.N, self.B
        e, k = np.arange(self.n), np.minimum(self.k, self.K - 1)
        ln = self.links = self.topo.links(
            X.vehicle_xyz[e, k], X.node_xyz[e, k], None if X.access_fading is None else X.access_fading[e, k],
            {c: a[e, k] for c, a in X.relay_fading.items()}, X.exponent)
        has = self.pending.any(axis=2)
        waited = np.where(has, self.H - 1 - np.argmax(self.pending[..., ::-1], axis=2), 0)
        run = ~self.done
        self.acting = np.concatenate([has & run[:, None], np.repeat(run[:, None], self.A - self.V, axis=1)], axis=1)
        f_max = X.f_max
        f_ratio = (X.f_est[e, k] if self.dt_on else X.f_cpu[e, k]) / f_max
        ob, sp = self.obs_builder, self.spaces
        states = {VEHICLE_AGENT: ob.vehicles(X.vehicle_xyz[e, k], X.vehicle_motion[e, k], ln, has, waited)}
        states.update(ob.relays(X.node_xyz[e, k], X.node_motion[e, k], ln, f_ratio))
        if self.dt_on and self.delay > 0:  # the DT serves f^ of the sync delay slots ago (f_max before)
            kd = np.maximum(k - self.delay, 0)
            f_dt = np.where((k >= self.delay)[:, None], X.f_est[e, kd], f_max) / f_max
            for kind, nodes in ((UAV_AGENT, slice(B, N)), (BS_AGENT, slice(0, B))):
                if kind in states:
                    states[kind][..., sp.f_index[kind]] = f_dt[:, nodes]
        block = self._forecast_block(k)
        masks = ob.masks(ln)
        out = {}
        for kind, sl in self.kinds.items():
            on = self.acting[:, sl]
            obs = np.zeros((self.n, sl.stop - sl.start, sp.n_obs[kind]), np.float32)
            obs[..., : sp.n_state[kind]] = states[kind]
            obs[..., sp.n_state[kind]:] = block[:, None, :]
            obs[~on] = 0.0
            m = np.where(on[..., None], masks[kind], self._zero_mask[kind])
            out[kind] = {"observation": obs, "action_mask": m.astype(np.int8)}
        self._obs = out

    def _forecast_block(self, k: np.ndarray) -> np.ndarray:
        """(n, N) float32: DigitalTwin.forecast_block; with ``persistence`` the rule feature of
        the sync ``delay`` slots ago: the rule each node took the slot before it (encoded)."""
        if not self.persistence:
            return np.zeros((self.n, self.N), np.float32)
        j = k - self.delay - 1
        code = np.where((j >= 0)[:, None], self.hist[np.arange(self.n), np.maximum(j, 0)], -1).astype(np.float64)
        load = np.where(code < 0, -1.0, code / max(float(self.N + 1) - 1.0, 1.0))  # encode_actions
        load = np.where((k >= self.delay)[:, None], load, 0.0)  # nothing synced yet: no forecast
        return np.clip(np.nan_to_num(load), -10.0, 10.0).astype(np.float32)

    def observations(self) -> dict[str, dict[str, np.ndarray]]:
        return self._obs

    def state(self) -> np.ndarray:
        """(n, sum of every agent's n_obs): DesimParallelEnv.state per episode."""
        return np.concatenate([o["observation"].reshape(self.n, -1) for o in self._obs.values()], axis=1)

    # ------------------------------------------------------------------ actions

    def check_actions(self, actions: np.ndarray) -> np.ndarray:
        a = np.asarray(actions)
        if a.shape != (self.n, self.A, 3) or not np.issubdtype(a.dtype, np.integer):
            raise ValueError(f"actions: expected integers of shape ({self.n}, {self.A}, 3) (episode, agent, "
                             f"component), got {a.dtype} {a.shape}")
        bad = self.acting & ((a < 0) | (a >= self.nvec)).any(axis=2)
        if bad.any():
            e, i = (int(x[0]) for x in np.nonzero(bad))
            raise PolicyError(f"episode {e}: action {a[e, i].tolist()} of {self.agents[i]} outside "
                              f"{tuple(self.nvec[i].tolist())}")
        return np.where(self.acting[..., None], a, 0).astype(np.int64)

    def allowed(self, a: np.ndarray) -> np.ndarray:
        """(n, A): the first component is allowed by the agent's mask (the others always are)."""
        out = np.ones((self.n, self.A), bool)
        for kind, sl in self.kinds.items():
            m = self._obs[kind]["action_mask"]
            out[:, sl] = np.take_along_axis(m, a[:, sl, :1], axis=2)[..., 0] > 0
        return out

    def check_masks(self, a: np.ndarray) -> None:
        bad = self.acting & ~self.allowed(a)
        if bad.any():
            e, i = (int(x[0]) for x in np.nonzero(bad))
            raise PolicyError(f"episode {e}: action {a[e, i].tolist()} of {self.agents[i]} is masked "
                              "(check_masks=True)")

    def step(self, actions: np.ndarray) -> dict[str, np.ndarray]:
        """Apply the pending slot's actions of every running episode (TaskOffloadingApp.apply
        and RewardScorer.score) and observe the next slot. Returns the adjusted rewards (n, A),
        the info terms (n, A) and ``ended`` (n,)."""
        a = self.check_actions(actions)
        X, V, N, ln = self.x, self.V, self.N, self.links
        act, run = self.acting, ~self.done
        e, k = np.arange(self.n), np.minimum(self.k, self.K - 1)
        refused = act & ~self.allowed(a)  # TaskOffloadingApp._decode
        tgt = a[..., 0].copy()
        rate = np.where(ln.access_edge, ln.access_rate, -np.inf)
        fastest = np.where(ln.access_edge.any(axis=2), np.argmax(rate, axis=2), N)
        tgt[:, :V] = np.where(refused[:, :V], fastest, tgt[:, :V])
        tgt[:, V:] = np.where(refused[:, V:], 0, tgt[:, V:])
        r_run = np.flatnonzero(run)
        nodes = self.node_of
        self.rule[r_run[:, None], nodes] = tgt[r_run, V:]  # relays first: their rules hold for the slot
        self.cpu_level[r_run[:, None], nodes] = self.cpu_levels[a[r_run, V:, 1]]
        self.relay_level[r_run[:, None], nodes] = a[r_run, V:, 2]
        placing = act[:, :V] & (tgt[:, :V] != N)
        f_cpu = X.f_cpu[e, k]
        pl = self.placer.place(ln, tgt[:, :V], a[:, :V, 1], a[:, :V, 2], placing, self.pending.sum(axis=2),
                               self.rule, self.relay_level, f_cpu, self.cpu_level)
        self.placements = pl  # the slot's placements (tests read which paths were dropped)
        veh = self.scorer.vehicles(pl, act[:, :V], self.last_first)
        rel = self.scorer.relays(pl, f_cpu * self.cpu_level, self.is_uav)
        out = {"reward": np.zeros((self.n, self.A))}
        for name in FLOAT_INFOS:
            out[name] = np.full((self.n, self.A), np.nan)
        for name in INT_INFOS:
            out[name] = np.full((self.n, self.A), -1, np.int64)
        for name, val in veh.items():
            out[name][:, :V] = val
        relays = act[:, V:]
        for name, val in rel.items():
            out[name][:, V:] = np.where(relays, val[:, nodes], out[name][:, V:])
        out["refused"] = refused
        self.last_first = np.where(placing, tgt[:, :V], self.last_first)
        self.pending &= ~placing[..., None]
        self.hist[r_run[:, None], k[r_run, None], nodes] = tgt[r_run, V:]
        self.k = np.where(run, self.k + 1, self.k)
        self.done |= self.k >= self.K
        self._new_slot(run & ~self.done)
        out["ended"] = run & self.done
        self.observe()
        return out
