"""Generalised advantage estimation (twin-migration Eq. 25–27 style)."""

from __future__ import annotations

import numpy as np


def compute_gae(rewards: np.ndarray, values: np.ndarray, dones: np.ndarray, *, gamma: float,
                lam: float, valid: np.ndarray | None = None,
                last_values: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Generalised advantage estimation over (T, N) arrays, column by column.

    ``dones[t]`` 1 when the trajectory ends after step t (no bootstrap); otherwise step t+1's
    value (``last_values`` after the last row, 0 if None) is the bootstrap. ``valid`` (T, N)
    marks real entries: an invalid step t+1 also cuts the trajectory. Returns
    ``(advantages, returns)``; returns = advantages + values are the critic's targets — with
    lam = 1 they are the discounted sums of twin-migration Eq. 25/26."""
    rewards, values = np.asarray(rewards, np.float64), np.asarray(values, np.float64)
    t_len = rewards.shape[0]
    valid = np.ones_like(rewards, bool) if valid is None else np.asarray(valid, bool)
    nxt_v = np.zeros(rewards.shape[1:]) if last_values is None else np.asarray(last_values, np.float64)
    nxt_ok = np.ones(rewards.shape[1:], bool)
    adv = np.zeros_like(rewards)
    last = np.zeros(rewards.shape[1:])
    for t in reversed(range(t_len)):
        cont = (~np.asarray(dones[t], bool)) & nxt_ok
        delta = rewards[t] + gamma * nxt_v * cont - values[t]
        last = delta + gamma * lam * cont * last
        last = np.where(valid[t], last, 0.0)
        adv[t] = last
        nxt_v, nxt_ok = values[t], valid[t]
    return adv, adv + values
