"""What a sweep's worker runs: one forecaster fit, one training or one run, ending in one
immutable record.

A job writes ``record.json`` into its own directory when it finishes, successful or not
(``status`` ``ok`` or ``failed`` with a one-line ``error``), by an atomic rename: a record is
either absent (the job never finished: it runs again) or complete. While it runs, a training
writes its progress (``updates done/total``) to ``progress`` so that the sweep's bar moves
inside long jobs, whatever machine runs them (the sweep directory is on a shared path).
Results are aggregated from these records only (desim_iov/sweep/runner.py).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import time
import traceback
from pathlib import Path
from typing import Any

from desim_iov.sweep.spec import FitTask, RunTask, TrainTask

RECORD = "record.json"
PROGRESS = "progress"


def read_record(job_dir: str | Path) -> dict[str, Any] | None:
    """The finished record of a job, or None when it has none (or an unreadable one)."""
    p = Path(job_dir) / RECORD
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError):
        return None


def write_record(job_dir: str | Path, record: dict[str, Any]) -> None:
    """Write ``record`` atomically (a temporary file renamed over the final name)."""
    d = Path(job_dir)
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / f".{RECORD}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(record, indent=1, default=_plain) + "\n")
    os.replace(tmp, d / RECORD)


def _plain(v: Any) -> Any:
    if hasattr(v, "item"):  # numpy scalars
        return v.item()
    return str(v)


def worker_name() -> str:
    """The Dask worker's address when run by Dask, else host:pid."""
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return f"{socket.gethostname()}:{os.getpid()}"


def one_line(e: BaseException) -> str:
    return f"{type(e).__name__}: " + (" ".join(str(e).strip("\"'").split()) or "(no message)")


def _fresh(job_dir: Path) -> None:
    """Start a job from nothing: what an interrupted attempt left is removed."""
    if job_dir.exists():
        shutil.rmtree(job_dir)
    job_dir.mkdir(parents=True)


def _finish(job_dir: Path, base: dict[str, Any], t0: float, body: Any) -> dict[str, Any]:
    record = {**base, "worker": worker_name(), "started": time.time()}
    try:
        record.update(status="ok", error="", **body())
    except Exception as e:  # recorded with the job; the sweep goes on
        record.update(status="failed", error=one_line(e), traceback=traceback.format_exc(limit=8))
    record["wall_s"] = round(time.perf_counter() - t0, 3)
    write_record(job_dir, record)
    return record


# ---------------------------------------------------------------------------- fit

def run_fit_task(task: FitTask) -> dict[str, Any]:
    """Fit the digital twin's peephole-LSTM forecaster on ``min-latency`` traces of the task's
    network (quantum-DRL Alg. 1, :func:`desim_iov.experiments.qdrl.fit_forecaster`)."""
    t0 = time.perf_counter()
    out = Path(task.out_dir)
    _fresh(out)

    def body() -> dict[str, Any]:
        import torch

        from desim_iov.config import load_scenario
        from desim_iov.experiments.qdrl import fit_forecaster

        torch.set_num_threads(1)
        ckpt = fit_forecaster(load_scenario(task.base, list(task.overrides)), out, runs=task.runs,
                              duration=task.duration, epochs=task.epochs, progress=False)
        return {"dt_checkpoint": str(ckpt)}

    return _finish(out, {"job": "fit", "key": task.key, "overrides": list(task.overrides)}, t0, body)


# ---------------------------------------------------------------------------- training

def run_train_task(task: TrainTask, fit_record: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train ``task.learner``; the record has the checkpoint, the forecaster's checkpoint (from
    the training's fit, for learners that use the digital twin's forecaster) and the training's
    steps."""
    t0 = time.perf_counter()
    out = Path(task.out_dir)
    _fresh(out)

    def body() -> dict[str, Any]:
        import torch

        from agents.train import make_config, scenario_for, train
        from desim_iov.config import load_scenario
        from desim_iov.env import parallel_env

        torch.set_num_threads(task.threads)
        sc = scenario_for(task.learner, load_scenario(task.base, list(task.overrides)))
        dt_ckpt = ""
        if task.fit is not None:
            if not fit_record or fit_record.get("status") != "ok":
                raise RuntimeError(f"its forecaster fit failed: {(fit_record or {}).get('error', 'no record')}")
            from desim_iov.experiments.qdrl import with_forecaster

            dt_ckpt = fit_record["dt_checkpoint"]
            sc = with_forecaster(sc, dt_ckpt)
        updates = task.updates or math.ceil(task.episodes / make_config(task.learner).episodes_per_update)
        progress = out / PROGRESS

        def on_update(done: int, total: int) -> None:
            progress.write_text(f"{done} {total}\n")

        ckpt = train(task.learner, lambda: parallel_env(sc), updates=updates, seed=task.seed, out_dir=out,
                     progress=False, on_update=on_update)
        import pandas as pd

        curve = pd.read_csv(out / "learning_curve.csv")
        last = curve.iloc[-1] if len(curve) else {}
        return {"checkpoint": str(ckpt), "dt_checkpoint": dt_ckpt, "updates": updates,
                "env_steps": int(last.get("env_steps", 0)), "episodes": int(last.get("episodes", 0))}

    return _finish(out, {"job": "train", "key": task.key, "learner": task.learner, "seed": task.seed,
                         "fit_key": task.fit, "overrides": list(task.overrides)}, t0, body)


def train_units(task: TrainTask) -> int:
    """The updates a training will run (its share of the sweep's progress bar)."""
    if task.updates:
        return task.updates
    from agents.train import make_config

    return math.ceil(task.episodes / make_config(task.learner).episodes_per_update)


def read_progress(job_dir: str | Path) -> int:
    try:
        return int(Path(job_dir, PROGRESS).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


# ---------------------------------------------------------------------------- one run

def run_run_task(task: RunTask, train_record: dict[str, Any] | None = None) -> dict[str, Any]:
    """Simulate one run into ``out_dir/trace.h5`` and summarise it (every scalar metric of the
    trace's summary, by app)."""
    t0 = time.perf_counter()
    out = Path(task.out_dir)
    _fresh(out)

    def body() -> dict[str, Any]:
        from agents.base import make_policy
        from analysis.totals import trace_totals
        from desim_iov.config import load_scenario
        from desim_iov.sim import make_simulation

        sc = load_scenario(task.base, list(task.overrides))
        params = dict(sc.policy.params)
        if task.after is not None:
            if not train_record or train_record.get("status") != "ok":
                raise RuntimeError(f"its training failed: {(train_record or {}).get('error', 'no record')}")
            import torch

            from agents.train import scenario_for
            from desim_iov.experiments.qdrl import with_forecaster

            torch.set_num_threads(1)
            sc = scenario_for(task.policy, sc)
            if train_record.get("dt_checkpoint"):
                sc = with_forecaster(sc, train_record["dt_checkpoint"])
            params.update(checkpoint=train_record["checkpoint"], scenario=sc)
        policy = make_policy(task.policy, app=sc.app, **params)
        trace = out / "trace.h5"
        make_simulation(sc, policy, trace_path=str(trace)).run()
        metrics = {k: v for k, v in trace_totals(trace).items() if _scalar(v)}
        return {"trace": str(trace), "metrics": metrics}

    return _finish(out, {"job": "run", "key": task.key, "policy": task.policy, "seed": task.seed,
                         "setting": task.setting, "point": [list(p) for p in task.point],
                         "overrides": list(task.overrides), "train_key": task.after}, t0, body)


def _scalar(v: Any) -> bool:
    return isinstance(v, (int, float, bool)) or (hasattr(v, "item") and getattr(v, "ndim", 1) == 0)
