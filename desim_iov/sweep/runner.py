"""Running a sweep: ``desim-iov sweep SWEEP.yaml --out DIR [--backend serial|processes|dask]
[--scheduler ADDRESS] [--workers N]``.

1. The sweep is expanded and every job validated (desim_iov/sweep/spec.py); nothing runs on a
   bad sweep.
2. Finished records are looked up by key under ``DIR/train`` and ``DIR/runs``: a job with an
   ``ok`` record is skipped, a failed or unfinished one runs again. So re-running the same
   command (after a kill, a crash, or with a grown grid or more seeds) runs only what is missing.
3. Trainings are submitted first; each run of a learner is submitted when its own training
   finishes (never after a barrier), every other run at once. A failing job is recorded with its
   one-line error and never stops the sweep; the runs of a failed training are recorded failed.
4. The progress bar counts training updates and runs; it moves inside a training (its
   ``progress`` file).
5. ``DIR/results.parquet`` is built from the records on disk, one row per
   run: ``key``, ``policy``, every grid key, ``seed``, ``setting``, ``status``, ``error``,
   ``wall_s``, ``train_wall_s``, ``worker``, ``trace`` and every summary metric of the trace.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from desim_iov.sweep.executors import make_executor
from desim_iov.sweep.spec import Expanded, RunTask, SweepSpec, TrainTask, expand
from desim_iov.sweep.tasks import (
    one_line,
    read_progress,
    read_record,
    run_run_task,
    run_train_task,
    train_units,
    worker_name,
    write_record,
)

POLL_S = 0.2
FIXED_COLUMNS = ["key", "policy", "seed", "setting", "status", "error", "wall_s", "train_wall_s", "worker", "trace"]


@dataclass
class SweepResult:
    results: pd.DataFrame  # one row per run (see the module docstring)
    ran: int  # jobs run by this call (trainings and runs)
    reused: int  # runs whose finished record was reused
    path: Path  # results.parquet

    @property
    def failed(self) -> int:
        return int((self.results.status != "ok").sum())


def plan(spec: SweepSpec, out: str | Path) -> tuple[Expanded, list[TrainTask], list[RunTask]]:
    """The sweep's jobs and those of them still to run (no ``ok`` record)."""
    exp = expand(spec, out)
    unique: dict[str, RunTask] = {}
    for r in exp.runs:  # one job per distinct run (the first row's labels describe it)
        unique.setdefault(r.key, r)
    runs = [r for r in unique.values() if not _ok(read_record(r.out_dir))]
    keys = {r.after for r in runs if r.after is not None}
    trains = [t for k, t in exp.trains.items() if k in keys and not _ok(read_record(t.out_dir))]
    return exp, trains, runs


def _ok(rec: dict[str, Any] | None) -> bool:
    return rec is not None and rec.get("status") == "ok"


def run_sweep(spec: SweepSpec, out: str | Path, *, backend: str = "processes", workers: int = 2,
              scheduler: str | None = None, progress: bool = True, **executor_options: Any) -> SweepResult:
    """Run what is missing of ``spec`` under ``out`` and aggregate every record (see the module
    docstring). ``executor_options`` go to the backend (``processes=False``: an in-process Dask
    cluster of threads, for tests)."""
    from tqdm.auto import tqdm

    out = Path(out)
    exp, trains, runs = plan(spec, out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "sweep.json").write_text(json.dumps(spec.model_dump(mode="json"), indent=1) + "\n")
    waiting: dict[str, list[RunTask]] = {}
    ready: list[RunTask] = []
    training = {t.key for t in trains}
    for r in runs:
        if r.after is None or r.after in training:
            (waiting.setdefault(r.after, []) if r.after else ready).append(r)
        else:
            ready.append(r)  # its training finished in an earlier call
    units = {t.key: train_units(t) for t in trains}
    total = sum(units.values()) + len(runs)
    done_units, failed = 0, 0
    futures: dict[Any, TrainTask | RunTask] = {}
    running: dict[str, TrainTask] = {}
    reused = len({r.key for r in exp.runs}) - len(runs)
    if not trains and not runs:
        return _aggregate(exp, out, 0, reused)
    ex = make_executor(backend, workers, scheduler, **executor_options)
    bar = tqdm(total=total, desc=f"sweep ({ex.name}, {ex.workers} worker{'s' * (ex.workers > 1)})",
               unit="unit", disable=not progress, dynamic_ncols=True)
    try:
        for t in trains:
            futures[ex.submit(run_train_task, t)] = t
            running[t.key] = t
        for r in ready:
            futures[ex.submit(run_run_task, r, _train_record(exp, r))] = r
        while futures:
            for fut in [f for f in futures if f.done()]:
                job = futures.pop(fut)
                rec = _result(fut, job)
                failed += rec.get("status") != "ok"
                if isinstance(job, TrainTask):
                    running.pop(job.key, None)
                    done_units += units[job.key]
                    for r in waiting.pop(job.key, []):
                        if rec.get("status") == "ok":
                            futures[ex.submit(run_run_task, r, rec)] = r
                        else:
                            _fail(r, f"its training failed: {rec.get('error')}")
                            done_units += 1
                            failed += 1
                else:
                    done_units += 1
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
    return _aggregate(exp, out, len(trains) + len(runs), reused)


def _train_record(exp: Expanded, r: RunTask) -> dict[str, Any] | None:
    return read_record(exp.trains[r.after].out_dir) if r.after else None


def _result(fut: Any, job: TrainTask | RunTask) -> dict[str, Any]:
    """The job's record; when its worker died (no record written), a failed one written here."""
    try:
        return fut.result()
    except Exception as e:
        return _fail(job, f"the worker died: {one_line(e)}")


def _fail(job: TrainTask | RunTask, error: str) -> dict[str, Any]:
    rec = {"job": "train" if isinstance(job, TrainTask) else "run", "key": job.key, "seed": job.seed,
           "status": "failed", "error": error, "worker": worker_name(), "wall_s": 0.0}
    if isinstance(job, RunTask):
        rec.update(policy=job.policy, setting=job.setting, point=[list(p) for p in job.point],
                   overrides=list(job.overrides), train_key=job.after)
    write_record(job.out_dir, rec)
    return rec


def _aggregate(exp: Expanded, out: Path, ran: int, reused: int) -> SweepResult:
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
                   train_wall_s=(trec or {}).get("wall_s"), worker=rec.get("worker", ""),
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
    path = out / "results.parquet"
    df.to_parquet(path, index=False)
    return SweepResult(df, ran, reused, path)
