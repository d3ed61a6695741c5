"""The RL interface: PettingZoo and Gymnasium conformance checkers, masks, rewards (Eq. 22)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import parallel_api_test, parallel_seed_test

from desim_iov.env import gym_env, parallel_env

SMALL = {"duration": 150, "vehicles.traffic.packet_size": "800 kB"}


@pytest.mark.parametrize("scenario", ["twin-city", "twin-urban-fbl"])
def test_pettingzoo_parallel_api(scenario):
    over = dict(SMALL) if scenario == "twin-city" else {"duration": 0.2}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the checker only warns about key mismatches
        parallel_api_test(parallel_env(scenario, **over), num_cycles=20)


def test_pettingzoo_seed_test():
    parallel_seed_test(lambda: parallel_env("twin-rural", **SMALL), num_cycles=10)


def test_gymnasium_check_env():
    env = gym_env("twin-city", **SMALL)
    check_env(env, skip_render_check=True)


def test_masks_rewards_and_episode_end():
    env = parallel_env("twin-city", **SMALL)
    obs, infos = env.reset(seed=3)
    assert env.agents == [f"vehicle_{v}" for v in range(5)]
    m = env.n_servers
    steps, total = 0, []
    while env.agents:
        for o in obs.values():
            assert o["observation"].shape == (2 * m - 1,) and o["action_mask"].dtype == np.int8
            assert env.observation_space("vehicle_0").contains(o)
        acts = {a: int(np.flatnonzero(obs[a]["action_mask"])[0]) for a in env.agents}
        obs, rew, term, trunc, info = env.step(acts)
        total += list(rew.values())
        steps += 1
    assert steps == 5 and all(trunc.values()) and not any(term.values())
    assert np.all(np.isfinite(total))
    # Z-scores: mean reward over the episode is near -(w_d * mean xi)
    assert env.sim is not None and env.sim.finished


def test_agents_leave_when_their_vehicle_arrives(tmp_path):
    csv = tmp_path / "cars.csv"
    csv.write_text("id,t,x,y\na,0,0,0\na,50,300,0\nb,0,100,100\nb,200,900,100\n")
    env = parallel_env("twin-city", duration=150, **{"vehicles.trace": str(csv), "vehicles.count": 2})
    obs, _ = env.reset()
    assert env.agents == ["vehicle_0", "vehicle_1"]
    obs, rew, term, trunc, _ = env.step({a: 0 for a in env.agents})  # t = 0 -> 30
    obs, rew, term, trunc, _ = env.step({a: 0 for a in env.agents})  # t = 30 -> 60: a arrived
    assert term == {"vehicle_0": True, "vehicle_1": False}
    assert env.agents == ["vehicle_1"]


def test_the_last_vehicle_to_arrive_terminates_and_is_not_truncated(tmp_path):
    """Both vehicles reach their destination before the run's end: the episode ends with
    terminated (not truncated) agents, and the Gym wrapper says terminated too."""
    csv = tmp_path / "cars.csv"
    csv.write_text("id,t,x,y\na,0,0,0\na,50,300,0\nb,0,100,100\nb,70,900,100\n")
    over = {"vehicles.trace": str(csv), "vehicles.count": 2}
    env = parallel_env("twin-city", duration=300, **over)
    env.reset()
    term = trunc = {}
    while env.agents:
        _, _, term, trunc, _ = env.step({a: 0 for a in env.agents})
    assert term == {"vehicle_1": True} and trunc == {"vehicle_1": False}
    genv = gym_env("twin-city", duration=300, **over)
    genv.reset(seed=0)
    done = (False, False)
    while not any(done):
        _, _, *done, _ = genv.step(genv.action_space.sample() * 0)
    assert done == [True, False]


def test_both_checkers_in_slot_fidelity():
    parallel_api_test(parallel_env("twin-city", fidelity="slot", duration=300), num_cycles=20)
    check_env(gym_env("twin-rural", fidelity="slot", duration=300), skip_render_check=True)


def test_trace_reward_equals_the_env_reward(tmp_path):
    """analysis.summary recomputes Eq. 22 from /slots exactly as the env hands it out."""
    from analysis.summary import summarize

    env = parallel_env("twin-city", trace_path=str(tmp_path / "t.h5"), **SMALL)
    obs, _ = env.reset(seed=4)
    got = []
    while env.agents:
        acts = {a: int(np.flatnonzero(obs[a]["action_mask"])[-1]) for a in env.agents}
        obs, rew, *_ = env.step(acts)
        got += list(rew.values())
    env.close()
    assert summarize(tmp_path / "t.h5").total["reward_mean"] == pytest.approx(np.mean(got))
