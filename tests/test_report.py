"""desim-iov report: tables agree with the traces, figures are real PNGs."""

from __future__ import annotations

import pandas as pd
import pytest

from desim_iov.cli import main

TINY = ["--duration", "90", "--set", "vehicles.traffic.packet_size=400 kB", "--quiet"]


@pytest.fixture(scope="module")
def two_traces(tmp_path_factory):
    d = tmp_path_factory.mktemp("rep")
    paths = []
    for pol in ("greedy", "random"):
        p = d / f"{pol}.h5"
        assert main(["run", "--policy", pol, "--out", str(p), *TINY]) == 0
        paths.append(p)
    return paths


def test_report_writes_tables_and_figures(two_traces, tmp_path):
    out = tmp_path / "report"
    assert main(["report", *map(str, two_traces), "--out", str(out)]) == 0
    table = pd.read_csv(out / "summary.csv")
    assert set(table.trace) == {"twin-city/greedy/seed0", "twin-city/random/seed0"}
    for p, lab in zip(two_traces, ["twin-city/greedy/seed0", "twin-city/random/seed0"], strict=True):
        pk = pd.read_hdf(p, "packets")
        row = table[(table.trace == lab) & (table.vehicle == "all")].iloc[0]
        assert row.generated == len(pk)
        assert row.migrations == len(pd.read_hdf(p, "migrations"))
        per_vehicle = table[(table.trace == lab) & (table.vehicle != "all")]
        assert per_vehicle.generated.sum() == len(pk)
    md = (out / "summary.md").read_text()
    assert md.startswith("| trace | vehicle |") and md.count("\n") == len(table) + 2
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) == 1 + 2 * 2  # comparison + (load, routes) per trace
    for png in pngs:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_report_refuses_a_foreign_file(tmp_path, capsys):
    bad = tmp_path / "x.h5"
    bad.write_text("not hdf5")
    assert main(["report", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "not a readable HDF5" in capsys.readouterr().err


def test_incomplete_and_foreign_schema_traces(two_traces, tmp_path, capsys):
    import h5py

    half = tmp_path / "half.h5"
    half.write_bytes(two_traces[0].read_bytes())
    with h5py.File(half, "r+") as f:
        f.attrs["complete"] = 0
    assert main(["report", str(half), "--out", str(tmp_path / "o")]) == 0  # readable, warned
    err = capsys.readouterr().err
    assert err.count("warning: ") == 1 and "did not finish" in err and err.count("\n") == 1
    assert main(["replay", str(half)]) == 2  # but not replayed
    assert "did not finish" in capsys.readouterr().err
    future = tmp_path / "future.h5"
    future.write_bytes(two_traces[0].read_bytes())
    with h5py.File(future, "r+") as f:
        f.attrs["schema_version"] = "9.0"
    assert main(["report", str(future), "--out", str(tmp_path / "o2")]) == 2
    assert "schema 9.0 is not readable" in capsys.readouterr().err
