"""The batched twin-migration slot env (desim_iov/vector) equals N scalar slot envs bit for bit.

Every comparison is exact (``np.array_equal`` / ``==``): observations and masks (Eq. 19, 23),
rewards (Eq. 22 with the running Z-scores), terminations, truncations, the slot's terms, and
which agents act, over whole episodes and across autoresets, on seeds used nowhere else
(7301-7399), with policies that mostly follow the masks and sometimes do not (MAPPO).
"""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from desim_iov.config import ConfigError
from desim_iov.decisions import PolicyError
from desim_iov.env import gym_env, make_scenario, parallel_env
from desim_iov.rng import RngStreams
from desim_iov.vector.env import batched_env, vector_env
from desim_iov.vector.streams import Streams
from desim_iov.vector.twin_inputs import TwinInputs
from desim_iov.vector.twin_radio import pairwise_distance
from models.geo import pairwise_distance_m

SEEDS = [7301, 7302, 7303, 7304]


def _actions(obs_mask: np.ndarray, acting: np.ndarray, rng: np.random.Generator, p_masked: float) -> np.ndarray:
    """Mostly a random allowed server, sometimes any server (what an unmasked learner does)."""
    n, v, m = obs_mask.shape
    keys = np.where(obs_mask > 0, rng.random((n, v, m)), -1.0)
    a = keys.argmax(axis=2)
    wild = rng.random((n, v)) < p_masked
    a = np.where(wild | ~(obs_mask > 0).any(axis=2), rng.integers(0, m, (n, v)), a)
    return np.where(acting, a, -1)  # idle agents' actions are ignored: -1 shows it


def _compare_obs(obs: dict, bobs: dict, i: int, agents: list[str], present: np.ndarray) -> None:
    assert sorted(obs) == sorted(a for v, a in enumerate(agents) if present[v])
    for v, a in enumerate(agents):
        if a in obs:
            assert np.array_equal(obs[a]["observation"], bobs["observation"][i, v])
            assert np.array_equal(obs[a]["action_mask"], bobs["action_mask"][i, v])
        else:
            assert not bobs["observation"][i, v].any() and not bobs["action_mask"][i, v].any()


def run_both(scenario, seeds, steps, p_masked=0.25, rng_seed=0, reseed="advance", **overrides):
    """Step the batched env and one scalar slot env per seed side by side (next-step
    autoreset, ``reseed``) and assert every output equal. Returns what was seen."""
    sc = make_scenario(scenario, fidelity="slot", **overrides)
    n = len(seeds)
    benv = batched_env(sc, n, reseed=reseed)
    envs = [parallel_env(sc) for _ in seeds]
    agents = benv.possible_agents
    bobs, binfo = benv.reset(seed=list(seeds))
    cur_seed = list(seeds)
    obs = [e.reset(seed=s)[0] for e, s in zip(envs, seeds, strict=True)]
    for i in range(n):
        _compare_obs(obs[i], bobs, i, agents, binfo["acting"][i])
        assert [a for v, a in enumerate(agents) if binfo["acting"][i, v]] == envs[i].agents
    rng = np.random.default_rng(rng_seed)
    seen = {"episodes": 0, "migrated": 0, "failed": 0, "in_flight": 0}
    for _ in range(steps):
        acts = _actions(bobs["action_mask"], binfo["acting"], rng, p_masked)
        seen["in_flight"] += int(benv.model.in_flight.sum())
        bobs, brew, bterm, btrunc, binfo = benv.step(acts)
        for i, env in enumerate(envs):
            if not env.agents:  # ended last step: the batched env restarted it in this one
                if reseed == "advance":
                    cur_seed[i] += n
                obs[i], _ = env.reset(seed=cur_seed[i])
                _compare_obs(obs[i], bobs, i, agents, binfo["present"][i])
                assert not brew[i].any() and not bterm[i].any() and not btrunc[i].any()
            else:
                o, r, term, trunc, info = env.step({a: int(acts[i, agents.index(a)]) for a in env.agents})
                obs[i] = o
                _compare_obs(o, bobs, i, agents, binfo["present"][i])
                for v, a in enumerate(agents):
                    if a in r:
                        assert r[a] == brew[i, v] and term[a] == bterm[i, v] and trunc[a] == btrunc[i, v]
                        if "t_sum" in info.get(a, {}):
                            t_sum = info[a]["t_sum"]
                            assert (t_sum is None and np.isnan(binfo["t_sum"][i, v])) or t_sum == binfo["t_sum"][i, v]
                            assert info[a]["load"] == binfo["load"][i, v]
                            assert info[a]["failed"] == binfo["failed"][i, v]
                            assert info[a]["migrated"] == binfo["migrated"][i, v]
                            seen["migrated"] += info[a]["migrated"]
                            seen["failed"] += info[a]["failed"]
                    else:
                        assert brew[i, v] == 0.0 and not bterm[i, v] and not btrunc[i, v]
                assert binfo["ended"][i] == (not env.agents)
                seen["episodes"] += not env.agents
            assert [a for v, a in enumerate(agents) if binfo["acting"][i, v]] == env.agents
    return seen


# ---------------------------------------------------------------------------- equality


def test_twin_city_episodes_equal_scalar_envs():
    """twin-city (the fast inputs): two whole 20-slot episodes per env, across an autoreset
    onto fresh seeds; migrations happen and the masks bite."""
    seen = run_both("twin-city", SEEDS, steps=42)
    assert seen["episodes"] == 2 * len(SEEDS) and seen["migrated"] > 20


def test_overloaded_caches_equal_scalar_envs():
    """Slot data that overflows the RSU/UAV caches onto the satellite's (Eq. 9) and failures
    (Eq. 14): the sequential admissions, the satellite's queue and the Z-scored loads."""
    seen = run_both("twin-city", [7311, 7312, 7313], steps=21, duration=300,
                    **{"vehicles.traffic.data_rate": "40 MB/s", "satellite.cache": "3 GB",
                       "vehicles.count": 8})
    assert seen["failed"] > 0


def test_migrations_in_flight_over_slots_equal_scalar_envs():
    """Slow migration links: twins stay in flight over several slots (mask: only the
    destination; landing compared with the SimPy clock), background once per tick."""
    seen = run_both("twin-city", [7321, 7322], steps=11, p_masked=0.5, duration=300,
                    **{"migration.bandwidth": "1 MHz", "vehicles.twin_size": "600 MB",
                       "background.model": "constant"})
    assert seen["in_flight"] > 0


@pytest.mark.parametrize("overrides", [
    {"mobility_step": "30 s", "satellite.enabled": False},  # Exp(1) batches, no satellite
    {"slot": "7.5 s", "mobility_step": "2.5 s", "duration": 60, "background.burst": "deterministic",
     "overflow": "drop", "vehicles.traffic.data_rate": "24 MB/s"},
])
def test_other_clock_and_network_settings_equal_scalar_envs(overrides):
    run_both("twin-city", [7331, 7332], steps=9, duration=overrides.pop("duration", 150), **overrides)


def test_generic_inputs_equal_scalar_envs():
    """twin-rural: scattered RSUs (drawn per seed), so every episode's world is built with
    build_world, as the scalar env does."""
    sc = make_scenario("twin-rural", fidelity="slot", duration=240)
    assert not TwinInputs(sc).fast
    run_both(sc, [7341, 7342], steps=17, reseed="same")


def test_agents_join_and_leave_with_idle_slots_equal_scalar_envs(tmp_path):
    """A recorded trace: a vehicle that arrives (terminated), slots where nobody drives
    (background only), a vehicle that starts late (joins)."""
    csv = tmp_path / "cars.csv"
    csv.write_text("id,t,x,y\na,0,0,0\na,50,300,0\nb,100,100,100\nb,280,900,100\nc,0,-500,0\nc,40,-200,50\n")
    sc = make_scenario("twin-city", fidelity="slot", duration=300,
                       **{"vehicles.trace": str(csv), "vehicles.count": 3})
    run_both(sc, [7351, 7352], steps=14)


# ---------------------------------------------------------------------------- the parts


def test_stream_states_and_draws_equal_rngstreams():
    seeds = [0, 1, 7361, 2**32 - 1, 2**32, 2**40 + 5, 2**64 + 3]
    names = ["mobility.vehicle.0", "uav.3", "background"]
    st = Streams(seeds, names)
    doubles, first = st.doubles([0], 9), st.first_integers([1], 80)
    for i, s in enumerate(seeds):
        for j, name in enumerate(names):
            ref = RngStreams(s).get(name).bit_generator.state["state"]
            assert st.state(i, j) == (ref["state"], ref["inc"])
        assert np.array_equal(doubles[i, 0], RngStreams(s).get(names[0]).random(9))
        assert first[i, 0] == RngStreams(s).get(names[1]).integers(80)
        assert np.array_equal(st.generator(i, 2).gamma(30, 1.0, 4), RngStreams(s).get(names[2]).gamma(30, 1.0, 4))


def test_batched_distances_equal_the_kernels():
    rng = np.random.default_rng(7362)
    p, q = rng.uniform(-3e3, 3e3, (6, 5, 3)), rng.uniform(-3e3, 3e3, (6, 91, 3))
    q[:, -1] = (0.0, 0.0, 550e3)
    d = pairwise_distance(p, q)
    assert all(np.array_equal(d[b], pairwise_distance_m(p[b], q[b])) for b in range(6))


def test_fast_inputs_equal_build_world():
    sc = make_scenario("twin-city", fidelity="slot")
    fast, slow = TwinInputs(sc, fast=True), TwinInputs(sc, fast=False)
    a, b = fast.build([7371, 7372, 7373]), slow.build([7371, 7372, 7373])
    for f in ("vehicle_xyz", "uav_xyz", "active", "background", "cpu_hz", "finished"):
        assert np.array_equal(getattr(a, f), getattr(b, f)), f
    fixed = ~np.isin(np.arange(fast.M), np.arange(fast.M)[fast.uavs])
    assert np.array_equal(a.server_xyz[:, fixed], b.server_xyz[:, fixed])


# ---------------------------------------------------------------------------- API


def test_same_step_autoreset_and_replayed_seed():
    """SAME_STEP: the ending step returns the new episode's first observation, the last one
    in infos["final_obs"]; reseed "same" replays the seed (the scalar env's reset())."""
    env = batched_env("twin-city", 2, autoreset_mode=AutoresetMode.SAME_STEP, duration=90)
    obs0, info0 = env.reset(seed=[7381, 7382])
    first = {k: v.copy() for k, v in obs0.items()}
    for step in range(3):
        obs, rew, term, trunc, info = env.step(np.zeros((2, 5), np.int64))
        if step < 2:
            assert "final_obs" not in info
    assert info["_final_obs"].all() and trunc.any(axis=1).all()
    assert not info["final_obs"]["observation"].any()  # every agent left: zeros (scalar _view)
    assert np.array_equal(obs["observation"], first["observation"])  # the same seed again
    assert np.array_equal(obs["action_mask"], first["action_mask"])
    assert info["acting"].all()


def test_disabled_autoreset_waits_for_a_masked_reset():
    env = batched_env("twin-city", 2, autoreset_mode="Disabled", duration=60)
    env.reset(seed=7383)
    assert list(env.seeds) == [7383, 7384]
    for _ in range(2):
        obs, rew, *_ , info = env.step(np.zeros((2, 5), np.int64))
    assert info["ended"].all()
    obs, rew, term, trunc, info = env.step(np.zeros((2, 5), np.int64))  # ended: nothing happens
    assert not obs["observation"].any() and not rew.any() and not info["present"].any()
    obs, info = env.reset(options={"reset_mask": np.array([True, False])})
    assert info["acting"][0].all() and not info["acting"][1].any()


def test_bad_actions_get_one_line_errors():
    env = batched_env("twin-city", 2, duration=60, check_masks=True)
    with pytest.raises(PolicyError, match="before reset"):
        env.step(np.zeros((2, 5), np.int64))
    obs, _ = env.reset(seed=7391)
    for bad, kind, words in ((np.zeros((2, 4), np.int64), ValueError, "expected shape \\(2, 5\\)"),
                             (np.zeros((2, 5)), ValueError, "expected integers"),
                             (np.full((2, 5), 91), PolicyError, "not a server 0..90")):
        with pytest.raises(kind, match=words) as e:
            env.step(bad)
        assert "\n" not in str(e.value)
    masked = np.argmin(obs["action_mask"], axis=2)  # a forbidden server for every agent
    assert (np.take_along_axis(obs["action_mask"], masked[..., None], 2) == 0).any()
    with pytest.raises(PolicyError, match="is masked"):
        env.step(masked)
    with pytest.raises(ConfigError, match="fading"):
        batched_env("twin-city", 2, **{"channel.fading": "rayleigh"})
    with pytest.raises(ConfigError, match="degree_cap is not batched"):  # offloading: what it does not batch
        batched_env("offload-urban", 2, **{"offload.network.degree_cap.uavs": 2})


def test_single_agent_vector_env_equals_gym_env():
    """TwinVectorEnv's sub-env i is DesimGymEnv (slot fidelity) with seed i: observations,
    summed rewards, terminated/truncated; action_masks() has an allowed action per agent."""
    venv = vector_env("twin-city", 2, duration=120)
    genvs = [gym_env("twin-city", fidelity="slot", duration=120) for _ in range(2)]
    vobs, _ = venv.reset(seed=7395)
    gobs = [g.reset(seed=7395 + i)[0] for i, g in enumerate(genvs)]
    assert venv.single_observation_space.contains({k: v[0] for k, v in vobs.items()})
    for i, o in enumerate(gobs):
        assert all(np.array_equal(o[k], vobs[k][i]) for k in o)
    rng = np.random.default_rng(7396)
    for _ in range(4):
        masks = venv.action_masks().reshape(2, 5, -1)
        assert masks.any(axis=2).all()
        acts = np.where(masks, rng.random(masks.shape), -1).argmax(axis=2)
        vobs, vrew, vterm, vtrunc, _ = venv.step(acts)
        for i, g in enumerate(genvs):
            o, r, term, trunc, _ = g.step(acts[i])
            assert np.array_equal(o["observation"], vobs["observation"][i])
            assert np.array_equal(o["action_mask"], vobs["action_mask"][i])
            assert r == vrew[i] and term == vterm[i] and trunc == vtrunc[i]
    assert vtrunc.all()
    venv.close()
