"""The offloading topology (desim_iov/topology.py): only the paper's link types, edges iff the
rate meets R^ (C8), rates equal direct calls of the models, degree caps, common random numbers,
and the networkx view agreeing with the numpy truth."""

from __future__ import annotations

import numpy as np
import pytest

from agents.base import make_policy
from desim_iov.config import load_scenario
from desim_iov.sim import Simulation
from desim_iov.topology import BU, LINK_TYPES, UB, UU, VB, VU
from models.pathloss import log_distance
from models.rate import fbl_rate_bps, snr_linear


def _sim(*overrides: str) -> Simulation:
    sc = load_scenario("offload-urban", ["duration=0.1 s", *overrides])
    return Simulation(sc, make_policy("nearest", app=sc.app))


def test_only_the_papers_link_types_and_every_edge_meets_min_rate():
    sim = _sim()
    tp = sim.app.topo
    B, N = tp.B, tp.N
    for t in (0.0, 0.02, 0.04):
        sim.radio.update(t)
        tp.update(t)
        assert not tp.relay_edge[:B, :B].any()  # no B -> B
        assert not np.diag(tp.relay_edge).any()
        assert (tp.relay_type[:B, B:] == BU).all() and (tp.relay_type[B:, :B] == UB).all()
        uu = tp.relay_type[B:, B:]
        assert (uu[~np.eye(N - B, dtype=bool)] == UU).all()
        assert (tp.access_type[:B] == VB).all() and (tp.access_type[B:] == VU).all()
        assert np.array_equal(tp.access_edge, tp.access_rate >= tp.min_rate)
        assert np.array_equal(tp.relay_edge, (tp.relay_rate >= tp.min_rate) & (tp.relay_type >= 0))
        G = tp.graph()
        for u, v, e in G.edges(data=True):
            assert v < N  # nothing into a vehicle
            assert e["rate"] >= tp.min_rate
            assert LINK_TYPES[e["type"]] in ("vb", "vu", "uu", "bu", "ub")
            assert not (u < B and v < B)
        assert G.number_of_edges() == int(tp.access_edge.sum() + tp.relay_edge.sum())
    # the preset has links of every type
    assert tp.access_edge[:, :B].any() and tp.access_edge[:, B:].any()
    assert tp.relay_edge[:B, B:].any() and tp.relay_edge[B:, :B].any() and tp.relay_edge[B:, B:].any()


def test_relay_rates_are_the_models_without_fading():
    sim = _sim(*(f"offload.links.{k}.fading=none" for k in ("uu", "bu", "ub")))
    tp, s = sim.app.topo, sim.scenario
    B, N = tp.B, tp.N
    xyz = sim.radio.server_xyz[:N]
    d = np.linalg.norm(xyz[:, None] - xyz[None], axis=-1)
    M = s.rsus.antennas
    noise = s.channel.noise_power
    for (x, y, code) in ((0, B, BU), (B, 1, UB), (B, B + 1, UU)):
        alpha = tp._exponent[code][x, y]
        assert 2.25 <= alpha <= 2.75
        g = 10 ** (-log_distance(d[x, y], s.channel.carrier_frequency, exponent=alpha) / 10)
        g *= M if code in (BU, UB) else 1  # MRT / MRC gain of the BS array, SISO between UAVs
        p = s.rsus.tx_power if x < B else s.uavs.tx_power
        bw = s.rsus.bandwidth_down if x < B else s.uavs.bandwidth_down
        want = fbl_rate_bps(bw, snr_linear(p, g, noise), 100, s.channel.error_prob)
        assert tp.relay_rate[x, y] == pytest.approx(float(want), rel=1e-12)


def test_access_rates_use_the_radio_snr_and_the_types_block_length():
    sim = _sim("offload.links.vu_blocklength=400")
    tp, s = sim.app.topo, sim.scenario
    snr = sim.radio.snr_up[:, : tp.N]
    want_vb = fbl_rate_bps(s.rsus.bandwidth_up, snr[:, : tp.B], 100, s.channel.error_prob)
    want_vu = fbl_rate_bps(s.uavs.bandwidth_up, snr[:, tp.B:], 400, s.channel.error_prob)
    np.testing.assert_allclose(tp.access_rate[:, : tp.B], want_vb, rtol=1e-12)
    np.testing.assert_allclose(tp.access_rate[:, tp.B:], want_vu, rtol=1e-12)
    # power levels 3 dB apart: level 0 is P_max and equals the edge's rate
    np.testing.assert_array_equal(tp.access_rate_levels[0], tp.access_rate)
    assert (tp.access_rate_levels[1] <= tp.access_rate_levels[0]).all()


def test_degree_caps_keep_the_strongest_links_of_each_uav():
    free = _sim()
    capped = _sim("offload.network.degree_cap.vehicles=2", "offload.network.degree_cap.bss=1",
                  "offload.network.degree_cap.uavs=3")
    a, b = free.app.topo, capped.app.topo
    B, N = b.B, b.N
    for u in range(B, N):
        assert b.access_edge[:, u].sum() <= 2
        bs_nb = b.relay_edge[u, :B] | b.relay_edge[:B, u]
        assert bs_nb.sum() <= 1
        uav_nb = b.relay_edge[u, B:] | b.relay_edge[B:, u]
        assert uav_nb.sum() <= 3  # later UAVs only remove links
        kept = np.flatnonzero(b.access_edge[:, u])
        dropped = np.flatnonzero(a.access_edge[:, u] & ~b.access_edge[:, u])
        if kept.size and dropped.size:
            assert a.access_rate[kept, u].min() >= a.access_rate[dropped, u].max()
    assert b.access_edge.sum() < a.access_edge.sum()
    # BSs are not capped: their vehicle links are untouched
    np.testing.assert_array_equal(a.access_edge[:, :B], b.access_edge[:, :B])


def test_common_random_numbers_one_fixed_draw_count_per_step():
    """The links stream consumes the same number of draws whatever the positions (so what-if
    comparisons keep their fading draws aligned)."""
    a = _sim("seed=1")
    b = _sim("seed=1", "uavs.speed=40 m/s", "uavs.speed_max=50 m/s")
    for t in (0.02, 0.04):
        for s in (a, b):
            s.radio.update(t)
            s.app.topo.update(t)
    assert a.app.topo._rng.bit_generator.state == b.app.topo._rng.bit_generator.state


def test_graph_queries_agree_with_the_arrays():
    sim = _sim()
    tp = sim.app.topo
    v = int(np.flatnonzero(tp.access_edge.any(axis=1))[0])
    src = tp.vehicle_node(v)
    one = tp.within_hops(src, 1)
    assert set(one) - {src} == set(np.flatnonzero(tp.access_edge[v]).tolist())
    two = tp.within_hops(src, 2)
    for z, h in two.items():
        if h == 2:
            assert any(tp.relay_edge[y, z] for y in np.flatnonzero(tp.access_edge[v]))
    bits = 8e5
    delay, paths = tp.fastest_paths(src, bits)
    for z, path in paths.items():
        if z == src:
            continue
        hop_delays = [bits / (tp.access_rate[v, path[1]])] + [
            bits / tp.relay_rate[x, y] for x, y in zip(path[1:-1], path[2:], strict=True)]
        assert delay[z] == pytest.approx(sum(hop_delays), rel=1e-12)
    np.testing.assert_array_equal(tp.successors(0), np.flatnonzero(tp.relay_edge[0]))
