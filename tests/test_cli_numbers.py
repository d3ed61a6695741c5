"""Bad numbers on the command line are argparse errors (exit 2, one line naming the option)
before any work starts (issue 14 item 6)."""

from __future__ import annotations

import pytest

from desim_iov.cli import main


@pytest.mark.parametrize(("argv", "option"), [
    (["train", "--agent", "dm-mappo", "--updates", "-3"], "--updates"),
    (["train", "--agent", "dm-mappo", "--threads", "0"], "--threads"),
    (["train", "--agent", "dm-mappo", "--seed", "-1"], "--seed"),
    (["experiment", "fig6", "--out", "x", "--episodes", "-5"], "--episodes"),
    (["experiment", "fig6", "--out", "x", "--seeds", "0"], "--seeds"),
    (["experiment", "fig6", "--out", "x", "--workers", "0"], "--workers"),
    (["sweep", "twin-fig6", "--out", "x", "--workers", "-2"], "--workers"),
    (["run", "--seed", "-1"], "--seed"),
    (["run", "--seed", "one"], "--seed"),
    (["dt", "train", "t.h5", "--out", "x", "--epochs", "0"], "--epochs"),
    (["forecast", "table", "--seeds", "0"], "--seeds"),
])
def test_bad_numbers_are_usage_errors(argv, option, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"argument {option}" in err and ("must be >=" in err or "expected an integer" in err), err
    assert not any(tmp_path.iterdir())  # nothing was written


def test_default_trace_names_differ_by_overrides(tmp_path, monkeypatch, capsys):
    """Runs that differ only in --set overrides no longer overwrite one another's trace."""
    monkeypatch.chdir(tmp_path)
    base = ["run", "--duration", "5", "--quiet", "--set", "vehicles.count=2"]
    assert main(base) == 0
    assert main([*base, "--set", "vehicles.traffic.packet_size=400 kB"]) == 0
    names = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert len(names) == 2 and all(n.startswith("twin-city-greedy-seed0-") for n in names), names
    assert main(base) == 0  # the same command: the same name
    assert len(list((tmp_path / "runs").iterdir())) == 2
