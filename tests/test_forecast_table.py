"""Smoke run of the Table II driver (``desim-iov forecast table``) on a tiny synthetic dataset in
the D12 file layout."""

import json

import numpy as np
import pandas as pd
import pytest

from analysis.forecast_table import table_markdown
from desim_iov.experiments.forecast import main
from models.forecast.registry import MODEL_NAMES


def _synthetic_d12(path, n_stations=2, seed=0):
    rng = np.random.default_rng(seed)
    ts = pd.date_range("2022-01-01", periods=8064, freq="5min")
    day = np.sin(2 * np.pi * (ts.hour * 60 + ts.minute).to_numpy() / 1440)[:, None]
    flow = np.maximum(0, 200 + 120 * day + rng.normal(0, 10, (8064, n_stations))).round()
    ids = [str(1000 + i) for i in range(n_stations)]
    stamp = ts.strftime("%Y-%m-%d %H:%M")
    pd.DataFrame(flow.astype(int), index=stamp, columns=ids).rename_axis("timestamp").to_csv(
        path / "flow_5min.csv")
    obs = np.full(flow.shape, 100)
    obs[6100:6110, 0] = 0  # some imputed test targets
    pd.DataFrame(obs, index=stamp, columns=ids).rename_axis("timestamp").to_csv(
        path / "observed_pct_5min.csv")
    pd.DataFrame({"node": range(n_stations), "vds_id": ids}).to_csv(path / "stations.csv",
                                                                     index=False)


@pytest.mark.slow
def test_forecast_table_smoke_run_writes_csv_markdown_figure_and_checkpoints(tmp_path, capsys):
    _synthetic_d12(tmp_path)
    out = tmp_path / "out"
    rc = main(["--data", str(tmp_path), "--out", str(out), "--epochs", "1", "--seeds", "2",
               "--jobs", "1", "--samples-per-epoch", "128", "--no-progress"])
    assert rc == 0
    df = pd.read_csv(out / "forecast_table.csv")
    assert list(df.columns) == ["model", "seed", "rmse", "mae", "wape", "mape", "r2"]
    assert sorted(df.model.unique()) == sorted(MODEL_NAMES) and len(df) == 2 * len(MODEL_NAMES)
    assert df[["rmse", "mae", "wape", "r2"]].notna().all().all()
    assert (out / "forecast_fig5.png").stat().st_size > 10_000
    assert (out / "checkpoints" / "lstm_transformer_s1.pt").is_file()
    printed = capsys.readouterr().out
    assert "| Error rate (WAPE) |" in printed and "Paper (twin-migration Table II" in printed
    assert (out / "forecast_table.md").read_text().count("| RMSE |") == 2  # ours and paper's


def test_forecast_table_reports_bad_data_dir_with_exit_code_2(tmp_path, capsys):
    assert main(["--data", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "error:" in capsys.readouterr().err


def test_table_markdown_shows_mean_and_std_over_seeds():
    df = pd.DataFrame({"model": ["naive", "naive"], "seed": [0, 1], "rmse": [1.0, 3.0],
                       "mae": [1.0, 1.0], "wape": [0.05, 0.07], "mape": [0.1, 0.1],
                       "r2": [0.9, 0.9]})
    md = table_markdown(df, ["naive"])
    assert "| RMSE | 2.000 ± 1.414 |" in md and "| Error rate (WAPE) | 6.000 ± 1.414 % |" in md
    assert "Paper" not in md  # no paper column for models the paper lacks


@pytest.mark.slow
def test_forecast_table_is_the_same_with_the_serial_and_the_process_backend(tmp_path):
    """Every (model, seed) is a job on the experiments' runner: its metrics depend on the seed,
    not on the backend (two workers, one thread each)."""
    _synthetic_d12(tmp_path)
    opts = ["--data", str(tmp_path), "--epochs", "1", "--seeds", "2", "--samples-per-epoch",
            "128", "--no-progress", "--models", "gru", "naive"]
    assert main([*opts, "--out", str(tmp_path / "s"), "--backend", "serial"]) == 0
    assert main([*opts, "--out", str(tmp_path / "p"), "--backend", "process", "--workers", "2"]) == 0
    serial = (tmp_path / "s" / "forecast_table.csv").read_bytes()
    assert serial == (tmp_path / "p" / "forecast_table.csv").read_bytes()
    run = json.loads((tmp_path / "p" / "forecast_run.json").read_text())
    assert run["backend"] == "process" and run["workers"] == 2
