"""The sweep runner (DESIGN §8): jobs are picklable, rows come back in job order whatever order
the jobs finish in, a failing job is reported with its description (never dropped), and the
process pool gives the serial backend's rows."""

from __future__ import annotations

import copy
import pickle
import time
from dataclasses import dataclass

import pytest

from desim_iov.experiments.jobs import ForecastJob, run_job
from desim_iov.experiments.runner import (
    BACKENDS,
    JobFailed,
    ProcessBackend,
    SerialBackend,
    make_backend,
)


@dataclass(frozen=True)
class SleepJob:
    """A stand-in job: sleeps, then returns its index (or raises when ``fail``)."""

    index: int
    sleep: float = 0.0
    fail: bool = False

    def describe(self) -> str:
        return f"sleep job {self.index}"


def run_sleep(job: SleepJob) -> dict:
    time.sleep(job.sleep)
    if job.fail:
        raise ValueError(f"job {job.index} broke\non two lines")
    return {"index": job.index}


def test_backends_are_registered_by_name_and_bad_choices_are_one_line_errors():
    assert set(BACKENDS) >= {"serial", "process"}
    assert isinstance(make_backend(None, 1), SerialBackend)
    assert isinstance(make_backend(None, 3), ProcessBackend)
    assert make_backend("process", 3).workers == 3
    with pytest.raises(ValueError, match="unknown backend 'mars' \\(allowed: serial, process"):
        make_backend("mars")
    with pytest.raises(ValueError, match="--workers must be >= 1"):
        make_backend("process", 0)


def test_jobs_pickle_and_describe_themselves(tmp_path):
    # the process backend sends jobs to its workers by pickling them: they must serialise,
    # and rebuild equal through the same reduce protocol (deepcopy uses it; nothing is unpickled)
    fc = ForecastJob("lstm", 0, "shared", None, str(tmp_path / "c.pt"), None, {"epochs": 1}, {})
    assert isinstance(pickle.dumps(fc), bytes) and copy.deepcopy(fc) == fc and "lstm" in fc.describe()
    with pytest.raises(TypeError, match="not a job"):
        run_job(SleepJob(0))


@pytest.mark.parametrize("backend", ["serial", "process"])
def test_rows_come_back_in_job_order(backend):
    jobs = [SleepJob(i, sleep=0.3 * (3 - i)) for i in range(4)]  # the last job finishes first
    rows = make_backend(backend, 2).map(run_sleep, jobs, progress=False)
    assert [r["index"] for r in rows] == [0, 1, 2, 3]


@pytest.mark.parametrize("backend", ["serial", "process"])
def test_a_failing_job_is_reported_with_its_description_and_the_others_still_run(backend):
    jobs = [SleepJob(0), SleepJob(1, fail=True), SleepJob(2)]
    with pytest.raises(JobFailed) as e:
        make_backend(backend, 2).map(run_sleep, jobs, progress=False)
    msg = str(e.value)
    assert msg == "1 of 3 job(s) failed: sleep job 1: ValueError: job 1 broke on two lines"
    assert [(i, job) for i, job, _ in e.value.failures] == [(1, jobs[1])]
    assert e.value.rows == [{"index": 0}, None, {"index": 2}]


def test_a_failing_experiment_run_names_the_run_and_writes_no_results(tmp_path, capsys, monkeypatch):
    """A run that fails inside its job: the CLI says which run, exit 2, the other runs are
    recorded, and no results.csv is left looking complete; the same command reruns only it."""
    from test_realdata_scenarios import fake_data

    import desim_iov.sim as sim
    from desim_iov.cli import main

    real = sim.make_simulation

    def broken(sc, *a, **k):
        if sc.policy.name == "random":
            raise OSError("disk full")
        return real(sc, *a, **k)

    monkeypatch.setattr(sim, "make_simulation", broken)  # the serial backend runs in this process
    root = fake_data(tmp_path / "data")
    out = tmp_path / "fig9"
    args = ["experiment", "fig9", "--out", str(out), "--seeds", "1", "--quiet", "--algorithms", "greedy", "random",
            "--set", f"data_dir={root}", "--set", "background.pems_source=data:fake.npz",
            "--set", "background.pems_start=1970-01-01 00:00", "--set", "duration=30",
            "--set", "rsus.count=12", "--set", "vehicles.traffic.packet_size=800 kB"]
    assert main(args) == 2
    errors = [ln for ln in capsys.readouterr().err.splitlines() if "error:" in ln]
    assert len(errors) == 1 and "Traceback" not in errors[0]
    assert "1 of 2 run(s) failed (first: random city seed 0: OSError: disk full)" in errors[0]
    assert not (out / "results.csv").exists()
    import pandas as pd

    assert list(pd.read_parquet(out / "results.parquet").status) == ["ok", "failed"]
    monkeypatch.setattr(sim, "make_simulation", real)
    assert main(args) == 0 and len(pd.read_csv(out / "results.csv")) == 2
