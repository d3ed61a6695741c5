"""desim-iov experiment: the result schema, intervals over seeds, the figure (tiny budgets)."""

from __future__ import annotations

import pandas as pd
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
