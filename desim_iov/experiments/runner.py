"""Backends that run a sweep of jobs (DESIGN §8): ``backend.map(run_job, jobs) -> rows``.

Every backend returns the rows in job order, whatever order the jobs finish in, and runs every
job even when some fail; then, if any failed, it raises :class:`JobFailed` naming each failed
job (``job.describe()``) and its error, with the rows of the others attached. A sweep never
drops a job silently. Backends are chosen by name from :data:`BACKENDS` (``--backend``,
``--workers``); a new one (e.g. a Dask cluster) needs only a class with ``map`` registered here.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from tqdm.auto import tqdm

from desim_iov.cli_types import positive_int
from desim_iov.experiments.jobs import Job


class JobFailed(RuntimeError):
    """One or more jobs of a sweep raised. ``failures``: ``(index, job, exception)`` in job
    order; ``rows``: every row, ``None`` where the job failed."""

    def __init__(self, failures: list[tuple[int, Job, BaseException]], rows: list[Any]):
        self.failures, self.rows = failures, rows
        shown = "; ".join(f"{_describe(job)}: {type(e).__name__}: {_one_line(e)}"
                          for _, job, e in failures[:5])
        more = f"; and {len(failures) - 5} more" if len(failures) > 5 else ""
        super().__init__(f"{len(failures)} of {len(rows)} job(s) failed: {shown}{more}")


def _describe(job: Any) -> str:
    return job.describe() if hasattr(job, "describe") else repr(job)


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).strip("\"'").split()) or "(no message)"


class Backend(Protocol):
    """Runs ``fn`` on every job; rows come back in job order (see the module docstring)."""

    name: str
    workers: int

    def map(self, fn: Callable[[Any], Any], jobs: Sequence[Any], *, progress: bool = True,
            desc: str = "jobs") -> list[Any]: ...


def _finish(rows: list[Any], failures: list[tuple[int, Job, BaseException]]) -> list[Any]:
    if failures:
        raise JobFailed(sorted(failures, key=lambda f: f[0]), rows)
    return rows


class SerialBackend:
    """One job after another in this process: simplest to debug, inner progress bars visible."""

    name = "serial"

    def __init__(self, workers: int = 1):
        self.workers = 1

    def map(self, fn: Callable[[Any], Any], jobs: Sequence[Any], *, progress: bool = True,
            desc: str = "jobs") -> list[Any]:
        rows: list[Any] = [None] * len(jobs)
        failures = []
        with tqdm(total=len(jobs), desc=desc, disable=not progress, dynamic_ncols=True) as bar:
            for i, job in enumerate(jobs):
                bar.set_postfix_str(_describe(job))
                try:
                    rows[i] = fn(job)
                except Exception as e:  # reported with the job, after the others ran
                    failures.append((i, job, e))
                bar.update(1)
        return _finish(rows, failures)


class ProcessBackend:
    """A pool of ``workers`` processes on this machine. Processes are spawned, not forked (no
    fork of a process holding torch threads), so ``fn`` and the jobs must be picklable."""

    name = "process"

    def __init__(self, workers: int = 2):
        if workers < 1:
            raise ValueError(f"--workers must be >= 1, got {workers}")
        self.workers = workers

    def map(self, fn: Callable[[Any], Any], jobs: Sequence[Any], *, progress: bool = True,
            desc: str = "jobs") -> list[Any]:
        rows: list[Any] = [None] * len(jobs)
        failures = []
        if not jobs:
            return rows
        ctx = mp.get_context("spawn")
        with cf.ProcessPoolExecutor(max_workers=min(self.workers, len(jobs)),
                                    mp_context=ctx) as pool, \
                tqdm(total=len(jobs), desc=desc, disable=not progress, dynamic_ncols=True) as bar:
            futures = {pool.submit(fn, job): i for i, job in enumerate(jobs)}
            for fut in cf.as_completed(futures):
                i = futures[fut]
                try:
                    rows[i] = fut.result()
                except Exception as e:  # raised in the worker, or the worker died
                    failures.append((i, jobs[i], e))
                bar.set_postfix_str(_describe(jobs[i]))
                bar.update(1)
        return _finish(rows, failures)


# name -> factory(workers, **options); a cluster backend takes its address etc. as options
BACKENDS: dict[str, Callable[..., Backend]] = {
    "serial": SerialBackend,
    "process": ProcessBackend,
}


def make_backend(name: str | None = None, workers: int = 1, **options: Any) -> Backend:
    """The backend ``name`` with ``workers`` (and backend-specific ``options``); ``None``:
    serial for one worker, else a process pool. Unknown names and ``workers < 1`` are one-line
    ``ValueError``s."""
    if workers < 1:
        raise ValueError(f"--workers must be >= 1, got {workers}")
    if name is None:
        name = "serial" if workers == 1 else "process"
    name = {"processes": "process"}.get(name, name)  # the sweep's name for the same pool
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r} (allowed: {', '.join(BACKENDS)})")
    return BACKENDS[name](workers, **options)


def add_backend_options(ap: Any, *, workers_flags: tuple[str, ...] = ("--workers",),
                        default_workers: int = 1) -> None:
    """``--backend {serial,process,processes,dask}`` and ``--workers N`` on an argparse parser
    (``dask``: the commands that run as sweeps)."""
    ap.add_argument("--backend", choices=[*sorted(BACKENDS), "processes", "dask"], default=None,
                    help="how jobs run (default: serial for one worker, else a process pool; dask: the "
                         "twin-migration experiments, which run as sweeps)")
    ap.add_argument(*workers_flags, dest="workers", type=positive_int, default=default_workers,
                    metavar="N", help=f"jobs run in parallel (default {default_workers})")
