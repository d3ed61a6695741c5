"""desim-iov replay: exact replays are N/N identical, a tampered trace is caught (exit 1), and
a what-if replay keeps every exogenous input."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest

from desim_iov.cli import main
from traces.reader import open_trace

TINY = ["--duration", "120", "--set", "vehicles.traffic.packet_size=400 kB", "--quiet"]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    out = tmp_path_factory.mktemp("rp") / "run.h5"
    assert main(["run", "--scenario", "twin-rural", "--policy", "random", "--out", str(out), *TINY]) == 0
    return out


def test_exact_replay_is_identical(recorded, tmp_path, capsys):
    out = tmp_path / "again.h5"
    assert main(["replay", str(recorded), "--out", str(out), "--quiet"]) == 0
    text = capsys.readouterr().out
    n = len(pd.read_hdf(recorded, "packets"))
    assert f"identical: {n}/{n} packets" in text
    assert open_trace(out).attrs["replay_of"] == str(recorded)


def test_a_tampered_decision_makes_replay_fail(recorded, tmp_path, capsys):
    bad = tmp_path / "tampered.h5"
    bad.write_bytes(recorded.read_bytes())
    with h5py.File(bad, "r+") as f:
        dec = f["decisions"][()]
        row = np.flatnonzero(dec["slot"] == 1)[0]
        mask = dec["mask"][row]
        choices = [i for i, c in enumerate(mask) if c == ord("1") and i != dec["action"][row]]
        dec["action"][row] = choices[0]
        f["decisions"][row] = dec[row]
    assert main(["replay", str(bad), "--out", str(tmp_path / "x.h5"), "--quiet"]) == 1
    text = capsys.readouterr().out
    n = len(pd.read_hdf(bad, "packets"))
    assert f"identical: {n}/{n} packets" not in text


def test_what_if_keeps_exogenous_inputs_and_prints_differences(recorded, tmp_path, capsys):
    out = tmp_path / "g.h5"
    assert main(["replay", str(recorded), "--policy", "greedy", "--out", str(out), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "latency_mean_s" in text and "greedy" in text
    a, b = open_trace(recorded), open_trace(out)
    assert b.attrs["policy"] == "greedy"
    pa, pb = a.df("packets").sort_values("packet_id"), b.df("packets").sort_values("packet_id")
    np.testing.assert_array_equal(pa.created, pb.created)
    pos_a, pos_b = a.df("positions"), b.df("positions")
    np.testing.assert_array_equal(pos_a[["x", "y", "z"]], pos_b[["x", "y", "z"]])


def test_replay_refuses_bad_files_with_one_line(tmp_path, capsys):
    (tmp_path / "empty.h5").write_bytes(b"")
    assert main(["replay", str(tmp_path / "empty.h5")]) == 2
    assert main(["replay", str(tmp_path / "missing.h5")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "Traceback" not in err
