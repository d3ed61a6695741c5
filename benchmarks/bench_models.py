"""Benchmark: rate matrix distance -> path loss -> SNR -> rate for 100 vehicles x 100 servers.

Run from the repository root: ``python -m benchmarks.bench_models [--repeats 7]``.  Times the
vectorised chain and the same chain evaluated pair by pair in a Python loop (calling the same ``models`` functions on
scalars), side by side in one run, and prints medians; the last line is
``speedup=<per-pair time / vectorised time>``.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np

from models.geo import pairwise_distance_m
from models.pathloss import gain
from models.rate import fbl_rate_bps, snr_linear, thermal_noise_w

N_VEH, N_SRV = 100, 100
FREQ_HZ, BW_HZ = 3.5e9, 10e6
P_TX_W = 0.2  # 23 dBm
NOISE_W = float(thermal_noise_w(BW_HZ, noise_figure_db=7.0))
MODEL, PARAMS = "uma_nlos", {"h_bs": 25.0, "h_ut": 1.5}


def scenario(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    veh = np.column_stack([rng.uniform(-1250, 1250, (N_VEH, 2)), np.full(N_VEH, 1.5)])
    srv = np.column_stack([rng.uniform(-1000, 1000, (N_SRV, 2)), np.full(N_SRV, 25.0)])
    return veh, srv


def vectorised(veh: np.ndarray, srv: np.ndarray) -> np.ndarray:
    d = pairwise_distance_m(veh, srv)
    snr = snr_linear(P_TX_W, gain(MODEL, d, FREQ_HZ, **PARAMS), NOISE_W)
    return fbl_rate_bps(BW_HZ, snr, 100, 1e-6)


def per_pair(veh: np.ndarray, srv: np.ndarray) -> np.ndarray:
    out = np.empty((len(veh), len(srv)))
    for i, v in enumerate(veh):
        for j, s in enumerate(srv):
            d = math.dist(v, s)
            snr = snr_linear(P_TX_W, gain(MODEL, d, FREQ_HZ, **PARAMS), NOISE_W)
            out[i, j] = fbl_rate_bps(BW_HZ, snr, 100, 1e-6)
    return out


def _time(fn, *args, inner: int) -> float:
    t0 = time.perf_counter()
    for _ in range(inner):
        fn(*args)
    return (time.perf_counter() - t0) / inner


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7, help="timed repeats of each path (median reported)")
    args = ap.parse_args()
    veh, srv = scenario()
    np.testing.assert_allclose(vectorised(veh, srv), per_pair(veh, srv), rtol=1e-12)
    pairs = N_VEH * N_SRV
    vec_t, loop_t = [], []
    for _ in range(args.repeats):  # interleaved so both paths see the same machine load
        vec_t.append(_time(vectorised, veh, srv, inner=20))
        loop_t.append(_time(per_pair, veh, srv, inner=1))
    v, p = statistics.median(vec_t), statistics.median(loop_t)
    print(f"rate matrix {N_VEH} x {N_SRV}: pairwise distance -> {MODEL} -> SNR -> FBL rate; {args.repeats} repeats")
    print(f"vectorised: median {v * 1e3:.3f} ms per matrix, {pairs / v:,.0f} evaluations/s")
    print(f"per-pair Python: median {p * 1e3:.1f} ms per matrix, {pairs / p:,.0f} evaluations/s")
    print(f"speedup={p / v:.1f}")


if __name__ == "__main__":
    main()
