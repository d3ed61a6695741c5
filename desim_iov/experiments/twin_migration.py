"""The twin-migration paper's experiments (Figs. 6-9) as sets of jobs, one command each.

Every (variant, algorithm, seed) is one :class:`~desim_iov.experiments.jobs.TwinMigrationJob`:
learners are trained in slot fidelity on the variant's scenario (training seed ``seed``), then
every algorithm is evaluated in packet fidelity on the same variant with evaluation seed
``1000 + seed``; the evaluation trace is summarised. Results: ``DIR/results.csv`` (columns
``experiment, algorithm, variant, seed, reward, latency_s, packet_loss, workload_variance,
migrations``), ``DIR/metrics.csv`` (every metric of every run), ``DIR/summary.csv`` (mean and
95 % interval over seeds), ``DIR/<experiment>.png`` and the traces under ``DIR/traces/``. The
rows do not depend on the backend (``--backend serial|process``, ``--workers N``).

``desim-iov experiment fig7 --out DIR`` or ``python -m desim_iov.experiments.twin_migration``.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from analysis.experiment_results import plot, summarise
from desim_iov.config import load_scenario
from desim_iov.experiments.jobs import RESULT_COLUMNS, TwinMigrationJob, run_job
from desim_iov.experiments.runner import Backend, make_backend


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

PREDICTOR_TRAINING: list[str] = []  # extra `forecast table` options (tests shrink the budget)


def _predictor_checkpoint(out: Path, overrides: list[str], progress: bool) -> Path:
    """The LSTM-based Transformer for Fig. 6, trained once per experiment directory on PeMS
    weeks 1-3 (the forecasting table's split and defaults, one seed) unless the user passes
    ``--set predictor.checkpoint=...``. The evaluation runs start in week 4 (unseen data)."""
    from desim_iov.config import resolve_path
    from desim_iov.experiments.forecast import main as forecast_main

    ckpt = out / "predictor" / "checkpoints" / "lstm_transformer_s0.pt"
    if not ckpt.is_file():
        sc = load_scenario(CITY, overrides)
        pems = resolve_path(sc.background.pems_source, sc)  # the flow the runs replay
        args = ["--models", "lstm_transformer", "--seeds", "1", "--jobs", "1",
                "--backend", "serial", "--out", str(out / "predictor"), "--data", str(pems),
                *PREDICTOR_TRAINING]
        if not progress:
            args.append("--no-progress")
        if forecast_main(args) != 0:
            raise RuntimeError(f"training the workload predictor on {pems} failed")
    return ckpt


def experiment_jobs(name: str, out: Path, *, seeds: int = 3, updates: int = 200,
                    algorithms: list[str] | None = None, variants: list[str] | None = None,
                    overrides: list[str] | None = None,
                    episodes: int | None = None) -> list[TwinMigrationJob]:
    """The jobs of experiment ``name`` (Figs. 6-9), variant by variant, algorithm by algorithm,
    seed by seed. Every variant's scenario is validated here, so bad input fails before any job
    runs (one-line ``ConfigError``); unknown variants are a one-line ``KeyError``."""
    if name not in EXPERIMENTS:
        raise KeyError(f"unknown experiment {name!r} (allowed: {', '.join(EXPERIMENTS)})")
    if seeds < 1:
        raise KeyError(f"{name}: --seeds must be >= 1, got {seeds}")
    exp = EXPERIMENTS[name]
    algs = list(algorithms or exp.algorithms)
    vars_ = list(variants or exp.variants)
    unknown = [v for v in vars_ if v not in exp.variants]
    if unknown:
        raise KeyError(f"{name}: unknown variants {unknown} (allowed: {', '.join(exp.variants)})")
    known = _algorithm_names()
    bad = [a for a in algs if a not in known]
    if bad:  # before any job runs, not when the sweep reaches them
        raise KeyError(f"{name}: unknown algorithms {bad} (allowed: {', '.join(sorted(known))})")
    overrides = list(overrides or [])
    jobs = []
    for variant, alg, seed in itertools.product(vars_, algs, range(seeds)):
        base, extra = exp.variants[variant]
        jobs.append(TwinMigrationJob(
            experiment=name, variant=variant, algorithm=alg, seed=seed, scenario=base,
            overrides=(*extra, *overrides), updates=updates, episodes=episodes,
            run_dir=str(out / "runs" / variant / alg / f"seed{seed}"),
            trace=str(out / "traces" / f"{variant}__{alg}__seed{seed}.h5")))
    for variant in vars_:  # bad overrides: one line now, not one failure per job later
        job = next(j for j in jobs if j.variant == variant)
        load_scenario(job.scenario, job.eval_overrides())
    return jobs


def _algorithm_names() -> set[str]:
    """The twin-migration policies and learners, and each heuristic without its mask (NAME-nomask)."""
    from agents.registry import LEARNERS, POLICIES

    heuristics = {n for n, e in POLICIES.items() if e.factory.startswith("agents.heuristics:")}
    return {*POLICIES, *LEARNERS, *(f"{n}-nomask" for n in heuristics)}


def _needs_predictor(name: str, variants: list[str] | None, overrides: list[str]) -> bool:
    exp = EXPERIMENTS[name]
    return (any("predictor.name=" in o and not o.endswith(("=none", "=oracle"))
                for v in (variants or exp.variants) for o in exp.variants[v][1])
            and not any(o.startswith("predictor.checkpoint=") for o in overrides))


def run_experiment(name: str, out: Path, *, seeds: int = 3, updates: int = 200,
                   algorithms: list[str] | None = None, variants: list[str] | None = None,
                   overrides: list[str] | None = None, progress: bool = True,
                   episodes: int | None = None, backend: str | Backend | None = None,
                   workers: int = 1) -> pd.DataFrame:
    """Run experiment ``name`` on ``backend`` (a name of ``BACKENDS`` or a backend) and write
    results.csv, metrics.csv, summary.csv and the figure into ``out``. A failed job raises
    ``JobFailed`` naming it, and then no result table is written."""
    import torch

    torch.set_num_threads(1)  # small nets: more threads only oversubscribe the CPU
    if name in EXPERIMENTS and 1 <= seeds < 3:
        warnings.warn(f"{name}: {seeds} seed(s): the 95 % intervals need >= 2 and the paper's "
                      "comparisons >= 3", stacklevel=2)
    overrides = list(overrides or [])
    jobs = experiment_jobs(name, out, seeds=seeds, updates=updates, algorithms=algorithms,
                           variants=variants, overrides=overrides, episodes=episodes)
    runner = backend if hasattr(backend, "map") else make_backend(backend, workers)
    out.mkdir(parents=True, exist_ok=True)
    if _needs_predictor(name, variants, overrides):
        ckpt = _predictor_checkpoint(out, overrides, progress)
        jobs = [replace(j, overrides=(*j.overrides, f"predictor.checkpoint={ckpt}"))
                for j in jobs]
    rows = runner.map(run_job, jobs, progress=progress, desc=name)
    df = pd.DataFrame([{k: r[k] for k in RESULT_COLUMNS} for r in rows], columns=RESULT_COLUMNS)
    df.to_csv(out / "results.csv", index=False)
    # every metric of every evaluation run (measured and the paper's per-slot formulas)
    pd.DataFrame([{k: r[k] for k in RESULT_COLUMNS[:4]} | r["metrics"] for r in rows]).to_csv(
        out / "metrics.csv", index=False)
    summary = summarise(df)
    summary.to_csv(out / "summary.csv", index=False)
    exp = EXPERIMENTS[name]
    plot(summary, f"{exp.name}: {exp.title}", out / f"{name}.png")
    return df


def main(argv: list[str] | None = None) -> int:
    """``python -m desim_iov.experiments.twin_migration ARGS`` = ``desim-iov experiment ARGS``."""
    import sys

    from desim_iov.cli import main as cli_main

    return cli_main(["experiment", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(main())
