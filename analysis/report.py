"""Post-hoc report over one or more traces: summary tables (CSV, Markdown), comparison bar
charts across traces (twin-migration Figs. 7–9 style), server-load time series and per-vehicle
route maps with the twin's hosts and migrations (Figs. 10–11 style), as PNG.

``python -m analysis.report TRACE.h5 [MORE.h5 ...] --out DIR`` or ``desim-iov report``.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from analysis.summary import summarize  # noqa: E402
from traces.reader import Trace, open_trace  # noqa: E402

SERVER_STYLE = {0: ("^", "tab:gray", "RSU"), 1: ("D", "tab:cyan", "UAV"), 2: ("*", "tab:purple", "satellite")}


def _labels(traces: list[Trace]) -> list[str]:
    raw = [f"{t.scenario.get('name', '?')}/{t.attrs.get('policy', '?')}/seed{t.attrs.get('seed', '?')}" for t in traces]
    out = []
    for i, lab in enumerate(raw):
        out.append(lab if raw.count(lab) == 1 else f"{lab}#{i + 1}")
    return out


def summary_table(traces: list[Trace], labels: list[str]) -> pd.DataFrame:
    """One row per vehicle and one 'all' row per trace."""
    rows = []
    for tr, lab in zip(traces, labels, strict=True):
        sm = summarize(tr)
        pv = sm.per_vehicle.copy()
        pv.insert(0, "trace", lab)
        pv["vehicle"] = pv["vehicle"].astype(str)
        rows.append(pv)
        t = sm.total
        rows.append(
            pd.DataFrame(
                [
                    {
                        "trace": lab,
                        "vehicle": "all",
                        "generated": t["packets_generated"],
                        "delivered": t["packets_delivered"],
                        "dropped": t["packets_dropped"],
                        "loss_measured": t["loss_measured"],
                        "loss_formula_q": t["O_D_formula"] / max(len(pv), 1),
                        "latency_mean_s": t["latency_mean_s"],
                        "latency_p95_s": t["latency_p95_s"],
                        "O_T_formula_s": t["O_T_formula_s"],
                        "O_T_measured_s": t["O_T_measured_s"],
                        "O_V_formula_bit2": t["O_V_formula_bit2"],
                        "O_V_measured_bit2": t["O_V_measured_bit2"],
                        "migrations": t["migrations"],
                        "migrations_formula": t["migrations_formula"],
                    }
                ]
            )
        )
    return pd.concat(rows, ignore_index=True)


def to_markdown(df: pd.DataFrame) -> str:
    """A GitHub Markdown table (no extra dependency)."""

    def cell(v) -> str:
        if isinstance(v, float):
            return "" if math.isnan(v) else f"{v:.4g}"
        return str(v)

    head = "| " + " | ".join(df.columns) + " |"
    sep = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, sep, *body]) + "\n"


def plot_comparison(table: pd.DataFrame, path: Path) -> None:
    tot = table[table.vehicle == "all"]
    metrics = [
        ("latency_mean_s", "mean packet latency (s)"),
        ("loss_measured", "packet loss rate"),
        ("O_V_measured_bit2", "workload variance O_V (MB², measured)"),
        ("migrations", "twin migrations"),
    ]
    fig, axes = plt.subplots(1, 4, figsize=(4.2 * 4, 4.2))
    colors = plt.cm.tab10(np.arange(len(tot)) % 10)
    for ax, (col, title) in zip(axes, metrics, strict=True):
        vals = tot[col].to_numpy(dtype=float)
        if col.startswith("O_V"):
            vals = vals / (8e6) ** 2
        ax.bar(np.arange(len(tot)), vals, color=colors)
        ax.set_title(title, fontsize=10)
        ax.set_xticks(np.arange(len(tot)), tot.trace, rotation=30, ha="right", fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_server_load(tr: Trace, label: str, path: Path) -> None:
    load = tr.df("server_load")
    servers = tr.df("servers")
    piv = load.pivot_table(index="time", columns="server", values="load") / 8e6  # MB
    fig, ax = plt.subplots(figsize=(10, 4.2))
    top = piv.max().sort_values(ascending=False).index[:4]
    for m in top:
        kind = int(servers.set_index("server").kind.get(m, 0))
        ax.plot(piv.index, piv[m], lw=1.0, label=f"server {m} ({SERVER_STYLE[kind][2]})")
    ax.plot(piv.index, piv.mean(axis=1), color="k", lw=2, label="mean over servers")
    cache = servers.cache.max() / 8e6
    ax.axhline(cache, color="tab:red", ls="--", lw=1, label=f"L_max = {cache:.0f} MB")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("data in cache (MB)")
    ax.set_title(f"server load — {label}")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_routes(tr: Trace, label: str, path: Path) -> None:
    pos = tr.df("positions")
    servers = tr.df("servers")
    mig = tr.df("migrations")
    veh = pos[pos.kind == 0]
    uav = pos[pos.kind == 1]
    ids = sorted(veh.id.unique())
    n = len(ids)
    cols = min(n, 3)
    rows = math.ceil(n / cols) if n else 1
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 5.0 * rows), squeeze=False)
    terr = servers[servers.kind != 2]
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    for ax, v in zip(axes.ravel(), ids, strict=False):
        for kind in (0, 1):
            s = terr[terr.kind == kind]
            mk, col, name = SERVER_STYLE[kind]
            if kind == 1 and len(uav):  # UAV patrols as faint tracks
                for _, u in uav.groupby("id"):
                    ax.plot(u.x, u.y, color=col, lw=0.5, alpha=0.35)
            ax.scatter(s.x, s.y, marker=mk, s=14, color=col, alpha=0.6, label=name)
        p = veh[veh.id == v].sort_values("time")
        ax.plot(p.x, p.y, color="tab:blue", lw=1.5, label="vehicle route")
        if len(p):
            ax.scatter(p.x.iloc[0], p.y.iloc[0], color="tab:green", s=40, zorder=5, label="start")
        hosts = p.twin_host[p.twin_host >= 0].unique()
        hs = servers.set_index("server").loc[[h for h in hosts if h in servers.server.values]]
        hs = hs[hs.kind != 2]
        ax.scatter(hs.x, hs.y, facecolors="none", edgecolors="tab:orange", s=90, lw=1.5,
                   label="twin hosts")
        m = mig[mig.vehicle == v]
        if len(m) and len(p):
            mx = np.interp(m.start, p.time, p.x)
            my = np.interp(m.start, p.time, p.y)
            ax.scatter(mx, my, marker="x", color="tab:red", s=40, zorder=6, label="migrations")
            dst = servers.set_index("server").loc[m.dst]
            for x0, y0, kind, x1, y1 in zip(mx, my, dst.kind, dst.x, dst.y, strict=True):
                if kind != 2:
                    ax.annotate("", (x1, y1), (x0, y0),
                                arrowprops={"arrowstyle": "->", "color": "tab:red", "lw": 0.7, "alpha": 0.6})
        ax.set_title(f"vehicle {v}: {len(m)} migrations", fontsize=10)
        ax.set_aspect("equal")
        ax.set_xlabel("x (m)")
        ax.set_ylabel("y (m)")
        ax.grid(alpha=0.2)
    handles, names = axes.ravel()[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=min(len(names), 6), fontsize=8)
    fig.suptitle(f"routes and twin migrations — {label}")
    fig.tight_layout(rect=(0, 0.05, 1, 0.96))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_report(paths: list[str | Path], out_dir: str | Path) -> list[Path]:
    """Write the report for ``paths`` into ``out_dir``; returns the files written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    traces = [open_trace(p) for p in paths]
    labels = _labels(traces)
    table = summary_table(traces, labels)
    written = [out / "summary.csv", out / "summary.md", out / "comparison.png"]
    table.to_csv(written[0], index=False)
    written[1].write_text(to_markdown(table))
    plot_comparison(table, written[2])
    for i, (tr, lab) in enumerate(zip(traces, labels, strict=True), start=1):
        stem = f"{i:02d}_" + "".join(c if c.isalnum() or c in "-_" else "_" for c in lab)
        f_load = out / f"{stem}_server_load.png"
        f_routes = out / f"{stem}_routes.png"
        plot_server_load(tr, lab, f_load)
        plot_routes(tr, lab, f_routes)
        written += [f_load, f_routes]
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analysis.report", description=__doc__.splitlines()[0])
    ap.add_argument("traces", nargs="+")
    ap.add_argument("--out", required=True, help="directory for the tables and figures")
    args = ap.parse_args(argv)
    for f in write_report(args.traces, args.out):
        print(f)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
