"""Rewards of the task-offloading agents (quantum-DRL paper Sec. IV-A, Eq. 63–68) and the
incentive/penalty adjustment of Alg. 3 (Eq. 90–92), on normalised terms.

The paper defines none of the metrics inside Eq. 65–68 and gives only orderings of the weights;
the readings (docs/MODEL.md "Task offloading", A31–A33) are: latency as L/rho, energy as
E/E_max, QoS as Q/Q_min; forwarding success eta = share of the subtasks a node handled that meet
the deadline; task distribution TD = 1 - |n - n_mean| / max(n_mean, 1); resource utilisation
RU = the CPU's busy fraction; queue length QL = queued cycles / C_z; task-processing efficiency
TP = processed cycles / (f_cpu tau), at most 1. All functions take plain floats.
"""

from __future__ import annotations

from dataclasses import dataclass


def vehicle_reward(l_norm: float, e_norm: float, q_norm: float, w: tuple[float, float, float]) -> float:
    """Eq. 64: R_V = -omega_L L - omega_E E + omega_Q Q (normalised terms)."""
    return -w[0] * l_norm - w[1] * e_norm + w[2] * q_norm


def load_balance(td: float, ru: float, ql: float, beta: tuple[float, float, float]) -> float:
    """Eq. 67: LB = beta_TD TD + beta_RU RU - beta_QL QL."""
    return beta[0] * td + beta[1] * ru - beta[2] * ql


def uav_reward(eta: float, l_norm: float, lb: float, e_norm: float, *, zeta_tf: float,
               zeta_e: float, alpha: tuple[float, float, float]) -> float:
    """Eq. 65–66: R_U = zeta_TF (alpha_eta eta - alpha_L L + alpha_LB LB) - zeta_E E."""
    tf = alpha[0] * eta - alpha[1] * l_norm + alpha[2] * lb
    return zeta_tf * tf - zeta_e * e_norm


def bs_reward(tp: float, e_norm: float, *, zeta_tp: float, zeta_e: float) -> float:
    """Eq. 68: R_B = zeta_TP TP - zeta_E E."""
    return zeta_tp * tp - zeta_e * e_norm


def task_distribution(n: float, n_mean: float) -> float:
    """TD = 1 - |n - n_mean| / max(n_mean, 1) (reading A32)."""
    return 1.0 - abs(n - n_mean) / max(n_mean, 1.0)


@dataclass(frozen=True)
class Adjustment:
    """Alg. 3 line 21: R_adj = R + I - P with I, P of Eq. 90–92."""

    incentive: float
    penalty: float


def incentives_penalties(l_norm: float | None, e_norm: float, q_norm: float | None, *,
                         omega: tuple[float, float, float], lam: tuple[float, float, float],
                         extra_penalty: float = 0.0) -> Adjustment:
    """Eq. 90–92 on normalised terms (l = L/rho, e = E/E_max, q = Q/Q_min):
    I = omega_lat max(0, 1 - l) + omega_ene (1 - e) + omega_qos max(0, q - 1),
    P = lam_lat max(0, l - 1) + lam_ene max(0, e - 1) + lam_qos max(0, 1 - q) + extra.
    ``l_norm``/``q_norm`` None (nothing handled): their terms are 0."""
    inc = omega[1] * (1.0 - e_norm)
    pen = lam[1] * max(0.0, e_norm - 1.0) + extra_penalty
    if l_norm is not None:
        inc += omega[0] * max(0.0, 1.0 - l_norm)
        pen += lam[0] * max(0.0, l_norm - 1.0)
    if q_norm is not None:
        inc += omega[2] * max(0.0, q_norm - 1.0)
        pen += lam[2] * max(0.0, 1.0 - q_norm)
    return Adjustment(inc, pen)


def change_share(previous: list[int] | None, current: list[int]) -> float:
    """Share of a vehicle's first-hop choices that differ from its previous slot's (C13 read
    as a soft constraint, A25); 0 without a previous choice."""
    if not previous or not current:
        return 0.0
    prev = set(previous)
    return sum(1 for c in current if c not in prev) / len(current)
