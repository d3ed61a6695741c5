"""The RL interface over the task-offloading app: PettingZoo and Gymnasium conformance,
heterogeneous vehicle/UAV/BS agents, the kernel's masks, idle vehicles, the centralised view."""

from __future__ import annotations

import warnings

import h5py
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import parallel_api_test, parallel_seed_test

from desim_iov.env import DesimCentralEnv, DesimGymEnv, gym_env, parallel_env
from desim_iov.kinds import parse_agent

SHORT = {"duration": 0.2}  # 10 slots of 20 ms; with seed 0 vehicles get tasks in most of them
KINDS = {"vehicle", "uav", "bs"}


def _masked(env, obs, rng):
    """A random action per acting agent, within its mask."""
    acts = {}
    for a in env.acting_agents:
        env.action_space(a).seed(int(rng.integers(2**31)))
        acts[a] = env.action_space(a).sample(mask=obs[a]["action_mask"])
    return acts


def test_pettingzoo_parallel_api_with_all_three_kinds_acting():
    env = parallel_env("offload-urban", **SHORT)
    assert env.metadata["name"] == "desim_iov_task_offloading_v0"
    assert {parse_agent(a)[0] for a in env.possible_agents} == KINDS
    acted: set[str] = set()
    step = env.step

    def recording_step(actions):
        acted.update(parse_agent(a)[0] for a in env.acting_agents)
        return step(actions)

    env.step = recording_step
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the checker only warns about key mismatches
        parallel_api_test(env, num_cycles=20)  # 20 > 10 slots: whole episodes
    assert acted == KINDS


def test_pettingzoo_seed_test():
    parallel_seed_test(lambda: parallel_env("offload-urban", **SHORT), num_cycles=10)


def test_heterogeneous_spaces_and_state():
    env = parallel_env("offload-urban", **SHORT)
    sizes = {parse_agent(a)[0]: env.observation_space(a)["observation"].shape[0] for a in env.possible_agents}
    assert len(set(sizes.values())) == 3  # one observation size per kind
    for a in env.possible_agents:
        assert env.action_space(a).shape == (3,)
        assert env.observation_space(a)["action_mask"].shape == (int(env.action_space(a).nvec.sum()),)
    obs, _ = env.reset(seed=1)
    s = env.state()
    assert env.state_space.contains(s) and s.shape == (sum(sizes[parse_agent(a)[0]] for a in env.possible_agents),)
    i = 0
    for a in env.possible_agents:  # the state is every agent's observation, zeros when idle
        n = env.observation_space(a)["observation"].shape[0]
        np.testing.assert_array_equal(s[i : i + n], obs[a]["observation"])
        i += n


def test_masks_and_features_are_the_kernels():
    env = parallel_env("offload-urban", **SHORT)
    obs, _ = env.reset(seed=0)
    rng = np.random.default_rng(0)
    n_vehicle_checks = 0
    while env.agents:
        pending = env.sim.pending
        assert set(env.acting_agents) == set(pending)
        for a in env.agents:
            assert env.observation_space(a).contains(obs[a])
            if a in pending:
                np.testing.assert_array_equal(obs[a]["action_mask"], pending[a].mask)
                np.testing.assert_array_equal(obs[a]["observation"], pending[a].features)
                n_vehicle_checks += a.startswith("vehicle")
            else:  # idle vehicle: zero features, only the no-op (hold, first levels) allowed
                assert a.startswith("vehicle") and not obs[a]["observation"].any()
                comps = np.split(obs[a]["action_mask"], np.cumsum(env.action_space(a).nvec)[:-1])
                assert [int(np.flatnonzero(c)[0]) for c in comps] == [env.spaces.N, 0, 0]
                assert all(c.sum() == 1 for c in comps)
        obs, *_ = env.step(_masked(env, obs, rng))
    assert n_vehicle_checks > 0


def test_masked_random_rollout_of_a_whole_episode(tmp_path):
    """Every acting agent gets a finite reward (the app's, as in /agent_steps), idle vehicles
    stay live with reward 0 and come back when they have tasks; all are truncated at the end."""
    env = parallel_env("offload-urban", trace_path=str(tmp_path / "t.h5"), **SHORT)
    obs, infos = env.reset(seed=5)
    assert env.agents == env.possible_agents  # every agent is live from the start
    rng = np.random.default_rng(5)
    got, came_back, was_idle, steps = [], set(), set(), 0
    while env.agents:
        acting = env.acting_agents
        came_back |= was_idle & set(acting)
        was_idle |= set(env.agents) - set(acting)
        obs, rew, term, trunc, infos = env.step(_masked(env, obs, rng))
        steps += 1
        assert set(rew) == set(env.possible_agents)
        for a in env.possible_agents:
            if a in acting:
                assert np.isfinite(rew[a]) and "reward" in infos[a]
                got.append(rew[a])
            else:
                assert rew[a] == 0.0 and infos[a] == {"acting": False}
        if env.agents:
            assert not any(term.values()) and not any(trunc.values())
    assert steps == 10
    assert all(trunc.values()) and not any(term.values()) and set(trunc) == set(env.possible_agents)
    assert came_back  # a vehicle left idle came back: it must not have been terminated
    env.close()
    with h5py.File(tmp_path / "t.h5") as f:
        np.testing.assert_allclose(np.sort(f["agent_steps"]["reward_adj"][()]), np.sort(got))


def test_actions_of_idle_agents_are_ignored():
    env = parallel_env("offload-urban", **SHORT)
    obs, _ = env.reset(seed=0)
    idle = [a for a in env.agents if a not in env.acting_agents]
    assert idle
    acts = {a: np.zeros(3, np.int64) for a in env.acting_agents}
    acts.update({a: np.array([0, 1, 1]) for a in idle})  # would be valid if they acted
    env.step(acts)  # the kernel refuses actions of non-acting agents: the env drops them
    with pytest.raises(ValueError, match="no action"):
        env.step({})


def test_gym_env_picks_the_apps_central_view():
    assert isinstance(gym_env("offload-urban", **SHORT), DesimCentralEnv)
    assert isinstance(gym_env("twin-city", duration=150), DesimGymEnv)


def test_central_env_check_env():
    env = gym_env("offload-urban", **SHORT)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env, skip_render_check=True)


def test_central_env_matches_the_parallel_env():
    """Joint action = the agents' actions concatenated; reward = the sum over acting agents;
    observation and mask = the agents' concatenated (zeros / the no-op for idle agents)."""
    cen = gym_env("offload-urban", **SHORT)
    par = parallel_env("offload-urban", **SHORT)
    cobs, _ = cen.reset(seed=2)
    pobs, _ = par.reset(seed=2)
    rng = np.random.default_rng(2)
    done = False
    while not done:
        for key in ("observation", "action_mask"):
            np.testing.assert_array_equal(cobs[key], np.concatenate([pobs[a][key] for a in par.possible_agents]))
        assert cen.observation_space.contains(cobs)
        joint = cen.action_space.sample(mask=cobs["action_mask"])  # the flat mask works here too
        joint[: 3] = rng.integers(0, cen.action_space.nvec[:3])  # ignored unless vehicle_0 acts
        acts = {a: cen.agent_action(joint, a) for a in par.acting_agents}
        cobs, r, term, trunc, _ = cen.step(joint)
        pobs, prew, *_ = par.step(acts)
        assert r == pytest.approx(sum(prew.values()))
        done = term or trunc
    assert trunc and not term and not par.agents


def test_central_views_end_when_some_agents_terminate_and_others_are_truncated(tmp_path):
    """(Both central views share the end-of-episode rule.) Twin migration: one vehicle arrives
    after the last epoch but within the run (terminated), the other is cut off (truncated):
    the episode is over, so the single-agent view says truncated (it said neither before)."""
    csv = tmp_path / "cars.csv"
    csv.write_text("id,t,x,y\na,0,0,0\na,140,300,0\nb,0,100,100\nb,300,900,100\n")
    over = {"vehicles.trace": str(csv), "vehicles.count": 2}
    env = gym_env("twin-city", duration=150, **over)
    env.reset(seed=0)
    flags, steps = (False, False), 0
    while not any(flags):
        _, _, *flags, _ = env.step(env.action_space.sample() * 0)
        steps += 1
    assert flags == [False, True] and steps == 5 and not env.par.agents
