"""Smoke test of benchmarks/bench_offload.py at tiny size: it runs and reports positive finite
numbers (no timing assertions)."""

from __future__ import annotations

import json
import math
import sys

from benchmarks import bench_offload as bo

SIGNED = {"rel_diff", "t_tx_rel_diff"}  # (packet - slot) / slot: any sign, may be 0
SHARES = {"paired_equal_share"}  # in [0, 1]


def _numbers(d: dict, prefix: str = ""):
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _numbers(v, f"{prefix}{k}.")
        elif isinstance(v, list):
            for x in v:
                if isinstance(x, (int, float)):
                    yield f"{prefix}{k}", x
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            yield f"{prefix}{k}", v


def test_bench_offload_quick_runs_and_reports_positive_finite_numbers(tmp_path, monkeypatch, capsys):
    out = tmp_path / "bench.json"
    monkeypatch.setattr(sys, "argv", ["bench_offload.py", "--quick", "--json", str(out)])
    bo.main()
    printed = capsys.readouterr().out.splitlines()
    assert printed[-1].startswith("subtasks_per_s=")
    res = json.loads(out.read_text())
    assert {"packet", "slot", "topology", "agreement", "agreement_no_cpu_deviation"} <= set(res)
    seen = set()
    for name, x in _numbers(res):
        seen.add(name.rsplit(".", 1)[-1])
        assert math.isfinite(x), name
        if name.rsplit(".", 1)[-1] in SHARES:
            assert 0 <= x <= 1, name
        elif name.rsplit(".", 1)[-1] not in SIGNED:
            assert x > 0, name
    assert {"subtasks_per_s", "events_per_s", "epochs_per_s", "update_median_us", "graph_median_us",
            "mean_latency_packet_s", "mean_latency_slot_s", "rel_diff"} <= seen
    assert res["packet"]["events"] > res["packet"]["subtasks"] > 0


def test_bench_offload_counting_environment_counts_processed_events():
    sc = bo.scenario("packet", 0.1)
    env = bo.CountingEnvironment()
    wall, n_sub, epochs, sim = bo.packet_run(sc, None, env=env)
    assert env.n_events > epochs == 5 and wall > 0 and n_sub >= 0 and sim.finished
