"""The batched twin env's shortcuts equal what they replace, bit for bit (desim_iov/vector):
distances to fixed servers by their grid, migration rates of the chosen pairs only, the step
of a batch whose episodes have all ended, the periodic background in one array. Seeds 7520-7539 are used nowhere else."""

from __future__ import annotations

import numpy as np
import pytest

from desim_iov.env import make_scenario
from desim_iov.servers import PeriodicBackground
from desim_iov.vector.twin_inputs import TwinInputs
from desim_iov.vector.twin_radio import SQUARE_SUM_ORDER, FixedDistances, _grid_of
from desim_iov.vector.twin_slot import TwinSlotBatch
from models.compute import service_rate_bps
from models.geo import pairwise_distance_m

needs_order = pytest.mark.skipif(SQUARE_SUM_ORDER is None, reason="no association of the squares matches einsum here")


def _sites(rng: np.random.Generator) -> tuple[np.ndarray, slice]:
    """Servers: a 7 x 6 grid (one cell left out at the end) with -0.0 and 0.0 columns, three
    UAV columns, a satellite, then scattered sites and another grid at another height."""
    gx, gy = np.meshgrid(np.array([-0.0, 250.0, 500.0, 1500.0, 1750.0, 3e3, 4.5e3]),
                         np.array([-900.0, 0.0, 300.0, 1e3, 1.2e3, 2e3]))
    grid = np.column_stack([gx.ravel(), gy.ravel(), np.full(gx.size, 12.5)])[:-1]
    grid[7::14, 0] = 0.0  # +0.0 beside -0.0 in the first column: not one value to the bits
    uav = np.zeros((3, 3))
    sat = np.array([[0.0, 0.0, 550e3]])
    scattered = rng.uniform(-3e3, 3e3, (5, 3))
    g2 = np.column_stack([np.repeat([10.0, 20.0], 3), np.tile([5.0, 6.0, 7.0], 2), np.zeros(6)])
    xyz = np.concatenate([grid, uav, sat, scattered, g2])
    return xyz, slice(len(grid), len(grid) + 3)


def test_grids_are_found_where_the_sites_form_one():
    rng = np.random.default_rng(7520)
    xyz, uavs = _sites(rng)
    fixed = FixedDistances(xyz, uavs) if SQUARE_SUM_ORDER is not None else None
    assert _grid_of(xyz[:41]) is None  # -0.0 and 0.0 in one column
    assert _grid_of(xyz[:41] + 0.0) is not None  # the same grid without the sign bits
    assert _grid_of(xyz[45:50]) is None  # scattered
    assert _grid_of(xyz[50:56]) is not None and _grid_of(xyz[44:45]) is not None  # a grid, a point
    if fixed is not None:
        assert fixed.grids == [] and fixed.rest_slice == slice(0, 56)
        fixed = FixedDistances(xyz + 0.0, uavs)  # the grid, then a run that is none (nor a prefix of it)
        assert [(a, b) for a, b, _ in fixed.grids] == [(0, 41)] and fixed.rest_slice == slice(41, 56)
        fixed = FixedDistances(np.concatenate([xyz[uavs], xyz[:41] + 0.0, xyz[44:46]]), slice(0, 3))
        assert [(a, b) for a, b, _ in fixed.grids] == [(3, 44)] and fixed.rest_slice is None  # a grid's prefix


@needs_order
def test_fixed_distances_equal_the_kernel():
    rng = np.random.default_rng(7521)
    xyz, uavs = _sites(rng)
    sites = [xyz, xyz + 0.0]  # the first grid with and without sign bits to keep apart
    sites.append(np.concatenate([xyz[uavs], xyz[:41] + 0.0, xyz[44:46]]))  # UAVs first: the rest in two runs
    sites.append(np.concatenate([xyz[uavs], xyz[:41] + 0.0]))  # the grid's 42nd cell past the row: a buffer
    twin = make_scenario("twin-city", fidelity="slot")
    b = TwinSlotBatch(twin, 2)
    sites.append(b.inputs.world.server_positions(0.0))  # the twin-city grid, its UAVs and satellite
    in_place = []
    for q, moving in zip(sites, [uavs, uavs, slice(0, 3), slice(0, 3), b.uavs], strict=True):
        f = FixedDistances(q, moving)
        in_place.append(f.in_place)
        n_mov = moving.stop - moving.start
        for scale in (1.0, 1e-3, 3e5):
            p = rng.uniform(-5e3, 5e3, (6, 4, 3)) * scale
            p[0, 0] = q[0]  # a vehicle on a site: a zero distance
            mov = rng.uniform(-5e3, 5e3, (6, n_mov, 3)) * scale
            d = f(p, mov)
            out = np.full_like(d, np.nan)
            assert f(p, mov, out) is out and np.array_equal(out, d)
            for e in range(6):
                ref_q = q.copy()
                ref_q[moving] = mov[e]
                assert np.array_equal(d[e], pairwise_distance_m(p[e], ref_q))
    assert [[bool(x) for x in f] for f in in_place] == [[], [True], [True], [False], [True]]


def test_chosen_migration_rates_equal_the_full_rows():
    """R^mig of one (host, choice) pair per vehicle (the step's look-up) equals the row
    PatrolRates.rates + finish_migration_rates gives, for every kind of end and tick."""
    sc = make_scenario("twin-city", fidelity="slot")
    b = TwinSlotBatch(sc, 64)
    pr, rd = b.patrol, b.radio
    assert pr.positive
    rng = np.random.default_rng(7522)
    M, R = b.M, b.inputs.world.n_rsu
    for _ in range(4):
        src = rng.integers(0, M, (64, 5))
        src[0, :3] = (b.sat, b.uavs.start, 3)
        dst = rng.integers(0, M, (64, 5))
        dst[0, :3] = (b.sat, b.uavs.start + 1, 3)
        dst[1] = src[1]  # to itself
        route = rng.integers(0, R, (64, b.inputs.U))
        k = rng.integers(0, b.K, 64)
        full = rd.finish_migration_rates(pr.rates(src, route, k), src)
        want = np.take_along_axis(full, dst[..., None], axis=2)[..., 0]
        got = rd.finish_pair_rates(pr.pair_rates(src, dst, route, k), src, dst)
        assert np.array_equal(got, want)


def test_a_step_of_ended_episodes_equals_the_full_step():
    """The short cut for a batch whose episodes have all ended gives what the full step
    computes for it: NaN terms, no migration, server -1, reward 0, nobody ends or acts."""
    sc = make_scenario("twin-city", fidelity="slot", duration=60)
    outs = []
    for idle in (True, False):
        b = TwinSlotBatch(sc, 3)
        b.reset(np.arange(3), [7523, 7524, 7525])
        while not b.done.all():
            b.step(np.zeros((3, b.V), np.int64))
        b.observation(), b.action_mask()
        a = np.zeros((3, b.V), np.int64)
        out = b._idle_step() if idle else b._run_step(a)
        outs.append((out, b.observation().copy(), b.action_mask().copy(), b.acting.copy()))
    (o1, obs1, m1, act1), (o2, obs2, m2, act2) = outs
    assert sorted(o1) == sorted(o2)
    for key in o1:
        assert o1[key].dtype == o2[key].dtype and np.array_equal(o1[key], o2[key], equal_nan=True), key
    assert np.array_equal(obs1, obs2) and np.array_equal(m1, m2) and not act1.any() and not act2.any()
    assert obs1.dtype == np.float32 and m1.dtype == np.int8


@pytest.mark.parametrize("overrides", [{}, {"background.amplitude": 0.9, "background.period": 250.0,
                                            "background.utilisation": 0.55, "duration": 200}])
def test_periodic_background_in_place_equals_the_model(overrides):
    """TwinInputs.periodic_rate (one array, in place) equals PeriodicBackground.rate tick by tick."""
    sc = make_scenario("twin-city", fidelity="slot", **overrides)
    inp = TwinInputs(sc)
    rng = np.random.default_rng(7526)
    phases = rng.uniform(0.0, 2.0 * np.pi, (3, inp.M))
    mu = service_rate_bps(inp.world.cpu_hz, sc.vehicles.cycles_per_bit)
    got = inp.periodic_rate(phases, mu)
    for i in range(3):
        bg = PeriodicBackground(sc, mu, inp.on, phases[i], None)
        for k, t in enumerate(inp.t.tolist()):
            assert np.array_equal(got[i, k], bg.rate(t))
    assert not got[:, :, ~inp.on].any() and got[:, :, inp.on].all()


@pytest.mark.parametrize("high", [1.5, 2.0e4])
def test_observed_distances_clip_as_the_encoder(high):
    """Eq. 19's distances: min(d / scale, high) rounded to float32 (TwinSpaces.encode), whether
    the bound bites (1.5 km: clipped after the rounding, or in float64 for a float64 bound) or
    cannot (the batch's coordinates keep every distance below it: no clip at all)."""
    sc = make_scenario("twin-city", fidelity="slot")
    b = TwinSlotBatch(sc, 3)
    b.reset(np.arange(3), [7527, 7528, 7529])
    enc = b.spaces
    nt = enc.n_obs - b.M
    for dtype in (np.float32, np.float64):
        enc.high = np.r_[np.full(nt, high), enc.high[nt:]].astype(dtype)
        b._obs = None
        got = b.observation()[..., :nt]
        want = np.minimum(b.dist[:, :, b.terrestrial] / enc.DIST_SCALE, enc.high[:nt]).astype(np.float32)
        want[~b.acting] = 0.0
        assert np.array_equal(got, want)
        assert (got == np.float32(high)).any() == (high < 10)


@pytest.mark.parametrize("usable", [lambda m: m % 3 != 0, lambda m: np.zeros_like(m, bool)])
def test_initial_hosts_skip_unusable_links(usable):
    """The first host (TwinMigrationApp._initial_host): the nearest server in range whose links
    are usable, else the satellite; checked where some (or all) links in range are not, against
    Radio.reachable applied to every pair in range."""
    sc = make_scenario("twin-city", fidelity="slot")
    b = TwinSlotBatch(sc, 8)
    b.reset(np.arange(8), list(range(7530, 7538)))
    reachable = b.radio.reachable
    b.radio.reachable = lambda d, m: reachable(d, m) & usable(m)
    idx = np.array([0, 2, 3, 5, 6, 7])  # a part of the batch, and the whole
    for e in (idx, np.arange(8)):
        d = b._distances(e, np.zeros_like(e))
        ok = (d <= b.range_m) & ~b.radio.radio.always_reachable
        i, v, m = np.nonzero(ok)
        ok[i, v, m] = b.radio.reachable(d[i, v, m], m)
        want = np.where(ok.any(axis=2), np.argmin(np.where(ok, d, np.inf), axis=2), b.sat)
        assert np.array_equal(b._initial_hosts(e), want)
        in_range = (d <= b.range_m) & ~b.radio.radio.always_reachable
        nearest = np.argmin(np.where(in_range, d, np.inf), axis=2)
        assert (want != nearest).any()  # the nearest in range was unusable for some vehicles
        assert (want == b.sat).all() == (not usable(np.arange(b.M)).any())
