"""Twin-migration Table II and Fig. 5 on real PeMS flow: train every forecaster, score the test
week.

    python -m analysis.forecast_table [--epochs N] [--seeds K] [--out DIR] [--data DIR]
                                      [--models NAME ...] [--mode shared|per_server] [--jobs J]

Data: PeMS D12 Orange County, 81 stations x 8,064 five-minute steps (``traces.pems``). Weeks 1-3
train (their last two days validate, for early stopping), week 4 tests; imputed target cells
(PeMS ``% Observed`` = 0) are not scored, which removes the two 100 %-imputed stations.
Metrics are in vehicles per 5 min. Baselines are deterministic, so their rows repeat per seed.

Writes ``DIR/forecast_table.csv`` (``model, seed, rmse, mae, wape, mape, r2``),
``forecast_table.md`` (the printed table), ``forecast_fig5.png`` (predicted vs actual, 3 stations,
two test days), ``forecast_run.json`` (settings, timings) and ``checkpoints/<model>_s<seed>.pt``.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import multiprocessing as mp
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from models.forecast.baselines import baseline_forecast
from models.forecast.data import FeatureConfig, WindowData, make_window_data, week_split
from models.forecast.metrics import METRICS, all_metrics
from models.forecast.registry import BASELINE_MODELS, MODEL_NAMES, NEURAL_MODELS
from models.forecast.train import NeuralForecaster, TrainConfig
from traces.pems import load_pems_d12, load_pems_npz

# Twin-migration Table II (Sec. VII-B). Units are not stated: RMSE (0.671) below MAE (20.417)
# is impossible in one unit, so RMSE at least is normalised; only the error rate (and R^2) are
# comparable with ours. The paper has no MAPE and no naive baselines.
PAPER_TABLE_II = {
    "lstm_transformer": {"rmse": 0.671, "mae": 20.417, "wape": 0.06814, "r2": 0.925},
    "cnn_gru": {"rmse": 0.812, "mae": 27.802, "wape": 0.09451, "r2": 0.865},
    "lstm": {"rmse": 0.877, "mae": 25.330, "wape": 0.08741, "r2": 0.884},
    "gru": {"rmse": 0.916, "mae": 29.466, "wape": 0.09843, "r2": 0.851},
    "cnn_lstm": {"rmse": 0.917, "mae": 29.461, "wape": 0.09796, "r2": 0.855},
}
PAPER_LABEL = {"lstm_transformer": "Ours", "cnn_gru": "CNN-GRU", "lstm": "LSTM", "gru": "GRU",
               "cnn_lstm": "CNN-LSTM"}
METRIC_LABEL = {"rmse": "RMSE", "mae": "MAE", "wape": "Error rate (WAPE)", "mape": "MAPE",
                "r2": "R^2"}
PERCENT = ("wape", "mape")

# The configuration chosen on the validation days (docs/MODEL.md, forecasting section).
DEFAULT_FEATURES = FeatureConfig(window=6, seasonal_lags=(2016, 288), seasonal_lead=1,
                                 time_features=False)
DEFAULT_NET = {"d_h": 32, "d_k": 64, "nhead": 4, "dim_feedforward": 128, "num_layers": 1,
               "dropout": 0.0, "pool": "last", "hidden": 32, "conv_channels": 32, "emb_dim": 8,
               "residual": True}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="desim-iov forecast table", description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=15, help="max epochs (early stopping on val)")
    ap.add_argument("--seeds", type=int, default=3, help="seeds per neural model (0..K-1)")
    ap.add_argument("--out", type=Path, default=Path("runs/forecast"), help="output directory")
    ap.add_argument("--data", type=Path, default=None,
                    help="shared data dir (default $DESIM_IOV_DATA or ../shared/data), the D12 "
                         "directory itself, or a PEMS0x .npz file")
    ap.add_argument("--models", nargs="+", default=list(MODEL_NAMES), choices=MODEL_NAMES,
                    metavar="NAME", help=f"subset of: {' '.join(MODEL_NAMES)}")
    ap.add_argument("--mode", choices=("shared", "per_server"), default="shared",
                    help="one net across stations (station embedding) or one per station")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                    help="training processes in parallel (each uses --threads)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per process")
    ap.add_argument("--batch-size", type=int, default=None,
                    help="mini-batch size (default 256 shared, 32 per-server: a per-server net "
                         "has 1/81 of the samples and needs more, smaller steps)")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--patience", type=int, default=3)
    ap.add_argument("--samples-per-epoch", type=int, default=None,
                    help="subsample training windows each epoch (smoke tests)")
    ap.add_argument("--no-progress", action="store_true", help="hide progress bars")
    a = ap.parse_args(argv)
    if a.epochs < 1 or a.seeds < 1 or a.jobs < 1 or a.threads < 1:
        ap.error("--epochs, --seeds, --jobs and --threads must be >= 1")
    if a.batch_size is None:
        a.batch_size = 256 if a.mode == "shared" else 32
    return a


def load_data(path: Path | None):
    if path is not None and path.suffix == ".npz":
        return load_pems_npz(path)
    return load_pems_d12(path)


# -- worker side ---------------------------------------------------------------------------------

_W: dict = {}


def _init_worker(data: WindowData, threads: int) -> None:
    torch.set_num_threads(threads)
    _W["data"] = data


def _train_job(name: str, seed: int, mode: str, net_kwargs: dict, tcfg: TrainConfig,
               test_t: np.ndarray, test_s: np.ndarray, ckpt: str, station_ids: list[str],
               progress: bool) -> dict:
    data: WindowData = _W["data"]
    t0 = time.perf_counter()
    fc = NeuralForecaster.create(name, mode, data, net_kwargs, station_ids)
    cfg = TrainConfig(**{**tcfg.__dict__, "seed": seed, "progress": progress})
    results = fc.fit(data, cfg)
    fc.save(ckpt)
    pred = fc.predict(data.features, test_t, test_s)
    return {
        "model": name, "seed": seed, "pred": pred, "seconds": time.perf_counter() - t0,
        "epochs_run": [r.epochs_run for r in results], "best_epoch": [r.best_epoch for r in results],
        "best_val": [r.best_val for r in results],
        "params": sum(p.numel() for p in fc.nets[0].parameters()) * len(fc.nets),
    }


# -- report --------------------------------------------------------------------------------------

def _fmt(metric: str, values: list[float]) -> str:
    v = np.asarray(values, dtype=float)
    mean, std = float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else 0.0
    if metric in PERCENT:
        return f"{100 * mean:.3f} ± {100 * std:.3f} %"
    if metric == "r2":
        return f"{mean:.4f} ± {std:.4f}"
    return f"{mean:.3f} ± {std:.3f}"


def table_markdown(df: pd.DataFrame, models: list[str]) -> str:
    """Table II layout: rows = metrics, columns = models (mean ± std over seeds), then the
    paper's values for the models it reports."""
    head = "| Metric | " + " | ".join(models) + " |"
    lines = [head, "|" + "---|" * (len(models) + 1)]
    for m in METRICS:
        cells = [_fmt(m, df.loc[df.model == name, m].tolist()) for name in models]
        lines.append(f"| {METRIC_LABEL[m]} | " + " | ".join(cells) + " |")
    paper = [n for n in PAPER_TABLE_II if n in models]
    if paper:
        lines += ["", "Paper (twin-migration Table II; units unstated, RMSE evidently normalised, "
                      "only the error rate is comparable):", "",
                  "| Metric | " + " | ".join(f"{n} ({PAPER_LABEL[n]})" for n in paper) + " |",
                  "|" + "---|" * (len(paper) + 1)]
        for m in ("rmse", "mae", "wape", "r2"):
            vals = [PAPER_TABLE_II[n][m] for n in paper]
            cells = [f"{100 * v:.3f} %" if m in PERCENT else f"{v:g}" for v in vals]
            lines.append(f"| {METRIC_LABEL[m]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_fig5(path: Path, flow: np.ndarray, observed: np.ndarray, timestamps: pd.DatetimeIndex,
              test_t: np.ndarray, preds: dict[str, np.ndarray], station_ids, stations: list[int],
              day0: int, n_days: int = 2, steps_per_day: int = 288,
              zoom_hours: tuple[int, int] = (5, 10)) -> None:
    """Fig. 5 style: actual vs each model's one-step prediction, one row per station; the
    right column zooms on the first day's morning ramp, where the models differ most."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t_lo = test_t[0] + day0 * steps_per_day
    sel = np.arange(t_lo, min(t_lo + n_days * steps_per_day, test_t[-1] + 1))
    per_hour = steps_per_day // 24
    zoom = sel[zoom_hours[0] * per_hour: zoom_hours[1] * per_hour]
    fig, axes = plt.subplots(len(stations), 2, figsize=(15, 3.3 * len(stations)),
                             gridspec_kw={"width_ratios": [3, 1]}, squeeze=False)
    for row, s in enumerate(stations):
        for col, rows in enumerate((sel, zoom)):
            ax = axes[row, col]
            x = timestamps[rows]
            y = flow[rows, s].astype(float)
            ax.plot(x, np.where(observed[rows, s], y, np.nan), color="black", lw=2.2,
                    label="actual")
            for name, p in preds.items():
                ax.plot(x, p[rows - test_t[0], s], lw=0.9 if col == 0 else 1.3, alpha=0.85,
                        label=name)
            ax.grid(alpha=0.3)
            ax.tick_params(axis="x", labelsize=8)
            if col == 0:
                ax.set_ylabel("vehicles / 5 min")
                ax.set_title(f"station {station_ids[s]}", fontsize=10)
            else:
                ax.set_title(f"zoom {x[0]:%a %H:%M}-{x[-1]:%H:%M}", fontsize=9)
                ax.xaxis.set_major_formatter(matplotlib.dates.DateFormatter("%H:%M"))
    axes[0, 0].legend(ncol=5, fontsize=8, loc="upper left")
    axes[-1, 0].set_xlabel("time (test week)")
    fig.suptitle("One-step workload prediction vs actual (twin-migration Fig. 5 style; "
                 "neural models: seed 0)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    t_start = time.perf_counter()
    load_start = os.getloadavg()  # the machine may be shared: record how busy it was
    try:
        d = load_data(a.data)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    split = week_split(d.n_steps)
    fcfg = DEFAULT_FEATURES
    data = make_window_data(d.flow, d.observed, split, fcfg, d.timestamps)
    n_s = d.n_stations
    test_t = np.repeat(np.arange(*split.test), n_s)
    test_s = np.tile(np.arange(n_s), split.test[1] - split.test[0])
    y = d.flow[test_t, test_s]
    score = d.observed[test_t, test_s]
    out = a.out
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)

    rows: list[dict] = []
    preds: dict[str, np.ndarray] = {}  # seed-0 test predictions, (test steps, S)
    info: dict = {"train_jobs": {}}
    seeds = list(range(a.seeds))
    shape = (split.test[1] - split.test[0], n_s)
    for name in (m for m in a.models if m in BASELINE_MODELS):
        p = baseline_forecast(name, d.flow, test_t, test_s)
        met = all_metrics(p, y, score)
        rows += [{"model": name, "seed": s, **met} for s in seeds]
        preds[name] = p.reshape(shape)

    neural = [m for m in a.models if m in NEURAL_MODELS]
    tcfg = TrainConfig(epochs=a.epochs, batch_size=a.batch_size, lr=a.lr, patience=a.patience,
                       samples_per_epoch=a.samples_per_epoch, lr_schedule="cosine")
    jobs = [(name, seed) for name in neural for seed in seeds]  # longest (transformer) first
    ids = [str(x) for x in d.station_ids]
    show_inner = not a.no_progress and a.jobs == 1
    results: dict[tuple[str, int], dict] = {}
    if jobs and a.jobs == 1:  # in-process: simplest to debug, inner progress bars visible
        _init_worker(data, a.threads)
        for name, seed in tqdm(jobs, desc=f"training ({a.mode})", disable=a.no_progress,
                               dynamic_ncols=True):
            r = _train_job(name, seed, a.mode, DEFAULT_NET, tcfg, test_t, test_s,
                           str(out / "checkpoints" / f"{name}_s{seed}.pt"), ids, show_inner)
            results[(name, seed)] = r
    elif jobs:
        ctx = mp.get_context("spawn")  # no fork of a process that holds torch threads
        with cf.ProcessPoolExecutor(max_workers=min(a.jobs, len(jobs)), mp_context=ctx,
                                    initializer=_init_worker,
                                    initargs=(data, a.threads)) as pool:
            futs = {pool.submit(_train_job, name, seed, a.mode, DEFAULT_NET, tcfg, test_t,
                                test_s, str(out / "checkpoints" / f"{name}_s{seed}.pt"), ids,
                                show_inner): (name, seed) for name, seed in jobs}
            bar = tqdm(total=len(futs), desc=f"training ({a.mode})", disable=a.no_progress,
                       dynamic_ncols=True)
            for fut in cf.as_completed(futs):
                r = fut.result()
                results[(r["model"], r["seed"])] = r
                bar.set_postfix_str(f"{r['model']} s{r['seed']} {r['seconds']:.0f}s")
                bar.update(1)
            bar.close()
    for name, seed in jobs:
        r = results[(name, seed)]
        rows.append({"model": name, "seed": seed, **all_metrics(r["pred"], y, score)})
        if seed == 0:
            preds[name] = r["pred"].reshape(shape)
        info["train_jobs"][f"{name}_s{seed}"] = {k: r[k] for k in
                                           ("seconds", "epochs_run", "best_epoch", "params")
                                           } | {"best_val": r["best_val"][:3]}

    order = [m for m in MODEL_NAMES if m in a.models]
    df = pd.DataFrame(rows, columns=["model", "seed", *METRICS])
    df["_o"] = df.model.map(order.index)
    df = df.sort_values(["_o", "seed"]).drop(columns="_o").reset_index(drop=True)
    df.to_csv(out / "forecast_table.csv", index=False, float_format="%.6g")
    wall = time.perf_counter() - t_start
    md = table_markdown(df, order)
    header = (f"Test week {d.timestamps[split.test[0]]:%Y-%m-%d} .. "
              f"{d.timestamps[split.test[1] - 1]:%Y-%m-%d}, {int(score.sum())} scored cells "
              f"(imputed targets excluded), vehicles / 5 min; mode={a.mode}, epochs<={a.epochs}, "
              f"batch {a.batch_size}, "
              f"seeds={a.seeds}, jobs={a.jobs} x {a.threads} thread(s), wall {wall:.0f} s")
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
        "mode": a.mode, "epochs": a.epochs, "seeds": a.seeds, "workers": a.jobs,
        "threads": a.threads, "features": fcfg.to_dict(), "net": DEFAULT_NET,
        "train": tcfg.__dict__, "split": {k: list(getattr(split, k))
                                          for k in ("train", "val", "test")},
        "data": d.source, "torch": torch.__version__, "python": platform.python_version(),
        "cpu_count": os.cpu_count(), "loadavg_start": load_start,
        "loadavg_end": os.getloadavg(), "batch_size": a.batch_size,
    })
    (out / "forecast_run.json").write_text(json.dumps(info, indent=1, default=float))
    print(f"wrote {out / 'forecast_table.csv'}, forecast_table.md, forecast_fig5.png "
          f"({wall:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
