"""The task-offloading heuristics side by side: every policy on the same scenario and seeds
(common random numbers: identical tasks and mobility), one packet-fidelity trace each,
summarised by ``analysis.offload_summary``: the shipped sweep ``offload-heuristics`` run through
the sweep runner. Results: ``DIR/results.parquet`` (the sweep's), ``DIR/results.csv`` (one row
per policy and seed: outcome shares, latency, deadline hit rate, hops, energies, QoS),
``DIR/summary.csv`` (mean over seeds), ``DIR/outcomes.png`` (outcome mix per policy) and the
traces (``DIR/runs/<key>/trace.h5``).

``desim-iov experiment offload-heuristics --out DIR`` or
``python -m desim_iov.experiments.offloading --out DIR``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from desim_iov.config import load_scenario
from traces.schema import SUBTASK_OUTCOMES

POLICIES = ("nearest", "max-rate", "min-latency", "random", "hindsight")
COLUMNS = ["policy", "seed", "subtasks_generated", *(f"share_{o}" for o in SUBTASK_OUTCOMES.values()),
           "latency_mean_s", "latency_p95_s", "deadline_hit_rate", "hops_mean", "energy_J",
           "e_tx_vehicle_J", "e_tx_relay_J", "e_proc_J", "qos_mean", "qos_norm_mean"]


def run_heuristics(out: Path, *, scenario: str = "offload-urban", seeds: int = 3,
                   policies: tuple[str, ...] = POLICIES, overrides: list[str] | None = None,
                   progress: bool = True, backend: str | None = None, workers: int = 1) -> pd.DataFrame:
    """The shipped sweep ``offload-heuristics`` with these policies, seeds (0 .. seeds - 1),
    base scenario and overrides, run through the sweep runner (resumable; traces under
    ``out/runs/<key>/``), then tabulated. One-line KeyError for a scenario of another app or an
    unknown policy; RuntimeError naming the first failed run."""
    from desim_iov.sweep import SweepError, backend_name, expand, load_sweep, run_sweep

    if load_scenario(scenario, list(overrides or [])).app != "task_offloading":
        raise KeyError(f"scenario {scenario!r} is not a task-offloading scenario")
    base = load_sweep("offload-heuristics")
    spec = base.model_copy(update={"scenario": scenario, "seeds": seeds, "set": [*base.set, *(overrides or [])],
                                   "grid": {"policy": list(policies)}})
    try:
        expand(spec, out)
    except SweepError as e:
        raise KeyError(str(e).replace("\n", " ")) from None
    res = run_sweep(spec, out, backend=backend_name(backend, workers), workers=workers, progress=progress)
    if res.failed:
        bad = res.results[res.results.status != "ok"].iloc[0]
        raise RuntimeError(f"{res.failed} run(s) failed (first: {bad.policy} seed {bad.seed}: {bad.error}); "
                           "the same command runs them again")
    rows = []
    for _, t in res.results.iterrows():
        n = max(int(t["subtasks_generated"]), 1)
        row = {"policy": t.policy, "seed": int(t.seed), "subtasks_generated": int(t["subtasks_generated"])}
        row.update({f"share_{o}": t[f"subtasks_{o}"] / n for o in SUBTASK_OUTCOMES.values()})
        row.update({c: t[c] for c in COLUMNS if c in t and c not in row})
        rows.append(row)
    df = pd.DataFrame(rows, columns=COLUMNS)
    df.to_csv(out / "results.csv", index=False)
    summary = df.drop(columns="seed").groupby("policy", sort=False).mean()
    summary.to_csv(out / "summary.csv")
    _plot(summary, out / "outcomes.png")
    return df


def _plot(summary: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shares = summary[[f"share_{o}" for o in SUBTASK_OUTCOMES.values()]]
    shares.columns = list(SUBTASK_OUTCOMES.values())
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    shares.plot.bar(stacked=True, ax=a)
    a.set_ylabel("share of subtasks")
    a.set_title("outcome mix (mean over seeds)")
    a.legend(fontsize=7)
    (summary["latency_mean_s"] * 1e3).plot.bar(ax=b, yerr=None)
    b.set_ylabel("mean latency of processed subtasks (ms)")
    b.set_title("latency")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--scenario", default="offload-urban")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--policies", nargs="*", default=list(POLICIES))
    ap.add_argument("--set", action="append", metavar="KEY=VALUE")
    args = ap.parse_args(argv)
    df = run_heuristics(Path(args.out), scenario=args.scenario, seeds=args.seeds,
                        policies=tuple(args.policies), overrides=args.set)
    print(df.drop(columns="seed").groupby("policy", sort=False).mean().to_string(
        float_format=lambda v: f"{v:.4g}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
