"""Running a sweep: ``desim-iov sweep SWEEP.yaml --out DIR [--backend serial|processes|dask]
[--scheduler ADDRESS] [--workers N]``.

1. The sweep is expanded and every job validated (desim_iov/sweep/spec.py); nothing runs on a
   bad sweep.
2. Finished records are looked up by key under ``DIR/train`` and ``DIR/runs``: a job with an
   ``ok`` record is skipped, a failed or unfinished one runs again. So re-running the same
   command (after a kill, a crash, or with a grown grid or more seeds) runs only what is missing.
3. Forecaster fits and trainings without one are submitted first; a training that needs a fit
   is submitted when its fit finishes, each run of a learner when its own training finishes
   (never after a barrier), every other run at once. A failing job is recorded with its one-line
   error and never stops the sweep; what waited on a failed fit or training is recorded failed.
4. The progress bar counts training updates and runs; it moves inside a training (its
   ``progress`` file).
5. ``DIR/results.parquet`` is built from the records on disk, one row per
   run: ``key``, ``policy``, every grid key, ``seed``, ``setting``, ``status``, ``error``,
   ``wall_s``, ``train_wall_s``, ``train_dir`` (a learner's training directory: its learning
   curve and checkpoint), ``worker``, ``trace`` and every summary metric of the trace.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from desim_iov.sweep.executors import make_executor
from desim_iov.sweep.spec import Expanded, FitTask, RunTask, SweepSpec, TrainTask, expand
from desim_iov.sweep.tasks import (
    one_line,
    read_progress,
    read_record,
    run_fit_task,
    run_run_task,
    run_train_task,
    train_units,
    worker_name,
    write_record,
)

POLL_S = 0.2
FIXED_COLUMNS = ["key", "policy", "seed", "setting", "status", "error", "wall_s", "train_wall_s", "train_dir",
                 "worker", "trace"]


@dataclass
class SweepResult:
    results: pd.DataFrame  # one row per run (see the module docstring)
    ran: int  # jobs run by this call (trainings and runs)
    reused: int  # runs whose finished record was reused
    path: Path  # results.parquet

    @property
    def failed(self) -> int:
        return int((self.results.status != "ok").sum())


def plan(spec: SweepSpec, out: str | Path) -> tuple[Expanded, list[FitTask], list[TrainTask], list[RunTask]]:
    """The sweep's jobs and those of them still to run (no ``ok`` record)."""
    exp = expand(spec, out)
    unique: dict[str, RunTask] = {}
    for r in exp.runs:  # one job per distinct run (the first row's labels describe it)
        unique.setdefault(r.key, r)
    runs = [r for r in unique.values() if not _ok(read_record(r.out_dir))]
    keys = {r.after for r in runs if r.after is not None}
    trains = [t for k, t in exp.trains.items() if k in keys and not _ok(read_record(t.out_dir))]
    fit_keys = {t.fit for t in trains if t.fit is not None}
    fits = [f for k, f in exp.fits.items() if k in fit_keys and not _ok(read_record(f.out_dir))]
    return exp, fits, trains, runs


def _ok(rec: dict[str, Any] | None) -> bool:
    return rec is not None and rec.get("status") == "ok"


Job = FitTask | TrainTask | RunTask


def _needs(job: Job) -> str | None:
    """The key of the job ``job`` waits on: a training's fit, a run's training."""
    return getattr(job, "fit", None) if isinstance(job, TrainTask) else getattr(job, "after", None)


def _start(ex: Any, job: Job, dep: dict[str, Any] | None) -> Any:
    if isinstance(job, FitTask):
        return ex.submit(run_fit_task, job)
    if isinstance(job, TrainTask):
        return ex.submit(run_train_task, job, dep)
    return ex.submit(run_run_task, job, dep)


def run_sweep(spec: SweepSpec, out: str | Path, *, backend: str = "processes", workers: int = 2,
              scheduler: str | None = None, progress: bool = True, results: str | Path | None = None,
              **executor_options: Any) -> SweepResult:
    """Run what is missing of ``spec`` under ``out`` and aggregate every record (see the module
    docstring) into ``results`` (default ``out/results.parquet``; ``sweep.json``, the sweep as
    run, beside it: several sweeps can share one ``out`` and its jobs). ``executor_options`` go
    to the backend (``processes=False``: an in-process Dask cluster of threads, for tests)."""
    from tqdm.auto import tqdm

    out = Path(out)
    path = Path(results) if results is not None else out / "results.parquet"
    exp, fits, trains, runs = plan(spec, out)
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.parent / "sweep.json").write_text(json.dumps(spec.model_dump(mode="json"), indent=1) + "\n")
    pending = {j.key for j in (*fits, *trains)}  # fits and trainings this call runs
    waiting: dict[str, list[Job]] = {}
    ready: list[tuple[Job, dict[str, Any] | None]] = []
    for job in (*fits, *trains, *runs):
        dep = _needs(job)
        if dep in pending:
            waiting.setdefault(dep, []).append(job)
        else:  # no dependency, or one finished in an earlier call
            ready.append((job, _dep_record(exp, job)))
    units = {t.key: train_units(t) for t in trains}
    total = len(fits) + sum(units.values()) + len(runs)
    done_units, failed = 0, 0
    futures: dict[Any, Job] = {}
    running: dict[str, TrainTask] = {}
    reused = len({r.key for r in exp.runs}) - len(runs)
    if not runs:
        return _aggregate(exp, path, 0, reused)
    ex = make_executor(backend, workers, scheduler, **executor_options)
    bar = tqdm(total=total, desc=f"sweep ({ex.name}, {ex.workers} worker{'s' * (ex.workers > 1)})",
               unit="unit", disable=not progress, dynamic_ncols=True)

    def finished(job: Job, rec: dict[str, Any]) -> None:
        """Count ``job``; start what waited on it, or record it failed (and what waited on that)."""
        nonlocal done_units, failed
        failed += rec.get("status") != "ok"
        done_units += units.get(job.key, 1)
        running.pop(job.key, None)
        for nxt in waiting.pop(job.key, []) if not isinstance(job, RunTask) else []:
            if rec.get("status") == "ok":
                futures[_start(ex, nxt, rec)] = nxt
                if isinstance(nxt, TrainTask):
                    running[nxt.key] = nxt
            else:
                what = "its forecaster fit" if isinstance(job, FitTask) else "its training"
                finished(nxt, _fail(nxt, f"{what} failed: {rec.get('error')}"))

    try:
        for job, dep in ready:
            futures[_start(ex, job, dep)] = job
            if isinstance(job, TrainTask):
                running[job.key] = job
        while futures:
            for fut in [f for f in futures if f.done()]:
                job = futures.pop(fut)
                finished(job, _result(fut, job))
            inside = sum(min(read_progress(t.out_dir), units[k]) for k, t in running.items())
            bar.n = done_units + inside
            bar.set_postfix_str(f"submitted {len(futures)}, failed {failed}")
            bar.refresh()
            if futures:
                time.sleep(POLL_S)
    except BaseException:  # Ctrl-C, SIGTERM: what finished is recorded; the same command resumes
        ex.abort()
        raise
    finally:
        bar.close()
    ex.close()
    return _aggregate(exp, path, len(fits) + len(trains) + len(runs), reused)


def _dep_record(exp: Expanded, job: Job) -> dict[str, Any] | None:
    if isinstance(job, TrainTask):
        return read_record(exp.fits[job.fit].out_dir) if job.fit else None
    if isinstance(job, RunTask):
        return read_record(exp.trains[job.after].out_dir) if job.after else None
    return None


def _result(fut: Any, job: Job) -> dict[str, Any]:
    """The job's record; when its worker died (no record written), a failed one written here."""
    try:
        return fut.result()
    except Exception as e:
        return _fail(job, f"the worker died: {one_line(e)}")


def _fail(job: Job, error: str) -> dict[str, Any]:
    kind = {FitTask: "fit", TrainTask: "train", RunTask: "run"}[type(job)]
    rec = {"job": kind, "key": job.key, "seed": job.seed, "status": "failed", "error": error,
           "worker": worker_name(), "wall_s": 0.0}
    if isinstance(job, RunTask):
        rec.update(policy=job.policy, setting=job.setting, point=[list(p) for p in job.point],
                   overrides=list(job.overrides), train_key=job.after)
    write_record(job.out_dir, rec)
    return rec


def _aggregate(exp: Expanded, path: Path, ran: int, reused: int) -> SweepResult:
    """results.parquet from the records on disk (never from in-memory futures)."""
    rows, grid_keys = [], []
    trained = {k: read_record(t.out_dir) for k, t in exp.trains.items()}  # each read once, shared by its runs
    for r in exp.runs:
        rec = read_record(r.out_dir) or {"status": "missing", "error": "no record (the run never finished)"}
        row: dict[str, Any] = {"key": r.key[:16], "policy": r.policy, "seed": r.seed, "setting": r.setting}
        for k, v in r.point:
            row[k] = v
            if k not in grid_keys and k != "policy":
                grid_keys.append(k)
        trec = trained[r.after] if r.after else None
        row.update(status=rec.get("status"), error=rec.get("error", ""), wall_s=rec.get("wall_s"),
                   train_wall_s=(trec or {}).get("wall_s"),
                   train_dir=exp.trains[r.after].out_dir if r.after else "", worker=rec.get("worker", ""),
                   trace=rec.get("trace", ""))
        for m, v in (rec.get("metrics") or {}).items():
            row[m if m not in row else f"metric.{m}"] = v
        rows.append(row)
    df = pd.DataFrame(rows)
    for k in grid_keys:  # a grid key whose values mix types is stored as text
        if df[k].map(type).nunique() > 1:
            df[k] = df[k].astype(str)
    df = df[[c for c in ["key", "policy", *grid_keys] if c in df] +
            [c for c in FIXED_COLUMNS if c not in ("key", "policy")] +
            [c for c in df.columns if c not in FIXED_COLUMNS and c not in grid_keys]]
    df.to_parquet(path, index=False)
    return SweepResult(df, ran, reused, path)
