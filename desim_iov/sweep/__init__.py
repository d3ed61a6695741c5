"""Sweeps of many runs (a grid of overrides x seeds), resumable, on a local pool or a Dask
cluster: ``desim-iov sweep SWEEP.yaml --out DIR``. See desim_iov/sweep/spec.py for the file,
desim_iov/sweep/runner.py for how it runs, docs/USAGE.md "Sweeps"."""

from desim_iov.sweep.executors import BACKENDS, backend_name
from desim_iov.sweep.runner import SweepResult, plan, run_sweep
from desim_iov.sweep.spec import SweepError, SweepSpec, expand, load_sweep, sweep_from_dict

__all__ = ["BACKENDS", "backend_name", "SweepError", "SweepResult", "SweepSpec", "expand", "load_sweep", "plan", "run_sweep",
           "sweep_from_dict"]
