"""Post-hoc report of the twin-migration Table II and Fig. 5 (workload forecasting): the
table of mean ± std over seeds beside the paper's values, and the predicted-vs-actual figure.

The forecasters are trained and scored by ``desim-iov forecast table``
(``desim_iov.experiments.forecast``); this module only formats their results.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from models.forecast.metrics import METRICS

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
