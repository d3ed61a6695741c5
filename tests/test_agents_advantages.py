"""Generalised advantage estimation (twin-migration Eq. 25–27 style)."""

from __future__ import annotations

import numpy as np
import pytest

from agents.blocks.advantages import compute_gae


def test_gae_against_hand_computed_example():
    r = np.array([[1.0], [2.0], [3.0]])
    v = np.array([[0.5], [1.0], [1.5]])
    done = np.array([[0], [0], [1]])
    adv, ret = compute_gae(r, v, done, gamma=0.9, lam=0.8)
    # delta2 = 3 - 1.5; delta1 = 2 + .9*1.5 - 1; delta0 = 1 + .9*1 - .5; A_t = delta_t + .72 A_t+1
    assert adv[:, 0] == pytest.approx([1.4 + 0.72 * (2.35 + 0.72 * 1.5), 2.35 + 0.72 * 1.5, 1.5])
    assert ret[:, 0] == pytest.approx(adv[:, 0] + v[:, 0])
    # lam = 1: returns are the discounted reward sums (Eq. 25)
    _, ret1 = compute_gae(r, v, done, gamma=0.9, lam=1.0)
    assert ret1[:, 0] == pytest.approx([1 + 0.9 * 2 + 0.81 * 3, 2 + 0.9 * 3, 3])


def test_gae_cuts_at_done_bootstraps_and_skips_inactive_steps():
    r = np.array([[1.0, 0.0], [1.0, 2.0], [1.0, 2.0]])
    v = np.array([[0.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    done = np.array([[1, 0], [0, 0], [0, 0]])  # column 0: a trajectory ends after step 0
    valid = np.array([[1, 0], [1, 1], [1, 1]], bool)  # column 1 joins at step 1
    adv, _ = compute_gae(r, v, done, gamma=0.5, lam=1.0, valid=valid, last_values=np.array([4.0, 8.0]))
    assert adv[0, 0] == pytest.approx(1.0)  # no bootstrap across the done
    assert adv[2, 0] == pytest.approx(1.0 + 0.5 * 4.0)
    assert adv[0, 1] == 0.0  # not an agent step
    assert adv[2, 1] == pytest.approx(2.0 + 0.5 * 8.0 - 1.0)
    assert adv[1, 1] == pytest.approx(2.0 + 0.5 * (2.0 + 0.5 * 8.0) - 1.0)
