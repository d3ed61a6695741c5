"""desim-iov report: tables agree with the traces, figures are real PNGs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
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
    assert md.startswith("| trace | vehicle |")
    assert md.split("\n\n")[0].count("\n") == len(table) + 1  # header, rule, rows; then the note
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


def _rewrite(path, name, change):
    """Replace dataset ``name`` of the trace at ``path`` by ``change(array)`` (attrs kept)."""
    import h5py

    with h5py.File(path, "r+") as f:
        old = f[name]
        attrs = dict(old.attrs)
        arr = change(old[()])
        del f[name]
        new = f.create_dataset(name, data=arr, maxshape=(None,))
        for k, v in attrs.items():
            new.attrs[k] = v


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    """greedy seeds 0 and 1, random seed 0 (90 s each), and greedy seed 0 over 60 s."""
    d = tmp_path_factory.mktemp("seeds")
    runs = {"g0": ("greedy", 0, "90"), "g1": ("greedy", 1, "90"), "r0": ("random", 0, "90")}
    out = {}
    for key, (pol, seed, dur) in runs.items():
        out[key] = d / f"{key}.h5"
        args = ["run", "--policy", pol, "--seed", str(seed), "--out", str(out[key]), *TINY]
        args[args.index("--duration") + 1] = dur
        assert main(args) == 0
    return out


def test_seeds_are_grouped_with_a_t_interval(seeds, tmp_path):
    """The comparison averages the traces that differ only by seed; its 95 % interval is the
    Student-t one, recomputed here from the packets of each trace."""
    from scipy import stats

    out = tmp_path / "r"
    assert main(["report", str(seeds["g0"]), str(seeds["g1"]), str(seeds["r0"]), "--out", str(out)]) == 0
    table = pd.read_csv(out / "summary.csv")
    assert set(table.trace) == {"twin-city/greedy/seed0", "twin-city/greedy/seed1",
                                "twin-city/random/seed0"}
    groups = pd.read_csv(out / "comparison.csv").set_index("group")
    assert groups.loc["twin-city/greedy", "n"] == 2 and groups.loc["twin-city/random/seed0", "n"] == 1
    lat = []
    for key in ("g0", "g1"):
        pk = pd.read_hdf(seeds[key], "packets")
        ok = pk[pk.outcome == 0]
        lat.append((ok.finished - ok.created).mean())
    half = stats.t.ppf(0.975, 1) * np.std(lat, ddof=1) / np.sqrt(2)
    assert groups.loc["twin-city/greedy", "latency_mean_s"] == pytest.approx(np.mean(lat))
    m = np.mean(lat)
    assert groups.loc["twin-city/greedy", "latency_mean_s_ci95_lo"] == pytest.approx(max(0.0, m - half))
    assert groups.loc["twin-city/greedy", "latency_mean_s_ci95_hi"] == pytest.approx(m + half)
    assert np.isnan(groups.loc["twin-city/random/seed0", "latency_mean_s_ci95_lo"])
    assert (groups.loss_measured_ci95_lo.dropna() >= 0).all() and (groups.loss_measured_ci95_hi.dropna() <= 1).all()
    mig = len(pd.read_hdf(seeds["r0"], "migrations"))
    assert groups.loc["twin-city/random/seed0", "migrations_per_vehicle_h"] == \
        pytest.approx(mig / (5 * 90 / 3600))


def test_labels_name_what_differs(seeds, tmp_path):
    from analysis.report import describe_traces
    from traces.reader import open_trace

    short = tmp_path / "short.h5"
    args = ["run", "--policy", "greedy", "--out", str(short), *TINY]
    args[args.index("--duration") + 1] = "60"
    assert main(args) == 0
    infos = describe_traces([open_trace(seeds["g0"]), open_trace(short), open_trace(seeds["g0"])])
    assert [i.label for i in infos] == ["twin-city/greedy/seed0/90 s#1",
                                        "twin-city/greedy/seed0/60 s",
                                        "twin-city/greedy/seed0/90 s#3"]
    assert infos[0].group == infos[2].group != infos[1].group


def test_per_vehicle_workload_column_and_o_v_only_in_totals(seeds, tmp_path):
    from analysis.report import O_V_NOTE, summary_table, to_markdown
    from traces.reader import open_trace

    table = summary_table([open_trace(seeds["g0"])], ["g0"])
    veh = table[table.vehicle != "all"]
    assert veh.O_V_formula_bit2.isna().all() and veh.O_V_measured_bit2.isna().all()
    assert table[table.vehicle == "all"].O_V_formula_bit2.notna().all()
    slots = pd.read_hdf(seeds["g0"], "slots")
    want = slots.groupby("vehicle").load.mean()
    np.testing.assert_allclose(veh.host_load_mean_bit.to_numpy(), want.to_numpy())
    assert (veh.slots.to_numpy() == slots.groupby("vehicle").size().to_numpy()).all()
    md = to_markdown(table, O_V_NOTE)
    assert md.rstrip().endswith(O_V_NOTE) and "| – |" in md


def test_route_legend_satellite_and_inactive_vehicles(seeds, tmp_path):
    """The legend gathers every map's entries (vehicle 0 without migrations still shows the
    migration marker of the others); satellite hosting and migrations to it are drawn; a
    vehicle that never drove is labelled so."""
    import shutil

    from analysis.report import plot_routes
    from traces.reader import open_trace

    p = tmp_path / "t.h5"
    shutil.copy(seeds["g0"], p)
    servers = pd.read_hdf(p, "servers")
    sat = int(servers.server[servers.kind == 2].iloc[0])
    mig = pd.read_hdf(p, "migrations")
    assert (mig.vehicle != 0).any()
    _rewrite(p, "migrations", lambda a: a[a["vehicle"] != 0])  # vehicle 0 never migrates

    def to_satellite(a):  # vehicle 2's twin on the satellite from 40 s on, one migration there
        a = a.copy()
        a["twin_host"][(a["kind"] == 0) & (a["id"] == 2) & (a["time"] >= 40)] = sat
        return a

    _rewrite(p, "positions", to_satellite)
    _rewrite(p, "migrations", lambda a: np.concatenate(
        [a, np.array([(2, 0, sat, 40.0, 41.0, 1e6, 1e6)], dtype=a.dtype)]))
    _rewrite(p, "slots", lambda a: a[a["vehicle"] != 4])  # vehicle 4 never drives
    _rewrite(p, "packets", lambda a: a[a["vehicle"] != 4])
    info = plot_routes(open_trace(p), "t", tmp_path / "routes.png")
    assert {"migration", "twin on satellite", "migration to satellite"} <= set(info["legend"])
    assert info["titles"][0].startswith("vehicle 0: 0 migrations")
    assert "(1 to satellite)" in info["titles"][2]
    assert info["titles"][4] == "vehicle 4: inactive (never drove in the run)"
    plain = plot_routes(open_trace(seeds["g0"]), "g0", tmp_path / "plain.png")
    assert "(no twin on the satellite)" in plain["legend"] or "twin on satellite" in plain["legend"]


def test_server_load_shows_background_and_reads_schema_1_1(seeds, tmp_path):
    import shutil

    import h5py

    from analysis.report import plot_server_load
    from traces.reader import open_trace

    labels = plot_server_load(open_trace(seeds["g0"]), "g0", tmp_path / "a.png")
    assert labels[1].startswith("background arrivals") and len(labels) == 2  # nothing refused
    p = tmp_path / "refused.h5"
    shutil.copy(seeds["g0"], p)

    def refuse(a):
        a = a.copy()
        a["background_dropped"] = a["time"] * 1e6  # bits refused so far
        return a

    _rewrite(p, "server_load", refuse)
    labels = plot_server_load(open_trace(p), "r", tmp_path / "b.png")
    assert len(labels) == 3 and labels[2].startswith("background refused")
    old = tmp_path / "schema11.h5"  # a trace written before 1.2: no background_dropped
    shutil.copy(seeds["g0"], old)
    _rewrite(old, "server_load", lambda a: a[["time", "server", "load", "background_rate"]].copy())
    with h5py.File(old, "r+") as f:
        f.attrs["schema_version"] = "1.1"
    out = tmp_path / "rep11"
    assert main(["report", str(old), "--out", str(out)]) == 0
    assert (out / "01_twin-city_greedy_seed0_server_load.png").stat().st_size > 10_000


def test_a_seed_given_twice_is_one_observation(seeds, tmp_path):
    """Two traces of the same seed are the same run: the group counts one seed and gives no
    interval (issue 14: they were a "mean of 2 seeds" with a 0-width interval)."""
    import shutil

    copy = tmp_path / "g0-copy.h5"
    shutil.copy(seeds["g0"], copy)
    out = tmp_path / "r"
    assert main(["report", str(seeds["g0"]), str(copy), "--out", str(out)]) == 0
    g = pd.read_csv(out / "comparison.csv").iloc[0]
    assert (g.n, g.n_seeds, str(g.seeds)) == (2, 1, "0")
    assert np.isnan(g.latency_mean_s_ci95_lo)


def test_comparison_columns_carry_their_unit(seeds, tmp_path):
    out = tmp_path / "r"
    assert main(["report", str(seeds["g0"]), "--out", str(out)]) == 0
    comp = pd.read_csv(out / "comparison.csv")
    summ = pd.read_csv(out / "summary.csv")
    assert "O_V_formula_per_slot_MB2" in comp and "O_V_formula_per_slot_bit2" not in comp
    all_row = summ[summ.vehicle == "all"].iloc[0]
    assert comp.O_V_formula_per_slot_MB2.iloc[0] == pytest.approx(all_row.O_V_formula_per_slot_bit2 / 8e6**2)


def test_an_incomplete_trace_says_so_and_uses_the_time_it_reached(seeds, tmp_path, capsys):
    """A run killed in its first 30 s slot (of 90 s): its label says INCOMPLETE wherever it
    goes (summary, comparison, figure legend) and its per-hour rate divides by the time it
    covers, not by the 90 s planned."""
    import shutil

    import h5py

    cut = tmp_path / "killed.h5"
    shutil.copy(seeds["r0"], cut)
    _rewrite(cut, "packets", lambda a: a[a["created"] < 25.0])
    _rewrite(cut, "slots", lambda a: a[a["slot"] < 1])
    _rewrite(cut, "migrations", lambda a: a[a["start"] < 25.0])
    with h5py.File(cut, "r+") as f:
        f.attrs["complete"] = np.int8(0)
    pk = pd.read_hdf(cut, "packets")
    reached = max(30.0, float(np.nanmax(np.r_[pk.created, pk.finished])))
    out = tmp_path / "r"
    assert main(["report", str(cut), str(seeds["g0"]), "--out", str(out)]) == 0
    assert "did not finish" in capsys.readouterr().err
    summ = pd.read_csv(out / "summary.csv")
    row = summ[(summ.vehicle == "all") & summ.trace.str.contains("INCOMPLETE")].iloc[0]
    assert row.duration_s == pytest.approx(reached) and reached < 90
    comp = pd.read_csv(out / "comparison.csv").set_index("group")
    (label,) = [g for g in comp.index if "INCOMPLETE" in g]
    mig = len(pd.read_hdf(cut, "migrations"))
    assert comp.loc[label, "migrations_per_vehicle_h"] == pytest.approx(mig / (5 * reached / 3600))
    assert not any("INCOMPLETE" in g for g in comp.index if g != label)


def test_every_report_column_has_one_unit(seeds, tmp_path):
    """Every column of summary.csv and comparison.csv has a unit (its suffix or analysis/units.py),
    and TRACE_FORMAT.md lists the table."""
    from analysis.units import markdown_table, unit_of

    out = tmp_path / "r"
    assert main(["report", str(seeds["g0"]), str(seeds["g1"]), "--out", str(out)]) == 0
    for name in ("summary.csv", "comparison.csv"):
        cols = pd.read_csv(out / name).columns
        missing = [c for c in cols if unit_of(c) is None]
        assert not missing, (name, missing)
    assert markdown_table() in (Path(__file__).resolve().parents[1] / "docs" / "TRACE_FORMAT.md").read_text()
