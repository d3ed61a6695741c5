"""The twin-migration paper's experiments (Figs. 6-9), one command each, run as sweeps.

Each experiment is a sweep shipped in ``desim_iov/sweeps/twin-figN.yaml`` (a named ``variant``
axis x a named ``algorithm`` axis x seeds; desim_iov/sweep/): learners are trained in slot
fidelity (learner seed ``s``, scenario seed ``s + 1e6``), then every algorithm is evaluated in
packet fidelity on the variant's scenario with seed ``s``, and the evaluation trace is
summarised. ``--algorithms``, ``--variants``, ``--seeds``, ``--updates``/``--episodes`` and
``--set`` select from and adjust the shipped definition; every job is validated before any runs,
finished runs are reused (the same command resumes), and a failed run is recorded, never lost.

Results: ``DIR/results.parquet`` (the sweep's: every metric of every run, wall time, worker,
status), ``DIR/results.csv`` (``experiment, algorithm, variant, seed, reward, latency_s,
packet_loss, workload_variance, migrations``), ``DIR/metrics.csv`` (every metric of every run),
``DIR/summary.csv`` (mean and 95 % interval over seeds), ``DIR/<experiment>.png``; traces and
records under ``DIR/runs/<key>/``, trainings under ``DIR/train/<key>/``. The rows do not depend
on the backend (``--backend serial|processes|dask``, ``--workers N``).

``desim-iov experiment fig7 --out DIR`` or ``python -m desim_iov.experiments.twin_migration``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis.experiment_results import plot, summarise
from desim_iov.config import load_scenario

RESULT_COLUMNS = ["experiment", "algorithm", "variant", "seed", "reward", "latency_s",
                  "packet_loss", "workload_variance", "migrations"]
NAMES = ("fig6", "fig7", "fig8", "fig9")
CITY = "twin-city-tdrive"


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    algorithms: tuple[str, ...]
    variants: dict[str, list[str]]  # variant -> overrides (``scenario=NAME`` switches the base)
    spec: object  # its desim_iov.sweep.SweepSpec


def experiment(name: str) -> Experiment:
    """Experiment ``name`` from its shipped sweep; one-line KeyError for unknown names."""
    from desim_iov.sweep import load_sweep

    if name not in NAMES:
        raise KeyError(f"unknown experiment {name!r} (allowed: {', '.join(NAMES)})")
    spec = load_sweep(f"twin-{name}")
    return Experiment(name, spec.title, tuple(spec.grid["algorithm"]), dict(spec.grid["variant"]), spec)


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


def _algorithm_names() -> set[str]:
    """The twin-migration policies and learners, and each heuristic without its mask (NAME-nomask)."""
    from agents.registry import LEARNERS, POLICIES

    heuristics = {n for n, e in POLICIES.items() if e.factory.startswith("agents.heuristics:")}
    return {*POLICIES, *LEARNERS, *(f"{n}-nomask" for n in heuristics)}


def _algorithm_overrides(alg: str) -> list[str]:
    from agents.registry import POLICIES

    if alg.endswith("-nomask") and alg not in POLICIES:  # a heuristic without the kernel's mask
        return [f"policy={alg.removesuffix('-nomask')}", "policy.params.use_mask=false"]
    return [f"policy={alg}"]


def experiment_sweep(name: str, *, seeds: int = 3, updates: int = 200, algorithms: list[str] | None = None,
                     variants: list[str] | None = None, overrides: list[str] | None = None,
                     episodes: int | None = None):
    """The sweep of experiment ``name`` with the command's choices. Unknown variants and
    algorithms are one-line ``KeyError``s, raised before anything runs."""
    ex = experiment(name)
    if seeds < 1:
        raise KeyError(f"{name}: --seeds must be >= 1, got {seeds}")
    algs = list(algorithms or ex.algorithms)
    vars_ = list(variants or ex.variants)
    unknown = [v for v in vars_ if v not in ex.variants]
    if unknown:
        raise KeyError(f"{name}: unknown variants {unknown} (allowed: {', '.join(ex.variants)})")
    known = _algorithm_names()
    bad = [a for a in algs if a not in known]
    if bad:  # before any job runs, not when the sweep reaches them
        raise KeyError(f"{name}: unknown algorithms {bad} (allowed: {', '.join(sorted(known))})")
    grid_alg = {a: ex.spec.grid["algorithm"].get(a, _algorithm_overrides(a)) for a in algs}
    train = {"episodes": episodes} if episodes is not None else {"updates": updates}
    return ex.spec.model_copy(update={
        "grid": {"variant": {v: ex.variants[v] for v in vars_}, "algorithm": grid_alg},
        "seeds": seeds, "set": [*ex.spec.set, *(overrides or [])],
        "train": ex.spec.train.model_copy(update={"updates": None, "episodes": None, **train})})


def _needs_predictor(name: str, variants: list[str] | None, overrides: list[str]) -> bool:
    ex = experiment(name)
    return (any("predictor.name=" in o and not o.endswith(("=none", "=oracle"))
                for v in (variants or ex.variants) for o in ex.variants[v])
            and not any(o.startswith("predictor.checkpoint=") for o in overrides))


def result_table(name: str, results: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``results.csv`` and ``metrics.csv`` of the experiment from the sweep's results: the
    workload variance is Eq. 16's O_V per slot in MB² (the slot count of the run's scenario)."""
    from traces.reader import open_trace

    r = results.reset_index(drop=True)
    n_slots = [max(1, math.ceil(t["duration"] / t["slot"])) for t in
               (open_trace(p).scenario for p in r.trace)]
    df = pd.DataFrame({"experiment": name, "algorithm": r.algorithm, "variant": r.variant, "seed": r.seed,
                       "reward": r.reward_mean, "latency_s": r.latency_mean_s, "packet_loss": r.loss_measured,
                       "workload_variance": r.O_V_formula_bit2 / pd.Series(n_slots, dtype=float) / 8e6**2,
                       "migrations": r.migrations}, columns=RESULT_COLUMNS)
    skip = {"key", "policy", "setting", "status", "error", "wall_s", "train_wall_s", "train_dir", "worker",
            "trace"}
    metrics = r[["algorithm", "variant", "seed", *[c for c in r.columns if c not in skip | {"algorithm",
                                                                                           "variant", "seed"}]]]
    return df, metrics.assign(experiment=name)[["experiment", *metrics.columns]]


def run_experiment(name: str, out: Path, *, seeds: int = 3, updates: int = 200,
                   algorithms: list[str] | None = None, variants: list[str] | None = None,
                   overrides: list[str] | None = None, progress: bool = True,
                   episodes: int | None = None, backend: str | None = None,
                   workers: int = 1, **executor_options) -> pd.DataFrame:
    """Run experiment ``name`` (what is missing of its sweep) and write results.csv,
    metrics.csv, summary.csv and the figure into ``out``. When a run failed, the others are kept
    (records, results.parquet) and a one-line RuntimeError names it; no table is written then."""
    import torch

    from desim_iov.sweep import backend_name, expand, run_sweep

    torch.set_num_threads(1)  # small nets: more threads only oversubscribe the CPU
    if name in NAMES and 1 <= seeds < 3:
        warnings.warn(f"{name}: {seeds} seed(s): the 95 % intervals need >= 2 and the paper's "
                      "comparisons >= 3", stacklevel=2)
    overrides = list(overrides or [])
    spec = experiment_sweep(name, seeds=seeds, updates=updates, algorithms=algorithms, variants=variants,
                            overrides=overrides, episodes=episodes)
    expand(spec, out)  # every job validated before the predictor trains or anything runs
    out.mkdir(parents=True, exist_ok=True)
    if _needs_predictor(name, variants, overrides):
        ckpt = _predictor_checkpoint(out, overrides, progress)
        spec = spec.model_copy(update={"set": [*spec.set, f"predictor.checkpoint={ckpt}"]})
    res = run_sweep(spec, out, backend=backend_name(backend, workers), workers=workers, progress=progress, **executor_options)
    if res.failed:
        bad = res.results[res.results.status != "ok"].iloc[0]
        raise RuntimeError(f"{res.failed} of {len(res.results)} run(s) failed (first: {bad.algorithm} "
                           f"{bad.variant} seed {bad.seed}: {bad.error}); the others are recorded in "
                           f"{res.path}; the same command runs the failed ones again")
    df, metrics = result_table(name, res.results)
    df.to_csv(out / "results.csv", index=False)
    metrics.to_csv(out / "metrics.csv", index=False)
    summary = summarise(df)
    summary.to_csv(out / "summary.csv", index=False)
    plot(summary, f"{name}: {experiment(name).title}", out / f"{name}.png")
    return df


def main(argv: list[str] | None = None) -> int:
    """``python -m desim_iov.experiments.twin_migration ARGS`` = ``desim-iov experiment ARGS``."""
    import sys

    from desim_iov.cli import main as cli_main

    return cli_main(["experiment", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(main())
