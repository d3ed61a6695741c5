"""The batched task-offloading slot env (desim_iov/vector/offload_*) equals N scalar slot envs
bit for bit.

Every comparison is exact (``np.array_equal`` / ``==``): observations and masks of the vehicle,
UAV and BS agents (quantum-DRL Eq. 57–62), rewards (Eq. 63–68 adjusted by Eq. 90–92) and every
info term, terminations, truncations and which agents act, over whole episodes and across
autoresets, on seeds used nowhere else (7405-7499), with random actions drawn from the masks
by a seeded generator and sometimes outside them (refused and replaced by the kernel).
"""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from desim_iov.config import ConfigError
from desim_iov.decisions import PolicyError
from desim_iov.env import gym_env, make_scenario, maskable, parallel_env
from desim_iov.kinds import BS_AGENT, UAV_AGENT, VEHICLE_AGENT
from desim_iov.rng import RngStreams
from desim_iov.vector import offload_score
from desim_iov.vector.env import batched_env, vector_env
from desim_iov.vector.offload_inputs import OffloadInputs
from desim_iov.vector.offload_score import copies_mean, copies_sum
from models.fading import gain_from_uniforms, small_scale_gain

URBAN_SEEDS = [7405, 7406, 7407, 7408]  # 7401-7404 are test_maskable_ppo.py's


def _actions(obs: dict, model, rng: np.random.Generator, p_masked: float) -> np.ndarray:
    """(N, A, 3): every component a random allowed value; the first one sometimes any value
    (what an unmasked learner does: the kernel refuses it and replaces it)."""
    acts = np.zeros((model.n, model.A, 3), np.int64)
    for kind, sl in model.kinds.items():
        mask = obs[kind]["action_mask"] > 0
        off = 0
        for c, m in enumerate(model.spaces.nvec[kind]):
            part = mask[..., off: off + m]
            a = np.where(part, rng.random(part.shape), -1.0).argmax(axis=2)
            if c == 0:
                a = np.where(rng.random(a.shape) < p_masked, rng.integers(0, m, a.shape), a)
            acts[:, sl, c] = a
            off += m
    return acts


def _compare_obs(obs: dict, bobs: dict, i: int, model, present: np.ndarray) -> None:
    assert sorted(obs) == sorted(a for v, a in enumerate(model.agents) if present[i, v])
    for kind, sl in model.kinds.items():
        for j, a in enumerate(model.agents[sl]):
            if a in obs:
                assert np.array_equal(obs[a]["observation"], bobs[kind]["observation"][i, j]), a
                assert np.array_equal(obs[a]["action_mask"], bobs[kind]["action_mask"][i, j]), a
                assert obs[a]["observation"].dtype == bobs[kind]["observation"].dtype


def _compare_infos(info: dict, binfo: dict, i: int, v: int, a: str, seen: dict) -> None:
    if info.get("acting") is False:  # idle: nothing decided
        assert np.isnan(binfo["base_reward"][i, v]) and binfo["subtasks"][i, v] == -1
        return
    for key, val in info.items():
        got = binfo["base_reward" if key == "reward" else key][i, v]
        if val is None:  # the scalar env's NaN
            assert np.isnan(got), (a, key)
        else:
            assert val == got, (a, key, val, got)
    seen["refused"] += info["refused"]
    seen["placed"] += info.get("subtasks", 0) > 0
    seen["handled"] += info.get("handled", 0) > 0


def run_both(scenario, seeds, steps, p_masked=0.2, rng_seed=0, reseed="advance", **overrides) -> dict:
    """Step the batched env and one scalar slot env per seed side by side (next-step
    autoreset, ``reseed``) and assert every output equal. Returns what was seen."""
    sc = make_scenario(scenario, fidelity="slot", **overrides)
    n = len(seeds)
    benv = batched_env(sc, n, reseed=reseed)
    m = benv.model
    envs = [parallel_env(sc) for _ in seeds]
    bobs, binfo = benv.reset(seed=list(seeds))
    cur = list(seeds)
    obs = [e.reset(seed=s)[0] for e, s in zip(envs, seeds, strict=True)]
    for i, env in enumerate(envs):
        _compare_obs(obs[i], bobs, i, m, binfo["present"])
        assert np.array_equal(env.state(), benv.state()[i])
    rng = np.random.default_rng(rng_seed)
    seen = dict.fromkeys(("episodes", "refused", "placed", "handled", "dropped", "relayed", "many"), 0)
    for _ in range(steps):
        acts = _actions(bobs, m, rng, p_masked)
        bobs, brew, bterm, btrunc, binfo = benv.step(acts)
        pl = m.placements
        if pl is not None:
            seen["dropped"] += int((pl.dropped & pl.placing).sum())
            seen["relayed"] += int(((pl.n_nodes > 1) & pl.placing).sum())
            seen["many"] += int((pl.n_items >= 8).sum())  # numpy's pairwise mean
        for i, env in enumerate(envs):
            if not env.agents:  # ended last step: the batched env restarted it in this one
                if reseed == "advance":
                    cur[i] += n
                obs[i], _ = env.reset(seed=cur[i])
                _compare_obs(obs[i], bobs, i, m, binfo["present"])
                assert not brew[i].any() and not bterm[i].any() and not btrunc[i].any()
            else:
                acting = env.acting_agents
                o, r, term, trunc, info = env.step({a: acts[i, m.agents.index(a)] for a in acting})
                obs[i] = o
                _compare_obs(o, bobs, i, m, binfo["present"])
                for v, a in enumerate(m.agents):
                    assert a in r  # every agent stays live to the end
                    assert r[a] == brew[i, v] and term[a] == bterm[i, v] and trunc[a] == btrunc[i, v], a
                    _compare_infos(info[a], binfo, i, v, a, seen)
                assert binfo["ended"][i] == (not env.agents)
                seen["episodes"] += not env.agents
                if env.agents:
                    assert np.array_equal(env.state(), benv.state()[i])
            assert [a for v, a in enumerate(m.agents) if binfo["acting"][i, v]] == env.acting_agents
    return seen


# ---------------------------------------------------------------------------- equality


def test_offload_urban_episodes_equal_scalar_envs():
    """offload-urban (fast inputs): two whole 50-slot episodes per env, across an autoreset
    onto fresh seeds; subtasks placed and forwarded, masked actions refused."""
    seen = run_both("offload-urban", URBAN_SEEDS, steps=101)
    assert seen["episodes"] == 2 * len(URBAN_SEEDS)
    assert seen["placed"] > 100 and seen["relayed"] > 50 and seen["refused"] > 100 and seen["handled"] > 100


def test_fewer_vehicles_other_split_and_hops_equal_scalar_envs():
    """3 vehicles, split levels (1, 3, 8) (8 subtasks: numpy's pairwise mean), one relay hop,
    busier vehicles; the seed replayed at the autoreset."""
    seen = run_both("offload-urban", [7411, 7412, 7413], steps=60, reseed="same",
                    **{"vehicles.count": 3, "offload.tasks.split_levels": [1, 3, 8],
                       "offload.network.max_hops": 1, "offload.tasks.prob_per_slot": 0.5})
    assert seen["many"] > 0 and seen["relayed"] > 0


def test_hop_limit_drops_and_block_delay_equal_scalar_envs():
    """Subtasks dropped at the hop limit (their reward latency 2 rho), kappa_blk n/B per hop,
    a task every slot and 4 MB tasks (up to 16 subtasks each), arrivals in the first 30 slots."""
    seen = run_both("offload-urban", [7421, 7422], steps=52, p_masked=0.1,
                    **{"offload.network.at_hop_limit": "drop", "offload.network.max_hops": 2,
                       "offload.network.block_delay": 1.0, "offload.tasks.arrivals": "per_step",
                       "offload.tasks.size": "4 MB", "offload.tasks.hold_slots": 3,
                       "offload.tasks.arrival_slots": 30})
    assert seen["dropped"] > 0 and seen["many"] > 0


@pytest.mark.parametrize("overrides", [
    {"offload.dt.predictor": "persistence", "offload.dt.sync_delay_slots": 2},  # forecast block, stale f^
    {"offload.dt.enabled": False, "offload.dt.predictor": "persistence"},  # "without DT": own f_cpu
    {"offload.network.cpu_deviation": "uniform", "offload.network.cpu_deviation_period": "run",
     "offload.network.dt_cpu_error": 0.0},
    {"offload.network.cpu_deviation": "cn_real", "channel.rate": "shannon", "offload.links.uu.fading": "rayleigh",
     "offload.links.bu.fading": "none", "offload.links.ub.exponent_range": "null",
     "offload.links.ub.pathloss_params": {"exponent": 2.4}},
    {"channel.fading": "none", "uavs.mobility": "patrol", "rsus.height_max": 40, "channel.noise_power": "null",
     "rsus.antennas": 1},
])
def test_other_dt_cpu_and_link_settings_equal_scalar_envs(overrides):
    run_both("offload-urban", [7431, 7432], steps=51, **overrides)


def test_generic_inputs_equal_scalar_envs():
    """Vehicles that pause at their waypoints: every episode's world is built with
    build_world, as the scalar env does; no BSs (UAVs only); idle slots for held tasks."""
    sc = make_scenario("offload-urban", fidelity="slot", **{"vehicles.pause": 0.1, "rsus.count": 0,
                                                           "uavs.count": 4, "offload.network.max_hops": 2,
                                                           "offload.tasks.hold_slots": 0})
    assert not OffloadInputs(sc).fast
    run_both(sc, [7441, 7442], steps=51)


# ---------------------------------------------------------------------------- the parts


def test_fast_inputs_equal_build_world():
    sc = make_scenario("offload-urban", fidelity="slot", **{"vehicles.speed_max": "60 m/s"})
    fast, slow = OffloadInputs(sc, fast=True), OffloadInputs(sc, fast=False)
    a, b = fast.build([7451, 7452, 7453]), slow.build([7451, 7452, 7453])
    for f in ("vehicle_xyz", "node_xyz", "vehicle_motion", "node_motion", "access_fading", "f_max", "f_cpu",
              "f_est", "arrivals"):
        assert np.array_equal(getattr(a, f), getattr(b, f)), f
    for c in a.relay_fading:
        assert np.array_equal(a.relay_fading[c], b.relay_fading[c]) and np.array_equal(a.exponent[c], b.exponent[c])


def test_fading_of_a_block_of_slots_equals_one_draw_per_slot():
    ant, k = np.array([4, 4, 1, 1, 1]), np.array([0.0, 0.0, 6.0, 6.0, 6.0])
    for model in ("rician", "rayleigh"):
        ref = RngStreams(7461).get("fading")
        per_slot = np.stack([small_scale_gain(model, ref, (3, 5), k_factor=k, antennas=ant) for _ in range(20)])
        u = RngStreams(7461).get("fading").random((20, 3, 5, 4, 2))
        shape = u.shape[:3]
        block = gain_from_uniforms(model, u, np.broadcast_to(k, shape)[..., None], np.broadcast_to(ant, shape))
        assert np.array_equal(per_slot, block)


def test_sums_of_copies_equal_python_and_numpy():
    rng = np.random.default_rng(7462)
    x = rng.random(300) * rng.choice([1e-6, 1.0, 3e4], 300)
    n = rng.integers(0, 40, 300)
    s, mean = copies_sum(x, n), copies_mean(x, n)
    for a, k, got_s, got_m in zip(x.tolist(), n.tolist(), s.tolist(), mean.tolist(), strict=True):
        assert got_s == float(sum([a] * k))
        if k:
            want = sum([a] * k) / k if k < 8 else float(np.mean([a] * k))  # offload_scoring._mean
            assert got_m == want


def test_a_perturbed_reward_is_caught(monkeypatch):
    """The comparison is not vacuous: one ulp more on a UAV's incentive fails it."""
    real = offload_score.Scorer.relays

    def off_by_one_ulp(self, pl, f, is_uav):
        out = real(self, pl, f, is_uav)
        out["reward"] = np.where(is_uav, np.nextafter(out["reward"], np.inf), out["reward"])
        return out

    monkeypatch.setattr(offload_score.Scorer, "relays", off_by_one_ulp)
    with pytest.raises(AssertionError, match="uav_"):
        run_both("offload-urban", [7463], steps=2)


# ---------------------------------------------------------------------------- API


def test_layout_autoresets_and_masked_reset():
    env = batched_env("offload-urban", 2, autoreset_mode=AutoresetMode.SAME_STEP, duration=0.1)
    obs, info = env.reset(seed=[7471, 7472])
    m = env.model
    assert list(obs) == [VEHICLE_AGENT, UAV_AGENT, BS_AGENT]
    assert obs[UAV_AGENT]["observation"].shape == (2, 10, m.spaces.n_obs[UAV_AGENT])
    assert obs[BS_AGENT]["action_mask"].shape == (2, 4, sum(m.spaces.nvec[BS_AGENT]))
    assert info["present"].all() and info["acting"][:, 8:].all()
    first = {k: v["observation"].copy() for k, v in obs.items()}
    for _ in range(5):
        obs, rew, term, trunc, info = env.step(np.zeros((2, 22, 3), np.int64))
    assert info["_final_obs"].all() and trunc.all() and not term.any()
    assert not info["final_obs"][UAV_AGENT]["observation"].any()  # the scalar env's zero_for
    assert all(np.array_equal(first[k], obs[k]["observation"]) for k in first)  # seeds replayed
    env = batched_env("offload-urban", 2, autoreset_mode="Disabled", duration=0.06)
    env.reset(seed=7473)
    for _ in range(4):
        obs, rew, term, trunc, info = env.step(np.zeros((2, 22, 3), np.int64))
    assert not info["present"].any() and not rew.any()
    obs, info = env.reset(options={"reset_mask": np.array([False, True])})
    assert info["present"][1].all() and not info["present"][0].any()


def test_bad_inputs_get_one_line_errors():
    env = batched_env("offload-urban", 2, duration=0.1, check_masks=True)
    with pytest.raises(PolicyError, match="before reset"):
        env.step(np.zeros((2, 22, 3), np.int64))
    obs, info = env.reset(seed=7481)
    big = np.zeros((2, 22, 3), np.int64)
    big[:, 10, 1] = 9  # a UAV's CPU level
    for bad, kind, words in ((np.zeros((2, 22), np.int64), ValueError, r"expected integers of shape \(2, 22, 3\)"),
                             (np.zeros((2, 22, 3)), ValueError, "expected integers"),
                             (big, PolicyError, r"uav_2 outside \(15, 2, 2\)")):
        with pytest.raises(kind, match=words) as e:
            env.step(bad)
        assert "\n" not in str(e.value)
    masked = np.zeros((2, 22, 3), np.int64)
    masked[:, 8:, 0] = 1 + np.arange(8, 22) - 8 + 4  # forward to itself: never an edge
    masked[:, 18:, 0] = 1 + np.arange(4)
    with pytest.raises(PolicyError, match="is masked") as e:
        env.step(masked)
    assert "\n" not in str(e.value)
    for overrides, words in (({"offload.network.degree_cap.bss": 2}, "degree_cap"),
                             ({"offload.dt.predictor": "peephole_lstm", "offload.dt.checkpoint": "x.pt"},
                              "peephole_lstm"),
                             ({"vehicles.mobility": "sumo"}, "sumo")):
        with pytest.raises(ConfigError, match=words) as e:
            batched_env("offload-urban", 2, **overrides)
        assert "\n" not in str(e.value)


def test_single_agent_vector_env_equals_central_env():
    """OffloadVectorEnv's sub-env i is DesimCentralEnv (slot fidelity) with seed i: concatenated
    observations and masks, summed rewards, terminated/truncated, action_masks()."""
    venv = vector_env("offload-urban", 2, duration=0.1)
    genvs = [gym_env("offload-urban", fidelity="slot", duration=0.1) for _ in range(2)]
    vobs, _ = venv.reset(seed=7491)
    gobs = [g.reset(seed=7491 + i)[0] for i, g in enumerate(genvs)]
    assert venv.single_observation_space.contains({k: v[0] for k, v in vobs.items()})
    rng = np.random.default_rng(7492)
    for step in range(6):
        for i, g in enumerate(genvs):
            if step < 5:
                assert all(np.array_equal(gobs[i][k], vobs[k][i]) for k in gobs[i])
                assert np.array_equal(g.action_masks(), venv.action_masks()[i])
                assert np.array_equal(maskable(vobs["action_mask"][i], g.action_space.nvec), venv.action_masks()[i])
        masks, parts, off = venv.action_masks(), [], 0
        for n in genvs[0].action_space.nvec.tolist():  # a random allowed value per component
            parts.append(np.where(masks[:, off: off + n], rng.random((2, n)), -1.0).argmax(axis=1))
            off += n
        acts = np.where(rng.random((2, len(parts))) < 0.1, 0, np.stack(parts, axis=1))  # some masked
        vobs, vrew, vterm, vtrunc, _ = venv.step(acts)
        if step < 5:
            for i, g in enumerate(genvs):
                gobs[i], r, term, trunc, _ = g.step(acts[i])
                assert r == vrew[i] and term == vterm[i] and trunc == vtrunc[i]
                if step == 4:
                    assert trunc and not term
    venv.close()
