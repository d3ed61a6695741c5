"""Analysis of task-offloading traces: the summary recomputed from the raw datasets, `desim-iov
run` prints it, an exact replay is identical (also with refused actions), a tampered decision
is caught, the report writes its figures and its numbers agree with the trace."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pandas as pd
import pytest

from agents.base import make_policy
from analysis.offload_summary import format_offload_summary, summarize_offload, trace_app
from analysis.report import busiest_routes, latency_breakdown, plot_offload_graph, write_report
from desim_iov.cli import main
from desim_iov.config import load_scenario
from desim_iov.sim import Simulation
from traces.reader import open_trace
from traces.schema import SUBTASK_OUTCOMES, TASK_STATUS

# The preset's 1 MB tasks take ~0.15 s on air and 10 ms deadlines are never met, so that a
# 0.2 s run processes nothing: smaller tasks, more of them and a 20 ms deadline give every
# column something to count (processed in time and late, in flight at the end, relay hops).
SHORT = ["duration=0.2 s", "offload.tasks.size=100 kB", "offload.tasks.max_subtask=100 kB",
         "offload.tasks.prob_per_slot=0.5", "offload.tasks.deadline=20 ms"]


class RefusingPolicy:
    """``random`` for every agent, but every third action names a target outside the mask
    (the kernel refuses and replaces it): refused actions in /agent_steps, and relay hops."""

    name = "refusing"

    def __init__(self) -> None:
        self.inner = make_policy("random", app="task_offloading")
        self.k = 0

    def reset(self, rng: np.random.Generator) -> None:
        self.inner.reset(rng)

    def act(self, observations):
        out = self.inner.act(observations)
        for a, o in observations.items():
            self.k += 1
            outside = np.flatnonzero(o.mask[: o.nvec[0]] == 0)
            if self.k % 3 == 0 and outside.size:
                out[a] = np.array([outside[-1], *out[a][1:]], dtype=np.int64)
        return out


def _run(path, policy, overrides=SHORT):
    sc = load_scenario("offload-urban", list(overrides))
    Simulation(sc, policy, trace_path=str(path)).run()
    return path


@pytest.fixture(scope="module")
def traces(tmp_path_factory):
    d = tmp_path_factory.mktemp("off")
    return {"min-latency": _run(d / "min-latency.h5",
                                make_policy("min-latency", app="task_offloading")),
            "refusing": _run(d / "refusing.h5", RefusingPolicy()),
            "slot": _run(d / "slot.h5", make_policy("random", app="task_offloading"),
                         [*SHORT, "fidelity=slot"])}


def _raw(path):
    with h5py.File(path, "r") as f:
        return ({k: f[k][()] for k in ("subtasks", "tasks", "agent_steps", "hops", "links",
                                       "positions", "servers")},
                dict(f.attrs), json.loads(f.attrs["scenario"]))


def _expected(sub, tasks, refused):
    """The metrics of one group, from the structured arrays with numpy only."""
    proc = sub[(sub["outcome"] == 0) | (sub["outcome"] == 1)]
    lat = proc["latency"]
    e = {"subtasks": len(sub), "tasks": len(tasks), "processed": len(proc), "refused": refused}
    e.update({name: int((sub["outcome"] == c).sum()) for c, name in SUBTASK_OUTCOMES.items()})
    e.update({f"tasks_{n}": int((tasks["status"] == c).sum()) for c, n in TASK_STATUS.items()})
    nan = float("nan")
    e["latency_mean_s"] = lat.mean() if len(lat) else nan
    e["latency_p50_s"] = np.percentile(lat, 50) if len(lat) else nan
    e["latency_p95_s"] = np.percentile(lat, 95) if len(lat) else nan
    e["deadline_hit_rate"] = proc["deadline_met"].sum() / len(proc) if len(proc) else nan
    e["hops_mean"] = proc["hops"].mean() if len(proc) else nan
    for c in ("e_tx_vehicle", "e_tx_relay", "e_proc"):
        e[f"{c}_J"] = sub[c].sum()
        e[f"{c}_per_subtask_J"] = proc[c].mean() if len(proc) else nan
    e["energy_J"] = sub["e_tx_vehicle"].sum() + sub["e_tx_relay"].sum() + sub["e_proc"].sum()
    e["qos_mean"] = proc["qos"].mean() if len(proc) else nan
    e["qos_norm_mean"] = proc["qos_norm"].mean() if len(proc) else nan
    return e


def _close(a, b):
    return (np.isnan(a) and np.isnan(b)) if np.isnan(b) else a == pytest.approx(b, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("which", ["min-latency", "refusing", "slot"])
def test_summary_is_recomputed_from_the_raw_datasets(traces, which):
    raw, attrs, sc = _raw(traces[which])
    sub, tasks, steps = raw["subtasks"], raw["tasks"], raw["agent_steps"]
    sm = summarize_offload(traces[which])
    n_veh = sc["vehicles"]["count"]
    assert list(sm.per_vehicle.vehicle) == list(range(n_veh))
    is_veh = steps["kind"] == b"vehicle"
    for v in range(n_veh):
        row = sm.per_vehicle.iloc[v]
        refused = int((steps["refused"][is_veh & (steps["index"] == v)] == 1).sum())
        exp = _expected(sub[sub["vehicle"] == v], tasks[tasks["vehicle"] == v], refused)
        for k, val in exp.items():
            assert _close(float(row[k]), float(val)), (v, k, row[k], val)
    exp = _expected(sub, tasks, int(steps["refused"].sum()))
    t = sm.total
    assert t["subtasks_generated"] == exp.pop("subtasks") == attrs["subtasks_generated"]
    assert t["tasks_generated"] == exp.pop("tasks") == attrs["tasks_generated"]
    assert sm.outcomes == {n: exp.pop(n) for n in SUBTASK_OUTCOMES.values()}
    assert sm.task_status == {n: exp.pop(f"tasks_{n}") for n in TASK_STATUS.values()}
    for k, val in exp.items():
        assert _close(float(t[k]), float(val)), (k, t[k], val)
    for kind in ("vehicle", "uav", "bs"):
        assert t[f"refused_{kind}"] == int(steps["refused"][steps["kind"] == kind.encode()].sum())
    assert t["agent_steps"] == len(steps) and t["hop_rows"] == len(raw["hops"])
    # the per-vehicle rows add up to the totals
    assert sm.per_vehicle.subtasks.sum() == t["subtasks_generated"]
    assert sm.per_vehicle.e_proc_J.sum() == pytest.approx(t["e_proc_J"])
    text = format_offload_summary(sm, "title")
    assert text.startswith("title\n") and "subtask outcomes: processed_in_time=" in text


def test_the_short_traces_exercise_every_part_of_the_summary(traces):
    """Not vacuous: processed in time and late, unfinished subtasks, relay hops, refusals."""
    ml = summarize_offload(traces["min-latency"])
    rf = summarize_offload(traces["refusing"])
    for sm in (ml, rf):
        assert sm.outcomes["processed_in_time"] > 0 and sm.outcomes["processed_late"] > 0
        assert 0 < sm.total["deadline_hit_rate"] < 1
    assert rf.total["refused_vehicle"] > 0 and rf.total["refused_uav"] + rf.total["refused_bs"] > 0
    assert rf.total["hops_mean"] > 0 and rf.total["e_tx_relay_J"] > 0
    assert rf.outcomes["in_flight_at_end"] > 0


@pytest.mark.parametrize("which", ["min-latency", "refusing", "slot"])
def test_trace_invariants_of_the_format(traces, which):
    """docs/TRACE_FORMAT.md, schema 1.4: one /subtasks row per subtask; hops chained in time,
    no B->B hop, every rate >= R^, hops <= max_hops, /subtasks energies = sums over /hops."""
    raw, attrs, sc = _raw(traces[which])
    sub, hops = raw["subtasks"], raw["hops"]
    assert len(np.unique(sub["subtask"])) == len(sub) == attrs["subtasks_generated"]
    assert set(np.unique(sub["subtask"])) == set(range(len(sub)))
    assert raw["tasks"]["n_sub"].sum() == len(sub) and len(raw["tasks"]) == attrs["tasks_generated"]
    n_bs, n = int((raw["servers"]["kind"] == 0).sum()), len(raw["servers"])
    assert not ((hops["src"] < n_bs) & (hops["dst"] < n_bs)).any()
    assert (hops["dst"] < n).all() and ((hops["src"] >= n) == (hops["hop"] == 0)).all()
    done = (sub["outcome"] == 0) | (sub["outcome"] == 1)
    for col in ("finished", "latency", "qos", "qos_norm"):
        assert (np.isfinite(sub[col]) == done).all(), col
    assert (hops["rate"] >= sc["offload"]["network"]["min_rate"]).all()
    assert (sub["hops"] <= sc["offload"]["network"]["max_hops"]).all()
    h = pd.DataFrame(hops).sort_values(["subtask", "hop"])
    released = pd.Series(sub["released"], index=sub["subtask"])
    first = h[h.hop == 0]
    assert (first.start.to_numpy() >= released[first.subtask].to_numpy()).all()
    prev_end = h.groupby("subtask").end.shift()
    assert (h.start[prev_end.notna()] >= prev_end[prev_end.notna()]).all()
    assert (h.groupby("subtask").hop.apply(lambda x: list(x) == list(range(len(x))))).all()
    s = pd.DataFrame(sub).set_index("subtask")
    e0 = h[h.hop == 0].groupby("subtask").energy.sum().reindex(s.index, fill_value=0.0)
    er = h[h.hop > 0].groupby("subtask").energy.sum().reindex(s.index, fill_value=0.0)
    np.testing.assert_allclose(s.e_tx_vehicle, e0, rtol=1e-12, atol=1e-18)
    np.testing.assert_allclose(s.e_tx_relay, er, rtol=1e-12, atol=1e-18)
    assert (s.hops == h[h.hop > 0].groupby("subtask").size().reindex(s.index, fill_value=0)).all()


def test_run_prints_the_offloading_summary(tmp_path, capsys):
    out = tmp_path / "run.h5"
    assert main(["run", "--scenario", "offload-urban", "--duration", "0.2", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    for key in ("offload-urban, policy min-latency", "subtasks_generated", "latency_mean_s",
                "deadline_hit_rate", "e_proc_J", "qos_norm_mean", "refused_vehicle",
                "subtask outcomes: processed_in_time=", "task status: released=", "trace:"):
        assert key in text, key
    sm = summarize_offload(out)
    assert f"subtasks_generated          {sm.total['subtasks_generated']}" in text
    assert "packets" not in text


@pytest.mark.parametrize("which", ["min-latency", "refusing", "slot"])
def test_exact_replay_of_an_offloading_trace_is_identical(traces, which, tmp_path, capsys):
    out = tmp_path / "again.h5"
    assert main(["replay", str(traces[which]), "--out", str(out), "--quiet"]) == 0
    text = capsys.readouterr().out
    src = open_trace(traces[which])
    for name in ("tasks", "subtasks", "hops", "node_slots", "links", "agent_steps", "positions"):
        n = len(src.array(name))
        assert f"identical: {n}/{n} {name}" in text
    assert "packets" not in text
    again = open_trace(out)
    assert again.attrs["replay_of"] == str(traces[which]) and trace_app(again) == "task_offloading"
    if which == "refusing":
        assert again.df("agent_steps").refused.sum() == src.df("agent_steps").refused.sum() > 0


def test_a_tampered_offloading_decision_makes_replay_fail(traces, tmp_path, capsys):
    bad = tmp_path / "tampered.h5"
    bad.write_bytes(traces["min-latency"].read_bytes())
    with h5py.File(bad, "r+") as f:
        st = f["agent_steps"][()]
        row = np.flatnonzero(st["kind"] == b"vehicle")[0]
        st["level_b"][row] = (st["level_b"][row] + 1) % 3  # another split level
        f["agent_steps"][row] = st[row]
    assert main(["replay", str(bad), "--out", str(tmp_path / "x.h5"), "--quiet"]) == 1
    text = capsys.readouterr().out
    n = len(open_trace(bad).array("subtasks"))
    assert f"identical: {n}/{n} subtasks" not in text


def test_what_if_replay_prints_the_offloading_totals(traces, tmp_path, capsys):
    out = tmp_path / "nearest.h5"
    assert main(["replay", str(traces["min-latency"]), "--policy", "nearest", "--out", str(out),
                 "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "nearest" in text and "subtasks_processed_late" in text and "deadline_hit_rate" in text
    a, b = open_trace(traces["min-latency"]), open_trace(out)
    ta, tb = a.df("tasks").sort_values("task"), b.df("tasks").sort_values("task")
    np.testing.assert_array_equal(ta.created, tb.created)  # the same arrivals (common numbers)


def test_report_writes_its_figures_and_tables(traces, tmp_path):
    out = tmp_path / "report"
    files = write_report([traces["refusing"], traces["min-latency"]], out)
    names = {f.name for f in files}
    assert {"offload_summary.csv", "offload_summary.md"} <= names
    assert "summary.csv" not in names and "comparison.png" not in names  # no twin trace
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) == 2 * 3  # latency, outcomes, graph per trace
    assert {p.name.split("_")[-1] for p in pngs} == {"latency.png", "outcomes.png", "graph.png"}
    for png in pngs:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    table = pd.read_csv(out / "offload_summary.csv")
    for path in (traces["refusing"], traces["min-latency"]):
        sub = open_trace(path).df("subtasks")
        lab = f"offload-urban/{open_trace(path).attrs['policy']}/seed0"
        rows = table[table.trace == lab]
        assert rows[rows.vehicle == "all"].subtasks.item() == len(sub)
        assert rows[rows.vehicle != "all"].subtasks.sum() == len(sub)
    md = (out / "offload_summary.md").read_text()
    assert md.startswith("| trace | vehicle |") and "### busiest routes" in md
    from analysis.units import unit_of

    assert [c for c in table.columns if unit_of(c) is None] == []  # every column has its unit


def test_report_numbers_agree_with_the_trace(traces, tmp_path):
    tr = open_trace(traces["refusing"])
    hops, sub = tr.df("hops"), tr.df("subtasks")
    b = latency_breakdown(tr)
    air = hops.end - hops.start
    for code, name in {0: "vb", 1: "vu", 2: "uu", 3: "bu", 4: "ub"}.items():
        sel = hops.link_type == code
        assert b["n_hops"][name] == sel.sum()
        if sel.any():
            assert b["per_hop"][name] == pytest.approx(air[sel].mean())
    proc = sub[sub.outcome <= 1]
    parts = b["per_subtask"]
    assert parts.sum() == pytest.approx(proc.latency.mean())  # the stack is the mean latency
    assert parts["queue"] == pytest.approx(proc.t_queue.mean())
    routes = busiest_routes(tr, k=3)
    counts = hops.groupby(["src", "dst"]).size().sort_values(ascending=False)
    assert list(routes.hops) == list(counts.iloc[:3])
    g = plot_offload_graph(tr, "x", tmp_path / "g.png", t=0.1)
    links = tr.df("links")
    assert g["t_links"] == pytest.approx(0.1) and g["links"] == (links.time == g["t_links"]).sum()


def test_traces_without_the_app_attribute_are_twin_migration(traces, tmp_path):
    from pathlib import Path

    golden = Path(__file__).parent / "data" / "golden" / "twin-city-packet.h5"
    assert trace_app(open_trace(golden)) == "twin_migration"
    assert trace_app(open_trace(traces["min-latency"])) == "task_offloading"


def test_a_task_is_completed_when_all_its_subtasks_are_processed():
    """Task latency = creation to the end of its last subtask, completed tasks only."""
    from analysis.offload_summary import _metrics

    sub = pd.DataFrame({"task": [0, 0, 1, 1, 2], "outcome": [0, 1, 0, 4, 0], "finished": [1.0, 1.5, 0.9, np.nan, 0.7],
                        "latency": [0.8, 1.3, 0.5, np.nan, 0.4], "deadline_met": [1, 0, 1, 0, 1],
                        "hops": [0] * 5, "t_tx": [0.1] * 5, "t_queue": [0.0] * 5, "t_proc": [0.1] * 5,
                        "e_tx_vehicle": [0.0] * 5, "e_tx_relay": [0.0] * 5, "e_proc": [0.0] * 5,
                        "qos": [1.0] * 5, "qos_norm": [1.0] * 5})
    tasks = pd.DataFrame({"task": [0, 1, 2], "created": [0.2, 0.4, 0.3], "n_sub": [2, 2, 2], "status": [0, 0, 0]})
    m = _metrics(sub, tasks, 0)
    # task 0: both processed (one late), ends 1.5; task 1: one in flight; task 2: one of its 2 subtasks missing
    assert m["tasks_completed"] == 1
    assert m["task_latency_mean_s"] == pytest.approx(1.3) and m["task_latency_total_s"] == pytest.approx(1.3)
