"""Per-slot load, latency, failure and objective formulas of the twin-migration paper
(Eq. 8, 13–16). Pure numpy; the kernel and the analysis both call these, nowhere else
re-states them.
"""

from __future__ import annotations

import numpy as np


def server_load_bits(
    pending_bits: np.ndarray, assignment: np.ndarray, data_bits: np.ndarray
) -> np.ndarray:
    """S'_m(t) = S_m(t) + sum_v g_{v,m} S_v (twin-migration Eq. 8a–8b), in bits.

    ``pending_bits`` (M,) is S_m(t); ``assignment`` (V,) the server index serving each vehicle
    (g_{v,m} = 1 where assignment[v] == m; negative entries serve nothing); ``data_bits`` (V,)
    or scalar is S_v."""
    pending = np.asarray(pending_bits, dtype=float)
    a = np.asarray(assignment, dtype=np.int64)
    s = np.broadcast_to(np.asarray(data_bits, dtype=float), a.shape)
    ok = a >= 0
    return pending + np.bincount(a[ok], weights=s[ok], minlength=pending.shape[0])


def total_latency_s(t_up, t_down, t_cul, t_mig) -> np.ndarray:
    """T^sum_{v,m}(t) = T^up + T^down + T^cul + T^mig (twin-migration Eq. 13), seconds."""
    return np.asarray(t_up) + np.asarray(t_down) + np.asarray(t_cul) + np.asarray(t_mig)


def migration_failed(distance_m, max_distance_m, load_bits, cache_bits) -> np.ndarray:
    """xi_v^t = 1 if D_{v,m}(t) > D_max or S'_m(t) > L_max (twin-migration Eq. 14)."""
    return (np.asarray(distance_m) > np.asarray(max_distance_m)) | (
        np.asarray(load_bits) > np.asarray(cache_bits)
    )


def packet_loss_rate(failed: np.ndarray, axis: int = -1) -> np.ndarray:
    """q_v = sum_t xi_v^t / t_v^end (twin-migration Eq. 15), as a fraction in [0, 1].

    ``failed`` holds xi over the slots a vehicle was driving; t_v^end is taken as the number of
    those slots (the paper's sum runs over t = 0..t_end, i.e. t_end + 1 terms, over t_end;
    we divide by the count so that q_v <= 1 — docs/MODEL.md)."""
    f = np.asarray(failed, dtype=float)
    n = f.shape[axis]
    return f.sum(axis=axis) / n if n else np.zeros(f.shape[:axis] + f.shape[axis + 1 :])


def load_variance(load_bits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Var(S'(t)) = sum_i (S'_i(t) - mu(t))^2 over servers (twin-migration Sec. IV), bits^2.

    The paper defines it as a sum of squared deviations (not divided by M); we keep that."""
    s = np.asarray(load_bits, dtype=float)
    return ((s - s.mean(axis=axis, keepdims=True)) ** 2).sum(axis=axis)


def objectives(
    t_sum: np.ndarray, load_var_per_slot: np.ndarray, loss_rate_per_vehicle: np.ndarray
) -> dict[str, float]:
    """O_T = sum_v sum_t T^sum (16a), O_V = sum_t Var(S'(t)) (16b), O_D = sum_v q_v (16c)."""
    return {
        "O_T": float(np.sum(t_sum)),
        "O_V": float(np.sum(load_var_per_slot)),
        "O_D": float(np.sum(loss_rate_per_vehicle)),
    }


class RunningZ:
    """Z-scores "in the time dimension" (twin-migration Eq. 21): running mean and standard
    deviation (Welford) of every value seen so far, this slot's included; 0 before two."""

    def __init__(self) -> None:
        self.n, self.mean, self.m2 = 0, 0.0, 0.0

    def update(self, xs: np.ndarray) -> None:
        for x in np.asarray(xs, float).ravel().tolist():
            self.n += 1
            d = x - self.mean
            self.mean += d / self.n
            self.m2 += d * (x - self.mean)

    def z(self, xs: np.ndarray) -> np.ndarray:
        std = float(np.sqrt(self.m2 / self.n)) if self.n > 1 else 0.0
        xs = np.asarray(xs, float)
        return (xs - self.mean) / std if std > 0 else np.zeros(xs.shape)


class ShapedReward:
    """r_v^t = -(w_T z(T^sum) + w_s z(S'_m) + w_d xi) (twin-migration Eq. 22, the reward-shaped
    Eq. 21), over one episode: feed each slot's rows in order. T^sum is capped at
    ``latency_cap`` (an unreachable host has T^sum = inf)."""

    def __init__(self, w_latency: float, w_load: float, w_failure: float, latency_cap: float) -> None:
        self.w = (w_latency, w_load, w_failure)
        self.cap = latency_cap
        self.lat, self.load = RunningZ(), RunningZ()

    def __call__(self, t_sum: np.ndarray, load: np.ndarray, failed: np.ndarray) -> np.ndarray:
        t = np.minimum(np.asarray(t_sum, float), self.cap)
        self.lat.update(t)
        self.load.update(load)
        w_t, w_s, w_d = self.w
        return -(w_t * self.lat.z(t) + w_s * self.load.z(load) + w_d * np.asarray(failed, float))
