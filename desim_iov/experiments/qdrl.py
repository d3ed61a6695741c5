"""The quantum-DRL paper's Figs. 3–7, one command each: ``desim-iov experiment qdrl-fig3 ...
qdrl-fig7 --seeds N --episodes E --out DIR``.

Pipeline (the paper's Alg. 1 then Alg. 2): the digital twin's peephole-LSTM forecaster is fitted
once per network configuration on traces of the ``min-latency`` heuristic (slot fidelity), then
every learner is trained on the same scenario with the same budget in environment steps
(E episodes x T slots, slot fidelity), then evaluated greedily in packet fidelity (slot fidelity
where the figure's x-axis is shorter than a subtask's lifetime: Fig. 4) on held-out seeds
(``EVAL_SEED`` + k, never trained on). Every figure writes ``results.csv`` (one row per
method, setting and seed), ``summary.csv`` (mean and 95 % t-interval over seeds), a PNG, and
prints the paper's headline beside the measured one. Nothing is tuned toward the paper.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

EVAL_SEED = 10_000  # evaluation seeds: EVAL_SEED + k (training uses 1e6 (seed + 1) + episode)
FIGS = ("qdrl-fig3", "qdrl-fig4", "qdrl-fig5", "qdrl-fig6", "qdrl-fig7")


@dataclass(frozen=True)
class TrainJob:
    """Train ``agent`` on the scenario ``overrides`` (slot fidelity) for ``episodes`` episodes."""

    agent: str
    seed: int
    episodes: int
    overrides: tuple[str, ...]
    out: str

    def describe(self) -> str:
        return f"train {self.agent} seed {self.seed} ({' '.join(self.overrides) or 'base'})"


def scenario_of(overrides: tuple[str, ...] | list[str], base: str = "offload-urban") -> Any:
    from desim_iov.config import load_scenario

    return load_scenario(base, list(overrides))


def run_train(job: TrainJob) -> dict[str, Any]:
    """One training run (picklable: the process backend runs it in a worker)."""
    import torch

    from agents.train import make_config, scenario_for, train
    from desim_iov.env import parallel_env

    torch.set_num_threads(1)
    sc = scenario_for(job.agent, scenario_of([*job.overrides, "fidelity=slot"]))
    per = make_config(job.agent).episodes_per_update
    ckpt = train(job.agent, lambda: parallel_env(sc), updates=max(1, job.episodes // per), seed=job.seed,
                 out_dir=job.out, progress=False)
    curve = pd.read_csv(Path(job.out) / "learning_curve.csv")
    return {"agent": job.agent, "seed": job.seed, "checkpoint": str(ckpt), "wall_s": float(curve["wall_s"].iloc[-1]),
            "env_steps": int(curve["env_steps"].iloc[-1])}


@dataclass(frozen=True)
class EvaluationJob:
    """Evaluate ``agent`` (its ``checkpoint``; empty for a heuristic) on ``overrides`` with
    held-out seed ``seed`` into ``trace`` (packet or slot fidelity as the overrides say)."""

    agent: str
    checkpoint: str
    overrides: tuple[str, ...]
    seed: int
    trace: str

    def describe(self) -> str:
        return f"evaluate {self.agent} seed {self.seed}"


def run_evaluation(job: EvaluationJob) -> dict[str, float]:
    """One evaluation (picklable: the process backend runs it in a worker)."""
    import torch

    torch.set_num_threads(1)
    return evaluate(job.agent, job.checkpoint, list(job.overrides), job.seed, Path(job.trace))


def evaluate(agent: str, checkpoint: str, overrides: list[str], seed: int, trace: Path) -> dict[str, float]:
    """Greedy evaluation of a trained learner (or a heuristic: ``checkpoint`` empty) on one
    held-out seed; the trace's summary totals."""
    from agents.base import make_policy
    from analysis.offload_summary import flat_totals, summarize_offload
    from desim_iov.sim import Simulation

    sc = scenario_of([*overrides, f"seed={seed}"])
    params = {"checkpoint": checkpoint, "scenario": sc} if checkpoint else {}
    policy = make_policy(agent, app=sc.app, **params)
    trace.parent.mkdir(parents=True, exist_ok=True)
    Simulation(sc, policy, trace_path=str(trace)).run()
    return flat_totals(summarize_offload(str(trace)))


def fit_forecaster(scenario: Any, out_dir: str | Path, *, runs: int = 3, duration: float = 4.0,
                   epochs: int = 40, progress: bool = True) -> Path:
    """Alg. 1 for ``scenario``'s network: ``runs`` traces of the ``min-latency`` heuristic
    (slot fidelity, ``duration`` s each, seeds 500 + k: neither training nor evaluation
    seeds), then the peephole-LSTM forecaster trained on their /dt_states (early stopping on a
    validation split; ``epochs`` at most). Reuses ``out_dir/dt_forecaster.pt`` when present.
    Returns the checkpoint's path."""
    from agents.base import make_policy
    from desim_iov.env import make_scenario
    from desim_iov.experiments.dt_forecast import CHECKPOINT_NAME, train_from_traces
    from desim_iov.sim import Simulation
    from models.dt_train import DTTrainConfig

    out = Path(out_dir)
    ckpt = out / CHECKPOINT_NAME
    if ckpt.exists():
        return ckpt
    (out / "traces").mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(runs):
        sc = make_scenario(scenario, fidelity="slot", duration=f"{duration} s", seed=500 + k,
                           **{"offload.dt.predictor": "none", "offload.dt.checkpoint": "null"})
        path = out / "traces" / f"min-latency-seed{500 + k}.h5"
        Simulation(sc, make_policy("min-latency", app=sc.app), trace_path=str(path)).run()
        paths.append(path)
    train_from_traces(paths, out, DTTrainConfig(epochs=epochs, progress=progress))
    return ckpt


def with_forecaster(scenario: Any, ckpt: str | Path) -> Any:
    """``scenario`` with the fitted peephole LSTM as its digital twin's forecaster."""
    from desim_iov.env import make_scenario

    return make_scenario(scenario, **{"offload.dt.predictor": "peephole_lstm",
                                      "offload.dt.checkpoint": str(Path(ckpt).resolve())})


def ci95(x: pd.Series) -> float:
    """Half-width of the 95 % t-interval of the mean (0 for one value)."""
    from scipy import stats

    x = x.dropna()
    if len(x) < 2:
        return float("nan")
    return float(stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))


def summarise(df: pd.DataFrame, by: list[str], metrics: list[str]) -> pd.DataFrame:
    g = df.groupby(by, sort=False)
    out = g[metrics].mean()
    for m in metrics:
        out[f"{m}_ci95"] = g[m].apply(ci95)
    out["seeds"] = g.size()
    return out.reset_index()


@dataclass
class Plan:
    """An experiment's runs: its forecaster configurations, training jobs and evaluations."""

    out: Path
    seeds: int
    episodes: int
    progress: bool = True
    backend: str | None = None
    workers: int = 2
    dt_epochs: int = 40
    trained: dict[tuple[str, int, tuple[str, ...]], str] = field(default_factory=dict)

    def forecaster(self, overrides: tuple[str, ...]) -> tuple[str, ...]:
        """Alg. 1 for a network configuration: the DT settings that plug the fitted forecaster
        in (fitted once per configuration under DIR/dt-<hash>)."""
        ckpt = fit_forecaster(scenario_of(overrides), self.out / f"dt-{_tag(overrides)}", epochs=self.dt_epochs,
                              progress=self.progress)
        return (*overrides, "offload.dt.predictor=peephole_lstm", f"offload.dt.checkpoint={ckpt.resolve()}")

    def train(self, agents: list[str], configs: list[tuple[str, ...]]) -> None:
        """Train every agent on every configuration for every seed (skipping finished runs)."""
        from desim_iov.experiments.runner import make_backend

        jobs = []
        for cfg in configs:
            for agent in agents:
                for s in range(self.seeds):
                    tag = _tag(cfg)
                    out = self.out / "train" / f"{agent}-{tag}-seed{s}"
                    ckpt = out / "checkpoint.pt"
                    self.trained[(agent, s, cfg)] = str(ckpt)
                    if ckpt.exists() and (out / "done").exists():
                        continue
                    jobs.append(TrainJob(agent, s, self.episodes, cfg, str(out)))
        if jobs:
            backend = make_backend(self.backend, workers=min(self.workers, len(jobs)))
            for row in backend.map(run_train, jobs, progress=self.progress, desc="training"):
                (Path(row["checkpoint"]).parent / "done").write_text(f"{row['wall_s']}\n")

    def curves(self, agents: list[str], cfg: tuple[str, ...]) -> pd.DataFrame:
        rows = []
        for agent in agents:
            for s in range(self.seeds):
                c = pd.read_csv(Path(self.trained[(agent, s, cfg)]).parent / "learning_curve.csv")
                c["agent"], c["seed"] = agent, s
                rows.append(c)
        return pd.concat(rows, ignore_index=True)

    def evaluate(self, agents: list[str], train_cfg: tuple[str, ...], settings: dict[str, list[str]],
                 extra: Callable[[str], list[str]] | None = None) -> pd.DataFrame:
        """Every agent trained on ``train_cfg``, evaluated on every setting (name -> extra
        overrides) on ``seeds`` held-out seeds."""
        from desim_iov.experiments.runner import make_backend

        keys = [(a, name, k) for a in agents for name in settings for k in range(self.seeds)]
        jobs = [EvaluationJob(a, self.trained.get((a, k, train_cfg), ""), (*train_cfg, *settings[name]), EVAL_SEED + k,
                        str(self.out / "eval" / f"{a}-{_tag(train_cfg)}-{name}-seed{k}.h5")) for a, name, k in keys]
        backend = make_backend(self.backend, workers=min(self.workers, len(jobs)))
        totals = backend.map(run_evaluation, jobs, progress=self.progress, desc="evaluating")
        return pd.DataFrame([{"agent": a, "setting": name, "seed": k, **tot}
                             for (a, name, k), tot in zip(keys, totals, strict=True)])


def _tag(overrides: tuple[str, ...]) -> str:
    import hashlib

    keep = [o for o in overrides if not o.startswith("offload.dt.checkpoint=")]
    return hashlib.sha1("\n".join(keep).encode()).hexdigest()[:8] if keep else "base"
