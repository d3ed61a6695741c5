"""Post-hoc tables and figures of the twin-migration experiments (Figs. 6-9): they read the
result table ``results.csv`` that ``desim-iov experiment`` writes (``desim_iov.experiments``)
and run nothing.

``summarise(df)``: mean and 95 % Student-t interval over seeds per (algorithm, variant) and
metric (``summary.csv``); ``plot(summary, title, path)``: one bar panel per metric.
``python -m analysis.experiment_results DIR/results.csv`` prints the summary of a finished run.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import stats  # noqa: E402

METRICS = [("reward", "test reward (Eq. 22)"), ("latency_s", "mean packet latency (s)"),
           ("packet_loss", "packet loss rate"), ("workload_variance", "workload variance (MB²)"),
           ("migrations", "migrations")]


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    """Mean and 95 % t-interval half-width per (algorithm, variant) and metric."""
    out = []
    for (alg, var), g in df.groupby(["algorithm", "variant"], sort=False):
        row = {"algorithm": alg, "variant": var, "n": len(g)}
        for m, _ in METRICS:
            x = g[m].to_numpy(float)
            x = x[np.isfinite(x)]
            row[f"{m}_mean"] = float(x.mean()) if len(x) else float("nan")
            half = stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)) if len(x) > 1 else float("nan")
            row[f"{m}_ci95"] = float(half)
        out.append(row)
    return pd.DataFrame(out)


def plot(summary: pd.DataFrame, title: str, path: Path) -> None:
    """Bars of every metric per variant, one bar per algorithm, with 95 % intervals
    (twin-migration Figs. 6-9 style)."""
    variants = list(dict.fromkeys(summary.variant))
    algs = list(dict.fromkeys(summary.algorithm))
    fig, axes = plt.subplots(1, len(METRICS), figsize=(4.3 * len(METRICS), 4.3))
    width = 0.8 / max(len(algs), 1)
    x = np.arange(len(variants))
    for ax, (m, label) in zip(axes, METRICS, strict=True):
        for i, alg in enumerate(algs):
            s = summary[summary.algorithm == alg].set_index("variant").reindex(variants)
            ax.bar(x + (i - (len(algs) - 1) / 2) * width, s[f"{m}_mean"], width,
                   yerr=s[f"{m}_ci95"].fillna(0), capsize=2, label=alg)
        ax.set_xticks(x, variants, rotation=30, ha="right", fontsize=8)
        ax.set_title(label, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()  # one legend, below the panels
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 9), fontsize=8)
    fig.suptitle(f"{title} (mean, 95 % interval over seeds)")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analysis.experiment_results",
                                 description="summary of an experiment's results.csv")
    ap.add_argument("results", type=Path, help="results.csv written by desim-iov experiment")
    args = ap.parse_args(argv)
    print(summarise(pd.read_csv(args.results)).to_string(
        index=False, float_format=lambda v: f"{v:.4g}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
