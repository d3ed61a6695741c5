"""Runs as jobs: pure, picklable descriptions and ``run_job(job) -> row`` (DESIGN §8).

A job holds only plain values (names, override strings, seeds, budgets, output paths): no open
files, no lambdas, no live objects. Whatever it needs (scenario, policy, data) it builds itself,
so any backend (serial, process pool, a cluster) can run it and the row depends only on the job.

(The twin-migration experiments run as sweeps: desim_iov/sweep/, desim_iov/experiments/twin_migration.py.)
- :class:`ForecastJob`: one (model, seed) of the twin-migration Table II: train a neural
  forecaster (Alg. 1) on PeMS weeks 1-3, save it, score the test week.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np


class Job(Protocol):
    """What a backend runs: a picklable description that can say what it is."""

    def describe(self) -> str: ...


@dataclass(frozen=True)
class ForecastJob:
    """Train one neural forecaster with one seed and score it on the test week (twin-migration
    Alg. 1, Table II)."""

    model: str
    seed: int
    mode: str                          # "shared" or "per_server"
    data: str | None                   # PeMS D12 directory, PEMS0x .npz, or None (default)
    checkpoint: str                    # where the trained model is saved
    features: Any                      # models.forecast.data.FeatureConfig (frozen)
    train: dict = field(hash=False)    # TrainConfig fields (seed and progress excepted)
    net: dict = field(hash=False)      # network hyperparameters
    threads: int = 1                   # torch threads of the process running it
    progress: bool = False             # the training's own epoch bar (serial runs)

    def describe(self) -> str:
        return f"forecast {self.model} ({self.mode}) seed {self.seed}"


def run_job(job: Job) -> dict[str, Any]:
    """Run one job and return its row (a dict); the backends call this."""
    try:
        runner = _RUNNERS[type(job)]
    except KeyError:
        raise TypeError(f"not a job: {job!r} (known: {', '.join(t.__name__ for t in _RUNNERS)})"
                        ) from None
    return runner(job)


# -- workload forecasting ----------------------------------------------------------------------

@dataclass(frozen=True)
class ForecastInputs:
    """The PeMS flow, its windows and the scored test cells (test week, every station)."""

    pems: Any           # traces.pems.PemsData
    split: Any          # models.forecast.data.TimeSplit
    windows: Any        # models.forecast.data.WindowData
    test_t: np.ndarray
    test_s: np.ndarray
    y: np.ndarray
    score: np.ndarray


def load_pems(path: str | None) -> Any:
    """PeMS D12 directory (or the default data dir with ``None``) or a PEMS0x ``.npz``."""
    from traces.pems import load_pems_d12, load_pems_npz

    if path is not None and Path(path).suffix == ".npz":
        return load_pems_npz(path)
    return load_pems_d12(path)


@functools.lru_cache(maxsize=2)  # once per process: every job of a worker shares it
def forecast_inputs(path: str | None, features: Any) -> ForecastInputs:
    """Weeks 1-3 train (last two days validate), week 4 tests (twin-migration Sec. VII-B)."""
    from models.forecast.data import make_window_data, week_split

    d = load_pems(path)
    split = week_split(d.n_steps)
    windows = make_window_data(d.flow, d.observed, split, features, d.timestamps)
    n_s = d.n_stations
    test_t = np.repeat(np.arange(*split.test), n_s)
    test_s = np.tile(np.arange(n_s), split.test[1] - split.test[0])
    return ForecastInputs(d, split, windows, test_t, test_s, d.flow[test_t, test_s],
                          d.observed[test_t, test_s])


def run_forecast(job: ForecastJob) -> dict[str, Any]:
    """Train, save and score one forecaster; the row has ``model, seed``, the Table II metrics,
    the test predictions (``pred``) and the training's timings and epochs."""
    import torch

    from models.forecast.metrics import all_metrics
    from models.forecast.train import NeuralForecaster, TrainConfig

    torch.set_num_threads(job.threads)
    inp = forecast_inputs(job.data, job.features)
    t0 = time.perf_counter()
    ids = [str(x) for x in inp.pems.station_ids]
    fc = NeuralForecaster.create(job.model, job.mode, inp.windows, job.net, ids)
    results = fc.fit(inp.windows, TrainConfig(**{**job.train, "seed": job.seed,
                                                 "progress": job.progress}))
    fc.save(job.checkpoint)
    pred = fc.predict(inp.windows.features, inp.test_t, inp.test_s)
    return {
        "model": job.model, "seed": job.seed, **all_metrics(pred, inp.y, inp.score),
        "pred": pred, "seconds": time.perf_counter() - t0,
        "epochs_run": [r.epochs_run for r in results],
        "best_epoch": [r.best_epoch for r in results], "best_val": [r.best_val for r in results],
        "params": sum(p.numel() for p in fc.nets[0].parameters()) * len(fc.nets),
    }


_RUNNERS = {ForecastJob: run_forecast}
