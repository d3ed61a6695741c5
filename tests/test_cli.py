"""Every CLI entry point, smoke-run with a tiny budget; bad input exits 2 with one line."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from desim_iov.cli import main
from traces.reader import open_trace

TINY = ["--duration", "40", "--set", "vehicles.traffic.packet_size=800 kB", "--quiet"]


@pytest.mark.parametrize("scenario", ["twin-city", "twin-rural", "twin-urban-fbl"])
@pytest.mark.parametrize("policy", ["random", "greedy", "least-loaded"])
def test_run_every_preset_with_every_policy(tmp_path, scenario, policy):
    out = tmp_path / "t.h5"
    assert main(["run", "--scenario", scenario, "--policy", policy, "--out", str(out), *TINY]) == 0
    assert len(pd.read_hdf(out, "packets")) > 0


def test_run_prints_a_summary_table(tmp_path, capsys):
    out = tmp_path / "t.h5"
    assert main(["run", "--duration", "30", "--out", str(out), "--seed", "3"]) == 0
    text = capsys.readouterr().out
    for key in ("latency_mean_s", "loss_measured", "O_T_formula_s", "O_V_formula_bit2", "migrations", "trace:"):
        assert key in text


def test_listings(capsys):
    assert main(["scenarios"]) == 0
    assert "twin-rural" in capsys.readouterr().out
    assert main(["policies"]) == 0
    assert "least-loaded" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["--policy", "nope"], "unknown policy 'nope'"),
        (["--scenario", "nope"], "no such preset"),
        (["--scenario", "offload-urban", "--set", "offload.tasks.max_subtask=2 MB"],
         "exceeds the task size"),
        (["--scenario", "offload-urban", "--set", "offload.tasks.size=-1 MB"], "offload.tasks.size"),
        (["--scenario", "offload-urban", "--set", "offload.network.max_hops=20"], "is impossible"),
        (["--scenario", "offload-urban", "--policy", "greedy"], "for app task_offloading"),
        (["--set", "vehicles.count=-2"], "vehicles.count"),
        (["--set", "rsus.bandwidth_down=0"], "rsus.bandwidth_down"),
        (["--set", "unknown.key=1"], "unknown key"),
        (["--duration", "soon"], "duration"),
        (["--set", "rsus.bandwidth_up=.inf"], "finite"),
        (["--policy", "masac", "--set", "policy.params.checkpoint=/nonexistent.pt"],
         "/nonexistent.pt: no such agent checkpoint file"),
        (["--policy", "dm-mappo", "--set", "policy.params.checkpoint=GARBAGE"],
         "not a loadable agent checkpoint"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_traceback(tmp_path, args, expect):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a torch file")
    args = [a.replace("GARBAGE", str(garbage)) for a in args]
    proc = subprocess.run(
        [sys.executable, "-m", "desim_iov.cli", "run", "--out", str(tmp_path / "x.h5"), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    err = proc.stderr.strip()
    assert expect in err
    assert len(err.splitlines()) == 1
    assert "Traceback" not in err
    assert not (tmp_path / "x.h5").exists()


@pytest.mark.parametrize("args", [["--backend", "mars"], ["--workers", "many"]])
def test_experiment_and_forecast_reject_unknown_backends(args, capsys):
    """``--backend {serial,process}`` and ``--workers N`` on both job-running commands."""
    for cmd in (["experiment", "fig8", "--out", "x"], ["forecast", "table"]):
        with pytest.raises(SystemExit) as e:
            main([*cmd, *args])
        assert e.value.code == 2
        assert args[0] in capsys.readouterr().err


def test_train_eval_and_run_a_learned_policy(tmp_path):
    run = tmp_path / "dm"
    assert main(["train", "--agent", "dm-mappo", "--scenario", "twin-city", "--updates", "1",
                 "--set", "duration=90", "--set", "vehicles.count=2", "--out", str(run), "--quiet"]) == 0
    curve = pd.read_csv(run / "learning_curve.csv")
    assert len(curve) == 1 and (run / "checkpoint.pt").is_file()
    out = tmp_path / "eval.h5"
    assert main(["eval", "--agent", "dm-mappo", "--checkpoint", str(run / "checkpoint.pt"),
                 "--scenario", "twin-city", "--set", "duration=60", "--set", "vehicles.count=2",
                 "--out", str(out), "--quiet"]) == 0
    assert len(pd.read_hdf(out, "decisions")) == 2 * 2
    assert main(["eval", "--agent", "dm-mappo", "--checkpoint", str(tmp_path / "none.pt"), "--quiet"]) == 2
    # what-if replay of a heuristic's run under the learned policy (same inputs)
    base = tmp_path / "greedy.h5"
    assert main(["run", "--scenario", "twin-city", "--set", "duration=60", "--set",
                 "vehicles.count=2", "--out", str(base), "--quiet"]) == 0
    what_if = tmp_path / "what_if.h5"
    assert main(["replay", str(base), "--policy", "dm-mappo", "--checkpoint",
                 str(run / "checkpoint.pt"), "--out", str(what_if), "--quiet"]) == 0
    assert open_trace(what_if).attrs["policy"] == "dm-mappo"
    assert main(["replay", str(base), "--policy", "dm-mappo", "--quiet"]) == 2  # no checkpoint
