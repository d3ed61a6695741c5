"""What a batch of twin-migration slot episodes is given, drawn at reset: every episode's
vehicle and server positions at each clock tick, which vehicles drive, the background work
that arrives at each tick, the servers' CPUs. None of it depends on the actions, so a
batch of episodes can draw it once per episode and then advance in lock-step.

Every draw comes from the same named stream (``desim_iov.rng``) as in a scalar
:class:`~desim_iov.sim.Simulation` with the same seed, and every value is computed with the
same floating-point operations, so the batched env equals N scalar slot envs bit for bit:

- ``generic``: :func:`~desim_iov.build.build_world` per episode (any mobility, layout,
  trace), positions read from the world at each tick as the radio reads them;
- ``fast`` (random-waypoint vehicles, patrolling UAVs, a grid of RSUs at one height, no CPU
  deviation: the twin-city and twin-rural presets): the statics from one world, each UAV's
  patrol cached by the RSU its ``uav.{u}`` stream draws, and the vehicles' random-waypoint
  legs (quantum-DRL Eq. 8–10) computed for all episodes at once from blocks of the
  ``mobility.vehicle.{v}`` streams' uniforms (``models.mobility.random_waypoint_3d`` and
  ``_truncate`` and :class:`~desim_iov.world.PositionTable`, element by element; any leg
  that function would redraw sends that vehicle back to it).

Background (``desim_iov.servers``): the ``background`` stream's phases, the model's mean
rate lambda_m(t) at each tick and its Gamma(n, 1)/n (or Exp(1)) batch factors, drawn for
every tick in one block (the same sequence of variates as one draw per tick).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from desim_iov.build import build_world, patrol_route
from desim_iov.config import Scenario
from desim_iov.fidelity import FIDELITIES
from desim_iov.kinds import SATELLITE
from desim_iov.rng import RngStreams
from desim_iov.servers import BACKGROUNDS, Background, ConstantBackground, PeriodicBackground
from desim_iov.vector.streams import Streams
from desim_iov.world import PositionTable
from models.compute import service_rate_bps
from models.mobility import random_waypoint_3d

#: background models whose ``rate(t)`` is elementwise in ``t`` (one call for every tick)
_ELEMENTWISE_BACKGROUNDS = (Background, ConstantBackground, PeriodicBackground)
_LEGS = 12  # random-waypoint legs drawn per block (more are drawn where a vehicle needs them)


def clock_ticks(s: Scenario) -> tuple[np.ndarray, np.ndarray]:
    """The slot fidelity's clock (``Simulation._clock``): ``t_k = k dt`` (what the radio,
    the decisions and the background see) and the SimPy time of tick k (``now_k = now_{k-1}
    + (k dt - now_{k-1})``, what a migration's landing is compared with), for every tick
    that runs before ``duration``."""
    dt = FIDELITIES["slot"].tick(s)
    t, now, k, cur = [], [], 0, 0.0
    while cur < s.duration:  # Simulation.advance stops at the first event at or after the end
        t.append(k * dt)
        now.append(cur)
        k += 1
        cur = cur + (k * dt - cur)
    return np.asarray(t, float), np.asarray(now, float)


@dataclass
class EpisodeInputs:
    """Exogenous inputs of B episodes over K ticks (leading axes B, K)."""

    seeds: np.ndarray  # (B,) int64
    vehicle_xyz: np.ndarray  # (B, K, V, 3) m
    server_xyz: np.ndarray  # (B, M, 3) m: RSUs and the satellite (they do not move)
    uav_xyz: np.ndarray  # (B, K, U, 3) m: the UAVs at each tick
    uav_route: np.ndarray  # (B, U) int: the RSU each UAV's patrol starts from (fast inputs; else -1)
    active: np.ndarray  # (B, K, V) bool: the vehicle drives at tick k (World.vehicle_active)
    background: np.ndarray  # (B, K, M) bits arriving at tick k (lambda_m(t) dt x batch factor)
    cpu_hz: np.ndarray  # (B, M)
    finished: np.ndarray  # (B, V) bool: the vehicle reaches its destination within the run


class TwinInputs:
    """Draws :class:`EpisodeInputs` for a scenario's episodes, one seed each."""

    def __init__(self, scenario: Scenario, fast: bool | None = None) -> None:
        s = self.scenario = scenario
        self.t, self.now = clock_ticks(s)
        self.dt = FIDELITIES["slot"].tick(s)
        self.batches = FIDELITIES["slot"].batches_per_tick(s)
        ref = self.world = build_world(s, RngStreams(s.seed))  # statics (kinds, columns, RSUs)
        self.V, self.M = ref.n_vehicles, ref.n_servers
        self.on = (ref.kinds != SATELLITE) & (s.background.model != "none")
        applies = self.fast_path_applies(s)
        if fast and not applies:
            raise ValueError("fast inputs need random-waypoint vehicles, patrolling UAVs, a grid of RSUs "
                             "at one height and no CPU deviation")
        self.fast = applies if fast is None else fast  # False: build_world per episode (tests)
        self.U = len(ref.uav_routes)
        self.uavs = slice(ref.n_rsu, ref.n_rsu + self.U)  # the UAVs' server indices
        self._routes = np.zeros((ref.n_rsu, len(self.t), 3))  # patrol by first RSU, at the ticks
        self._have = np.zeros(ref.n_rsu, bool)
        self._names = ([f"mobility.vehicle.{v}" for v in range(self.V)]
                       + [f"uav.{u}" for u in range(len(ref.uav_routes))] + ["background"])

    @staticmethod
    def fast_path_applies(s: Scenario) -> bool:
        vs, rs, us = s.vehicles, s.rsus, s.uavs
        return (vs.mobility == "random_waypoint" and vs.pause == 0.0 and vs.max_ascent_deg is None
                and rs.layout == "grid" and rs.height_min == rs.height_max
                and (us.count == 0 or us.mobility == "patrol")
                and rs.cpu_deviation == "none" and us.cpu_deviation == "none")

    def build(self, seeds: list[int]) -> EpisodeInputs:
        """The inputs of one episode per seed (reset time only)."""
        seeds = [int(x) for x in seeds]
        B, K, M = len(seeds), len(self.t), self.M
        if not B:
            z = np.zeros
            return EpisodeInputs(np.zeros(0, np.int64), z((0, K, self.V, 3)), z((0, M, 3)),
                                 z((0, K, self.U, 3)), z((0, self.U), np.int64), z((0, K, self.V), bool),
                                 z((0, K, M)), z((0, M)), z((0, self.V), bool))
        if self.fast:
            st = Streams(seeds, self._names)
            veh, active, finished = self._vehicles_fast(st)
            srv = np.broadcast_to(self.world.server_positions(0.0), (B, M, 3)).copy()
            route = st.first_integers(slice(self.V, self.V + self.U), self.world.n_rsu)  # build._uav_patrol
            uav = self.route_positions(route)
            cpu = np.broadcast_to(self.world.cpu_hz, (B, M)).copy()
            bg_rngs = (st.generator(i, self.V + self.U) for i in range(B))
        else:
            streams = [RngStreams(x) for x in seeds]
            parts = [self._generic(st) for st in streams]
            veh, srv, uav, active, cpu, finished = (np.stack([p[i] for p in parts]) for i in range(6))
            route = np.full((B, self.U), -1, np.int64)
            bg_rngs = (st.get("background") for st in streams)
        bg = self._background(bg_rngs, cpu)
        return EpisodeInputs(np.asarray(seeds, np.int64), veh, srv, uav, route, active, bg, cpu, finished)

    # ------------------------------------------------------------------ generic path

    def _generic(self, streams: RngStreams):
        s, w = self.scenario, build_world(self.scenario, streams)
        veh = np.stack([w.vehicle_positions(t) for t in self.t.tolist()])
        srv = np.stack([w.server_positions(t) for t in self.t.tolist()])  # RSUs: the same rows
        active = np.array([[w.vehicle_active(v, t) for v in range(self.V)] for t in self.t.tolist()], bool)
        finished = np.array([tr.end <= s.duration for tr in w.vehicles], bool)
        return veh, srv[0], srv[:, self.uavs], active, w.cpu_hz, finished

    # ------------------------------------------------------------------ fast path

    def route_positions(self, route: np.ndarray | None = None) -> np.ndarray:
        """(B, K, U, 3) positions at the ticks of the patrols starting at RSUs ``route``
        (B, U); each patrol made once (PositionTable). ``route`` None: (n_rsu, K, 3), all."""
        want = np.arange(self.world.n_rsu) if route is None else route
        for f in np.unique(want[~self._have[want]]).tolist():
            table = PositionTable([patrol_route(self.scenario, self.world.rsu_xyz, f)])
            self._routes[f] = np.stack([table.at(t)[0] for t in self.t.tolist()])
            self._have[f] = True
        return self._routes.copy() if route is None else self._routes[route].transpose(0, 2, 1, 3)

    def _vehicles_fast(self, st: Streams):
        """Random-waypoint trajectories of every (episode, vehicle) at once, then their
        positions at the ticks (PositionTable's arithmetic)."""
        s, V = self.scenario, self.V
        vs = s.vehicles
        lo = np.array([-s.area.width / 2, -s.area.height / 2, vs.z_min])
        hi = np.array([s.area.width / 2, s.area.height / 2, vs.z_max])
        span = np.subtract(hi, lo)  # Generator.uniform: low + (high - low) * U
        vmin, vmax = float(vs.speed_min), float(vs.speed_max)
        horizon = s.duration + s.slot
        B = st.hi.shape[0]
        R = B * V
        legs = _LEGS
        u = st.doubles(slice(0, V), 3 + 4 * legs).reshape(R, -1)
        while True:
            start = lo + span * u[:, :3]
            draw = u[:, 3:].reshape(R, legs, 4)
            wp = lo + span * draw[..., :3]
            v_h = vmin + (vmax - vmin) * draw[..., 3]
            prev = np.concatenate([start[:, None], wp[:, :-1]], axis=1)
            delta = wp - prev
            d_h = np.hypot(delta[..., 0], delta[..., 1])
            dz = np.abs(delta[..., 2])
            with np.errstate(divide="ignore", invalid="ignore"):
                leg = np.where((d_h == 0.0) & (dz > 0.0), dz / v_h, d_h / v_h)
            times = np.cumsum(leg, axis=1)  # t += leg, in order
            reached = times >= horizon
            if reached.any(axis=1).all():
                break
            legs *= 2  # a vehicle needs more legs: every row again, from its stream's start
            u = st.doubles(slice(0, V), 3 + 4 * legs).reshape(R, -1)
        n_legs = reached.argmax(axis=1) + 1  # the loop stops after the first leg reaching the horizon
        used = np.arange(legs)[None, :] < n_legs[:, None]
        redo = ((leg <= 0.0) & used).any(axis=1)  # random_waypoint_3d would redraw: its own way
        L = int(n_legs.max())
        T = np.full((R, L + 1), np.inf)
        X = np.zeros((R, L + 1, 3))
        T[:, 0], X[:, 0] = 0.0, start
        T[:, 1 : L + 1], X[:, 1 : L + 1] = times[:, :L], wp[:, :L]
        rows = np.arange(R)
        last = n_legs  # index of the knot that reaches the horizon
        t_last, t_prev = T[rows, last], T[rows, last - 1]
        cut = t_last > horizon  # models.mobility._truncate: cut at the horizon
        w = np.clip((horizon - t_prev) / (t_last - t_prev), 0.0, 1.0)
        knots = X.reshape(-1, 3)
        p_prev, p_last = knots.take(rows * (L + 1) + last - 1, axis=0), knots.take(rows * (L + 1) + last, axis=0)
        p_cut = p_prev + w[:, None] * (p_last - p_prev)
        T[rows, last] = np.where(cut, horizon, t_last)
        X[rows, last] = np.where(cut[:, None], p_cut, p_last)
        if redo.any():  # probability zero in a box with an area
            gens = [st.generator(i // V, i % V, reuse=False) for i in np.flatnonzero(redo)]
            T, X = _redo(T, X, last, redo, gens,
                         lambda g: random_waypoint_3d(g, lo, hi, (vmin, vmax), horizon))
        pad = np.arange(T.shape[1])[None, :] > last[:, None]
        X = np.where(pad[..., None], X[rows, last][:, None, :], X)  # dx = 0 past the last knot
        pos, act = _positions_at(T, X, last, self.t, V)
        finished = (T[rows, last] <= s.duration).reshape(B, V)
        return pos, act, finished

    # ------------------------------------------------------------------ background

    def _background(self, rngs, cpu_hz: np.ndarray) -> np.ndarray:
        """(B, K, M) bits of background work arriving at each tick (EdgeServers.__init__ and
        add_background): each episode's ``background`` stream draws the phases, then (pems)
        the station shuffle, then every tick's batch factors."""
        s, M, K, B = self.scenario, self.M, len(self.t), len(cpu_hz)
        mu = service_rate_bps(cpu_hz, s.vehicles.cycles_per_bit)
        cls = BACKGROUNDS[s.background.model]
        elementwise = cls.utilisation in [c.utilisation for c in _ELEMENTWISE_BACKGROUNDS]
        batches = s.background.model != "none" and s.background.burst != "deterministic"
        phases, rates = np.zeros((B, M)), []
        factors = np.empty((B, K, M)) if batches else None
        for i, rng in enumerate(rngs):
            phases[i] = rng.uniform(0.0, 2.0 * math.pi, M)
            if not elementwise:
                bg = cls(s, mu[i], self.on, phases[i], rng)
                rates.append(np.stack([bg.rate(t) for t in self.t.tolist()]))
            if not batches:
                continue
            if self.batches == 1:  # exponential(1.0) = 1.0 x standard_exponential, the same draws
                rng.standard_exponential((K, M), out=factors[i])
            else:  # gamma(n, 1.0) = 1.0 x standard_gamma(n): Gamma(n, 1)/n (divided below)
                rng.standard_gamma(self.batches, (K, M), out=factors[i])
        if batches and self.batches != 1:
            np.divide(factors, self.batches, out=factors)
        if cls is PeriodicBackground and (mu == mu[:1]).all():  # in place: no (B, K, M) temporaries
            rate = self.periodic_rate(phases, mu[0])
        elif elementwise and (mu == mu[:1]).all():  # one model object for every episode
            bg = cls(s, mu[0], self.on, phases[:, None, :], None)
            rate = np.broadcast_to(bg.rate(self.t[None, :, None]), (B, K, M))
        elif elementwise:  # CPUs drawn per episode: one object each, every tick at once
            rate = np.stack([np.broadcast_to(cls(s, m, self.on, p, None).rate(self.t[:, None]), (K, M))
                             for m, p in zip(mu, phases, strict=True)])
        else:
            rate = np.stack(rates)
        out = np.multiply(rate, self.dt, out=rate if rate.flags.writeable else None)  # lambda_m(t) dt
        if batches:
            out *= factors  # x the batch factor (x 1.0 for deterministic bursts)
        return out

    def periodic_rate(self, phases: np.ndarray, mu: np.ndarray) -> np.ndarray:
        """(B, K, M) ``PeriodicBackground(.., mu, on, phases[i], ..).rate(t_k)`` of every
        episode and tick, its operations one by one in one array (tests/test_vector_kernels.py
        holds it equal to the class)."""
        bg = self.scenario.background
        x = np.add((2 * math.pi * self.t / bg.period)[None, :, None], phases[:, None, :])
        np.sin(x, out=x)
        x *= bg.amplitude  # u (1 + a sin(2 pi t / P + phi_m)) ...
        x += 1.0
        x *= bg.utilisation
        x *= mu  # ... mu_m where the server has background, else 0
        x[..., ~self.on] = 0.0
        return x


def _redo(T, X, last, redo, gens, draw):
    """Rows whose random waypoint draws a zero-length leg: the reference function's knots."""
    for i, g in zip(np.flatnonzero(redo).tolist(), gens, strict=True):
        tr = draw(g)
        k = len(tr.times)
        if k > T.shape[1]:
            T = np.concatenate([T, np.full((len(T), k - T.shape[1]), np.inf)], axis=1)
            X = np.concatenate([X, np.repeat(X[:, -1:], k - X.shape[1], axis=1)], axis=1)
        T[i], X[i] = np.inf, tr.positions[-1]
        T[i, :k], X[i, :k] = tr.times, tr.positions
        last[i] = k - 1
    return T, X


def _positions_at(T: np.ndarray, X: np.ndarray, last: np.ndarray, ticks: np.ndarray, V: int | None = None):
    """PositionTable.at for rows r = b V + v of knots ``T`` (R, L) (inf-padded), ``X`` (R, L, 3)
    at every tick: positions (B, K, V, 3) and World.vehicle_active (B, K, V); without ``V``,
    (R, K, 3) and (R, K) (desim_iov/vector/offload_inputs.py)."""
    if V is None:
        pos, active = _positions_at(T, X, last, ticks, 1)
        return pos[:, :, 0], active[:, :, 0]
    R, L = T.shape
    K, B = len(ticks), R // V
    # the knots after the first at or before t_k: those whose first tick at or after them is <= k
    first = np.searchsorted(ticks, T[:, 1:].ravel(), side="left").reshape(R, L - 1)
    cnt = np.bincount((np.arange(R)[:, None] * (K + 1) + first).ravel(), minlength=R * (K + 1))
    seg = np.cumsum(cnt.reshape(R, K + 1)[:, :K], axis=1).reshape(B, V, K).transpose(0, 2, 1)  # (B, K, V)
    base = (np.arange(R) * L).reshape(B, 1, V)
    t0 = T.ravel()[base + seg]
    has_next = seg < last.reshape(B, 1, V)
    t1 = T.ravel()[base + np.minimum(seg + 1, L - 1)]
    tk = ticks[None, :, None]
    with np.errstate(invalid="ignore"):
        frac = np.where(has_next & (tk > t0), (tk - t0) / (t1 - t0), 0.0)
    dx = np.zeros_like(X)
    dx[:, :-1] = X[:, 1:] - X[:, :-1]
    dx[np.arange(R), last] = 0.0
    flat = base + seg
    pos = X.reshape(-1, 3).take(flat, axis=0) + frac[..., None] * dx.reshape(-1, 3).take(flat, axis=0)
    start, end = T[:, 0].reshape(B, 1, V), T[np.arange(R), last].reshape(B, 1, V)
    active = ((start <= tk) & (tk < end)) | (tk == start)
    return pos, active
