"""Episode collection over the PettingZoo env and the learning-curve numbers it gives:
T^sum (Eq. 13) and xi (Eq. 14) per decision are the kernel's, read from the env's ``infos``
without touching the kernel."""

from __future__ import annotations

import numpy as np
import pytest

from agents.blocks.rollout import collect_episodes, episode_metrics
from desim_iov.env import parallel_env
from traces.reader import open_trace

CAP = 25.0  # below some of the packet run's T^sum, so the cap is exercised


def test_curve_numbers_are_the_traced_slot_rows(tmp_path):
    """latency_mean and failure_rate of a batch equal the kernel's /slots rows of the same
    episode (an independent record: the trace file), with T^sum capped as the reward caps it;
    the kernel's ``Simulation.act`` is never wrapped."""
    path = tmp_path / "t.h5"
    env = parallel_env("twin-city", trace_path=str(path), duration=120,
                       **{"vehicles.count": 2, "vehicles.traffic.packet_size": "800 kB"})
    rng = np.random.default_rng(3)

    def act(obs, mask, state, ids):
        assert "act" not in vars(env.sim)  # no instance attribute shadowing the kernel's method
        keys = rng.random(mask.shape) + mask * rng.integers(0, 2, size=(len(ids), 1))
        return keys.argmax(axis=1), {}  # an allowed server or, half the time, any: failures

    batch = collect_episodes(env, act, [5], latency_cap=CAP)
    env.close()
    slots = open_trace(path).df("slots").sort_values(["slot", "vehicle"], kind="stable")
    t_idx, v_idx = np.nonzero(batch.active)
    assert v_idx.tolist() == slots.vehicle.tolist()
    t_ref = np.minimum(slots.t_sum.to_numpy(float), CAP)
    f_ref = slots.failed.to_numpy(float)
    assert batch.t_sum[t_idx, v_idx] == pytest.approx(t_ref, rel=0, abs=0)
    assert batch.failed[t_idx, v_idx] == pytest.approx(f_ref, rel=0, abs=0)
    assert 0 < f_ref.mean() < 1 and (slots.t_sum > CAP).any() and (slots.t_sum < CAP).any()
    m = episode_metrics(batch)
    assert m["latency_mean"] == t_ref.mean()
    assert m["failure_rate"] == f_ref.mean()
