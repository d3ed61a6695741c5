"""Sweeps (desim_iov/sweep/): expansion and validation, resumable records, results.parquet,
failures recorded without stopping, trainings before their own runs, Dask (in-process
LocalCluster), and a sweep killed half-way and resumed through the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from desim_iov.cli import main
from desim_iov.sweep import SweepError, expand, load_sweep, run_sweep, sweep_from_dict
from desim_iov.sweep.spec import shipped_sweeps
from desim_iov.sweep.tasks import read_record

ROOT = Path(__file__).resolve().parents[1]
SHORT = ["duration=20", "vehicles.traffic.packet_size=800 kB", "trace.sample_interval=5 s"]


def spec(**kw):
    base = {"scenario": "twin-city", "set": SHORT, "grid": {"policy": ["greedy", "random"],
                                                          "vehicles.count": [2, 3]}, "seeds": [1, 2]}
    return sweep_from_dict({**base, **kw})


def test_expansion_is_the_grid_product_times_seeds(tmp_path):
    exp = expand(spec(), tmp_path)
    assert len(exp.runs) == 2 * 2 * 2 and not exp.trains
    assert {r.seed for r in exp.runs} == {1, 2}
    assert len({r.key for r in exp.runs}) == 8
    # a seed count is seeds 0..n-1; keys do not depend on the output directory
    assert {r.seed for r in expand(spec(seeds=3), tmp_path).runs} == {0, 1, 2}
    assert [r.key for r in expand(spec(), tmp_path / "other").runs] == [r.key for r in exp.runs]


def test_every_problem_is_reported_before_anything_runs(tmp_path):
    bad = spec(grid={"policy": ["greedy", "bogus"], "vehicles.count": [3, -1]})
    with pytest.raises(SweepError) as e:
        expand(bad, tmp_path)
    text = str(e.value)
    assert "nothing was run" in text and "bogus" in text and "vehicles.count" in text
    assert not (tmp_path / "runs").exists()
    with pytest.raises(SweepError, match="budget"):  # a learner without a budget
        expand(spec(grid={"policy": ["dm-mappo"]}), tmp_path)

def test_identical_points_share_one_job(tmp_path):
    s = spec(seeds=[1], grid={"policy": ["greedy"], "vehicles.count": [3], "label": {"a": [], "b": []}})
    res = run_sweep(s, tmp_path, backend="serial", progress=False)
    assert res.ran == 1 and list(res.results.label) == ["a", "b"]
    assert res.results.key.nunique() == 1 and res.results.latency_mean_s.nunique() == 1


@pytest.mark.parametrize("text, match", [
    ("scenario: twin-city\ngrid: {policy: []}\n", "no values"),
    ("scenario: twin-city\nseeds: 0\n", "seed count"),
    ("scenario: twin-city\nbogus: 1\n", "bogus"),
    ("scenario: twin-city\ngrid: [1\n", "malformed YAML"),
    ("- 1\n- 2\n", "YAML mapping"),
    ("scenario: twin-city\ngrid: {train.lr: [1]}\n", "training budget"),
])
def test_bad_sweep_files_are_one_line_errors(tmp_path, text, match):
    f = tmp_path / "s.yaml"
    f.write_text(text)
    with pytest.raises(SweepError, match=match) as e:
        load_sweep(f)
    assert "\n" not in str(e.value)


def test_cli_bad_sweep_exits_2_with_one_line(tmp_path, capsys):
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump({"scenario": "twin-city", "grid": {"policy": ["bogus"]}}))
    assert main(["sweep", str(f), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "unknown policy 'bogus'" in err
    f.write_text(yaml.safe_dump({"scenario": "twin-city", "set": SHORT, "grid": {"policy": ["greedy"]}}))
    assert main(["sweep", str(f), "--out", str(tmp_path / "o"), "--backend", "serial",
                 "--scheduler", "tcp://x:1", "--quiet"]) == 2
    assert "--scheduler is for --backend dask" in capsys.readouterr().err
    assert main(["sweep", str(f), "--out", str(tmp_path / "o"), "--dry-run"]) == 0
    assert "greedy" in capsys.readouterr().out and not (tmp_path / "o" / "runs").exists()


def test_serial_sweep_writes_parquet_and_resumes_only_what_is_missing(tmp_path):
    small = spec(seeds=[1])
    res = run_sweep(small, tmp_path, backend="serial", progress=False)
    assert res.ran == 4 and res.failed == 0
    df = pd.read_parquet(tmp_path / "results.parquet")
    assert len(df) == 4 and (df.status == "ok").all()
    for col in ("policy", "vehicles.count", "seed", "wall_s", "worker", "latency_mean_s", "loss_measured",
                "migrations"):
        assert col in df.columns
    assert df["vehicles.count"].dtype.kind == "i"
    assert all(Path(t).is_file() for t in df.trace)
    before = {r.key: (Path(r.out_dir) / "record.json").read_text() for r in expand(small, tmp_path).runs}
    # more seeds: only the new seed runs; the finished records are untouched
    res2 = run_sweep(spec(seeds=[1, 2]), tmp_path, backend="serial", progress=False)
    assert (res2.ran, res2.reused, len(res2.results)) == (4, 4, 8)
    for key, text in before.items():
        assert (Path(expand(small, tmp_path).runs[0].out_dir).parent / key[:16] / "record.json").read_text() == text
    # a grown grid runs only its new point
    res3 = run_sweep(spec(seeds=[1, 2], grid={"policy": ["greedy", "random", "least-loaded"],
                                                "vehicles.count": [2, 3]}), tmp_path, backend="serial", progress=False)
    assert (res3.ran, res3.reused) == (4, 8)


def test_a_failing_run_is_recorded_and_rerun_later(tmp_path, monkeypatch):
    import desim_iov.sim as sim

    real = sim.make_simulation

    def flaky(sc, *a, **k):
        if sc.seed == 2 and sc.policy.name == "random":
            raise RuntimeError("disk on fire\nsecond line")
        return real(sc, *a, **k)

    monkeypatch.setattr(sim, "make_simulation", flaky)
    res = run_sweep(spec(), tmp_path, backend="serial", progress=False)
    bad = res.results[res.results.status != "ok"]
    assert len(bad) == 2 and res.failed == 2  # both vehicle counts of (random, seed 2)
    assert (bad.error == "RuntimeError: disk on fire second line").all()
    assert (res.results[res.results.status == "ok"].latency_mean_s > 0).all()
    monkeypatch.setattr(sim, "make_simulation", real)
    res2 = run_sweep(spec(), tmp_path, backend="serial", progress=False)
    assert (res2.ran, res2.failed) == (2, 0)


def test_learner_trains_once_then_each_evaluation_runs_after_it(tmp_path):
    s = sweep_from_dict({"scenario": "twin-city", "set": [*SHORT, "vehicles.count=2"],
                         "grid": {"policy": ["dm-mappo", "greedy"]}, "seeds": [0], "train": {"updates": 2},
                         "evaluate": {"packet": ["fidelity=packet"], "slot": ["fidelity=slot"]}})
    exp = expand(s, tmp_path)
    assert len(exp.trains) == 1 and len(exp.runs) == 4
    res = run_sweep(s, tmp_path, backend="serial", progress=False)
    assert res.failed == 0, res.results.error.tolist()
    train = read_record(next(iter(exp.trains.values())).out_dir)
    assert train["status"] == "ok" and train["updates"] == 2
    assert Path(next(iter(exp.trains.values())).out_dir, "progress").read_text().split() == ["2", "2"]
    learned = res.results[res.results.policy == "dm-mappo"]
    assert set(learned.setting) == {"packet", "slot"} and learned.train_wall_s.notna().all()
    for _, r in learned.iterrows():  # each evaluation finished after its own training
        assert read_record(Path(r.trace).parent)["started"] >= train["started"] + train["wall_s"] - 1e-3


def test_a_failed_training_fails_its_runs_only(tmp_path, monkeypatch):
    import agents.train as tr

    def broken(*a, **k):
        raise ValueError("diverged")

    monkeypatch.setattr(tr, "train", broken)
    s = sweep_from_dict({"scenario": "twin-city", "set": [*SHORT, "vehicles.count=2"],
                         "grid": {"policy": ["dm-mappo", "greedy"]}, "seeds": [0], "train": {"updates": 1}})
    res = run_sweep(s, tmp_path, backend="serial", progress=False)
    r = res.results.set_index("policy")
    assert r.loc["greedy", "status"] == "ok"
    assert r.loc["dm-mappo", "status"] == "failed" and "its training failed: ValueError: diverged" in \
        r.loc["dm-mappo", "error"]


def test_dask_local_cluster_runs_the_sweep(tmp_path):
    pytest.importorskip("distributed")
    res = run_sweep(spec(seeds=[1]), tmp_path, backend="dask", workers=2, progress=False, processes=False)
    assert res.failed == 0 and len(res.results) == 4
    assert res.results.worker.str.startswith(("tcp://", "inproc://")).all()
    # the same results as the serial backend, bit for bit (same keys, same metrics)
    ser = run_sweep(spec(seeds=[1]), tmp_path / "serial", backend="serial", progress=False).results
    cols = ["key", "latency_mean_s", "packets_delivered", "migrations"]
    pd.testing.assert_frame_equal(res.results[cols], ser[cols])


@pytest.mark.slow
def test_dask_sweep_killed_half_way_then_resumed(tmp_path):
    pytest.importorskip("distributed")
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump({"scenario": "twin-city", "set": ["vehicles.traffic.packet_size=800 kB"],
                                 "grid": {"policy": ["greedy", "random"], "duration": [60, 120]},
                                 "seeds": 3}))
    out = tmp_path / "o"
    cmd = [sys.executable, "-m", "desim_iov.cli", "sweep", str(f), "--out", str(out), "--backend", "dask",
           "--workers", "1", "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(out.glob("runs/*/record.json"))) < 2:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err  # SIGTERM's conventional status (128 + 15)
    done = len(list(out.glob("runs/*/record.json")))
    assert 2 <= done < 12
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert f"to run now: {12 - done} run(s)" in r.stderr
    df = pd.read_parquet(out / "results.parquet")
    assert len(df) == 12 and (df.status == "ok").all()
    assert json.loads((out / "sweep.json").read_text())["seeds"] == 3


@pytest.mark.parametrize("name", shipped_sweeps())
def test_shipped_sweeps_are_valid(name, tmp_path):
    exp = expand(load_sweep(name), tmp_path)
    assert exp.runs


def test_a_missing_sweep_names_the_shipped_ones():
    with pytest.raises(SweepError, match="twin-fig9"):
        load_sweep("nope")


def test_named_axes_carry_labels_and_may_switch_the_base_scenario(tmp_path):
    s = sweep_from_dict({"scenario": "twin-city", "set": SHORT, "seeds": [0], "grid": {
        "variant": {"city": [], "rural": ["scenario=twin-rural"]},
        "algorithm": {"greedy": ["policy=greedy"],
                      "greedy-nomask": ["policy=greedy", "policy.params.use_mask=false"]}}})
    exp = expand(s, tmp_path)
    assert [r.base for r in exp.runs] == ["twin-city", "twin-city", "twin-rural", "twin-rural"]
    res = run_sweep(s, tmp_path, backend="serial", progress=False)
    assert res.failed == 0, res.results.error.tolist()
    assert list(res.results.algorithm) == ["greedy", "greedy-nomask"] * 2
    assert list(res.results.variant) == ["city", "city", "rural", "rural"]
    with pytest.raises(SweepError, match="budget takes a list"):
        sweep_from_dict({"scenario": "twin-city", "grid": {"train.updates": {"a": []}}})


def _offload_sweep(**kw):
    return sweep_from_dict({"scenario": "offload-urban", "set": ["duration=0.1 s"],
                            "grid": {"policy": ["qdrl", "ppo-offload", "qdrl-nolstm", "nearest"]},
                            "seeds": [0, 1], "train": {"episodes": 1},
                            "forecaster": {"runs": 1, "duration": 1.0, "epochs": 1}, **kw})


@pytest.mark.slow
def test_learners_with_the_forecaster_share_one_fit_per_network(tmp_path):
    """Alg. 1 once per network: qdrl and ppo-offload (both "with LSTM") on two seeds need one
    fit; qdrl-nolstm and the heuristic none. Every training that uses it records its checkpoint
    and its runs evaluate with it."""
    s = _offload_sweep()
    exp = expand(s, tmp_path)
    assert len(exp.fits) == 1 and len(exp.trains) == 6
    fit = next(iter(exp.fits))
    assert sorted(t.learner for t in exp.trains.values() if t.fit == fit) == ["ppo-offload"] * 2 + ["qdrl"] * 2
    res = run_sweep(s, tmp_path, backend="serial", progress=False)
    assert res.failed == 0, res.results.error.tolist()
    ckpt = read_record(exp.fits[fit].out_dir)["dt_checkpoint"]
    assert Path(ckpt).is_file()
    for t in exp.trains.values():
        assert read_record(t.out_dir)["dt_checkpoint"] == (ckpt if t.fit else "")
    learned = res.results[res.results.policy != "nearest"]
    assert (learned.train_dir != "").all() and (res.results[res.results.policy == "nearest"].train_dir == "").all()
    assert all(Path(d, "learning_curve.csv").is_file() for d in learned.train_dir)
    again = expand(_offload_sweep(grid={"policy": ["qdrl"], "vehicles.count": [2]}), tmp_path)
    assert set(again.fits).isdisjoint(exp.fits)  # another network, another fit


@pytest.mark.slow
def test_a_failed_fit_fails_its_trainings_and_their_runs_only(tmp_path, monkeypatch):
    import desim_iov.experiments.qdrl as q

    def broken(*a, **k):
        raise ValueError("no traces")

    monkeypatch.setattr(q, "fit_forecaster", broken)
    res = run_sweep(_offload_sweep(), tmp_path, backend="serial", progress=False)
    by = res.results.set_index("policy")
    assert (by.loc[["qdrl", "ppo-offload"]].error == "its training failed: its forecaster fit failed: "
            "ValueError: no traces").all()
    assert (by.loc[["qdrl-nolstm", "nearest"]].status == "ok").all()
    monkeypatch.undo()
    res2 = run_sweep(_offload_sweep(), tmp_path, backend="serial", progress=False)
    assert res2.failed == 0 and res2.ran == 1 + 4 + 4  # the fit, its 4 trainings and their runs
