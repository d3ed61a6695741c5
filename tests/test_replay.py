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
    assert "replay: DIFFERS in" in text and "packets" in text.splitlines()[-2]
    assert any(line.startswith("DIFFERS: ") and "first differing row" in line for line in text.splitlines())


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


def test_replay_refuses_changed_input_files_and_follows_data(tmp_path, capsys):
    """The trace records its input files' digests; a replay on other data is refused with one
    line naming the input, and --data points it at a copy of the original."""
    data = tmp_path / "data"
    data.mkdir()
    rows = ["id,t,x,y"] + [f"{v},{t},{100.0 * v + 10.0 * t},{50.0 * v}"
                           for v in range(3) for t in range(0, 200, 10)]
    (data / "cars.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "run.h5"
    assert main(["run", "--scenario", "twin-city", "--out", str(out), "--data", str(data),
                 "--set", "vehicles.trace=data:cars.csv", "--set", "vehicles.count=3",
                 "--duration", "120", "--quiet"]) == 0
    inputs = open_trace(out).attrs["inputs"]
    assert "vehicles.trace" in inputs and "sha256" in inputs
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "cars.csv").write_bytes((data / "cars.csv").read_bytes())
    (data / "cars.csv").write_text("\n".join(rows[:-1]) + "\n")  # the original changes
    capsys.readouterr()
    assert main(["replay", str(out), "--out", str(tmp_path / "r.h5"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "vehicles.trace" in err and "content differs" in err and err.count("\n") == 1
    assert main(["replay", str(out), "--data", str(copy), "--out", str(tmp_path / "r.h5"),
                 "--quiet"]) == 0
    n = len(pd.read_hdf(out, "packets"))
    assert f"identical: {n}/{n} packets" in capsys.readouterr().out


def test_traces_of_another_schema_are_compared_on_their_common_columns(recorded, tmp_path):
    """A schema 1.1 trace (no /server_load.background_dropped) still replays as identical."""
    from desim_iov.replay import compare_traces

    old = tmp_path / "old.h5"
    old.write_bytes(recorded.read_bytes())
    with h5py.File(old, "r+") as f:
        rows = f["server_load"][()]
        keep = [n for n in rows.dtype.names if n != "background_dropped"]
        slim = np.empty(len(rows), dtype=[(n, rows.dtype[n]) for n in keep])
        for n in keep:
            slim[n] = rows[n]
        del f["server_load"]
        f.create_dataset("server_load", data=slim)
    cmp = compare_traces(open_trace(recorded), open_trace(old))
    assert cmp.identical and cmp.total["server_load"] == len(rows) > 0


def test_a_comparison_names_the_first_differing_row_and_fields():
    from desim_iov.replay import Comparison, _first_difference

    x = np.array([(0, 1.0), (1, 2.0), (2, 3.0)], dtype=[("id", "i8"), ("t", "f8")])
    y = x.copy()
    y["t"][1] = 2.5
    same = np.array([True, False, True])
    assert _first_difference(x, y, same) == "first differing row 1: t 2.0 vs 2.5"
    assert _first_difference(x[:2], y[:1], np.array([True])) == "the first 1 rows agree; 2 rows vs 1"
    c = Comparison({"a": 3, "b": 1}, {"a": 3, "b": 2}, {"b": "first differing row 1: t 2.0 vs 2.5"})
    assert c.lines() == ["identical: 3/3 a", "DIFFERS: 1/2 b identical; first differing row 1: t 2.0 vs 2.5",
                         "replay: DIFFERS in b"]
    assert Comparison({"a": 3}, {"a": 3}).lines() == ["identical: 3/3 a", "replay: IDENTICAL"]
