"""Mobility: piecewise-linear trajectories, 3-D random waypoint, UAV patrol routes.

Positions are local Cartesian metres (x east, y north, z up); times in seconds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from models._checks import FloatArray


class Trajectory:
    """Immutable piecewise-linear trajectory through knots ``(times[k], positions[k])``.

    ``times`` (K,) strictly increasing seconds, ``positions`` (K, 3) metres, K >= 1.  Outside
    ``[start, end]`` the first/last position is held.  Arrays are stored read-only.
    """

    __slots__ = ("_times", "_positions")

    def __init__(self, times: ArrayLike, positions: ArrayLike) -> None:
        t = np.array(times, dtype=np.float64, copy=True).reshape(-1)
        p = np.array(positions, dtype=np.float64, copy=True)
        if t.size < 1:
            raise ValueError("a Trajectory needs at least one knot (times is empty)")
        if p.ndim == 1 and p.shape == (3,) and t.size == 1:
            p = p.reshape(1, 3)
        if p.ndim != 2 or p.shape[1] != 3:
            raise ValueError(f"positions must have shape (K, 3), got {p.shape}")
        if p.shape[0] != t.size:
            raise ValueError(f"times has {t.size} entries but positions has {p.shape[0]} rows")
        if not (np.isfinite(t).all() and np.isfinite(p).all()):
            raise ValueError("times and positions must be finite")
        if t.size > 1 and not (np.diff(t) > 0).all():
            k = int(np.argmin(np.diff(t) > 0))
            raise ValueError(f"times must be strictly increasing (times[{k}]={t[k]}, times[{k + 1}]={t[k + 1]})")
        t.flags.writeable = False
        p.flags.writeable = False
        object.__setattr__(self, "_times", t)
        object.__setattr__(self, "_positions", p)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Trajectory is immutable")

    def __repr__(self) -> str:
        return f"Trajectory(K={self._times.size}, start={self.start:g} s, end={self.end:g} s)"

    @property
    def times(self) -> FloatArray:
        """Knot times (K,), s, read-only."""
        return self._times

    @property
    def positions(self) -> FloatArray:
        """Knot positions (K, 3), m, read-only."""
        return self._positions

    @property
    def start(self) -> float:
        """First knot time, s."""
        return float(self._times[0])

    @property
    def end(self) -> float:
        """Last knot time, s."""
        return float(self._times[-1])

    def _segment(self, t: FloatArray) -> tuple[NDArray[np.intp], FloatArray]:
        idx = np.searchsorted(self._times, t, side="right") - 1
        idx = np.clip(idx, 0, self._times.size - 2)
        dt = self._times[idx + 1] - self._times[idx]
        w = np.clip((t - self._times[idx]) / dt, 0.0, 1.0)
        return idx, w

    def position(self, t: ArrayLike) -> FloatArray:
        """Position at time(s) t (s) by linear interpolation, clamped; shape ``t.shape + (3,)``, m."""
        ta = np.asarray(t, dtype=np.float64)
        if np.isnan(ta).any():
            raise ValueError("t contains NaN")
        p = self._positions
        if self._times.size == 1:
            return np.broadcast_to(p[0], ta.shape + (3,)).copy()
        idx, w = self._segment(ta)
        return p[idx] + w[..., None] * (p[idx + 1] - p[idx])

    def velocity(self, t: ArrayLike) -> FloatArray:
        """Velocity (m/s) at time(s) t; shape ``t.shape + (3,)``.

        Segment k's constant velocity on ``[t_k, t_{k+1})`` (right-continuous at knots);
        zero before ``start`` and from ``end`` on.
        """
        ta = np.asarray(t, dtype=np.float64)
        if np.isnan(ta).any():
            raise ValueError("t contains NaN")
        if self._times.size == 1:
            return np.zeros(ta.shape + (3,))
        idx, _ = self._segment(ta)
        seg_v = np.diff(self._positions, axis=0) / np.diff(self._times)[:, None]
        v = seg_v[idx]
        inside = (ta >= self._times[0]) & (ta < self._times[-1])
        return np.where(inside[..., None], v, 0.0)


def positions_at(trajectories: Sequence[Trajectory], t: float) -> FloatArray:
    """Positions of N trajectories at one time t (s) -> (N, 3) metres."""
    if len(trajectories) == 0:
        return np.zeros((0, 3))
    return np.stack([tr.position(t) for tr in trajectories])


def _box(low: ArrayLike, high: ArrayLike) -> tuple[FloatArray, FloatArray]:
    lo = np.asarray(low, dtype=np.float64).reshape(-1)
    hi = np.asarray(high, dtype=np.float64).reshape(-1)
    if lo.shape != (3,) or hi.shape != (3,):
        raise ValueError(f"low and high must be 3-vectors, got shapes {lo.shape} and {hi.shape}")
    if (hi < lo).any():
        raise ValueError(f"high must be >= low component-wise, got low={lo}, high={hi}")
    return lo, hi


def _speed_range(r: ArrayLike, name: str) -> tuple[float, float]:
    a = np.asarray(r, dtype=np.float64).reshape(-1)
    if a.shape != (2,) or not (0 < a[0] <= a[1]) or not np.isfinite(a).all():
        raise ValueError(f"{name} must be (min, max) with 0 < min <= max, got {r!r}")
    return float(a[0]), float(a[1])


def _truncate(times: list[float], points: list[FloatArray], t_end: float) -> Trajectory:
    """Build a Trajectory from knots that reach or pass ``t_end`` and cut it at ``t_end``."""
    traj = Trajectory(times, np.array(points))
    if traj.end > t_end:
        keep = traj.times < t_end
        t_cut = np.append(traj.times[keep], t_end)
        p_cut = np.vstack([traj.positions[keep], traj.position(t_end)[None, :]])
        traj = Trajectory(t_cut, p_cut)
    return traj


def random_waypoint_3d(
    rng: np.random.Generator,
    low: ArrayLike,
    high: ArrayLike,
    speed_range: ArrayLike,
    duration: float,
    *,
    pause_s: float = 0.0,
    vertical_speed_range: ArrayLike | None = None,
    start: ArrayLike | None = None,
    max_ascent_deg: float | None = None,
) -> Trajectory:
    """3-D random waypoint trajectory over ``[0, duration]`` s (quantum-DRL Eq. 8-10).

    Repeats: draw a waypoint uniformly in the box ``[low, high]`` (m), a horizontal speed
    ``V ~ U(speed_range)`` (m/s), and move in a straight line at constant velocity, then pause
    ``pause_s``.  Heading ``theta`` (Eq. 8-9) points at the waypoint; the ascent angle
    ``phi = atan(dz / d_h)`` gives the vertical rate ``V_z sin(phi)`` of Eq. 10 with
    ``V_z = V / cos(phi)``, i.e. ``V tan(phi)``, so altitude and ground position arrive together.
    If ``vertical_speed_range`` is given, a climb-rate limit ``w ~ U(range)`` is drawn per leg and
    the leg lasts ``max(d_h / V, |dz| / w)`` (the horizontal speed drops when climb-limited).

    Relation to the per-slot update of Eq. 8-10: inside a leg the velocity is constant, so the
    Euler step ``x(t) = x(t-1) + V dt cos(theta)`` is exact and the positions at slot instants
    coincide with :meth:`Trajectory.position`; a slot that straddles a waypoint arrival differs
    by less than ``V dt`` (here the vehicle turns at the waypoint, Eq. 8-10 turn at the next slot).
    Start is uniform in the box unless ``start`` (3,) is given.  ``max_ascent_deg`` bounds
    ``|phi|`` (Table II: phi_v in (-10, 10) deg): the waypoint altitude is then drawn uniformly
    within the box slice reachable at that slope.
    """
    lo, hi = _box(low, high)
    vmin, vmax = _speed_range(speed_range, "speed_range")
    wrange = None if vertical_speed_range is None else _speed_range(vertical_speed_range, "vertical_speed_range")
    if not (np.isfinite(duration) and duration > 0):
        raise ValueError(f"duration must be positive and finite, got {duration}")
    if not pause_s >= 0:
        raise ValueError(f"pause_s must be non-negative, got {pause_s}")
    tan_max = None
    if max_ascent_deg is not None:
        if not 0 <= max_ascent_deg < 90:
            raise ValueError(f"max_ascent_deg must lie in [0, 90), got {max_ascent_deg}")
        tan_max = float(np.tan(np.radians(max_ascent_deg)))
    if start is None:
        pos = rng.uniform(lo, hi)
    else:
        pos = np.asarray(start, dtype=np.float64).reshape(-1)
        if pos.shape != (3,):
            raise ValueError(f"start must be a 3-vector, got shape {pos.shape}")
    t = 0.0
    times: list[float] = [t]
    points: list[FloatArray] = [pos.copy()]
    while t < duration:
        wp = rng.uniform(lo, hi)
        if tan_max is not None:
            reach = tan_max * float(np.hypot(*(wp[:2] - pos[:2])))
            z_lo, z_hi = max(lo[2], pos[2] - reach), min(hi[2], pos[2] + reach)
            wp[2] = rng.uniform(z_lo, z_hi) if z_lo <= z_hi else float(np.clip(pos[2], lo[2], hi[2]))
        v_h = rng.uniform(vmin, vmax)
        delta = wp - pos
        d_h = float(np.hypot(delta[0], delta[1]))
        dz = float(abs(delta[2]))
        leg = d_h / v_h
        if wrange is not None:
            w = rng.uniform(*wrange)
            leg = max(leg, dz / w)
        elif d_h == 0.0 and dz > 0.0:
            leg = dz / v_h  # purely vertical leg: climb at the drawn speed
        if leg <= 0.0:
            if (hi == lo).all():  # degenerate box: nowhere else to go, hold position
                times.append(float(duration))
                points.append(pos.copy())
                break
            continue  # zero-length leg (probability zero in a box with volume): redraw
        t += leg
        pos = wp
        times.append(t)
        points.append(pos.copy())
        if pause_s > 0 and t < duration:
            t += pause_s
            times.append(t)
            points.append(pos.copy())
    return _truncate(times, points, float(duration))


def patrol(
    points: ArrayLike,
    speed_mps: float,
    duration: float,
    *,
    start_index: int = 0,
    t0: float = 0.0,
) -> Trajectory:
    """Cyclic patrol route visiting ``points`` (K, 3) m in order at constant speed (m/s).

    Starts at ``points[start_index]`` at time ``t0`` and loops (last point back to the first)
    until ``t0 + duration`` s; used for UAVs patrolling among RSUs (twin-migration Sec. VII-A,
    3.7 m/s).  Consecutive duplicate points are skipped; a single distinct point hovers.
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 3 or pts.shape[0] < 1:
        raise ValueError(f"points must have shape (K, 3) with K >= 1, got {pts.shape}")
    if not np.isfinite(pts).all():
        raise ValueError("points must be finite")
    if not (np.isfinite(speed_mps) and speed_mps > 0):
        raise ValueError(f"speed_mps must be positive, got {speed_mps}")
    if not (np.isfinite(duration) and duration > 0):
        raise ValueError(f"duration must be positive and finite, got {duration}")
    k = pts.shape[0]
    if not 0 <= start_index < k:
        raise ValueError(f"start_index must be in [0, {k - 1}], got {start_index}")
    order = np.roll(pts, -start_index, axis=0)
    loop = np.vstack([order, order[:1]])
    seg = np.linalg.norm(np.diff(loop, axis=0), axis=1)
    lap_len = float(seg.sum())
    t_end = t0 + float(duration)
    if lap_len == 0.0:
        return Trajectory([t0, t_end], np.array([order[0], order[0]]))
    keep = seg > 0
    legs = seg[keep] / speed_mps
    targets = loop[1:][keep]
    n_laps = int(np.ceil(duration / (lap_len / speed_mps))) + 1
    leg_times = np.tile(legs, n_laps)
    knot_pos = np.vstack([order[:1], np.tile(targets, (n_laps, 1))])
    knot_t = t0 + np.concatenate([[0.0], np.cumsum(leg_times)])
    return _truncate(list(knot_t), list(knot_pos), t_end)
