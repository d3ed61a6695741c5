"""What a batch of task-offloading slot episodes is given, drawn at reset: every episode's
vehicle and BS/UAV positions at each slot, the motion features of its state vectors, the
small-scale fading of every access and relay link at each slot, the CPU frequencies f_cpu
(quantum-DRL Eq. 4) and the digital twin's estimates f^ (Table II) of each slot, and which
vehicles get a new task in each slot. None of it depends on the actions, so a batch can draw
it once per episode and advance in lock-step (:mod:`desim_iov.vector.offload_slot`).

Every draw comes from the named stream (``desim_iov.rng``) a scalar slot
:class:`~desim_iov.sim.Simulation` with the same seed draws it from, in the same order, and
every value is computed with the same floating-point operations, so each episode equals a
scalar ``parallel_env(scenario, fidelity="slot")`` bit for bit:

- positions: ``generic`` builds each episode's world (:func:`~desim_iov.build.build_world`)
  and reads it at the slots as the radio does; ``fast`` (random-waypoint vehicles without
  pauses, random-waypoint or patrolling UAVs, a grid of RSUs (heights drawn per episode from
  ``placement.height``), no CPU deviation of the servers: the ``offload-urban`` preset) draws the 3-D random-waypoint legs (Eq. 8–10,
  with the ascent bound phi_v of Table II) of all episodes at once from the
  ``mobility.vehicle.{v}`` and ``uav.{u}`` streams (``models.mobility.random_waypoint_3d``
  element by element; a row that function would treat otherwise goes back to it);
- motion: the kernel's velocity (position difference over the slot) and its features
  (speed, climb, heading theta, ascent phi of Eq. 57/59), ``math.atan2`` as the scalar code
  takes it (numpy's SIMD ``arctan2`` differs in the last bit);
- fading (``fading`` stream: the access links, Eq. 22 and 24–25; ``links`` stream: alpha_PL
  per relay pair and run, then the U->U', B->U, U->B fading of Eq. 32–37): one block of
  uniforms per episode holds every slot's draws, turned into gains by
  :func:`models.fading.gain_from_uniforms`;
- ``cpu`` (Eq. 4, every slot or once per run), ``dt`` (f^ = f_cpu + U(+-err)) and ``tasks``
  (Bernoulli arrivals) streams: one block per episode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from desim_iov.build import build_world, patrol_route
from desim_iov.config import Scenario
from desim_iov.rng import RngStreams
from desim_iov.topology import BU, UB, UU
from desim_iov.vector.streams import Streams
from desim_iov.vector.twin_inputs import _positions_at, _redo, clock_ticks
from desim_iov.world import PositionTable
from models.compute import cpu_frequency_hz
from models.fading import gain_from_uniforms
from models.mobility import random_waypoint_3d

_LEGS = 4  # random-waypoint legs drawn per block (doubled where a row needs more)
_CHUNK = 4  # episodes whose fading is turned into gains together
_OTHER_STREAMS = ("fading", "links", "cpu", "dt", "tasks")
_atan2 = np.frompyfunc(math.atan2, 2, 1)


@dataclass
class OffloadEpisodeInputs:
    """Exogenous inputs of B episodes over K slots (leading axes B, K)."""

    seeds: np.ndarray  # (B,) int64
    vehicle_xyz: np.ndarray  # (B, K, V, 3) m
    node_xyz: np.ndarray  # (B, K, N, 3) m: BSs and UAVs
    vehicle_motion: np.ndarray  # (B, K, V, 4): speed/50, climb/10, theta/pi, phi/(pi/2)
    node_motion: np.ndarray  # (B, K, N, 4)
    access_fading: np.ndarray | None  # (B, K, V, N) small-scale power gain; None: channel.fading none
    relay_fading: dict[int, np.ndarray]  # link type -> (B, K, rows, cols) of its block
    exponent: dict[int, np.ndarray]  # link type -> (B, N, N) alpha_PL
    f_max: np.ndarray  # (B, N) Hz
    f_cpu: np.ndarray  # (B, K, N) Hz
    f_est: np.ndarray  # (B, K, N) Hz
    arrivals: np.ndarray  # (B, K, V) bool: a task appears at vehicle v in slot k


def motion_features(vel: np.ndarray) -> np.ndarray:
    """(..., 4) ``offload_spaces.motion`` of velocities (..., 3), element by element:
    speed/50, climb/10, heading/pi, ascent/(pi/2)."""
    vx, vy, vz = vel[..., 0], vel[..., 1], vel[..., 2]
    speed = np.hypot(vx, vy)  # np.hypot of numpy scalars is the same libm call
    out = np.zeros(vel.shape[:-1] + (4,))
    out[..., 0] = speed / 50.0
    out[..., 1] = vz / 10.0
    moving = speed > 0
    if moving.any():
        out[..., 2][moving] = _atan2(vy[moving], vx[moving]).astype(float) / math.pi
    tilted = moving | (vz != 0)
    if tilted.any():
        out[..., 3][tilted] = _atan2(vz[tilted], speed[tilted]).astype(float) / (math.pi / 2)
    return out


def velocity_motion(xyz: np.ndarray, t: np.ndarray) -> np.ndarray:
    """(B, K, X, 4) motion features of the kernel's velocities (TaskOffloadingApp.tick): zero
    at the first slot, then (x_k - x_{k-1}) / (t_k - t_{k-1})."""
    vel = np.zeros_like(xyz)
    if xyz.shape[1] > 1:
        dt = (t[1:] - t[:-1])[None, :, None, None]
        vel[:, 1:] = (xyz[:, 1:] - xyz[:, :-1]) / dt
    return motion_features(vel)


class OffloadInputs:
    """Draws :class:`OffloadEpisodeInputs` for a scenario's episodes, one seed each."""

    def __init__(self, scenario: Scenario, fast: bool | None = None) -> None:
        s = self.scenario = scenario
        self.t, self.now = clock_ticks(s)
        ref = self.world = build_world(s, RngStreams(s.seed))
        self.B, self.U, self.V, self.M = ref.n_rsu, len(ref.uav_routes), ref.n_vehicles, ref.n_servers
        self.N = self.B + self.U
        applies = self.fast_path_applies(s)
        if fast and not applies:
            raise ValueError("fast inputs need random-waypoint vehicles without pauses, random-waypoint or "
                             "patrolling UAVs, a grid of RSUs and no CPU deviation of the servers")
        self.fast = applies if fast is None else fast  # False: build_world per episode
        self._names = ([f"mobility.vehicle.{v}" for v in range(self.V)]
                       + [f"uav.{u}" for u in range(self.U)] + list(_OTHER_STREAMS) + ["placement.height"])
        self._routes: dict[int, np.ndarray] = {}  # patrol by first RSU: (K, 3)
        self._setup_links()

    @staticmethod
    def fast_path_applies(s: Scenario) -> bool:
        vs, rs, us = s.vehicles, s.rsus, s.uavs
        return (vs.mobility == "random_waypoint" and vs.pause == 0.0 and rs.layout == "grid"
                and us.mobility in ("random_waypoint", "patrol")
                and rs.cpu_deviation == "none" and us.cpu_deviation == "none")

    def _setup_links(self) -> None:
        """The relay blocks Topology.update draws fading for, in its order (U->U', B->U, U->B)."""
        s, B, N = self.scenario, self.B, self.N
        L = s.offload.links
        ant = self.world.antennas[:N].astype(int)
        self.link_cfg = {UU: L.uu, BU: L.bu, UB: L.ub}
        blocks = {UU: (slice(B, N), slice(B, N), np.ones((N - B, N - B), int)),
                  BU: (slice(0, B), slice(B, N), np.broadcast_to(ant[:B, None], (B, N - B))),
                  UB: (slice(B, N), slice(0, B), np.broadcast_to(ant[None, :B], (N - B, B)))}
        self.blocks = {c: blk for c, blk in blocks.items() if blk[2].size}  # m.any(): the type has links
        self._draw = {c: (int(a.max()) if a.size else 1) for c, (_, _, a) in self.blocks.items()
                      if self.link_cfg[c].fading != "none"}

    # ------------------------------------------------------------------ one batch

    def build(self, seeds: list[int]) -> OffloadEpisodeInputs:
        """The inputs of one episode per seed (reset time only)."""
        seeds = [int(x) for x in seeds]
        E, K, V, N = len(seeds), len(self.t), self.V, self.N
        if self.fast:
            st = Streams(seeds, self._names)
            veh = self._waypoints_vehicles(st)
            srv = np.broadcast_to(self.world.server_positions(0.0)[:N], (E, K, N, 3)).copy()
            rs = self.scenario.rsus
            if rs.height_max > rs.height_min and self.B:  # build_world: uniform(h_min, h_max, n)
                u = st.doubles([len(self._names) - 1], self.B)[:, 0]
                srv[:, :, :self.B, 2] = (rs.height_min + (rs.height_max - rs.height_min) * u)[:, None, :]
            if self.U:
                srv[:, :, self.B:] = self._uavs(st)
            f_max = np.broadcast_to(self.world.cpu_hz[:N], (E, N)).copy()
            j0 = V + self.U
            gens = [{n: st.generator(i, j0 + j, reuse=False) for j, n in enumerate(_OTHER_STREAMS)}
                    for i in range(E)]
        else:
            veh, srv = np.zeros((E, K, V, 3)), np.zeros((E, K, N, 3))
            f_max, gens = np.zeros((E, N)), []
            for i, x in enumerate(seeds):
                streams = RngStreams(x)
                w = build_world(self.scenario, streams)
                for k, t in enumerate(self.t.tolist()):
                    veh[i, k], srv[i, k] = w.vehicle_positions(t), w.server_positions(t)[:N]
                f_max[i] = w.cpu_hz[:N]
                gens.append({n: streams.get(n) for n in _OTHER_STREAMS})
                w.close()
        draws = [self._draws(g) for g in gens]
        access = self._access_fading([d[0] for d in draws])
        exponent = {c: np.stack([d[1][c] for d in draws]) for c in (draws[0][1] if E else {})}
        relay = self._relay_fading([d[2] for d in draws])
        f_cpu, f_est = self._cpus(f_max, [d[3] for d in draws], [d[4] for d in draws])
        arrivals = self._arrivals([d[5] for d in draws])
        return OffloadEpisodeInputs(np.asarray(seeds, np.int64), veh, srv, velocity_motion(veh, self.t),
                                    velocity_motion(srv, self.t), access, relay, exponent, f_max, f_cpu,
                                    f_est, arrivals)

    # ------------------------------------------------------------------ per-episode draws

    def _draws(self, g: dict[str, np.random.Generator]):
        """One episode's blocks, drawn in the scalar kernel's order per stream."""
        s, K, V, N, M = self.scenario, len(self.t), self.V, self.N, self.M
        ch, net = s.channel, s.offload.network
        access = None
        if ch.fading != "none":  # Radio.access_gain: (V, M) links x n_ant x 2 uniforms per slot
            n_ant = int(self.world.antennas.max()) if M else 1
            access = g["fading"].random((K, V, M, n_ant, 2))[:, :, :N]
        rng = g["links"]
        exponent = {}
        for code, cfg in self.link_cfg.items():  # Topology.__init__: alpha_PL per pair and run
            if cfg.exponent_range is not None:
                lo, hi = cfg.exponent_range
                exponent[code] = rng.uniform(lo, hi, (N, N))
        sizes = {c: self.blocks[c][2].size * n * 2 for c, n in self._draw.items()}
        block = rng.random((K, sum(sizes.values())))  # every slot's U->U', B->U, U->B draws
        relay, off = {}, 0
        for c, n in self._draw.items():
            rows, cols, _ = self.blocks[c]
            relay[c] = block[:, off: off + sizes[c]].reshape(K, *self.blocks[c][2].shape, n, 2)
            off += sizes[c]
        dev = None
        if net.cpu_deviation != "none":  # OffloadNodes.new_slot: every slot, or once
            reps = K if net.cpu_deviation_period == "slot" else 1
            dev = _deviation(g["cpu"], reps, N, net.cpu_deviation, net.cpu_deviation_scale)
        err = net.dt_cpu_error
        noise = g["dt"].uniform(-err, err, (K, N)) if err else None
        tc = s.offload.tasks
        arrive = g["tasks"].random((K, V)) < tc.prob_per_slot if tc.arrivals == "bernoulli" else None
        return access, exponent, relay, dev, noise, arrive

    def _access_fading(self, parts: list) -> np.ndarray | None:
        if not parts or parts[0] is None:
            return None
        s, N = self.scenario, self.N
        ch = s.channel
        kf = np.array([ch.rician_k if c.rician_k is None else c.rician_k for c in (s.rsus, s.uavs)])
        k_n = np.where(np.arange(N) < self.B, kf[0], kf[1])  # Radio.rician_k of the BSs and UAVs
        ant = self.world.antennas[:N].astype(int)
        E, (K, V) = len(parts), parts[0].shape[:2]
        out = np.empty((E, K, V, N))
        groups = {}  # columns of one K-factor and antenna count
        for z in range(N):
            groups.setdefault((float(k_n[z]), int(ant[z])), []).append(z)
        for i in range(0, E, _CHUNK):  # a few episodes at a time: the work stays in the cache
            u = np.stack(parts[i: i + _CHUNK])
            for (k, m), cols in groups.items():
                out[i: i + _CHUNK, ..., cols] = _fading(ch.fading, u[..., cols, :, :], k, m)
        return out

    def _relay_fading(self, parts: list[dict]) -> dict[int, np.ndarray]:
        out = {}
        E, K = len(parts), len(self.t)
        for c, (_, _, ant) in self.blocks.items():
            cfg = self.link_cfg[c]
            if cfg.fading == "none":  # small_scale_gain: the array gain alone, nothing drawn
                out[c] = np.broadcast_to(ant.astype(np.float64), (E, K) + ant.shape)
                continue
            out[c] = np.empty((E, K) + ant.shape)
            same = (ant == ant.flat[0]).all() if ant.size else True
            for i in range(0, E, _CHUNK):
                u = np.stack([p[c] for p in parts[i: i + _CHUNK]])
                shape = u.shape[:4]
                if same:  # one antenna count in the block (every BS has its M)
                    out[c][i: i + _CHUNK] = _fading(cfg.fading, u, float(cfg.rician_k), int(ant.flat[0]))
                    continue
                k = np.broadcast_to(np.asarray(cfg.rician_k, dtype=np.float64), shape)[..., None]
                out[c][i: i + _CHUNK] = gain_from_uniforms(cfg.fading, u, k, np.broadcast_to(ant, shape))
        return out

    def _cpus(self, f_max: np.ndarray, devs: list, noises: list) -> tuple[np.ndarray, np.ndarray]:
        """f_cpu = f_max (1 - Delta f) in [f_min, f_max] (Eq. 4) and f^ = max(f_cpu + U(+-err), 0)."""
        net, K = self.scenario.offload.network, len(self.t)
        E, N = f_max.shape
        f_cpu = np.broadcast_to(f_max[:, None, :], (E, K, N)).copy()
        if devs and devs[0] is not None:
            dev = np.stack(devs)
            f_min = f_max * net.f_min_ratio
            f_cpu[:] = cpu_frequency_hz(f_max[:, None, :], dev, f_min_hz=f_min[:, None, :])
        f_est = np.maximum(f_cpu + np.stack(noises), 0.0) if noises and noises[0] is not None else f_cpu.copy()
        return f_cpu, f_est

    def _arrivals(self, parts: list) -> np.ndarray:
        tc, K, V = self.scenario.offload.tasks, len(self.t), self.V
        E = len(parts)
        if tc.arrivals == "per_step":
            out = np.ones((E, K, V), bool)
        else:
            out = np.stack(parts) if E else np.zeros((0, K, V), bool)
        if tc.arrival_slots is not None:
            out[:, tc.arrival_slots:] = False
        return out

    # ------------------------------------------------------------------ fast mobility

    def _waypoints_vehicles(self, st: Streams) -> np.ndarray:
        s = self.scenario
        vs = s.vehicles
        lo = np.array([-s.area.width / 2, -s.area.height / 2, vs.z_min])
        hi = np.array([s.area.width / 2, s.area.height / 2, vs.z_max])
        tan_max = None if vs.max_ascent_deg is None else float(np.tan(np.radians(vs.max_ascent_deg)))
        return self._waypoints(st, 0, self.V, lo, hi, (vs.speed_min, vs.speed_max), tan_max)

    def _uavs(self, st: Streams) -> np.ndarray:
        s = self.scenario
        ua = s.uavs
        if ua.mobility == "patrol":  # build._uav_patrol: the first RSU, then patrol_route
            first = st.first_integers(slice(self.V, self.V + self.U), self.B)
            for f in np.unique(first).tolist():
                if f not in self._routes:
                    table = PositionTable([patrol_route(s, self.world.rsu_xyz, f)])
                    self._routes[f] = np.stack([table.at(t)[0] for t in self.t.tolist()])
            return np.stack([np.stack([self._routes[f] for f in row], axis=1) for row in first.tolist()])
        e = ua.extent or max(s.area.width, s.area.height)  # build._uav_random_waypoint
        lo = np.array([-e / 2, -e / 2, ua.altitude])
        hi = np.array([e / 2, e / 2, ua.altitude_max if ua.altitude_max is not None else ua.altitude])
        speeds = (ua.speed, ua.speed_max if ua.speed_max is not None else ua.speed)
        return self._waypoints(st, self.V, self.U, lo, hi, speeds, None)

    def _waypoints(self, st: Streams, c0: int, n: int, lo, hi, speeds, tan_max) -> np.ndarray:
        """(B, K, n, 3) positions at the slots of the random-waypoint trajectories drawn from
        streams c0 .. c0 + n - 1 (``random_waypoint_3d`` with ``max_ascent_deg`` when
        ``tan_max``, no pause), their legs computed for every row at once."""
        s = self.scenario
        E, horizon = st.hi.shape[0], s.duration + s.slot
        R = E * n
        if not R:
            return np.zeros((E, len(self.t), n, 3))
        span = np.subtract(hi, lo)
        vmin, vmax = float(speeds[0]), float(speeds[1])
        per = 5 if tan_max is not None else 4
        legs = _LEGS
        while True:
            u = st.doubles(slice(c0, c0 + n), 3 + per * legs).reshape(R, -1)
            T, X, last, redo, done = _legs(u, lo, hi, span, vmin, vmax, horizon, tan_max, legs, per)
            if done:
                break
            legs *= 2  # a row needs more legs: every row again, from its stream's start
        if redo.any():  # a zero-length leg or an empty altitude range: the reference function
            gens = [st.generator(i // n, c0 + i % n, reuse=False) for i in np.flatnonzero(redo)]
            deg = s.vehicles.max_ascent_deg if tan_max is not None else None
            T, X = _redo(T, X, last, redo, gens,
                         lambda g: random_waypoint_3d(g, lo, hi, (vmin, vmax), horizon, max_ascent_deg=deg))
        rows = np.arange(R)
        pad = np.arange(T.shape[1])[None, :] > last[:, None]
        X = np.where(pad[..., None], X[rows, last][:, None, :], X)  # dx = 0 past the last knot
        pos, _ = _positions_at(T, X, last, self.t)
        return pos.reshape(E, n, len(self.t), 3).transpose(0, 2, 1, 3).copy()


def _legs(u, lo, hi, span, vmin, vmax, horizon, tan_max, legs, per):
    """random_waypoint_3d's knots for rows of uniforms ``u`` (R, 3 + per x legs), truncated at
    ``horizon`` (models.mobility._truncate): (T, X, last knot, rows to redo, all reached)."""
    R = u.shape[0]
    pos = lo + span * u[:, :3]
    T = np.full((R, legs + 1), np.inf)
    X = np.zeros((R, legs + 1, 3))
    T[:, 0], X[:, 0] = 0.0, pos
    t = np.zeros(R)
    last = np.zeros(R, np.int64)
    redo = np.zeros(R, bool)
    for j in range(legs):
        on = t < horizon  # the loop runs while t < duration
        if not on.any():
            break
        d = u[:, 3 + per * j: 3 + per * (j + 1)]
        wp = lo + span * d[:, :3]
        if tan_max is not None:  # the waypoint's altitude within the slope's reach
            reach = tan_max * np.hypot(wp[:, 0] - pos[:, 0], wp[:, 1] - pos[:, 1])
            below, above = pos[:, 2] - reach, pos[:, 2] + reach
            z_lo = np.where(below > lo[2], below, lo[2])  # Python's max(lo, x)
            z_hi = np.where(above < hi[2], above, hi[2])  # Python's min(hi, x)
            redo |= on & ~(z_lo <= z_hi)  # no draw there: another count of uniforms
            wp[:, 2] = z_lo + (z_hi - z_lo) * d[:, 3]
        v_h = vmin + (vmax - vmin) * d[:, per - 1]
        delta = wp - pos
        d_h = np.hypot(delta[:, 0], delta[:, 1])
        dz = np.abs(delta[:, 2])
        with np.errstate(divide="ignore", invalid="ignore"):
            leg = np.where((d_h == 0.0) & (dz > 0.0), dz / v_h, d_h / v_h)
        redo |= on & ~(leg > 0.0)  # the reference redraws a zero-length leg
        t = np.where(on, t + leg, t)
        pos = np.where(on[:, None], wp, pos)
        T[:, j + 1] = np.where(on, t, np.inf)
        X[:, j + 1] = np.where(on[:, None], wp, X[:, j])
        last = np.where(on, j + 1, last)
    done = bool(((t >= horizon) | redo).all())  # a row to redo may never get there
    if done:  # _truncate: the knot past the horizon is cut at it
        rows = np.arange(R)
        t_last, t_prev = T[rows, last], T[rows, last - 1]
        cut = t_last > horizon
        with np.errstate(invalid="ignore", divide="ignore"):
            w = np.clip((horizon - t_prev) / (t_last - t_prev), 0.0, 1.0)
        p_prev, p_last = X[rows, last - 1], X[rows, last]
        T[rows, last] = np.where(cut, horizon, t_last)
        X[rows, last] = np.where(cut[:, None], p_prev + w[:, None] * (p_last - p_prev), p_last)
    return T, X, last, redo, done


def _fading(model: str, u: np.ndarray, k: float, m: int) -> np.ndarray:
    """gain_from_uniforms for links of one K-factor ``k`` and ``m`` antennas whose uniforms
    ``u`` (..., n_ant, 2) are padded to n_ant, doing only the work that decides the bits:
    with one antenna the padded zeros add nothing (the gain is the first antenna's); with
    K = 0 (and Rayleigh) the Rician expression is the scattered power itself, exactly
    ((0 + s + 2 sqrt(0 s) cos) / (0 + 1) = s in IEEE arithmetic for a finite s)."""
    n_ant = u.shape[-2]
    if m == 1:
        u = u[..., :1, :]
    elif m != n_ant:  # a partial array: the reference's padded sum
        shape = u.shape[:-2]
        return gain_from_uniforms(model, u, np.broadcast_to(k, shape)[..., None], np.broadcast_to(m, shape))
    if model == "rayleigh" or k == 0.0:
        per = -np.log1p(-u[..., 0])
        return per[..., 0] if m == 1 else per.sum(axis=-1)
    return _rician(u, k)


def _rician(u: np.ndarray, k: float) -> np.ndarray:
    """gain_from_uniforms("rician", u, k, n_ant) with every antenna in use: its operations in
    its order, ((k + s) + (2 sqrt(k s)) cos) / (k + 1), in place."""
    s = np.negative(u[..., 0])
    np.log1p(s, out=s)
    np.negative(s, out=s)  # |CN(0, 1)|^2 = -ln(1 - u)
    c = np.multiply(2.0 * np.pi, u[..., 1])
    np.cos(c, out=c)
    t = np.multiply(k, s)
    np.sqrt(t, out=t)
    np.multiply(2.0, t, out=t)
    np.multiply(t, c, out=t)
    np.add(k, s, out=s)
    np.add(s, t, out=s)
    np.divide(s, k + 1.0, out=s)
    return s[..., 0] if s.shape[-1] == 1 else s.sum(axis=-1)


def _deviation(rng: np.random.Generator, reps: int, n: int, distribution: str, scale: float) -> np.ndarray:
    """(reps, n) ``models.compute.draw_cpu_deviation(rng, n, ...)`` drawn ``reps`` times in a
    row (each call's draws in order), one block."""
    if distribution == "cn_abs":  # a real then an imaginary standard normal vector per call
        g = rng.standard_normal((reps, 2, n))
        return np.abs(np.sqrt(scale / 2.0) * (g[:, 0] + 1j * g[:, 1]))
    if distribution == "cn_real":
        return np.sqrt(scale / 2.0) * rng.standard_normal((reps, n))
    return rng.uniform(-scale, scale, (reps, n))
