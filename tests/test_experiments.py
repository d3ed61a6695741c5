"""desim-iov experiment: the result schema, intervals over seeds, the figure (tiny budgets)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from test_realdata_scenarios import fake_data

from desim_iov.cli import main


def test_experiment_writes_results_summary_and_figure(tmp_path, capsys):
    root = fake_data(tmp_path / "data")
    out = tmp_path / "fig8"
    args = ["experiment", "fig8", "--out", str(out), "--seeds", "2", "--quiet",
            "--algorithms", "greedy", "random-nomask", "oracle", "--variants", "city", "city_no_uav",
            "--set", f"data_dir={root}", "--set", "background.pems_source=data:fake.npz",
            "--set", "background.pems_start=1970-01-01 00:00", "--set", "duration=120",
            "--set", "rsus.count=12", "--set", "vehicles.traffic.packet_size=800 kB"]
    assert main(args) == 0
    res = pd.read_csv(out / "results.csv")
    assert list(res.columns) == ["experiment", "algorithm", "variant", "seed", "reward", "latency_s",
                                 "packet_loss", "workload_variance", "migrations"]
    assert len(res) == 3 * 2 * 2 and set(res.experiment) == {"fig8"}
    summ = pd.read_csv(out / "summary.csv")
    assert {"latency_s_mean", "latency_s_ci95"} <= set(summ.columns) and (summ.n == 2).all()
    assert (out / "fig8.png").stat().st_size > 10_000
    assert "results:" in capsys.readouterr().out


def test_unknown_variant_and_missing_learners_are_one_line_errors(tmp_path, capsys):
    assert main(["experiment", "fig8", "--out", str(tmp_path), "--variants", "mars", "--quiet"]) == 2
    assert "unknown variants ['mars']" in capsys.readouterr().err


def test_an_unknown_algorithm_stops_the_experiment_before_any_job_runs(tmp_path, capsys):
    out = tmp_path / "x"
    assert main(["experiment", "fig9", "--out", str(out), "--algorithms", "greedy", "bogus", "--seeds", "2",
                 "--quiet"]) == 2
    assert "unknown algorithms ['bogus']" in capsys.readouterr().err
    assert not (out / "runs").exists()  # greedy did not run first


def test_fig6_trains_its_predictor_once_when_none_is_given(tmp_path, monkeypatch):
    """Fig. 6 with prediction needs an LSTM-based Transformer: without --set
    predictor.checkpoint the experiment trains one on the PeMS weeks 1-3 it then replays
    week 4 of, keeps it in DIR/predictor, and the runs' /predictions come from it."""
    import numpy as np

    import desim_iov.experiments.twin_migration as ex
    from traces.reader import open_trace

    root = fake_data(tmp_path / "data")
    steps = 4 * 2016  # four weeks of 5-minute steps, 3 stations with a daily cycle
    day = np.sin(2 * np.pi * np.arange(steps) / 288)
    flow = 100 + 50 * day[:, None] + np.arange(3)[None, :]
    np.savez(root / "month.npz", data=flow[..., None])
    monkeypatch.setattr(ex, "PREDICTOR_TRAINING", ["--epochs", "1", "--samples-per-epoch", "256"])
    out = tmp_path / "fig6"
    common = ["--seeds", "1", "--quiet", "--algorithms", "greedy",
              "--set", f"data_dir={root}", "--set", "background.pems_source=data:month.npz",
              "--set", "background.pems_start=1970-01-22 08:00", "--set", "duration=60",
              "--set", "rsus.count=12", "--set", "vehicles.traffic.packet_size=800 kB"]
    assert main(["experiment", "fig6", "--out", str(out), *common]) == 0
    ckpt = out / "predictor" / "checkpoints" / "lstm_transformer_s0.pt"
    assert ckpt.is_file()
    traces = pd.read_parquet(out / "results.parquet").set_index("variant").trace
    with_pred = open_trace(traces["with_prediction"])
    assert with_pred.scenario["predictor"]["checkpoint"] == str(ckpt)
    assert len(with_pred.df("predictions")) > 0
    assert len(open_trace(traces["without_prediction"]).df("predictions")) == 0
    metrics = pd.read_csv(out / "metrics.csv")
    assert {"O_T_formula_s", "loss_measured", "migrations"} <= set(metrics.columns)
    mtime = ckpt.stat().st_mtime
    assert main(["experiment", "fig6", "--out", str(out), *common]) == 0  # reused, not retrained
    assert ckpt.stat().st_mtime == mtime


def test_an_episode_budget_gives_every_learner_the_same_samples(tmp_path):
    """--episodes N: DM-MAPPO (4 episodes per update) runs N/4 updates, MASAC (1) N updates."""
    root = fake_data(tmp_path / "data")
    out = tmp_path / "fig9"
    assert main(["experiment", "fig9", "--out", str(out), "--seeds", "1", "--quiet",
                 "--episodes", "4", "--algorithms", "dm-mappo", "masac",
                 "--set", f"data_dir={root}", "--set", "background.pems_source=data:fake.npz",
                 "--set", "background.pems_start=1970-01-01 00:00", "--set", "duration=90",
                 "--set", "rsus.count=12", "--set", "vehicles.traffic.packet_size=800 kB"]) == 0
    curves = {}
    for rec in out.glob("train/*/record.json"):
        learner = json.loads(rec.read_text())["learner"]
        curves[learner] = pd.read_csv(rec.parent / "learning_curve.csv")
    dm, ms = curves["dm-mappo"], curves["masac"]
    assert len(dm) == 1 and len(ms) == 4
    assert dm.episodes.iloc[-1] == ms.episodes.iloc[-1] == 4


@pytest.mark.slow
def test_the_process_backend_writes_the_serial_backends_csvs_bit_for_bit(tmp_path):
    """The rows depend only on the jobs (their seeds), not on where they ran: results.csv,
    metrics.csv and summary.csv are byte-identical with --backend serial and --backend process
    (a learner trained in the job, a heuristic with and without the mask)."""
    root = fake_data(tmp_path / "data")
    common = ["--seeds", "2", "--quiet", "--episodes", "2",
              "--algorithms", "dm-mappo", "greedy", "random-nomask",
              "--set", f"data_dir={root}", "--set", "background.pems_source=data:fake.npz",
              "--set", "background.pems_start=1970-01-01 00:00", "--set", "duration=60",
              "--set", "rsus.count=12", "--set", "vehicles.traffic.packet_size=800 kB"]
    for backend in ("serial", "processes"):
        assert main(["experiment", "fig9", "--out", str(tmp_path / backend), *common,
                     "--backend", backend, "--workers", "2"]) == 0
    for name in ("results.csv", "metrics.csv", "summary.csv"):
        serial = (tmp_path / "serial" / name).read_bytes()
        assert serial == (tmp_path / "processes" / name).read_bytes(), name
    assert len(pd.read_csv(tmp_path / "serial" / "results.csv")) == 3 * 2
