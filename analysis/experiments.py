"""The twin-migration paper's experiments (Figs. 6–9), one command each.

Every (algorithm, variant, seed): learners are trained in slot fidelity on the variant's
scenario (training seed ``seed``), then every algorithm is evaluated in packet fidelity on the
same variant with evaluation seed ``1000 + seed``; the evaluation trace is summarised. Results:
``DIR/results.csv`` (columns ``experiment, algorithm, variant, seed, reward, latency_s,
packet_loss, workload_variance, migrations``), ``DIR/summary.csv`` (mean and 95 % interval
over seeds), ``DIR/<experiment>.png`` and the traces under ``DIR/traces/``.

``python -m analysis.experiments fig7 --out DIR`` or ``desim-iov experiment fig7 --out DIR``.
"""

from __future__ import annotations

import argparse
import itertools
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import stats  # noqa: E402
from tqdm import tqdm  # noqa: E402

from agents.base import make_policy  # noqa: E402
from analysis.summary import summarize  # noqa: E402
from desim_iov.config import Scenario, load_scenario  # noqa: E402
from desim_iov.sim import make_simulation  # noqa: E402

LEARNERS = {"dm-mappo", "mappo", "masac", "masac-nomask"}
COLUMNS = ["experiment", "algorithm", "variant", "seed", "reward", "latency_s", "packet_loss",
           "workload_variance", "migrations"]
METRICS = [("reward", "test reward (Eq. 22)"), ("latency_s", "mean packet latency (s)"),
           ("packet_loss", "packet loss rate"), ("workload_variance", "workload variance (MB²)"),
           ("migrations", "migrations")]


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    algorithms: tuple[str, ...]
    variants: dict[str, tuple[str, list[str]]]  # variant -> (base scenario, overrides)


CITY, RURAL = "twin-city-tdrive", "twin-rural-tdrive"
BASELINES = ("dm-mappo", "masac", "greedy", "random", "oracle")
EXPERIMENTS = {
    "fig6": Experiment(
        "fig6", "with vs without workload prediction", ("dm-mappo", "masac"),
        {"with_prediction": (CITY, ["predictor.name=lstm_transformer"]),
         "without_prediction": (CITY, ["predictor.name=none"])},
    ),
    "fig7": Experiment(
        "fig7", "migration size and generated data", BASELINES,
        {**{f"twin_{mb}MB": (CITY, [f"vehicles.twin_size={mb} MB"]) for mb in (40, 60, 80, 100, 120)},
         **{f"data_{r}MBps": (CITY, [f"vehicles.traffic.data_rate={r} MB/s"])
            for r in ("1.0", "1.5", "2.0", "2.5", "3.0")}},
    ),
    "fig8": Experiment(
        "fig8", "framework elements (ablation)", BASELINES,
        {"city": (CITY, []), "city_no_uav": (CITY, ["uavs.count=0"]),
         "city_no_satellite": (CITY, ["satellite.enabled=false"]),
         "rural": (RURAL, []), "rural_no_uav": (RURAL, ["uavs.count=0"]),
         "rural_no_satellite": (RURAL, ["satellite.enabled=false"])},
    ),
    "fig9": Experiment(
        "fig9", "every algorithm with vs without the mask",
        ("dm-mappo", "mappo", "masac", "masac-nomask", "greedy", "greedy-nomask", "random",
         "random-nomask", "oracle"),
        {"city": (CITY, [])},
    ),
}


def _policy(algorithm: str, scenario: Scenario, run_dir: Path, seed: int, updates: int,
            progress: bool, episodes: int | None = None):
    """A trained learner (slot fidelity) or a heuristic, ready for evaluation. ``episodes``
    (if given) is the learner's budget in training episodes, the same for every learner
    whatever its episodes per update (DM-MAPPO collects 4 per update, MASAC 1)."""
    if algorithm in LEARNERS:
        try:
            from agents.train import load_policy, make_config, train
        except ImportError as e:
            raise RuntimeError(f"learning agents are not available ({e})") from None
        from desim_iov.env import parallel_env

        if episodes is not None:
            updates = math.ceil(episodes / make_config(algorithm).episodes_per_update)
        train_sc = scenario.model_copy(update={"fidelity": "slot", "seed": seed})
        ckpt = train(algorithm, lambda: parallel_env(train_sc), updates=updates, seed=seed,
                     out_dir=run_dir, progress=progress)
        return load_policy(algorithm, ckpt, scenario)
    if algorithm.endswith("-nomask"):  # the heuristic without the kernel's mask
        return make_policy(algorithm.removesuffix("-nomask"), use_mask=False)
    return make_policy(algorithm)


PREDICTOR_TRAINING: list[str] = []  # extra `forecast table` options (tests shrink the budget)


def _predictor_checkpoint(out: Path, overrides: list[str], progress: bool) -> Path:
    """The LSTM-based Transformer for Fig. 6, trained once per experiment directory on PeMS
    weeks 1-3 (the forecasting table's split and defaults, one seed) unless the user passes
    ``--set predictor.checkpoint=...``. The evaluation runs start in week 4 (unseen data)."""
    from analysis.forecast_table import main as forecast_main
    from desim_iov.config import resolve_path

    ckpt = out / "predictor" / "checkpoints" / "lstm_transformer_s0.pt"
    if not ckpt.is_file():
        sc = load_scenario(CITY, overrides)
        pems = resolve_path(sc.background.pems_source, sc)  # the flow the runs replay
        args = ["--models", "lstm_transformer", "--seeds", "1", "--jobs", "1",
                "--out", str(out / "predictor"), "--data", str(pems), *PREDICTOR_TRAINING]
        if not progress:
            args.append("--no-progress")
        if forecast_main(args) != 0:
            raise RuntimeError(f"training the workload predictor on {pems} failed")
    return ckpt


def run_experiment(name: str, out: Path, *, seeds: int = 3, updates: int = 200,
                   algorithms: list[str] | None = None, variants: list[str] | None = None,
                   overrides: list[str] | None = None, progress: bool = True,
                   on_row: Callable[[dict], None] | None = None,
                   episodes: int | None = None) -> pd.DataFrame:
    import torch

    torch.set_num_threads(1)  # small nets: more threads only oversubscribe the CPU
    if seeds < 1:
        raise KeyError(f"{name}: --seeds must be >= 1, got {seeds}")
    if seeds < 3:
        warnings.warn(f"{name}: {seeds} seed(s): the 95 % intervals need >= 2 and the paper's "
                      "comparisons >= 3", stacklevel=2)
    exp = EXPERIMENTS[name]
    algs = list(algorithms or exp.algorithms)
    vars_ = list(variants or exp.variants)
    unknown = [v for v in vars_ if v not in exp.variants]
    if unknown:
        raise KeyError(f"{name}: unknown variants {unknown} (allowed: {', '.join(exp.variants)})")
    out.mkdir(parents=True, exist_ok=True)
    overrides = list(overrides or [])
    if any("predictor.name=" in o and not o.endswith(("=none", "=oracle"))
           for v in vars_ for o in exp.variants[v][1]) \
            and not any(o.startswith("predictor.checkpoint=") for o in overrides):
        overrides.append(f"predictor.checkpoint={_predictor_checkpoint(out, overrides, progress)}")
    rows, details = [], []
    jobs = list(itertools.product(vars_, algs, range(seeds)))
    for variant, alg, seed in tqdm(jobs, desc=name, disable=not progress):
        base, extra = exp.variants[variant]
        sc = load_scenario(base, [*extra, *overrides, "fidelity=packet", f"seed={1000 + seed}"])
        run_dir = out / "runs" / variant / alg / f"seed{seed}"
        policy = _policy(alg, sc, run_dir, seed, updates, progress=False, episodes=episodes)
        trace = out / "traces" / f"{variant}__{alg}__seed{seed}.h5"
        trace.parent.mkdir(parents=True, exist_ok=True)
        make_simulation(sc, policy, trace_path=str(trace)).run()
        t = summarize(trace).total
        n_slots = max(1, math.ceil(sc.duration / sc.slot))
        row = {"experiment": name, "algorithm": alg, "variant": variant, "seed": seed,
               "reward": t["reward_mean"], "latency_s": t["latency_mean_s"],
               "packet_loss": t["loss_measured"],
               "workload_variance": t["O_V_formula_bit2"] / n_slots / 8e6**2,
               "migrations": t["migrations"]}
        rows.append(row)
        details.append({k: row[k] for k in COLUMNS[:4]} | t)
        if on_row:
            on_row(row)
    df = pd.DataFrame(rows, columns=COLUMNS)
    df.to_csv(out / "results.csv", index=False)
    # every metric of every evaluation run (measured and the paper's per-slot formulas)
    pd.DataFrame(details).to_csv(out / "metrics.csv", index=False)
    summary = summarise(df)
    summary.to_csv(out / "summary.csv", index=False)
    plot(summary, exp, out / f"{name}.png")
    return df


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


def plot(summary: pd.DataFrame, exp: Experiment, path: Path) -> None:
    variants = list(dict.fromkeys(summary.variant))
    algs = list(dict.fromkeys(summary.algorithm))
    fig, axes = plt.subplots(1, len(METRICS), figsize=(4.3 * len(METRICS), 4.3))
    width = 0.8 / max(len(algs), 1)
    x = np.arange(len(variants))
    for ax, (m, title) in zip(axes, METRICS, strict=True):
        for i, alg in enumerate(algs):
            s = summary[summary.algorithm == alg].set_index("variant").reindex(variants)
            ax.bar(x + (i - (len(algs) - 1) / 2) * width, s[f"{m}_mean"], width,
                   yerr=s[f"{m}_ci95"].fillna(0), capsize=2, label=alg)
        ax.set_xticks(x, variants, rotation=30, ha="right", fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()  # one legend, below the panels
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 9), fontsize=8)
    fig.suptitle(f"{exp.name}: {exp.title} (mean, 95 % interval over seeds)")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analysis.experiments", description=__doc__.splitlines()[0])
    ap.add_argument("experiment", choices=sorted(EXPERIMENTS))
    ap.add_argument("--out", required=True)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--updates", type=int, default=200, help="training updates per learner")
    ap.add_argument("--episodes", type=int, help="training budget per learner in episodes "
                    "(overrides --updates; equal samples for every learner)")
    ap.add_argument("--algorithms", nargs="*")
    ap.add_argument("--variants", nargs="*")
    ap.add_argument("--set", action="append", default=[], help="scenario override for every run")
    args = ap.parse_args(argv)
    df = run_experiment(args.experiment, Path(args.out), seeds=args.seeds, updates=args.updates,
                        algorithms=args.algorithms, variants=args.variants, overrides=args.set,
                        episodes=args.episodes)
    print(summarise(df).to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
