"""Radio of batched twin-migration episodes: distances (twin-migration Eq. 2), access rates
(Eq. 3–5) of the vehicle -> server pairs a step needs, server-to-server rates (Eq. 11), with
a leading episode axis, element by element as :class:`desim_iov.radio.Radio` computes them
for one episode (its columns, noise and path-loss models are reused).

Distances: ``models.geo.pairwise_distance_m`` sums the three squared differences with
``np.einsum``, whose order of summation (and use of fused multiply-adds) depends on the
machine's SIMD kernel. At import, :func:`square_sum_order` finds which association of the
three squares reproduces that einsum exactly on random inputs; the batch then adds the
squares in that order (a 3-long einsum inner loop is slow), or calls the same einsum when
no association matches.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from desim_iov.config import Scenario
from desim_iov.radio import Radio
from desim_iov.rng import RngStreams
from desim_iov.world import World
from models.pathloss import gain
from models.rate import snr_linear


def square_sum_order() -> tuple[int, int, int] | None:
    """(a, b, c) such that ``(x_a^2 + x_b^2) + x_c^2`` equals ``np.einsum("nmk,nmk->nm", x, x)``
    bit for bit on this machine (checked on 30 000 random vectors of several magnitudes and
    layouts), or None."""
    rng = np.random.default_rng(20240601)
    xs = [rng.normal(size=shape) * scale for shape, scale in
          (((400, 25, 3), 1.0), ((64, 91, 3), 3e3), ((1000, 1, 3), 5e5), ((7, 10, 3), 1e-3))]
    for order in ((0, 1, 2), (0, 2, 1), (1, 2, 0)):
        a, b, c = order
        if all(np.array_equal(np.einsum("nmk,nmk->nm", x, x),
                              (x[..., a] * x[..., a] + x[..., b] * x[..., b]) + x[..., c] * x[..., c])
               for x in xs):
            return order
    return None


SQUARE_SUM_ORDER = square_sum_order()


def pairwise_distance(p: np.ndarray, q: np.ndarray, buf: np.ndarray | None = None) -> np.ndarray:
    """(B, I, J) distances between p (B, I, 3) and q (B or 1, J, 3):
    models.geo.pairwise_distance_m (Eq. 2) per episode, bit for bit. ``buf`` (3, B, I, J)
    float64, if given, holds the work (the result is ``buf[0]``)."""
    b, i, j = p.shape[0], p.shape[1], q.shape[1]
    if SQUARE_SUM_ORDER is None:
        diff = np.empty((b, i, j, 3))
        for c in range(3):
            np.subtract(p[:, :, None, c], q[:, None, :, c], out=diff[..., c])
        diff = diff.reshape(b * i, j, 3)
        return np.sqrt(np.einsum("nmk,nmk->nm", diff, diff)).reshape(b, i, j)
    if buf is None:
        buf = np.empty((3, b, i, j))
    a, b_, c_ = SQUARE_SUM_ORDER
    sq = [buf[0], buf[1], buf[2]]
    for c, x in zip((a, b_, c_), sq, strict=True):  # x_a^2 into buf[0], x_b^2, x_c^2 after it
        np.subtract(p[:, :, None, c], q[:, None, :, c], out=x)
        np.multiply(x, x, out=x)
    out = np.add(sq[0], sq[1], out=sq[0])
    np.add(out, sq[2], out=out)
    return np.sqrt(out, out=out)


def _grid_of(q: np.ndarray) -> tuple | None:
    """``(dims, values, first, shape)`` when the R points ``q`` (R, 3) are R consecutive cells
    (from flat index ``first``) of the row-major grid of their coordinates' distinct values
    ``values[c]``, its axes being the coordinates ``dims`` in order (a grid of RSUs, a lone
    satellite); else None."""
    vals, inv = zip(*(np.unique(q[:, c], return_inverse=True) for c in range(3)), strict=True)
    if any(not np.array_equal(v[i].view(np.int64), q[:, c].view(np.int64))  # -0.0 is not 0.0 here
           for c, (v, i) in enumerate(zip(vals, inv, strict=True))):
        return None
    n = [len(v) for v in vals]
    for dims in ((0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)):
        shape = tuple(n[c] for c in dims)
        if int(np.prod(shape)) > 2 * len(q) + 16:
            return None
        f = np.ravel_multi_index(tuple(inv[c].ravel() for c in dims), shape)
        if (np.diff(f) == 1).all():  # axes of one value broadcast (long inner loops)
            return tuple(c for c in dims if n[c] > 1), vals, int(f[0]), tuple(x for x in shape if x > 1)
    return None


class FixedDistances:
    """(N, V, M) distances from vehicles to servers that stand still, but for the columns
    ``moving`` (the UAVs), equal to :func:`pairwise_distance` bit for bit: the same squares
    added in the same order. The squared differences to a grid of fixed servers are computed
    once per distinct coordinate value (x_c - q_c is one number for every server sharing q_c)
    and added by broadcasting over the grid; the other servers (UAVs, a satellite, sites off
    a grid) are computed with the episodes on the innermost axis (long vector loops)."""

    def __init__(self, xyz: np.ndarray, moving: slice) -> None:
        if SQUARE_SUM_ORDER is None:
            raise ValueError("FixedDistances needs a known order of the einsum's squares")
        self.M = M = len(xyz)
        fixed = np.ones(M, bool)
        fixed[moving] = False
        edges = np.flatnonzero(np.diff(np.r_[0, fixed.astype(np.int8), 0]))  # runs of fixed columns
        self.grids = []
        rest = np.ones(M, bool)
        for a, b in edges.reshape(-1, 2).tolist():
            for c in range(b, a + 7, -1):  # the longest run of 8 sites or more from a that is a grid
                grid = _grid_of(xyz[a:c])
                if grid is not None:
                    self.grids.append((a, c, grid))
                    rest[a:c] = False
                    break
        # a grid's sums go straight into the output row when the cells past its servers land on
        # columns written after it (the rest); else through a buffer
        self.in_place = []
        for a, b, (_, _, first, shape) in self.grids:
            lo, hi = a - first, a - first + int(np.prod(shape))
            self.in_place.append(lo >= 0 and hi <= M and rest[lo:a].all() and rest[b:hi].all())
        self.rest = np.flatnonzero(rest)  # the servers computed one by one
        self.rest_slice = _as_slice(self.rest)
        self.rest_moving = np.flatnonzero(~fixed[self.rest])  # their rows that move (in ``moving`` order)
        self.rest_fixed = xyz[self.rest].T.copy()  # (3, J): the fixed rows' coordinates
        self._bufs: dict[tuple, np.ndarray] = {}

    def _buf(self, key: tuple) -> np.ndarray:
        buf = self._bufs.get(key)
        if buf is None:
            buf = self._bufs[key] = np.empty(key[1:])
            if key[0] == "q":
                buf[...] = self.rest_fixed[..., None]
        return buf

    def __call__(self, p: np.ndarray, moving_xyz: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Distances from vehicles ``p`` (N, V, 3) to the servers, the moving ones at
        ``moving_xyz`` (N, U, 3), into ``out`` (N, V, M) float64 if given."""
        N, V = p.shape[:2]
        if out is None:
            out = np.empty((N, V, self.M))
        i, j, k = SQUARE_SUM_ORDER
        late = all(self.in_place) and out.flags.c_contiguous  # squares everywhere, then one sqrt
        pc = [np.ascontiguousarray(p[..., c])[..., None] for c in range(3)]  # (N, V, 1) each
        for (a, b, (dims, vals, first, shape)), in_place in zip(self.grids, self.in_place, strict=True):
            sq = []
            for c in range(3):
                x = np.subtract(pc[c], vals[c])  # (N, V, n_c)
                sq.append(np.multiply(x, x, out=x).reshape((N, V) + tuple(len(vals[c]) if d == c else 1
                                                                         for d in dims)))
            if in_place:  # the grid's cells over the row from column a - first
                row = out[..., a - first : a - first + int(np.prod(shape))]
                buf = as_strided(row, (N, V) + shape, row.strides[:2] + _c_strides(shape, row.itemsize),
                                 writeable=True)
            else:
                buf = self._buf(("grid", N, V) + shape)
            np.add(sq[i] + sq[j], sq[k], out=buf)
            if not late:
                np.sqrt(buf.reshape(N, V, -1)[..., first : first + b - a] if not in_place else out[..., a:b],
                        out=out[..., a:b])
        if len(self.rest):  # (V, J, N): the episodes innermost
            q = self._buf(("q", 3, len(self.rest), N))
            q[:, self.rest_moving] = moving_xyz.transpose(2, 1, 0)
            pt = np.ascontiguousarray(p.transpose(2, 1, 0))[:, :, None, :]  # (3, V, 1, N)
            xs = [np.subtract(pt[c], q[c]) for c in (i, j, k)]
            for x in xs:
                np.multiply(x, x, out=x)
            np.add(xs[0], xs[1], out=xs[0])
            if self.rest_slice is not None:
                np.add(xs[0], xs[2], out=out.transpose(1, 2, 0)[:, self.rest_slice])
                if not late:
                    np.sqrt(out[..., self.rest_slice], out=out[..., self.rest_slice])
            else:
                out[..., self.rest] = np.add(xs[0], xs[2], out=xs[0]).transpose(2, 0, 1)
                if not late:
                    out[..., self.rest] = np.sqrt(out[..., self.rest])
        if late:
            np.sqrt(out, out=out)
        return out


def _c_strides(shape: tuple, itemsize: int) -> tuple:
    """The strides of a C-contiguous array of ``shape``."""
    out, step = [], itemsize
    for n in reversed(shape):
        out.append(step)
        step *= n
    return tuple(reversed(out))


def _as_slice(idx: np.ndarray) -> slice | None:
    """``idx`` (increasing) as a slice when it is a run of consecutive integers."""
    if len(idx) and (np.diff(idx) == 1).all():
        return slice(int(idx[0]), int(idx[-1]) + 1)
    return None


class BatchRadio:
    """The scenario's radio for a batch: a :class:`Radio` on one world lends its columns
    (bandwidths, powers, noise) and path-loss blocks; nothing here holds state over time."""

    def __init__(self, scenario: Scenario, world: World) -> None:
        self.scenario = scenario
        self.radio = Radio(scenario, world, RngStreams(scenario.seed))
        self.sat = world.satellite
        self.range_m = world.range_m
        rd = self.radio
        self.noise_up, self.noise_dn = (np.asarray(x, float) for x in (rd.noise_up, rd.noise_down))

    def access_rates(self, d: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Uplink and downlink rates (Eq. 3–5, Radio.update) of vehicle -> server pairs at
        distances ``d`` to servers ``m`` (arrays of one shape); R_SAT to the satellite."""
        rd, tx = self.radio, self.scenario.vehicles.tx_power
        h = rd.pair_gain(d, m)
        noise_up = self.noise_up[m] if self.noise_up.ndim else self.noise_up
        noise_dn = self.noise_dn[m] if self.noise_dn.ndim else self.noise_dn
        r_up = rd.rate(rd.bw_up[m], snr_linear(tx, h, noise_up))
        r_dn = rd.rate(rd.bw_down[m], snr_linear(rd.tx_power[m], h, noise_dn))
        if self.sat >= 0:
            at_sat = m == self.sat
            r_up = np.where(at_sat, rd.r_sat, r_up)
            r_dn = np.where(at_sat, rd.r_sat, r_dn)
        return r_up, r_dn

    def reachable(self, d: np.ndarray, m: np.ndarray) -> np.ndarray:
        """Radio.reachable of the pairs: within D_max (Eq. 14) and a usable link both ways;
        always the satellite."""
        r_up, r_dn = self.access_rates(d, m)
        ok = (d <= self.range_m[m]) & (r_up > 0) & (r_dn > 0)
        return ok | (m == self.sat) if self.sat >= 0 else ok

    def link_rates(self, src_xyz: np.ndarray, src: np.ndarray, dst_xyz: np.ndarray) -> np.ndarray:
        """(B, I, J) server-to-server rates R^mig (Eq. 11, the channel's path loss) from the
        servers ``src`` (B, I) at ``src_xyz`` to the servers at ``dst_xyz`` (satellite ends
        and self-links not yet set: :meth:`finish_migration_rates`)."""
        s, ch, rd = self.scenario, self.scenario.channel, self.radio
        d = pairwise_distance(src_xyz, dst_xyz)
        h = ch.gain_coefficient * gain(ch.pathloss, d, ch.carrier_frequency, **ch.pathloss_params)
        snr = snr_linear(rd.tx_power[src][..., None], h, rd.noise_mig)
        return rd.rate(s.migration.bandwidth, snr)

    def finish_migration_rates(self, r: np.ndarray, src: np.ndarray) -> np.ndarray:
        """Radio.migration_rates' last touches: R_SAT where an end is the satellite, inf to
        the server itself (nothing to move)."""
        if self.sat >= 0:
            r[..., self.sat] = self.radio.r_sat
            r[src == self.sat] = self.radio.r_sat
        np.put_along_axis(r, src[..., None], np.inf, axis=-1)
        return r

    def finish_pair_rates(self, r: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """:meth:`finish_migration_rates` of the pairs ``src`` -> ``dst`` (arrays of one shape)."""
        if self.sat >= 0:
            r = np.where((dst == self.sat) | (src == self.sat), self.radio.r_sat, r)
        return np.where(dst == src, np.inf, r)


class PatrolRates:
    """R^mig (Eq. 11) as table look-ups, for networks whose RSUs and satellite stand still
    and whose UAVs patrol: a link's rate then depends only on its ends' identities, with a
    UAV known by the RSU its patrol starts from (``route``) and the tick. The tables are
    made once, with the same element-wise formulas (:meth:`BatchRadio.link_rates`):
    static -> static (M, M); UAV -> static (routes, K, M); static -> UAV (routes, K, M);
    UAV -> UAV (K, routes, routes)."""

    def __init__(self, radio: BatchRadio, static_xyz: np.ndarray, routes: np.ndarray, uavs: slice) -> None:
        M, (R, K, _) = static_xyz.shape[0], routes.shape
        self.uavs, self.n_uav = uavs, uavs.stop - uavs.start
        self.is_uav = np.zeros(M, bool)
        self.is_uav[uavs] = True
        src = np.arange(M)[None]
        self.static = radio.finish_migration_rates(radio.link_rates(static_xyz[None], src, static_xyz[None]), src)[0]
        #: every link has a positive rate (then Eq. 23's R^mig > 0 holds throughout)
        self.positive = bool((self.static > 0).all())
        if not self.n_uav:
            return
        u0 = uavs.start  # every UAV has its class's transmit power
        at = routes.reshape(R * K, 1, 3)
        sx = np.broadcast_to(static_xyz, (R * K, M, 3))
        self.from_uav = radio.link_rates(at, np.full((R * K, 1), u0), sx).reshape(R, K, M)
        by_tick = np.ascontiguousarray(routes.transpose(1, 0, 2))  # (K, R, 3)
        self.to_uav = radio.link_rates(np.broadcast_to(static_xyz, (K, M, 3)), np.broadcast_to(src, (K, M)),
                                       by_tick).transpose(2, 0, 1)  # (R, K, M): [route, tick, source]
        self.uav_uav = radio.link_rates(by_tick, np.full((K, R), u0), by_tick)  # (K, R, R)
        self.positive &= all(bool((x > 0).all()) for x in (self.from_uav, self.to_uav, self.uav_uav))

    def rates(self, src: np.ndarray, route: np.ndarray, k: np.ndarray) -> np.ndarray:
        """(N, V, M) rates from each host ``src`` (N, V) at tick ``k`` (N,), the UAVs of each
        episode on ``route`` (N, U); satellite ends and self-links not yet set."""
        r = self.static[src]
        if not self.n_uav:
            return r
        n0 = self.uavs.start
        kk = k[:, None, None]
        r[:, :, self.uavs] = self.to_uav[route[:, None, :], kk, src[:, :, None]]
        e, v = np.nonzero(self.is_uav[src])
        if len(e):
            f = route[e, src[e, v] - n0]  # the source UAV's route
            row = self.from_uav[f, k[e]]
            row[:, self.uavs] = self.uav_uav[k[e][:, None], f[:, None], route[e]]
            r[e, v] = row
        return r

    def pair_rates(self, src: np.ndarray, dst: np.ndarray, route: np.ndarray, k: np.ndarray) -> np.ndarray:
        """(N, V) the entries ``dst`` (N, V) of :meth:`rates` (the same look-ups, only those)."""
        r = self.static[src, dst]
        if not self.n_uav:
            return r
        su, du = self.is_uav[src], self.is_uav[dst]
        e, v = np.nonzero(su | du)  # a UAV at one end: the tables by route and tick
        if not len(e):
            return r
        s, d, su, du, kk = src[e, v], dst[e, v], su[e, v], du[e, v], k[e]
        n0 = self.uavs.start
        f = route[e, np.where(su, s - n0, 0)]  # the source UAV's route (where it is one)
        g = route[e, np.where(du, d - n0, 0)]  # the destination UAV's route
        x = np.where(su, np.where(du, self.uav_uav[kk, f, g], self.from_uav[f, kk, d]), self.to_uav[g, kk, s])
        r[e, v] = x
        return r
