"""Smoke and unit checks of the Table III script and the models benchmark (tiny budgets)."""

import math

import numpy as np
import pytest

from analysis import quantum_drl_table3 as t3
from benchmarks import bench_models


def test_table3_reading_units_hand_computed():
    # 10 MB in bytes -> 8e7 bit; P = -30 dBW = 1e-3 W; sigma^2 = -90 dBm = 1e-12 W; Friis at 100 m, 2 GHz
    r = t3.Reading(8.0, False, "dBW", "dBm", 2e9, "standard", "shannon")
    pl_db = 20 * math.log10(4 * math.pi * 100.0 * 2e9 / 3e8)
    snr = 1e-3 * 10 ** (-pl_db / 10) / 1e-12
    expected = 8e7 / (10e6 * math.log2(1 + snr))
    lat = t3._latency(r, np.array([pl_db]), 1.0)
    assert lat.shape == (1, 3)
    assert lat[0, 2] == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(lat[0] / lat[0, 2], [0.01, 0.1, 1.0])  # decimal prefixes


def test_table3_literal_reading_has_zero_fbl_rate():
    _, lat = t3.literal_reading()
    assert np.isinf(lat).all()


def test_table3_required_snr_inverts_the_rate():
    r = t3.Reading(1.0, False, "dBW", "dBm", 2e9, "standard", "fbl1000")
    req = t3.required_snr_db(r)
    rate = r.rate_bps(10 ** (req / 10))
    np.testing.assert_allclose(r.size_bits()[2] / rate, t3.PAPER[2], rtol=1e-6)


def test_table3_row_ratios_drop_binary_prefixes():
    dec = t3.Reading(1.0, False, "dBW", "dBm", 3.5e9, "standard", "shannon")
    binr = t3.Reading(1.0, True, "dBW", "dBm", 3.5e9, "standard", "shannon")
    np.testing.assert_allclose(t3.row_ratios(dec), [10.0, 10.0])
    np.testing.assert_allclose(t3.row_ratios(binr), [10.24, 10.0])  # KB = 1024 B, MB = 1024^2 B
    # the table: Okumura 0.010109 / 0.001010 = 10.0089 -> decimal is 0.09 % off, binary 2.3 %
    assert t3.row_ratio_mismatch(dec) == pytest.approx(math.log(0.010109 / 0.001010 / 10.0), rel=1e-9)
    assert t3.row_ratio_mismatch(dec) < t3.RATIO_TOL < t3.row_ratio_mismatch(binr)
    assert t3.row_ratio_mismatch(binr) == pytest.approx(math.log(10.24 / 10.0003), abs=1e-4)
    assert len(t3.all_readings()) == 480


def test_benchmark_paths_agree_on_a_small_scenario():
    veh, srv = bench_models.scenario(seed=3)
    veh, srv = veh[:6], srv[:4]
    ref = bench_models.vectorised(veh, srv)
    np.testing.assert_allclose(bench_models.per_pair_library(veh, srv), ref)
    np.testing.assert_allclose(np.array(bench_models.per_pair_plain(veh.tolist(), srv.tolist())), ref, rtol=1e-9)
    # the plain path is an independent code path: one hand value, UMa NLOS at 3.5 GHz
    # d2D = 200 m: PL'_NLOS = 13.54 + 39.08 log10(201.38) + 20 log10(3.5) = 114.5 dB > PL_LOS
    d3 = math.hypot(200.0, 23.5)
    pl = 13.54 + 39.08 * math.log10(d3) + 20 * math.log10(3.5)
    snr = 0.2 * 10 ** (-pl / 10) / bench_models.NOISE_W
    v = 1 - (1 + snr) ** -2
    q = 4.753424  # Q^-1(1e-6)
    expect = 10e6 * max(math.log2(1 + snr) - math.sqrt(v / 100) * q / math.log(2), 0.0)
    assert pl == pytest.approx(114.5, abs=0.05) and expect > 1e6
    got = bench_models.per_pair_plain([[0.0, 0.0, 1.5]], [[200.0, 0.0, 25.0]])[0][0]
    assert got == pytest.approx(expect, rel=1e-6)
