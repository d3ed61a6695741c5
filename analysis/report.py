"""Post-hoc report over one or more traces: summary tables (CSV, Markdown), comparison bar
charts across traces (twin-migration Figs. 7–9 style), server-load time series and per-vehicle
route maps with the twin's hosts and migrations (Figs. 10–11 style), as PNG.

``python -m analysis.report TRACE.h5 [MORE.h5 ...] --out DIR`` or ``desim-iov report``.
Reads traces of schema 1.x (``background_dropped`` in /server_load is used when present, 1.2).
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from scipy import stats  # noqa: E402

from analysis.summary import summarize  # noqa: E402
from desim_iov.kinds import SATELLITE  # noqa: E402
from traces.reader import Trace, open_trace  # noqa: E402

SERVER_STYLE = {0: ("^", "tab:gray", "RSU"), 1: ("D", "tab:cyan", "UAV"), 2: ("*", "tab:purple", "satellite")}
MB = 8e6  # bits

O_V_NOTE = (
    "O_V (twin-migration Eq. 13/15) is the variance of the workload over the edge servers, one "
    "value per slot for the whole system: it is given in the `all` rows only. Per vehicle, "
    "`host_load_mean_bit` is the mean workload S'_m(t) of the server hosting its twin over the "
    "slots it drove. `slots`: decision slots the vehicle drove (`all`: slots of the run); "
    "O_T and O_V are sums over those slots (`O_V_formula_per_slot_bit2` is the mean)."
)


@dataclass(frozen=True)
class TraceInfo:
    """What tells traces apart in a report: the label, and the comparison group (the label
    without the seed: seeds of one configuration are averaged) with its display name."""

    label: str
    group: tuple[str, ...]
    group_name: str
    seed: str


def _describe(tr: Trace) -> dict[str, str]:
    sc = tr.scenario
    veh = sc.get("vehicles", {})
    source = Path(str(veh.get("trace") or "")).name if veh.get("mobility") == "trace" else ""
    return {
        "scenario": str(sc.get("name", "?")),
        "policy": str(tr.attrs.get("policy", "?")),
        "seed": str(tr.attrs.get("seed", "?")),
        "duration": f"{float(sc.get('duration', float('nan'))):g} s",
        "vehicles": source,
    }


def describe_traces(traces: list[Trace]) -> list[TraceInfo]:
    """Labels ``scenario/policy/seedN``, plus the duration and the vehicle-trace file name when
    they differ between the traces; a ``#i`` suffix only if two traces still look the same."""
    desc = [_describe(t) for t in traces]
    extra = [k for k in ("duration", "vehicles") if len({d[k] for d in desc}) > 1]
    labels = []
    for d in desc:
        shown = [d[k] for k in extra if d[k]]
        labels.append("/".join([d["scenario"], d["policy"], f"seed{d['seed']}", *shown]))
    out = []
    for i, (lab, d) in enumerate(zip(labels, desc, strict=True)):
        key = (d["scenario"], d["policy"], *(d[k] for k in extra))
        name = "/".join([d["scenario"], d["policy"], *(d[k] for k in extra if d[k])])
        out.append(TraceInfo(lab if labels.count(lab) == 1 else f"{lab}#{i + 1}", key, name,
                             d["seed"]))
    return out


def summary_table(traces: list[Trace], labels: list[str]) -> pd.DataFrame:
    """One row per vehicle and one 'all' row per trace (see :data:`O_V_NOTE`)."""
    rows = []
    for tr, lab in zip(traces, labels, strict=True):
        sm = summarize(tr)
        pv = sm.per_vehicle.copy()
        pv.insert(0, "trace", lab)
        pv["vehicle"] = pv["vehicle"].astype(str)
        rows.append(pv)
        t = sm.total
        rows.append(pd.DataFrame([{
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
            "migrations": t["migrations"],
            "migrations_formula": t["migrations_formula"],
            "slots": t.get("slots", np.nan),
            "host_load_mean_bit": t.get("host_load_mean_bit", np.nan),
            "O_V_formula_bit2": t["O_V_formula_bit2"],
            "O_V_measured_bit2": t["O_V_measured_bit2"],
            "O_V_formula_per_slot_bit2": t.get("O_V_formula_per_slot_bit2", np.nan),
            "reward_mean": t["reward_mean"],
            "vehicles": t.get("vehicles", len(pv)),
            "duration_s": t.get("duration_s", float(tr.scenario.get("duration", np.nan))),
        }]))
    return pd.concat(rows, ignore_index=True)


def to_markdown(df: pd.DataFrame, note: str = "") -> str:
    """A GitHub Markdown table (no extra dependency); empty cells of the 'all'-only columns
    read as a dash, and ``note`` follows the table."""
    all_only = {"O_V_formula_bit2", "O_V_measured_bit2", "O_V_formula_per_slot_bit2",
                "reward_mean", "vehicles", "duration_s"}

    def cell(col: str, v) -> str:
        if isinstance(v, float) and math.isnan(v):
            return "–" if col in all_only else ""
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    head = "| " + " | ".join(df.columns) + " |"
    sep = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(cell(c, v) for c, v in zip(df.columns, row, strict=True)) + " |"
            for row in df.itertuples(index=False)]
    text = "\n".join([head, sep, *body]) + "\n"
    return text + (f"\n{note}\n" if note else "")


COMPARISON_METRICS = [
    ("reward_mean", "mean reward per slot", 1.0),
    ("latency_mean_s", "mean packet latency (s)", 1.0),
    ("loss_measured", "packet loss rate", 1.0),
    ("O_V_formula_per_slot_bit2", "workload variance per slot\n(Eq. 15 / slots, MB²)", MB**2),
    ("migrations_per_vehicle_h", "twin migrations\nper vehicle-hour", 1.0),
]


def comparison_groups(table: pd.DataFrame, infos: list[TraceInfo]) -> pd.DataFrame:
    """Per comparison group (the traces differing only by seed): ``n`` and, per metric, the mean
    and the half-width of its 95 % Student-t interval (NaN for a single trace)."""
    tot = table[table.vehicle == "all"].set_index("trace")
    per_h = tot.migrations / (tot.vehicles * tot.duration_s / 3600.0)
    tot = tot.assign(migrations_per_vehicle_h=per_h)
    rows = []
    for grp in dict.fromkeys(i.group for i in infos):
        members = [i for i in infos if i.group == grp]
        sub = tot.loc[[i.label for i in members]]
        row = {"group": members[0].group_name if len(members) > 1 else members[0].label,
               "n": len(members),
               "seeds": ",".join(i.seed for i in members)}
        for col, _, scale in COMPARISON_METRICS:
            x = sub[col].to_numpy(float) / scale
            x = x[np.isfinite(x)]
            row[col] = float(x.mean()) if len(x) else float("nan")
            row[f"{col}_ci95"] = float(stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1)
                                       / math.sqrt(len(x))) if len(x) > 1 else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def plot_comparison(groups: pd.DataFrame, path: Path, durations: set[float]) -> None:
    """Bars per comparison group (colours named in the legend below); error bars: 95 %
    Student-t interval over its seeds, drawn for groups of two or more traces."""
    metrics = COMPARISON_METRICS
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.3 * len(metrics), 3.8))
    colors = plt.cm.tab10(np.arange(len(groups)) % 10)
    names = [f"{g} (mean of {n} seeds: {s})" if n > 1 else g
             for g, n, s in zip(groups.group, groups.n, groups.seeds, strict=True)]
    x = np.arange(len(groups))
    for ax, (col, title, _) in zip(axes, metrics, strict=True):
        val = groups[col].to_numpy(float)
        err = groups[f"{col}_ci95"].to_numpy(float)
        ax.bar(x, np.nan_to_num(val), color=colors)
        has = np.isfinite(err) & np.isfinite(val)
        ax.errorbar(x[has], val[has], yerr=err[has], fmt="none", ecolor="k", capsize=4, lw=1)
        for i in np.flatnonzero(~np.isfinite(val)):
            ax.text(x[i], 0, "n/a", ha="center", va="bottom", fontsize=7, color="0.4")
        ax.set_title(title, fontsize=10)
        ax.set_xticks(x, [chr(ord("A") + i) if i < 26 else str(i) for i in x], fontsize=8)
        ax.axhline(0, color="0.5", lw=0.6)
        ax.grid(axis="y", alpha=0.3)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colors]
    tags = [chr(ord("A") + i) if i < 26 else str(i) for i in x]
    fig.legend(handles, [f"{t}: {n}" for t, n in zip(tags, names, strict=True)],
               loc="lower center", ncol=min(2, len(names)), fontsize=8, frameon=False)
    dur = (f"run length {next(iter(durations)):g} s" if len(durations) == 1
           else "run lengths differ (see the labels)")
    note = "; error bars: 95 % t-interval over seeds" if (groups.n > 1).any() else ""
    fig.suptitle(f"comparison — {dur}{note}", fontsize=10)
    fig.tight_layout(rect=(0, 0.04 + 0.045 * math.ceil(len(names) / 2), 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_server_load(tr: Trace, label: str, path: Path) -> list[str]:
    """Cache backlog of the busiest servers (MB), their background workload arrival rate
    (Mbit/s), and, when any was refused, the cumulative background refused (schema 1.2).
    Returns the panels' y labels."""
    load = tr.df("server_load")
    servers = tr.df("servers").set_index("server")
    piv = load.pivot_table(index="time", columns="server", values="load") / MB
    bg = load.pivot_table(index="time", columns="server", values="background_rate") / 1e6
    dropped = None
    if "background_dropped" in load.columns and (load.background_dropped > 0).any():
        dropped = load.pivot_table(index="time", columns="server", values="background_dropped") / MB
    panels = 3 if dropped is not None else 2
    fig, axes = plt.subplots(panels, 1, figsize=(10, 2.6 + 2.4 * panels), sharex=True,
                             gridspec_kw={"height_ratios": [1.6] + [1] * (panels - 1)})
    top = piv.max().sort_values(ascending=False).index[:4]
    colors = dict(zip(top, plt.cm.tab10(np.arange(len(top))), strict=True))

    def name(m: int) -> str:
        return f"server {m} ({SERVER_STYLE[int(servers.kind.get(m, 0))][2]})"

    ax = axes[0]
    for m in top:
        ax.plot(piv.index, piv[m], lw=1.0, color=colors[m], label=name(m))
    ax.plot(piv.index, piv.mean(axis=1), color="k", lw=2, label="mean over servers")
    shown = servers.loc[servers.index.isin(top) | (servers.kind != SATELLITE)]
    for (cache, kinds), ls in zip(shown.groupby("cache").kind.unique().items(),
                                  ("--", ":", "-."), strict=False):  # L_max of each server class
        who = "/".join(SERVER_STYLE[int(k)][2] for k in sorted(kinds))
        ax.axhline(cache / MB, color="tab:red", ls=ls, lw=1,
                   label=f"L_max {who} = {cache / MB:.4g} MB")
    ax.set_ylabel("data in cache (MB)")
    ax.set_title(f"server load — {label}")
    ax.legend(fontsize=8, loc="upper left", ncol=2)
    ax.grid(alpha=0.3)

    ax = axes[1]
    for m in top:
        ax.plot(bg.index, bg[m], lw=1.0, color=colors[m])
    ax.plot(bg.index, bg.mean(axis=1), color="k", lw=2)
    ax.set_ylabel("background arrivals\n(Mbit/s)")
    ax.grid(alpha=0.3)
    if dropped is not None:
        ax = axes[2]
        ax.plot(dropped.index, dropped.sum(axis=1), color="tab:red", lw=2, label="all servers")
        for m in top:
            ax.plot(dropped.index, dropped[m], lw=1.0, color=colors[m])
        ax.set_ylabel("background refused,\ncumulative (MB)")
        ax.legend(fontsize=8, loc="upper left")
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("time (s)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [ax.get_ylabel() for ax in axes]


def _active_span(slots: pd.DataFrame, packets: pd.DataFrame, v: int,
                 slot_s: float) -> tuple[float, float] | None:
    """First and last time the vehicle drove (its /slots rows, else its packets); ``None`` when
    it never did."""
    t = slots.time[slots.vehicle == v]
    if len(t):
        return float(t.min()), float(t.max()) + slot_s
    p = packets.created[packets.vehicle == v]
    return (float(p.min()), float(p.max())) if len(p) else None


def plot_routes(tr: Trace, label: str, path: Path) -> dict[str, list[str]]:
    """One map per vehicle: its route, the RSUs/UAVs, the terrestrial servers that hosted its
    twin, where it migrated (arrows to the new host), the stretches where its twin was on the
    satellite and the migrations to/from the satellite; vehicles that never drove say so.
    One legend for all maps. Returns the legend entries and the maps' titles."""
    pos = tr.df("positions")
    servers = tr.df("servers")
    mig = tr.df("migrations")
    slots = tr.df("slots")
    packets = tr.df("packets")
    slot_s = float(tr.scenario.get("slot", 0.0))
    kind_of = servers.set_index("server").kind
    srv = servers.set_index("server")
    veh = pos[pos.kind == 0]
    uav = pos[pos.kind == 1]
    ids = sorted(veh.id.unique())
    n = len(ids)
    cols = min(n, 3) or 1
    rows = math.ceil(n / cols) if n else 1
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 5.0 * rows + 0.6), squeeze=False)
    terr = servers[servers.kind != SATELLITE]
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
        span = _active_span(slots, packets, int(v), slot_s)
        m = mig[mig.vehicle == v]
        if span is None:
            ax.plot(p.x, p.y, color="tab:gray", lw=1.0, ls=":", label="route (never drove)")
            if len(p):
                ax.scatter(p.x.iloc[0], p.y.iloc[0], color="tab:gray", s=40, zorder=5)
            ax.set_title(f"vehicle {v}: inactive (never drove in the run)", fontsize=10,
                         color="tab:gray")
        else:
            ax.plot(p.x, p.y, color="tab:blue", lw=1.5, label="vehicle route")
            if len(p):
                ax.scatter(p.x.iloc[0], p.y.iloc[0], color="tab:green", s=40, zorder=5, label="start")
            host_kind = p.twin_host.map(kind_of)
            on_sat = (host_kind == SATELLITE).to_numpy()
            if on_sat.any():  # stretches hosted by the satellite: the route drawn over in purple
                ax.plot(np.where(on_sat, p.x, np.nan), np.where(on_sat, p.y, np.nan),
                        color="tab:purple", lw=4, alpha=0.45, solid_capstyle="round",
                        label="twin on satellite")
                ax.scatter(p.x[on_sat], p.y[on_sat], color="tab:purple", s=8, alpha=0.6)
            hosts = p.twin_host[(p.twin_host >= 0) & (host_kind != SATELLITE)].unique()
            hs = srv.loc[[h for h in hosts if h in srv.index]]
            ax.scatter(hs.x, hs.y, facecolors="none", edgecolors="tab:orange", s=90, lw=1.5,
                       label="twin hosts (RSU/UAV)")
            if len(m) and len(p):
                mx = np.interp(m.start, p.time, p.x)
                my = np.interp(m.start, p.time, p.y)
                to_sat = (m.dst.map(kind_of) == SATELLITE).to_numpy()
                from_sat = (m.src.map(kind_of) == SATELLITE).to_numpy()
                ground = ~to_sat & ~from_sat
                ax.scatter(mx[ground], my[ground], marker="x", color="tab:red", s=40, zorder=6,
                           label="migration")
                ax.scatter(mx[to_sat], my[to_sat], marker="^", color="tab:purple", s=60,
                           edgecolors="k", lw=0.6, zorder=7, label="migration to satellite")
                ax.scatter(mx[from_sat], my[from_sat], marker="v", facecolors="white",
                           edgecolors="tab:purple", s=60, lw=1.5, zorder=7,
                           label="migration from satellite")
                dst = srv.loc[m.dst]
                for x0, y0, kind, x1, y1 in zip(mx, my, dst.kind, dst.x, dst.y, strict=True):
                    if kind != SATELLITE:
                        ax.annotate("", (x1, y1), (x0, y0), arrowprops={
                            "arrowstyle": "->", "color": "tab:red", "lw": 0.7, "alpha": 0.6})
            n_sat = int((m.dst.map(kind_of) == SATELLITE).sum()) if len(m) else 0
            full = span[0] <= slot_s and span[1] >= float(tr.scenario.get("duration", 0)) - slot_s
            when = "" if full else f", drove {span[0]:.0f}–{span[1]:.0f} s"
            sat = f" ({n_sat} to satellite)" if n_sat else ""
            ax.set_title(f"vehicle {v}: {len(m)} migrations{sat}{when}", fontsize=10)
        ax.set_aspect("equal")
        ax.set_xlabel("x (m)")
        ax.set_ylabel("y (m)")
        ax.grid(alpha=0.2)
    handles: dict[str, object] = {}
    for ax in axes.ravel()[:n]:  # the legend of every map, each entry once
        for h, name in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(name, h)
    if n and "twin on satellite" not in handles:
        handles["(no twin on the satellite)"] = Line2D([], [], ls="none")
    fig.legend(list(handles.values()), list(handles), loc="lower center",
               ncol=min(len(handles), 5), fontsize=8)
    fig.suptitle(f"routes and twin migrations — {label}")
    legend_rows = math.ceil(len(handles) / 5)
    fig.tight_layout(rect=(0, 0.03 + 0.025 * legend_rows, 1, 0.96))
    fig.savefig(path, dpi=100)
    titles = [ax.get_title() for ax in axes.ravel()[:n]]
    plt.close(fig)
    return {"legend": list(handles), "titles": titles}


def write_report(paths: list[str | Path], out_dir: str | Path) -> list[Path]:
    """Write the report for ``paths`` into ``out_dir``; returns the files written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    traces = [open_trace(p) for p in paths]
    infos = describe_traces(traces)
    labels = [i.label for i in infos]
    table = summary_table(traces, labels)
    groups = comparison_groups(table, infos)
    written = [out / "summary.csv", out / "summary.md", out / "comparison.csv",
               out / "comparison.png"]
    table.to_csv(written[0], index=False)
    written[1].write_text(to_markdown(table, O_V_NOTE))
    groups.to_csv(written[2], index=False)
    plot_comparison(groups, written[3], {float(t.scenario.get("duration", np.nan)) for t in traces})
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
