"""Twin-migration Table II and Fig. 5 on real PeMS flow: train every forecaster, score the test
week.

    desim-iov forecast table [--epochs N] [--seeds K] [--out DIR] [--data DIR]
                             [--models NAME ...] [--mode shared|per_server]
                             [--backend serial|process] [--workers J]

Data: PeMS D12 Orange County, 81 stations x 8,064 five-minute steps (``traces.pems``). Weeks 1-3
train (their last two days validate, for early stopping), week 4 tests; imputed target cells
(PeMS ``% Observed`` = 0) are not scored, which removes the two 100 %-imputed stations.
Metrics are in vehicles per 5 min. Baselines are deterministic, so their rows repeat per seed.
Every (neural model, seed) is one :class:`~desim_iov.experiments.jobs.ForecastJob` on the
experiments' runner; the table does not depend on the backend.

Writes ``DIR/forecast_table.csv`` (``model, seed, rmse, mae, wape, mape, r2``),
``forecast_table.md`` (the printed table), ``forecast_fig5.png`` (predicted vs actual, 3 stations,
two test days), ``forecast_run.json`` (settings, timings) and ``checkpoints/<model>_s<seed>.pt``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from analysis.forecast_table import plot_fig5, table_markdown
from desim_iov.cli_types import positive_int
from desim_iov.experiments.jobs import ForecastJob, forecast_inputs, run_job
from desim_iov.experiments.runner import add_backend_options, make_backend
from models.forecast.baselines import baseline_forecast
from models.forecast.data import FeatureConfig
from models.forecast.metrics import METRICS, all_metrics
from models.forecast.registry import BASELINE_MODELS, MODEL_NAMES, NEURAL_MODELS
from models.forecast.train import TrainConfig

# The configuration chosen on the validation days (docs/MODEL.md, forecasting section).
DEFAULT_FEATURES = FeatureConfig(window=6, seasonal_lags=(2016, 288), seasonal_lead=1,
                                 time_features=False)
DEFAULT_NET = {"d_h": 32, "d_k": 64, "nhead": 4, "dim_feedforward": 128, "num_layers": 1,
               "dropout": 0.0, "pool": "last", "hidden": 32, "conv_channels": 32, "emb_dim": 8,
               "residual": True}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="desim-iov forecast table", description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=positive_int, default=15, help="max epochs (early stopping on val)")
    ap.add_argument("--seeds", type=positive_int, default=3, help="seeds per neural model (0..K-1)")
    ap.add_argument("--out", type=Path, default=Path("runs/forecast"), help="output directory")
    ap.add_argument("--data", type=Path, default=None,
                    help="shared data dir (default $DESIM_IOV_DATA or ../shared/data), the D12 "
                         "directory itself, or a PEMS0x .npz file")
    ap.add_argument("--models", nargs="+", default=list(MODEL_NAMES), choices=MODEL_NAMES,
                    metavar="NAME", help=f"subset of: {' '.join(MODEL_NAMES)}")
    ap.add_argument("--mode", choices=("shared", "per_server"), default="shared",
                    help="one net across stations (station embedding) or one per station")
    add_backend_options(ap, workers_flags=("--workers", "--jobs"),
                        default_workers=min(2, os.cpu_count() or 1))
    ap.add_argument("--threads", type=positive_int, default=1, help="torch threads per job")
    ap.add_argument("--batch-size", type=positive_int, default=None,
                    help="mini-batch size (default 256 shared, 32 per-server: a per-server net "
                         "has 1/81 of the samples and needs more, smaller steps)")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--patience", type=positive_int, default=3)
    ap.add_argument("--samples-per-epoch", type=positive_int, default=None,
                    help="subsample training windows each epoch (smoke tests)")
    ap.add_argument("--no-progress", action="store_true", help="hide progress bars")
    a = ap.parse_args(argv)
    if a.epochs < 1 or a.seeds < 1 or a.workers < 1 or a.threads < 1:
        ap.error("--epochs, --seeds, --workers (--jobs) and --threads must be >= 1")
    if a.batch_size is None:
        a.batch_size = 256 if a.mode == "shared" else 32
    return a


def forecast_jobs(a: argparse.Namespace, tcfg: TrainConfig,
                  inner_progress: bool) -> list[ForecastJob]:
    """One job per (neural model, seed), longest (the transformer) first."""
    train = {k: v for k, v in dataclasses.asdict(tcfg).items() if k not in ("seed", "progress")}
    data = None if a.data is None else str(a.data.resolve())
    return [ForecastJob(model=name, seed=seed, mode=a.mode, data=data,
                        checkpoint=str(a.out / "checkpoints" / f"{name}_s{seed}.pt"),
                        features=DEFAULT_FEATURES, train=train, net=DEFAULT_NET,
                        threads=a.threads, progress=inner_progress)
            for name in a.models if name in NEURAL_MODELS for seed in range(a.seeds)]


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    t_start = time.perf_counter()
    load_start = os.getloadavg()  # the machine may be shared: record how busy it was
    data_path = None if a.data is None else str(a.data.resolve())
    try:
        inp = forecast_inputs(data_path, DEFAULT_FEATURES)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    backend = make_backend(a.backend, a.workers)
    d, split = inp.pems, inp.split
    out = a.out
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)

    rows: list[dict] = []
    preds: dict[str, np.ndarray] = {}  # seed-0 test predictions, (test steps, S)
    info: dict = {"train_jobs": {}}
    seeds = list(range(a.seeds))
    shape = (split.test[1] - split.test[0], d.n_stations)
    for name in (m for m in a.models if m in BASELINE_MODELS):
        p = baseline_forecast(name, d.flow, inp.test_t, inp.test_s)
        met = all_metrics(p, inp.y, inp.score)
        rows += [{"model": name, "seed": s, **met} for s in seeds]
        preds[name] = p.reshape(shape)

    tcfg = TrainConfig(epochs=a.epochs, batch_size=a.batch_size, lr=a.lr, patience=a.patience,
                       samples_per_epoch=a.samples_per_epoch, lr_schedule="cosine")
    show_inner = not a.no_progress and backend.name == "serial"  # epoch bars in this process
    jobs = forecast_jobs(a, tcfg, show_inner)
    results = backend.map(run_job, jobs, progress=not a.no_progress,
                          desc=f"training ({a.mode})")
    for job, r in zip(jobs, results, strict=True):
        rows.append({"model": job.model, "seed": job.seed, **{m: r[m] for m in METRICS}})
        if job.seed == 0:
            preds[job.model] = r["pred"].reshape(shape)
        info["train_jobs"][f"{job.model}_s{job.seed}"] = {
            k: r[k] for k in ("seconds", "epochs_run", "best_epoch", "params")
        } | {"best_val": r["best_val"][:3]}

    order = [m for m in MODEL_NAMES if m in a.models]
    df = pd.DataFrame(rows, columns=["model", "seed", *METRICS])
    df["_o"] = df.model.map(order.index)
    df = df.sort_values(["_o", "seed"]).drop(columns="_o").reset_index(drop=True)
    df.to_csv(out / "forecast_table.csv", index=False, float_format="%.6g")
    wall = time.perf_counter() - t_start
    md = table_markdown(df, order)
    header = (f"Test week {d.timestamps[split.test[0]]:%Y-%m-%d} .. "
              f"{d.timestamps[split.test[1] - 1]:%Y-%m-%d}, {int(inp.score.sum())} scored cells "
              f"(imputed targets excluded), vehicles / 5 min; mode={a.mode}, epochs<={a.epochs}, "
              f"batch {a.batch_size}, seeds={a.seeds}, jobs={backend.workers} x {a.threads} "
              f"thread(s), wall {wall:.0f} s")
    (out / "forecast_table.md").write_text(f"{header}\n\n{md}\n")
    print(header)
    print(md)

    # Fig. 5: three scored stations (highest, median, lowest mean flow), Mon-Tue of the test week
    scored = np.flatnonzero(d.observed[split.test[0]:split.test[1]].mean(axis=0) > 0.9)
    if len(scored) and preds:
        by_mean = scored[np.argsort(d.flow[: split.train[1], scored].mean(axis=0))]
        picks = list(dict.fromkeys([by_mean[-1], by_mean[len(by_mean) // 2], by_mean[0]]))
        day0 = int((7 - d.timestamps[split.test[0]].day_of_week) % 7)  # first Monday
        day0 = day0 if (day0 + 2) * 288 <= shape[0] else 0
        plot_fig5(out / "forecast_fig5.png", d.flow, d.observed, d.timestamps,
                  np.arange(*split.test), preds, d.station_ids, picks, day0)
    info.update({
        "wall_seconds": wall, "argv": sys.argv[1:] if argv is None else argv,
        "mode": a.mode, "epochs": a.epochs, "seeds": a.seeds, "workers": backend.workers,
        "backend": backend.name, "threads": a.threads,
        "features": DEFAULT_FEATURES.to_dict(), "net": DEFAULT_NET,
        "train": tcfg.__dict__,
        "split": {k: list(getattr(split, k)) for k in ("train", "val", "test")},
        "data": d.source, "torch": torch.__version__, "python": platform.python_version(),
        "cpu_count": os.cpu_count(), "loadavg_start": load_start,
        "loadavg_end": os.getloadavg(), "batch_size": a.batch_size,
    })
    (out / "forecast_run.json").write_text(json.dumps(info, indent=1, default=float))
    forecast_inputs.cache_clear()  # the flow and its windows: not kept past the table
    print(f"wrote {out / 'forecast_table.csv'}, forecast_table.md, forecast_fig5.png "
          f"({wall:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
