"""The twin-migration slot model of N episodes at once: the state of every episode as arrays
with a leading episode axis, advanced one decision epoch per :meth:`TwinSlotBatch.step`
without a Python loop over episodes (the only loop in a step runs over the agents' order
inside a slot for the running Z-scores, see :meth:`TwinSlotBatch._shape_rewards`).

It evaluates what the scalar slot fidelity evaluates (``desim_iov.apps.twin_migration``,
``desim_iov.servers``, ``desim_iov.radio``, ``desim_iov.migration``), with the same
floating-point operations in the same order, so each episode equals a scalar
``parallel_env(scenario, fidelity="slot")`` reset with the same seed, bit for bit
(tests/test_vector_twin.py):

- observation o_v^t = [D_v, S^o] (twin-migration Eq. 19) and mask K_{v,m} (Eq. 23, Fig. 4,
  and a twin cannot cross a dead link; one migration at a time);
- actions start stop-and-copy migrations at the Eq. 11 rate (Eq. 10–12);
- the slot's terms: load S'_m (Eq. 8), T^up/T^down (Eq. 6–7), T^cul with the satellite's
  overflow (Eq. 9), T^mig (Eq. 12), T^sum (Eq. 13), failure xi (Eq. 14), and the reward
  r = -(w_T z(T^sum) + w_s z(S'_m) + w_d xi) (Eq. 22 with the Z-score shaping of Eq. 21);
- after the decisions: the slot's background batch, then each acting vehicle's S_v joins its
  host's cache (FIFO by unfinished work, overflow to the satellite: Eq. 8–9).

Exogenous inputs (positions, background batches) come from :mod:`desim_iov.vector.twin_inputs`,
the radio from :mod:`desim_iov.vector.twin_radio`, the caches' queues after the decisions from
:mod:`desim_iov.vector.twin_queues`.
"""

from __future__ import annotations

import numpy as np

from desim_iov.apps.twin_spaces import TwinSpaces
from desim_iov.config import ConfigError, Scenario
from desim_iov.decisions import PolicyError
from desim_iov.kinds import SATELLITE, UAV
from desim_iov.vector.twin_inputs import EpisodeInputs, TwinInputs
from desim_iov.vector.twin_queues import SlotQueues
from desim_iov.vector.twin_radio import (
    SQUARE_SUM_ORDER,
    BatchRadio,
    FixedDistances,
    PatrolRates,
    pairwise_distance,
)
from models.compute import computing_latency_s, service_rate_bps
from models.objectives import migration_failed, total_latency_s
from models.rate import transmission_latency_s


def supported(s: Scenario) -> None:
    """One-line ConfigError for what the batched twin-migration slot model does not cover."""
    if s.app != "twin_migration":
        raise ConfigError(f"batched twin env: app {s.app!r}; this model is twin_migration's")
    if s.channel.fading != "none":
        raise ConfigError(f"batched twin env: channel.fading {s.channel.fading!r} is not batched "
                          "(allowed: none)")
    if s.predictor.name != "none":
        raise ConfigError(f"batched twin env: predictor.name {s.predictor.name!r} is not batched "
                          "(allowed: none)")


class TwinSlotBatch(SlotQueues):
    """State of ``n`` twin-migration slot episodes (leading axis: the episode)."""

    def __init__(self, scenario: Scenario, n: int, fast_inputs: bool | None = None) -> None:
        supported(scenario)
        s = self.scenario = scenario
        self.n = n
        self.inputs = TwinInputs(s, fast_inputs)
        w = self.inputs.world
        self.radio = BatchRadio(s, w)
        self.V, self.M, self.K = w.n_vehicles, w.n_servers, len(self.inputs.t)
        self.sat = w.satellite
        self.range_m, self.cache = w.range_m, w.cache_bits
        # (D <= D_max) | always reachable, as one comparison
        self.in_range_m = np.where(self.radio.radio.always_reachable, np.inf, w.range_m)
        terrestrial = np.flatnonzero(w.kinds != SATELLITE)
        self.terrestrial = slice(0, len(terrestrial)) if (terrestrial == np.arange(len(terrestrial))).all() \
            else terrestrial
        self.slot_bits = s.slot_bits
        self.twin_bits = s.vehicles.twin_size
        self.overflow = s.overflow == "satellite" and self.sat >= 0
        self.bg_active = s.background.model != "none"
        r = s.reward
        self.w = (r.w_latency, r.w_load, r.w_failure)
        self.cap = r.latency_cap
        # sequential sums of c slots of data, as np.bincount adds its weights (Eq. 8)
        self.stacked = np.add.accumulate(np.r_[0.0, np.full(self.V, self.slot_bits)])
        self.t, self.now = self.inputs.t, self.inputs.now
        self.spaces = TwinSpaces(s)
        self.is_uav = w.kinds == UAV
        self.uavs = self.inputs.uavs
        self.patrol = None  # R^mig by table look-ups (fast inputs: fixed RSUs, patrolling UAVs)
        if self.inputs.fast and (not self.inputs.U or s.uavs.mobility == "patrol"):
            self.patrol = PatrolRates(self.radio, w.server_positions(0.0), self.inputs.route_positions(),
                                      self.uavs)
        self.fixed = None  # distances to fixed servers by their grid (fast inputs: the same sites in every episode)
        if self.inputs.fast and SQUARE_SUM_ORDER is not None:
            self.fixed = FixedDistances(w.server_positions(0.0), self.uavs)
        N, K, V, M, U = n, self.K, self.V, self.M, self.inputs.U
        self.seed = np.zeros(N, np.int64)
        self.loaded = np.zeros(N, bool)  # inputs drawn for ``seed``
        self.veh_xyz = np.zeros((N, K, V, 3))
        self.srv_xyz = np.zeros((N, M, 3))
        self.uav_xyz = np.zeros((N, K, U, 3))
        self.uav_route = np.zeros((N, U), np.int64)
        self.drives = np.zeros((N, K, V), bool)
        self.bg = np.zeros((N, K, M))
        self.cpu = np.broadcast_to(w.cpu_hz, (N, M)).copy()  # until an episode's inputs arrive
        self.mu = service_rate_bps(self.cpu, s.vehicles.cycles_per_bit)
        self.finished = np.zeros((N, V), bool)
        self.k = np.zeros(N, np.int64)  # the tick of the pending epoch
        self.done = np.ones(N, bool)  # no epoch pending: the episode ended (or never began)
        self.work, self.qt = np.zeros((N, M)), np.zeros((N, M))  # WorkQueue.work, WorkQueue.t
        self.host = np.zeros((N, V), np.int64)
        self.dest = np.full((N, V), -1, np.int64)
        self.in_flight = np.zeros((N, V), bool)
        self.land = np.full((N, V), np.inf)
        self.z = np.zeros((2, 3, N))  # RunningZ (latency, load) x (n, mean, m2)
        # the pending epoch (observe -> step)
        self.acting = np.zeros((N, V), bool)
        self.current = np.zeros((N, V), np.int64)
        self.dist = np.zeros((N, V, M))
        self._dist_ticks: np.ndarray | None = None  # the ticks of ``dist``'s rows (fixed distances)
        self.mig_rate: np.ndarray | None = None  # (N, V, M), unless every link's rate is positive
        self.mask = np.zeros((N, V, M), bool)
        self._e = np.arange(N)
        self._em = self._e[:, None] * M  # flat offsets of the episodes' rows in (N, M)
        self._evm = np.arange(N * V).reshape(N, V) * M  # ... of the (episode, vehicle) rows in (N, V, M)
        self.loads = np.zeros((N, M))
        self.seen = np.zeros((N, M))
        self._obs: np.ndarray | None = None
        self._buf = np.empty((3, N, V, M)) if self.fixed is None else None  # distances' work space
        self._obs_buf = np.empty((N, V, self.spaces.n_obs - M))
        #: (N,) the largest |coordinate| of each episode's vehicles and RSUs/UAVs (bounds Eq. 19's distances)
        self.extent = np.full(N, _extent(w.server_positions(0.0)[None, self.terrestrial]))
        self._mask: np.ndarray | None = None

    # ------------------------------------------------------------------ episodes

    def reset(self, idx: np.ndarray, seeds: list[int], observe: bool = True) -> None:
        """Start episodes ``idx`` with ``seeds`` (their inputs are drawn unless an episode
        replays the seed it already holds) and run each to its first decision epoch
        (``observe`` False: the caller observes once after its other episodes' step)."""
        idx = np.asarray(idx, np.int64)
        if not len(idx):
            return
        seeds = [int(x) for x in seeds]
        fresh = [i for i, (e, x) in enumerate(zip(idx.tolist(), seeds, strict=True))
                 if not (self.loaded[e] and self.seed[e] == x)]
        if fresh:
            self._store(idx[fresh], self.inputs.build([seeds[i] for i in fresh]))
        self.k[idx], self.done[idx] = 0, False
        self.work[idx], self.qt[idx] = 0.0, 0.0
        self.dest[idx], self.in_flight[idx], self.land[idx] = -1, False, np.inf
        self.z[:, :, idx] = 0.0
        self.host[idx] = self._initial_hosts(idx)
        sel = np.zeros(self.n, bool)
        sel[idx] = True
        self._skip_idle_ticks(sel)
        empty = idx[self.done[idx]]
        if len(empty):
            raise ValueError(f"seed {int(self.seed[empty[0]])}: no vehicle drives during the run, "
                             "so the episode has no decision epoch")
        if observe:
            self.observe()

    def _store(self, idx: np.ndarray, x: EpisodeInputs) -> None:
        if np.array_equal(idx, self._e):  # every episode: take the new arrays as they are
            self.veh_xyz, self.srv_xyz, self.uav_xyz, self.drives, self.bg = map(np.ascontiguousarray, (
                x.vehicle_xyz, x.server_xyz, x.uav_xyz, x.active, x.background))
        else:
            self.veh_xyz[idx], self.srv_xyz[idx], self.uav_xyz[idx] = x.vehicle_xyz, x.server_xyz, x.uav_xyz
            self.drives[idx], self.bg[idx] = x.active, x.background
        self.seed[idx], self.loaded[idx] = x.seeds, True
        self._dist_ticks = None  # positions changed
        self.extent[idx] = _extent(x.vehicle_xyz, x.uav_xyz, x.server_xyz[:, self.terrestrial])
        self.uav_route[idx] = x.uav_route
        self.cpu[idx], self.finished[idx] = x.cpu_hz, x.finished
        self.mu[idx] = service_rate_bps(x.cpu_hz, self.scenario.vehicles.cycles_per_bit)

    def _servers_at(self, e: np.ndarray, k: np.ndarray) -> np.ndarray:
        """(len(e), M, 3) server positions of episodes ``e`` at their ticks ``k``."""
        sp = self.srv_xyz[e]
        sp[:, self.uavs] = self.uav_xyz[e, k]
        return sp

    def _distances(self, e: np.ndarray, k: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """(len(e), V, M) vehicle -> server distances (Eq. 2) of episodes ``e`` at ticks ``k``."""
        if self.fixed is not None:
            rows = e * self.K + k  # (episode, tick) rows: one take each
            return self.fixed(self.veh_xyz.reshape(-1, self.V, 3).take(rows, axis=0),
                              self.uav_xyz.reshape(-1, self.inputs.U, 3).take(rows, axis=0), out)
        buf = self._buf if len(e) == self.n else None
        return pairwise_distance(self.veh_xyz[e, k], self._servers_at(e, k), buf).copy()

    def _initial_hosts(self, idx: np.ndarray) -> np.ndarray:
        """TwinMigrationApp._initial_host at t = 0: the nearest RSU/UAV in range (Radio's
        ``reachable``: within D_max and a usable link both ways), else the satellite, else the
        nearest server."""
        whole = self.fixed is not None and np.array_equal(idx, self._e)
        d = self._distances(idx, np.zeros_like(idx), self.dist if whole else None)
        if whole:  # the first epoch's distances when it is at t = 0 (observe)
            self._dist_ticks = np.zeros(self.n, np.int64)
        cand = (d <= self.range_m) & ~self.radio.radio.always_reachable
        near = np.argmin(np.where(cand, d, np.inf), axis=2)  # the nearest in range (the first of ties)
        ok = cand.any(axis=2)
        r, v = np.nonzero(ok)  # a usable link both ways, where it matters (Radio.reachable) ...
        bad = ~self.radio.reachable(d[r, v, near[r, v]], near[r, v])
        r, v = r[bad], v[bad]
        if len(r):  # ... else the nearest of those in range that have one
            c = cand[r, v]
            i, m = np.nonzero(c)
            c[i, m] = self.radio.reachable(d[r[i], v[i], m], m)
            near[r, v] = np.argmin(np.where(c, d[r, v], np.inf), axis=1)
            ok[r, v] = c.any(axis=1)
        fallback = self.sat if self.sat >= 0 else np.argmin(d, axis=2)
        return np.where(ok, near, fallback)

    def _migration_rates(self, e: np.ndarray, src: np.ndarray, k: np.ndarray) -> np.ndarray:
        """(N, V, M) R^mig from each vehicle's twin host ``src`` to every server (Eq. 11,
        Radio.migration_rates) at ticks ``k``: R_SAT at the satellite's ends, inf to itself.
        With fixed RSUs and patrolling UAVs, look-ups in tables made once (PatrolRates)."""
        rd = self.radio
        if self.patrol is not None:
            return rd.finish_migration_rates(self.patrol.rates(src, self.uav_route, k), src)
        sp = self._servers_at(e, k)
        src_xyz = np.take_along_axis(sp, src[..., None], axis=1)
        return rd.finish_migration_rates(rd.link_rates(src_xyz, src, sp), src)

    def _chosen_rates(self, a: np.ndarray) -> np.ndarray:
        """(N, V) R^mig from each vehicle's current host to the server ``a`` it chose."""
        if self.mig_rate is not None:
            return self.mig_rate.reshape(-1)[self._evm + a]
        k = np.minimum(self.k, self.K - 1)
        cur = self.current
        return self.radio.finish_pair_rates(self.patrol.pair_rates(cur, a, self.uav_route, k), cur, a)

    # ------------------------------------------------------------------ the epoch

    def observe(self) -> None:
        """Observations and masks of the pending epoch of every running episode
        (TwinMigrationApp.observe, Eq. 19 and 23)."""
        N, M = self.n, self.M
        e, k = self._e, np.minimum(self.k, self.K - 1)
        t, now = self.t[k], self.now[k]
        landed = self.in_flight & (self.land <= now[:, None])  # the landing preceded the tick
        self.host = np.where(landed, self.dest, self.host)
        self.dest = np.where(landed, -1, self.dest)
        self.in_flight &= ~landed
        self.acting = act = self.drives[e, k] & ~self.done[:, None]
        cur = self.current = np.where(self.in_flight, self.dest, self.host)
        if self._dist_ticks is None or not np.array_equal(self._dist_ticks, k):  # else computed at reset
            self.dist = self._distances(e, k, self.dist if self.fixed is not None else None)
            self._dist_ticks = k.copy() if self.fixed is not None else None
        self.loads = np.maximum(self.work - self.mu * (t[:, None] - self.qt), 0.0)  # S_m(t)
        slot = self._em + cur
        hosted = np.bincount(slot[act], minlength=N * M).reshape(N, M) * self.slot_bits
        self.seen = seen = self.loads + np.zeros(M) + hosted  # S^o (no forecaster: S^pre = 0)
        # Eq. 23: moving to m adds S_v there (S^o + S_v <= L_max); the current host counts it
        fits = seen + self.slot_bits <= self.cache
        fits_here = seen.reshape(-1)[slot] + 0.0 <= self.cache[cur]
        mask = np.less_equal(self.dist, self.in_range_m, out=self.mask)
        self.mig_rate = None
        if self.patrol is None or not self.patrol.positive:  # else R^mig > 0 for every link
            self.mig_rate = self._migration_rates(e, cur, k)
            mask &= self.mig_rate > 0
        flat, cells = self._evm + cur, mask.reshape(-1)
        here = cells[flat] & fits_here
        mask &= fits[:, None, :]
        cells[flat] = here
        fe, fv = np.nonzero(self.in_flight)
        if len(fe):  # one migration at a time: only the destination
            mask[fe, fv] = False
            mask[fe, fv, cur[fe, fv]] = True
        self.mask = mask
        self._obs = self._mask = None

    def observation(self) -> np.ndarray:
        """(N, V, D) float32: TwinSpaces.encode of the acting agents, zeros for the others."""
        if self._obs is None:
            enc, N, V = self.spaces, self.n, self.V
            nt = enc.n_obs - self.M
            out = np.empty((N, V, enc.n_obs), np.float32)
            d, high = self.dist[:, :, self.terrestrial], enc.high[:nt]
            if high.dtype == np.float32:  # rounding to float32 is monotonic and keeps each bound: clip after it
                o = np.divide(d, enc.DIST_SCALE, out=out[..., :nt])
                far = 2.0 * np.sqrt(3.0) * self.extent.max() * 1.001 / enc.DIST_SCALE  # |p - q| <= |p| + |q|
                if not far < high.min():  # else no distance reaches the bound
                    np.minimum(o, high, out=o)
            else:  # in float64, then rounded to float32
                out[..., :nt] = np.minimum(np.divide(d, enc.DIST_SCALE, out=self._obs_buf), high, out=self._obs_buf)
            out[..., nt:] = np.minimum(self.seen / enc.load_scale, enc.high[nt:]).astype(np.float32)[:, None, :]
            out[~self.acting] = 0.0
            self._obs = out
        return self._obs

    def action_mask(self) -> np.ndarray:
        """(N, V, M) int8: the kernel's masks of the acting agents, zeros for the others."""
        if self._mask is None:
            self._mask = (self.mask & self.acting[:, :, None]).view(np.int8)
        return self._mask

    @property
    def live(self) -> np.ndarray:
        """(N, V) the agents the scalar env keeps live: those acting (an agent leaves when its
        vehicle arrives, joins when it starts)."""
        return self.acting

    def observations(self) -> dict[str, np.ndarray]:
        return {"observation": self.observation(), "action_mask": self.action_mask()}

    def state(self) -> np.ndarray:
        """(N, V * D): DesimParallelEnv.state per episode."""
        return self.observation().reshape(self.n, -1)

    def check_actions(self, actions: np.ndarray) -> np.ndarray:
        """Actions (N, V) as the step takes them: a wrong shape or dtype, or an acting agent's
        server out of range, is a one-line error; idle agents' actions are ignored."""
        a = np.asarray(actions)
        if a.shape != (self.n, self.V):
            raise ValueError(f"actions: expected shape ({self.n}, {self.V}) (episode, agent), got {a.shape}")
        a = np.where(self.acting, a, np.zeros((), a.dtype))
        if a.shape != (self.n, self.V) or not np.issubdtype(a.dtype, np.integer):
            raise ValueError(f"actions: expected integers of shape ({self.n}, {self.V}) (episode, "
                             f"vehicle), got {a.dtype} {a.shape}")
        bad = self.acting & ((a < 0) | (a >= self.M))
        if bad.any():
            e, v = (int(x[0]) for x in np.nonzero(bad))
            raise PolicyError(f"episode {e}: policy action {int(a[e, v])} for vehicle {v}: "
                              f"not a server 0..{self.M - 1}")
        return a.astype(np.int64)

    def check_masks(self, actions: np.ndarray) -> None:
        """``check_masks``: an acting agent's action must be allowed by its mask (the scalar
        env applies a masked action and lets it fail; MAPPO without the mask needs that)."""
        a = np.clip(actions, 0, self.M - 1).astype(np.int64)
        allowed = np.take_along_axis(self.action_mask(), a[..., None], axis=2)[..., 0] > 0
        bad = self.acting & ~allowed & (self.action_mask().any(axis=2))
        if bad.any():
            e, v = (int(x[0]) for x in np.nonzero(bad))
            raise PolicyError(f"episode {e}: action {int(actions[e, v])} of vehicle_{v} is masked "
                              "(check_masks=True)")

    def step(self, actions: np.ndarray) -> dict[str, np.ndarray]:
        """Apply the pending epoch's actions of every running episode (TwinMigrationApp.apply
        and _slot_terms), the slot's background and arrivals, and run to the next epoch.
        Returns the slot's terms (N, V) (NaN/False where an agent did not act), the rewards
        (Eq. 22) and ``ended`` (N,): the episode has no further epoch."""
        a = self.check_actions(actions)
        if self.done.all():  # no episode runs: nobody acts, nothing changes (what _run_step gives)
            return self._idle_step()
        return self._run_step(a)

    def _run_step(self, a: np.ndarray) -> dict[str, np.ndarray]:
        act, cur = self.acting, self.current
        rate = self._chosen_rates(np.clip(a, 0, self.M - 1))
        move = act & ~self.in_flight & (a != cur) & (rate > 0.0)  # else the twin stays (refused)
        target = np.where(move, a, cur)
        now = self.now[np.minimum(self.k, self.K - 1)]
        dur = transmission_latency_s(self.twin_bits, np.where(move, rate, 1.0))  # Eq. 12
        self.land = np.where(move, now[:, None] + dur, self.land)
        self.dest = np.where(move, a, self.dest)
        self.in_flight |= move
        terms, reach = self._slot_terms(target, move, dur)
        reward = self._shape_rewards(terms["t_sum"], terms["load"], terms["failed"], act)
        running = ~self.done
        self._background(running)
        self._arrivals(np.where(act, target, -1), reach)
        self.k = np.where(running, self.k + 1, self.k)
        self._skip_idle_ticks(running)
        ended = running & self.done
        self.observe()
        return {**terms, "reward": reward, "ended": ended}

    def _idle_step(self) -> dict[str, np.ndarray]:
        """:meth:`step` of a batch whose episodes have all ended (an autoreset's step)."""
        N, V = self.n, self.V
        self._obs = np.zeros((N, V, self.spaces.n_obs), np.float32)
        self._mask = np.zeros((N, V, self.M), np.int8)
        no = np.zeros((N, V), bool)
        return {"t_sum": np.full((N, V), np.nan), "load": np.full((N, V), np.nan), "failed": no,
                "migrated": no.copy(), "server": np.full((N, V), -1, np.int64), "reward": np.zeros((N, V)),
                "ended": np.zeros(N, bool)}

    def _slot_terms(self, target: np.ndarray, move: np.ndarray, dur: np.ndarray):
        """The paper's per-slot formulas (Eq. 6–9, 12–14) for each acting vehicle's host
        (``dur``: the migrations' T^mig where ``move``); and whether that host is reachable
        (Radio.reachable)."""
        s, act, m = self.scenario, self.acting, target
        cell = self._em + m  # (episode, server) cells, flat
        cnt = np.bincount(cell[act], minlength=self.n * self.M)
        load = self.loads.reshape(-1)[cell] + self.stacked[cnt[cell]]  # Eq. 8 at each vehicle's host
        d = self.dist.reshape(-1)[self._evm + m]
        r_up, r_dn = self.radio.access_rates(d, m)
        reach = (d <= self.range_m[m]) & (r_up > 0) & (r_dn > 0)
        if self.sat >= 0:
            reach |= m == self.sat
        cpu = self.cpu.reshape(-1)[cell]
        c_s = self.cpu[:, self.sat][:, None] if self.sat >= 0 else cpu
        t_up = transmission_latency_s(self.slot_bits, r_up)  # Eq. 6
        t_dn = transmission_latency_s(self.slot_bits * s.vehicles.traffic.result_ratio, r_dn)  # Eq. 7
        t_cul = computing_latency_s(load, s.vehicles.cycles_per_bit, cpu, self.cache[m], c_s)  # Eq. 9
        t_mig = np.where(move, dur, 0.0)  # Eq. 12
        t_sum = total_latency_s(t_up, t_dn, t_cul, t_mig)  # Eq. 13
        failed = migration_failed(d, self.range_m[m], load, self.cache[m]) | ~reach  # Eq. 14
        nan = np.where(act, 0.0, np.nan)
        return {"t_sum": t_sum + nan, "load": load + nan, "failed": failed & act, "migrated": move,
                "server": np.where(act, m, -1)}, reach

    def _shape_rewards(self, t_sum, load, failed, act) -> np.ndarray:
        """Eq. 22 with Eq. 21's Z-scores over the episode so far (models.objectives.ShapedReward).
        RunningZ is Welford's recurrence over the slot's values in agent order; equality with
        the scalar env needs that order, so this loops over the V agent positions (each step
        vectorised over the episodes)."""
        x = np.stack([np.minimum(t_sum, self.cap), load])  # (2, N, V): latency, load
        xv = x.transpose(2, 0, 1).copy()  # (V, 2, N)
        n, mean, m2 = self.z[:, 0], self.z[:, 1], self.z[:, 2]  # (2, N) each
        everyone = act.all(axis=0)  # (V,): the agent acts in every episode
        with np.errstate(divide="ignore", invalid="ignore"):
            for v in range(self.V):  # RunningZ.update: one value at a time, in agent order
                dlt = xv[v] - mean
                if everyone[v]:  # n + True is n + 1.0
                    n = n + 1.0
                    mean = mean + dlt / n
                    m2 = m2 + dlt * (xv[v] - mean)
                    continue
                on = act[:, v]
                n1 = n + on
                new = np.where(on, mean + dlt / n1, mean)
                m2 = np.where(on, m2 + dlt * (xv[v] - new), m2)
                n, mean = n1, new
            std = np.where(n > 1, np.sqrt(m2 / n), 0.0)  # RunningZ.z
            z = np.where((std > 0)[..., None], (x - mean[..., None]) / std[..., None], 0.0)
        self.z[:, 0], self.z[:, 1], self.z[:, 2] = n, mean, m2
        w_t, w_s, w_d = self.w
        r = -(w_t * z[0] + w_s * z[1] + w_d * failed.astype(float))
        return np.where(act, r, 0.0)


def _extent(*xyz: np.ndarray) -> np.ndarray:
    """(B,) the largest |coordinate| in the arrays (B, ..., 3) of each episode."""
    return np.max([np.abs(a).reshape(len(a), -1).max(axis=1, initial=0.0) for a in xyz], axis=0)
