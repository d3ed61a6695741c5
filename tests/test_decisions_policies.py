"""Observations (twin-migration Eq. 19), dynamic masks (Eq. 23, Fig. 4) and the heuristics."""

from __future__ import annotations

import numpy as np
import pytest

from agents.base import Policy, make_policy, policy_names
from desim_iov.apps.twin_spaces import Observation, feasibility_mask

KINDS = np.array([0, 0, 1, 2], np.uint8)  # RSU, RSU, UAV, satellite


def obs(distances, workloads, mask, current=0) -> Observation:
    return Observation(0, 0.0, 0, np.asarray(distances, float), np.asarray(workloads, float),
                       np.asarray(mask, np.int8), current, KINDS)


def test_mask_excludes_out_of_range_and_overflowing_servers():
    d = np.array([[100.0, 1300.0, 1400.0, 550e3]])
    rng = np.array([1200.0, 1200.0, 1500.0, np.inf])
    always = np.array([False, False, False, True])
    load = np.array([0.0, 0.0, 2.0e9, 0.0])
    cache = np.full(4, 2.4e9)
    task = np.array([0.5e9])
    # RSU 0 fine; RSU 1 too far; UAV in range but 2.0 + 0.5 > 2.4 Gbit; satellite always reachable
    np.testing.assert_array_equal(feasibility_mask(d, rng, always, load, cache, task), [[1, 0, 0, 1]])
    assert feasibility_mask(d, rng, always, load, cache, task).dtype == np.int8


def test_observation_vector_is_eq19_without_the_satellite_distance():
    o = obs([10, 20, 30, 550e3], [1, 2, 3, 4], [1, 1, 1, 1])
    np.testing.assert_array_equal(o.vector(), np.array([10, 20, 30, 1, 2, 3, 4], np.float32))
    assert o.vector().dtype == np.float32


def test_registry_lists_the_paper_baselines():
    from agents.learned import LEARNED

    assert {"random", "greedy", "least-loaded", "oracle", *LEARNED} <= set(policy_names())
    for name in set(policy_names()) - set(LEARNED):
        assert isinstance(make_policy(name), Policy)
    for name in LEARNED:  # learned policies need their checkpoint
        with pytest.raises(KeyError, match="needs checkpoint"):
            make_policy(name)
    with pytest.raises(KeyError, match="allowed"):
        make_policy("dm-mappo-typo")


def test_greedy_takes_the_nearest_feasible_server():
    p = make_policy("greedy", epsilon=0.0)
    p.reset(np.random.default_rng(0))
    assert p.act({"a": obs([100, 50, 80, 1e5], [0] * 4, [1, 0, 1, 1])})["a"] == 2  # 50 m is masked
    assert p.act({"a": obs([100, 50, 80, 1e5], [0] * 4, [0, 0, 0, 1])})["a"] == 3  # only the satellite
    q = make_policy("greedy", epsilon=0.0, use_mask=False)
    q.reset(np.random.default_rng(0))
    assert q.act({"a": obs([100, 50, 80, 1e5], [0] * 4, [1, 0, 1, 1])})["a"] == 1


def test_greedy_explores_about_ten_percent_among_feasible():
    p = make_policy("greedy")
    p.reset(np.random.default_rng(1))
    o = obs([100, 50, 80, 1e5], [0] * 4, [1, 0, 1, 1])
    picks = np.array([p.act({"a": o})["a"] for _ in range(4000)])
    assert set(np.unique(picks)) <= {0, 2, 3}
    # exploration (10 %) picks each of 3 feasible uniformly: non-nearest share = 0.1 * 2/3
    share = np.mean(picks != 2)
    assert abs(share - 0.1 * 2 / 3) < 4 * np.sqrt(0.0667 * 0.933 / 4000)


def test_random_is_uniform_over_the_mask():
    p = make_policy("random")
    p.reset(np.random.default_rng(2))
    o = obs([1, 2, 3, 4], [0] * 4, [1, 0, 1, 1])
    picks = np.array([p.act({"a": o})["a"] for _ in range(3000)])
    counts = np.bincount(picks, minlength=4)
    assert counts[1] == 0
    assert np.all(np.abs(counts[[0, 2, 3]] - 1000) < 4 * np.sqrt(3000 * (1 / 3) * (2 / 3)))


def test_least_loaded_prefers_low_workload_then_distance_and_avoids_the_satellite():
    p = make_policy("least-loaded")
    assert p.act({"a": obs([100, 50, 80, 1e5], [5, 1, 1, 0], [1, 1, 1, 1])})["a"] == 1
    assert p.act({"a": obs([100, 50, 80, 1e5], [5, 3, 1, 0], [1, 1, 1, 1])})["a"] == 2
    assert p.act({"a": obs([100, 50, 80, 1e5], [5, 3, 1, 0], [0, 0, 0, 1])})["a"] == 3
