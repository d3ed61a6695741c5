"""Where a sweep's jobs run: ``submit(fn, *args) -> future`` with ``done()`` and ``result()``,
and ``close()``. The sweep polls its futures, so one loop serves every backend.

- ``serial``: one job at a time in a thread of this process (simplest to debug; the main
  thread keeps the progress bar moving).
- ``processes``: a pool of ``workers`` spawned processes on this machine (no fork of a process
  holding torch threads).
- ``dask``: Dask distributed (the ``[dist]`` extra). Without ``scheduler`` a ``LocalCluster`` of
  ``workers`` single-threaded worker processes is started (and closed at the end); with
  ``scheduler`` (``tcp://host:8786``) the sweep joins that cluster, whose workers must see the
  sweep's output directory at the same path (docs/USAGE.md "Sweeps").
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
from collections.abc import Callable
from typing import Any

BACKENDS = ("serial", "processes", "dask")


class PoolExecutor:
    """``serial`` and ``processes``: a concurrent.futures pool."""

    def __init__(self, pool: cf.Executor, name: str, workers: int) -> None:
        self.pool, self.name, self.workers = pool, name, workers

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self.pool.submit(fn, *args)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def abort(self) -> None:
        """Stop now: queued jobs cancelled, running worker processes terminated (their jobs
        leave no record and run again on resume)."""
        for proc in list(getattr(self.pool, "_processes", {}).values()):  # processes only
            proc.terminate()
        self.pool.shutdown(wait=False, cancel_futures=True)


class DaskExecutor:
    """Dask distributed: ``client.submit`` per job (not pure: a job writes files)."""

    name = "dask"

    def __init__(self, workers: int, scheduler: str | None = None, processes: bool = True) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise RuntimeError("the dask backend needs Dask distributed: pip install 'desim-iov[dist]'") from None
        self.cluster = None
        if scheduler:
            try:
                self.client = Client(scheduler, timeout="20s")
            except OSError as e:
                raise RuntimeError(f"cannot reach the Dask scheduler at {scheduler}: {e}") from None
        else:
            import logging

            self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=processes,
                                        dashboard_address=None, silence_logs=logging.ERROR)
            self.client = Client(self.cluster)
        self.workers = len(self.client.scheduler_info().get("workers", {})) or workers

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self.client.submit(fn, *args, pure=False)

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def abort(self) -> None:
        self.close()


def backend_name(backend: str | None, workers: int) -> str:
    """The sweep backend an experiment command's ``--backend`` means: none given, ``serial``
    for one worker and a process pool otherwise; ``process`` (the older commands' name) is
    ``processes``."""
    if backend is None:
        return "serial" if workers == 1 else "processes"
    return "processes" if backend == "process" else backend


def make_executor(backend: str = "processes", workers: int = 2, scheduler: str | None = None,
                  **options: Any) -> Any:
    """The executor ``backend`` (see the module docstring); one-line ValueError on bad input."""
    if workers < 1:
        raise ValueError(f"--workers must be >= 1, got {workers}")
    if scheduler and backend != "dask":
        raise ValueError("--scheduler is for --backend dask")
    if backend == "serial":
        return PoolExecutor(cf.ThreadPoolExecutor(max_workers=1), "serial", 1)
    if backend == "processes":
        return PoolExecutor(cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")),
                            "processes", workers)
    if backend == "dask":
        return DaskExecutor(workers, scheduler, **options)
    raise ValueError(f"unknown backend {backend!r} (allowed: {', '.join(BACKENDS)})")
