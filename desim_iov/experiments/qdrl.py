"""The quantum-DRL paper's Figs. 3–7, one command each: ``desim-iov experiment qdrl-fig3 ...
qdrl-fig7 --seeds N --episodes E --out DIR``.

Each figure is a sweep shipped in ``desim_iov/sweeps/qdrl-figN.yaml`` (a network ``config``
axis x an ``algorithm`` axis x seeds, with ``evaluate`` settings) run through the sweep runner
(desim_iov/sweep/) in one directory that every figure shares, so a training two figures need
(the same learner, network, budget and seed) runs once. The pipeline (the paper's Alg. 1 then
Alg. 2): the digital twin's peephole-LSTM forecaster is fitted once per network configuration
on traces of the ``min-latency`` heuristic (slot fidelity), every learner is trained on the
same scenario with the same budget in environment steps (E episodes x T slots, slot fidelity),
then evaluated greedily in packet fidelity on held-out seeds (``EVAL_SEED`` + k, never trained
on; training scenarios use seed + 1e6). Every figure writes ``runs.parquet`` (the sweep's
rows), ``results.csv`` (one row per method, setting and seed), ``summary.csv`` (mean and 95 %
t-interval over seeds), a PNG, and prints the paper's headline beside the measured one. Nothing
is tuned toward the paper.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

EVAL_SEED = 10_000  # evaluation seeds EVAL_SEED + k; a learner of seed s trains on episode seeds 1e6 (s + 1) + j
FIGS = ("qdrl-fig3", "qdrl-fig4", "qdrl-fig5", "qdrl-fig6", "qdrl-fig7")


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
    """How a figure's sweep is run: seeds, budget, backend; ``out`` holds every figure's jobs."""

    out: Path
    seeds: int
    episodes: int
    progress: bool = True
    backend: str | None = None
    workers: int = 2
    dt_epochs: int = 40

    def spec(self, name: str, overrides: tuple[str, ...] = ()) -> Any:
        """The shipped sweep ``name`` with this plan's seeds (``EVAL_SEED`` + k), budget, forecaster
        epochs and extra ``overrides``."""
        from desim_iov.sweep import load_sweep

        spec = load_sweep(name)
        return spec.model_copy(update={
            "seeds": [EVAL_SEED + k for k in range(self.seeds)], "set": [*spec.set, *overrides],
            "train": spec.train.model_copy(update={"episodes": self.episodes, "updates": None}),
            "forecaster": spec.forecaster.model_copy(update={"epochs": self.dt_epochs})})

    def run(self, name: str, overrides: tuple[str, ...] = ()) -> pd.DataFrame:
        """Run what is missing of figure ``name``'s sweep; its rows (``algorithm`` renamed
        ``agent``) written to ``out/figN/runs.parquet``. A failed run is a one-line RuntimeError
        after every other one finished (the same command runs it again)."""
        from desim_iov.sweep import backend_name, run_sweep

        res = run_sweep(self.spec(name, overrides), self.out, backend=backend_name(self.backend, self.workers),
                        workers=self.workers,
                        progress=self.progress, results=self.out / name.removeprefix("qdrl-") / "runs.parquet")
        if res.failed:
            bad = res.results[res.results.status != "ok"].iloc[0]
            raise RuntimeError(f"{name}: {res.failed} of {len(res.results)} run(s) failed (first: {bad.algorithm} "
                               f"{bad.setting} seed {bad.seed}: {bad.error}); the others are recorded in {res.path}; "
                               "the same command runs the failed ones again")
        return res.results.rename(columns={"algorithm": "agent"})

    @staticmethod
    def curves(runs: pd.DataFrame, agents: list[str]) -> pd.DataFrame:
        """The learning curves of ``agents``' trainings behind ``runs`` (one per agent and seed)."""
        rows = []
        for (agent, seed), g in runs[runs.agent.isin(agents)].groupby(["agent", "seed"], sort=False):
            c = pd.read_csv(Path(g.train_dir.iloc[0]) / "learning_curve.csv")
            c["agent"], c["seed"] = agent, seed
            rows.append(c)
        return pd.concat(rows, ignore_index=True)
