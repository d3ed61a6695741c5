"""Benchmark: rate matrix distance -> path loss -> SNR -> rate for 100 vehicles x 100 servers.

Run from the repository root: ``python -m benchmarks.bench_models [--repeats 5]``.  Times three
paths, interleaved in one run, and prints the median of each: the vectorised chain (``models``
on (100, 100) arrays); a plain per-pair Python loop with the ``math`` module (the honest
baseline: what one would write without numpy); and the per-pair loop calling the numpy-wrapped
``models`` functions on scalars (slow for their array overhead, shown for reference).  All three
give the same matrix (checked).  The last line is ``speedup=<plain per-pair time / vectorised
time>``.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from statistics import NormalDist

import numpy as np

from models.geo import pairwise_distance_m
from models.pathloss import gain
from models.rate import fbl_rate_bps, snr_linear, thermal_noise_w

N_VEH, N_SRV = 100, 100
FREQ_HZ, BW_HZ = 3.5e9, 10e6
P_TX_W = 0.2  # 23 dBm
NOISE_W = float(thermal_noise_w(BW_HZ, noise_figure_db=7.0))
MODEL, PARAMS = "uma_nlos", {"h_bs": 25.0, "h_ut": 1.5}
BLOCKLENGTH, ERROR_PROB = 100, 1e-6


def scenario(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    veh = np.column_stack([rng.uniform(-1250, 1250, (N_VEH, 2)), np.full(N_VEH, 1.5)])
    srv = np.column_stack([rng.uniform(-1000, 1000, (N_SRV, 2)), np.full(N_SRV, 25.0)])
    return veh, srv


def vectorised(veh: np.ndarray, srv: np.ndarray) -> np.ndarray:
    d = pairwise_distance_m(veh, srv)
    snr = snr_linear(P_TX_W, gain(MODEL, d, FREQ_HZ, **PARAMS), NOISE_W)
    return fbl_rate_bps(BW_HZ, snr, BLOCKLENGTH, ERROR_PROB)


def per_pair_library(veh: np.ndarray, srv: np.ndarray) -> np.ndarray:
    """The ``models`` functions called on Python scalars, pair by pair."""
    out = np.empty((len(veh), len(srv)))
    for i, v in enumerate(veh):
        for j, s in enumerate(srv):
            d = math.dist(v, s)
            snr = snr_linear(P_TX_W, gain(MODEL, d, FREQ_HZ, **PARAMS), NOISE_W)
            out[i, j] = fbl_rate_bps(BW_HZ, snr, BLOCKLENGTH, ERROR_PROB)
    return out


def per_pair_plain(veh: list[list[float]], srv: list[list[float]]) -> list[list[float]]:
    """The same chain in plain Python (``math``), pair by pair: TR 38.901 UMa NLOS
    (quantum-DRL Eq. 16-20), SNR, FBL normal approximation (Eq. 23)."""
    h_bs, h_ut = PARAMS["h_bs"], PARAMS["h_ut"]
    dh2 = (h_bs - h_ut) ** 2
    dbp = 4.0 * (h_bs - 1.0) * (h_ut - 1.0) * FREQ_HZ / 3.0e8
    fc_db = 20.0 * math.log10(FREQ_HZ / 1e9)
    pl2_const = 28.0 + fc_db - 9.0 * math.log10(dbp**2 + dh2)
    nlos_const = 13.54 + fc_db - 0.6 * (h_ut - 1.5)
    q_term = -NormalDist().inv_cdf(ERROR_PROB) / math.sqrt(BLOCKLENGTH) / math.log(2.0)
    snr_per_gain = P_TX_W / NOISE_W
    out = []
    for v in veh:
        row = []
        for s in srv:
            d3 = math.dist(v, s)
            d2 = max(math.sqrt(max(d3 * d3 - dh2, 0.0)), 10.0)
            log_d3 = math.log10(math.sqrt(d2 * d2 + dh2))
            los = 28.0 + 22.0 * log_d3 + fc_db if d2 <= dbp else pl2_const + 40.0 * log_d3
            pl = max(los, nlos_const + 39.08 * log_d3)
            snr = snr_per_gain * 10.0 ** (-pl / 10.0)
            disp = 1.0 - (1.0 + snr) ** -2.0
            row.append(BW_HZ * max(math.log2(1.0 + snr) - math.sqrt(disp) * q_term, 0.0))
        out.append(row)
    return out


def _time(fn, *args, inner: int) -> float:
    t0 = time.perf_counter()
    for _ in range(inner):
        fn(*args)
    return (time.perf_counter() - t0) / inner


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5, help="timed repeats of each path (median reported)")
    args = ap.parse_args()
    if args.repeats < 1:
        ap.error("--repeats must be >= 1")
    veh, srv = scenario()
    veh_l, srv_l = veh.tolist(), srv.tolist()
    ref = vectorised(veh, srv)
    np.testing.assert_allclose(per_pair_library(veh, srv), ref, rtol=1e-12)
    np.testing.assert_allclose(np.array(per_pair_plain(veh_l, srv_l)), ref, rtol=1e-9)
    pairs = N_VEH * N_SRV
    vec_t, plain_t, lib_t = [], [], []
    for _ in range(args.repeats):  # interleaved so all paths see the same machine load
        vec_t.append(_time(vectorised, veh, srv, inner=20))
        plain_t.append(_time(per_pair_plain, veh_l, srv_l, inner=3))
        lib_t.append(_time(per_pair_library, veh, srv, inner=1))
    v, p, lib = statistics.median(vec_t), statistics.median(plain_t), statistics.median(lib_t)
    print(f"rate matrix {N_VEH} x {N_SRV}: pairwise distance -> {MODEL} -> SNR -> FBL rate; "
          f"median of {args.repeats} repeats")
    print(f"vectorised (numpy): {v * 1e3:.3f} ms per matrix, {pairs / v:,.0f} evaluations/s")
    print(f"per-pair plain Python (math): {p * 1e3:.1f} ms per matrix, {pairs / p:,.0f} evaluations/s")
    print(f"per-pair models functions on scalars: {lib * 1e3:.1f} ms per matrix, {pairs / lib:,.0f} evaluations/s")
    print(f"speedup vs per-pair models calls (inflated by numpy's scalar overhead): {lib / v:.1f}")
    print(f"speedup={p / v:.1f}")


if __name__ == "__main__":
    main()
