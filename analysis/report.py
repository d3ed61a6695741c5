"""Post-hoc report over one or more traces: summary tables (CSV, Markdown), comparison bar
charts across traces (twin-migration Figs. 7–9 style), server-load time series and per-vehicle
route maps with the twin's hosts and migrations (Figs. 10–11 style), as PNG.

Task-offloading traces (schema 1.4, root attribute ``app``) get their own table
(``offload_summary.csv``/``.md``, :mod:`analysis.offload_summary`) and, per trace, a latency
breakdown by hop type, the subtask outcomes by reason and a map of the graph with the busiest
routes. A report may mix both kinds of trace.

``python -m analysis.report TRACE.h5 [MORE.h5 ...] --out DIR`` or ``desim-iov report``.
Reads traces of schema 1.x (``background_dropped`` in /server_load is used when present, 1.2).
"""

from __future__ import annotations

import argparse
import math
import textwrap
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from scipy import stats  # noqa: E402

from analysis.offload_summary import (  # noqa: E402
    PROCESSED,
    summarize_offload,
    trace_app,
)
from analysis.summary import summarize  # noqa: E402
from desim_iov.kinds import POSITION_UAV, RSU, SATELLITE, UAV  # noqa: E402
from desim_iov.topology import LINK_TYPES  # noqa: E402
from traces.reader import Trace, open_trace  # noqa: E402
from traces.schema import SUBTASK_OUTCOMES, TASK_STATUS  # noqa: E402

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
        "incomplete": "" if tr.complete else "INCOMPLETE",
    }


def describe_traces(traces: list[Trace]) -> list[TraceInfo]:
    """Labels ``scenario/policy/seedN``, plus the duration and the vehicle-trace file name when
    they differ between the traces, and ``INCOMPLETE`` on a run that did not finish (it is never
    averaged with finished ones); a ``#i`` suffix only if two traces still look the same."""
    desc = [_describe(t) for t in traces]
    extra = [k for k in ("duration", "vehicles") if len({d[k] for d in desc}) > 1]
    if any(d["incomplete"] for d in desc):  # a killed run says so wherever its label goes
        extra.append("incomplete")
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


def _labelled(per_vehicle: pd.DataFrame, label: str) -> pd.DataFrame:
    """A summary's per-vehicle rows with the trace's label in front (vehicle as text, so the
    'all' rows fit the same column)."""
    pv = per_vehicle.copy()
    pv.insert(0, "trace", label)
    pv["vehicle"] = pv["vehicle"].astype(str)
    return pv


def summary_table(traces: list[Trace], labels: list[str]) -> pd.DataFrame:
    """One row per vehicle and one 'all' row per trace (see :data:`O_V_NOTE`)."""
    rows = []
    for tr, lab in zip(traces, labels, strict=True):
        sm = summarize(tr)
        pv = _labelled(sm.per_vehicle, lab)
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


#: (summary column, comparison column with its unit, plot title, scale, the metric's range)
COMPARISON_METRICS = [
    ("reward_mean", "reward_mean", "mean reward per slot", 1.0, (-np.inf, np.inf)),
    ("latency_mean_s", "latency_mean_s", "mean packet latency (s)", 1.0, (0.0, np.inf)),
    ("loss_measured", "loss_measured", "packet loss rate", 1.0, (0.0, 1.0)),
    ("O_V_formula_per_slot_bit2", "O_V_formula_per_slot_MB2", "workload variance per slot\n(Eq. 15 / slots, MB²)",
     MB**2, (0.0, np.inf)),
    ("migrations_per_vehicle_h", "migrations_per_vehicle_h", "twin migrations\nper vehicle-hour", 1.0, (0.0, np.inf)),
]


def comparison_groups(table: pd.DataFrame, infos: list[TraceInfo]) -> pd.DataFrame:
    """Per comparison group (the traces differing only by seed): ``n`` traces, ``seeds`` (the
    distinct ones) and, per metric, the mean over distinct seeds and its 95 % Student-t interval
    ``_lo`` .. ``_hi`` clipped to the metric's range (NaN for one seed). A seed given twice is
    one observation: the same seed reruns the same run."""
    tot = table[table.vehicle == "all"].set_index("trace")
    per_h = tot.migrations / (tot.vehicles * tot.duration_s / 3600.0)
    tot = tot.assign(migrations_per_vehicle_h=per_h)
    rows = []
    for grp in dict.fromkeys(i.group for i in infos):
        members = [i for i in infos if i.group == grp]
        distinct = list({i.seed: i for i in members}.values())  # first trace of each seed
        sub = tot.loc[[i.label for i in distinct]]
        row = {"group": members[0].group_name if len(members) > 1 else members[0].label,
               "n": len(members), "n_seeds": len(distinct),
               "seeds": ",".join(i.seed for i in distinct)}
        for col, name, _, scale, (lo, hi) in COMPARISON_METRICS:
            x = sub[col].to_numpy(float) / scale
            x = x[np.isfinite(x)]
            mean = float(x.mean()) if len(x) else float("nan")
            half = float(stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))) \
                if len(x) > 1 else float("nan")
            row[name] = mean
            row[f"{name}_ci95_lo"] = float(np.clip(mean - half, lo, hi)) if np.isfinite(half) else float("nan")
            row[f"{name}_ci95_hi"] = float(np.clip(mean + half, lo, hi)) if np.isfinite(half) else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def plot_comparison(groups: pd.DataFrame, path: Path, durations: set[float]) -> None:
    """Bars per comparison group (colours named in the legend below); error bars: 95 %
    Student-t interval over its seeds, drawn for groups of two or more traces."""
    metrics = COMPARISON_METRICS
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.3 * len(metrics), 3.8))
    colors = plt.cm.tab10(np.arange(len(groups)) % 10)
    names = [(f"{g} (mean of {k} seeds: {s})" if k > 1 else g) + (f" [{n - k} duplicate seed run(s) not counted]"
                                                               if n > k else "")
             for g, n, k, s in zip(groups.group, groups.n, groups.n_seeds, groups.seeds, strict=True)]
    x = np.arange(len(groups))
    for ax, (_, col, title, _, _) in zip(axes, metrics, strict=True):
        val = groups[col].to_numpy(float)
        lo, hi = groups[f"{col}_ci95_lo"].to_numpy(float), groups[f"{col}_ci95_hi"].to_numpy(float)
        ax.bar(x, np.nan_to_num(val), color=colors)
        has = np.isfinite(lo) & np.isfinite(val)
        ax.errorbar(x[has], val[has], yerr=[val[has] - lo[has], hi[has] - val[has]], fmt="none", ecolor="k",
                    capsize=4, lw=1)
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
    note = "; error bars: 95 % t-interval over seeds, clipped to each metric's range" \
        if (groups.n_seeds > 1).any() else ""
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
    if handles:  # none when the run was killed before anything was recorded
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
    """Write the report for ``paths`` into ``out_dir``; returns the files written.
    Twin-migration traces give ``summary.*``, ``comparison.*`` and per trace its server load
    and routes; task-offloading traces give ``offload_summary.*`` and per trace its latency
    breakdown, outcomes and graph map (:func:`write_offload_report`). Per-trace figures are
    numbered in the order of ``paths``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    traces = [open_trace(p) for p in paths]
    infos = describe_traces(traces)
    offload = [trace_app(tr) == "task_offloading" for tr in traces]
    twin = [i for i, off in enumerate(offload) if not off]
    written: list[Path] = []
    if twin:
        t_traces = [traces[i] for i in twin]
        t_infos = [infos[i] for i in twin]
        labels = [i.label for i in t_infos]
        table = summary_table(t_traces, labels)
        groups = comparison_groups(table, t_infos)
        written += [out / "summary.csv", out / "summary.md", out / "comparison.csv",
                    out / "comparison.png"]
        table.to_csv(written[0], index=False)
        written[1].write_text(to_markdown(table, O_V_NOTE))
        groups.to_csv(written[2], index=False)
        plot_comparison(groups, written[3], set(table[table.vehicle == "all"].duration_s))
    for i in twin:
        stem = _stem(i + 1, infos[i].label)
        f_load = out / f"{stem}_server_load.png"
        f_routes = out / f"{stem}_routes.png"
        plot_server_load(traces[i], infos[i].label, f_load)
        plot_routes(traces[i], infos[i].label, f_routes)
        written += [f_load, f_routes]
    if any(offload):
        idx = [i for i, off in enumerate(offload) if off]
        written += write_offload_report([traces[i] for i in idx], [infos[i].label for i in idx],
                                        out, [i + 1 for i in idx])
    return written


def _stem(i: int, label: str) -> str:
    return f"{i:02d}_" + "".join(c if c.isalnum() or c in "-_" else "_" for c in label)


# ---------------------------------------------------------------------- task offloading

OFFLOAD_NOTE = (
    "Task offloading (analysis/offload_summary.py). `subtasks`: rows of /subtasks (one per "
    "subtask generated); the five outcome columns count them by reason. Latency (finished − "
    "released), `deadline_hit_rate` (deadline_met), `hops_mean` (relay hops after the access "
    "hop), the per-subtask energies and QoS (Eq. 48; `qos_norm_mean`: Eq. 93) are over "
    "processed subtasks (in time or late); energy totals (J) sum every subtask. `refused`: "
    "actions outside the mask (/agent_steps; per vehicle: its own, `all`: every agent)."
)

OFFLOAD_TABLE_COLUMNS = [
    "tasks", "subtasks", *SUBTASK_OUTCOMES.values(), *(f"tasks_{k}" for k in TASK_STATUS.values()),
    "processed", "latency_mean_s", "latency_p50_s", "latency_p95_s", "deadline_hit_rate",
    "hops_mean", "t_tx_mean_s", "t_queue_mean_s", "t_proc_mean_s", "e_tx_vehicle_J",
    "e_tx_relay_J", "e_proc_J", "energy_J", "e_tx_vehicle_per_subtask_J",
    "e_tx_relay_per_subtask_J", "e_proc_per_subtask_J", "qos_mean", "qos_norm_mean", "refused",
]

OUTCOME_COLORS = {"processed_in_time": "tab:green", "processed_late": "tab:orange",
                  "edge_vanished": "tab:red", "hop_limit": "tab:purple",
                  "in_flight_at_end": "tab:gray"}
LINK_COLORS = {"vb": "tab:blue", "vu": "tab:cyan", "uu": "tab:olive", "bu": "tab:brown",
               "ub": "tab:pink"}


def offload_summary_table(traces: list[Trace], labels: list[str]) -> pd.DataFrame:
    """One row per vehicle and one 'all' row per offloading trace."""
    rows = []
    for tr, lab in zip(traces, labels, strict=True):
        sm = summarize_offload(tr)
        rows.append(_labelled(sm.per_vehicle, lab)[["trace", "vehicle", *OFFLOAD_TABLE_COLUMNS]])
        t = sm.total
        row = {"trace": lab, "vehicle": "all", "tasks": t["tasks_generated"],
               "subtasks": t["subtasks_generated"], **sm.outcomes,
               **{f"tasks_{k}": v for k, v in sm.task_status.items()}}
        row.update({c: t[c] for c in OFFLOAD_TABLE_COLUMNS if c not in row})
        rows.append(pd.DataFrame([row]))
    return pd.concat(rows, ignore_index=True)


def busiest_routes(tr: Trace, k: int = 5) -> pd.DataFrame:
    """The ``k`` most used src→dst pairs of /hops over the whole run (ties by node numbers):
    ``route`` (B/U/V names), ``src``, ``dst``, ``link_type`` (name), ``hops`` (transmissions)
    and ``airtime_mean_s``."""
    hops = tr.df("hops")
    cols = ["route", "src", "dst", "link_type", "hops", "airtime_mean_s"]
    if not len(hops):
        return pd.DataFrame(columns=cols)
    servers = tr.df("servers")
    n_bs, n = int((servers.kind == RSU).sum()), int(len(servers))
    hops = hops.assign(air=hops.end - hops.start)
    g = hops.groupby(["src", "dst"])
    top = pd.DataFrame({"link_type": g.link_type.first().map(LINK_TYPES), "hops": g.size(),
                        "airtime_mean_s": g.air.mean()}).reset_index()
    top = top.sort_values(["hops", "src", "dst"], ascending=[False, True, True],
                          kind="stable").head(k).reset_index(drop=True)
    top["route"] = [f"{_node_name(a, n_bs, n)}→{_node_name(b, n_bs, n)}"
                    for a, b in zip(top.src, top.dst, strict=True)]
    return top[cols]


def latency_breakdown(tr: Trace) -> dict[str, pd.Series | float]:
    """``per_hop``: mean airtime per hop by link type (s, every /hops row); ``per_subtask``:
    the mean latency of a processed subtask split into airtime by link type (its hops of that
    type), queueing (t_queue), processing (t_proc) and what the three leave of the latency
    (``unaccounted``); ``n_hops`` per type, ``processed`` and the deadline (s)."""
    hops, sub = tr.df("hops"), tr.df("subtasks")
    names = list(LINK_TYPES.values())
    hops = hops.assign(air=hops.end - hops.start, type=hops.link_type.map(LINK_TYPES))
    per_hop = hops.groupby("type").air.mean().reindex(names)
    n_hops = hops.groupby("type").size().reindex(names, fill_value=0)
    proc = sub[sub.outcome.isin(PROCESSED)]
    n = len(proc)
    mine = hops[hops.subtask.isin(proc.subtask)]
    air = mine.groupby("type").air.sum().reindex(names, fill_value=0.0) / n if n else \
        pd.Series(np.nan, index=names)
    parts = {f"airtime {k}": float(v) for k, v in air.items()}
    parts["queue"] = float(proc.t_queue.mean()) if n else float("nan")
    parts["processing"] = float(proc.t_proc.mean()) if n else float("nan")
    parts["unaccounted"] = float((proc.latency - proc.t_tx - proc.t_queue - proc.t_proc).mean()) \
        if n else float("nan")
    deadline = float(tr.scenario.get("offload", {}).get("tasks", {}).get("deadline", np.nan))
    return {"per_hop": per_hop, "n_hops": n_hops, "per_subtask": pd.Series(parts),
            "latency_mean": float(proc.latency.mean()) if n else float("nan"),
            "processed": n, "deadline": deadline}


def plot_latency_breakdown(tr: Trace, label: str, path: Path) -> dict[str, pd.Series | float]:
    """Left: mean airtime of one hop per link type (n hops on the bars). Right: the mean latency
    of a processed subtask stacked from airtime per link type, queueing, processing (and the
    part the three do not account for), beside the deadline rho. Returns the numbers drawn."""
    b = latency_breakdown(tr)
    ms = 1e3
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1.3, 1]})
    names = list(b["per_hop"].index)
    vals = b["per_hop"].fillna(0.0).to_numpy() * ms
    bars = ax1.bar(names, vals, color=[LINK_COLORS[n] for n in names])
    for bar, n in zip(bars, b["n_hops"], strict=True):
        ax1.annotate(f"n={n}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                     ha="center", va="bottom", fontsize=8)
    ax1.set_ylabel("mean airtime per hop (ms)")
    ax1.set_xlabel("link type")
    ax1.set_title("airtime per hop, by link type", fontsize=10)
    ax1.grid(axis="y", alpha=0.3)
    parts = b["per_subtask"]
    colors = [LINK_COLORS[k.split()[1]] if k.startswith("airtime") else
              {"queue": "tab:gray", "processing": "tab:red", "unaccounted": "white"}[k]
              for k in parts.index]
    bottom = 0.0
    for (name, v), c in zip(parts.items(), colors, strict=True):
        v = 0.0 if not np.isfinite(v) else v * ms
        if name.startswith("airtime") and v == 0.0:
            continue
        if name == "unaccounted" and abs(v) < 1e-6:
            continue
        ax2.bar([0], [v], bottom=bottom, color=c, edgecolor="k", lw=0.4, width=0.5,
                hatch="//" if name == "unaccounted" else None, label=f"{name}: {v:.3g} ms")
        bottom += v
    if np.isfinite(b["deadline"]):
        ax2.axhline(b["deadline"] * ms, color="k", ls="--", lw=1,
                    label=f"deadline rho = {b['deadline'] * ms:.3g} ms")
    ax2.set_xlim(-0.6, 1.6)
    ax2.set_xticks([0], [f"{b['processed']} processed subtasks"])
    ax2.set_ylabel("mean latency (ms)")
    ax2.set_title(f"latency of a processed subtask: mean {b['latency_mean'] * ms:.3g} ms",
                  fontsize=10)
    ax2.legend(fontsize=8, loc="upper right")
    ax2.grid(axis="y", alpha=0.3)
    fig.suptitle(f"latency breakdown — {label}", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return b


def plot_outcomes(tr: Trace, label: str, path: Path) -> dict[str, dict[str, int]]:
    """Subtasks by outcome (every reason of SUBTASK_OUTCOMES, zero bars included) and tasks by
    status. Returns the counts drawn."""
    sub, tasks = tr.df("subtasks"), tr.df("tasks")
    outcomes = {name: int((sub.outcome == code).sum()) for code, name in SUBTASK_OUTCOMES.items()}
    status = {name: int((tasks.status == code).sum()) for code, name in TASK_STATUS.items()}
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [5, 3]})
    for ax, counts, colors, what in (
            (ax1, outcomes, [OUTCOME_COLORS[k] for k in outcomes], f"subtasks ({len(sub)})"),
            (ax2, status, ["tab:green", "tab:red", "tab:gray"], f"tasks ({len(tasks)})")):
        bars = ax.bar(range(len(counts)), list(counts.values()), color=colors)
        ax.set_xticks(range(len(counts)), [textwrap.fill(k.replace("_", " "), 10) for k in counts],
                      fontsize=8)
        for bar, v in zip(bars, counts.values(), strict=True):
            ax.annotate(str(v), (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom", fontsize=8)
        ax.set_ylabel(what)
        ax.grid(axis="y", alpha=0.3)
    ax1.set_title("subtasks by outcome", fontsize=10)
    ax2.set_title("tasks by status", fontsize=10)
    fig.suptitle(f"outcomes — {label}", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return {"outcomes": outcomes, "task_status": status}


def _nearest(times: np.ndarray, t: float) -> float:
    u = np.unique(times)
    return float(u[np.argmin(np.abs(u - t))])


def graph_positions(tr: Trace, t: float) -> tuple[dict[int, tuple[float, float]], float]:
    """Node -> (x, y) at the /positions sample nearest ``t`` (BSs from /servers, fixed; UAVs
    and vehicles from /positions), and that sample's time. Node numbering as the trace's:
    servers 0..N-1 (BSs, then UAVs), vehicles N..N+V-1."""
    servers = tr.df("servers")
    pos = tr.df("positions")
    n_bs = int((servers.kind == RSU).sum())
    n = int(len(servers))
    xy = {int(r.server): (float(r.x), float(r.y)) for r in servers.itertuples() if r.kind == RSU}
    t_pos = _nearest(pos.time.to_numpy(), t) if len(pos) else float("nan")
    at = pos[pos.time == t_pos]
    for r in at.itertuples():
        node = n_bs + int(r.id) if r.kind == POSITION_UAV else n + int(r.id)
        xy[node] = (float(r.x), float(r.y))
    for r in servers.itertuples():  # a UAV without a sample: where it started
        if r.kind == UAV and int(r.server) not in xy:
            xy[int(r.server)] = (float(r.x), float(r.y))
    return xy, t_pos


def _node_name(node: int, n_bs: int, n: int) -> str:
    if node < n_bs:
        return f"B{node}"
    if node < n:
        return f"U{node - n_bs}"
    return f"V{node - n}"


def plot_offload_graph(tr: Trace, label: str, path: Path, t: float | None = None,
                       k: int = 5) -> dict[str, object]:
    """Map of the graph at time ``t`` (default: the /links sample nearest the median start of
    the hops, else mid-run): BSs, UAVs and vehicles where they were, every link of /links at
    that sample drawn thin (coloured by type), and the ``k`` busiest routes of the whole run
    (src→dst pairs of /hops, most transmissions) drawn thick and labelled with their counts.
    Returns the chosen times, the links drawn and the routes."""
    links = tr.df("links")
    hops = tr.df("hops")
    servers = tr.df("servers")
    n_bs = int((servers.kind == RSU).sum())
    n = int(len(servers))
    if t is None:
        t = float(hops.start.median()) if len(hops) else float(tr.scenario.get("duration", 0)) / 2
    t_links = _nearest(links.time.to_numpy(), t) if len(links) else float("nan")
    now = links[links.time == t_links]
    xy, t_pos = graph_positions(tr, t_links if np.isfinite(t_links) else t)
    routes = busiest_routes(tr, k)
    fig, ax = plt.subplots(figsize=(8.5, 8))
    drawn = 0
    for code, name in LINK_TYPES.items():
        sel = now[now.link_type == code]
        segs = [(xy[s], xy[d]) for s, d in zip(sel.src, sel.dst, strict=True)
                if s in xy and d in xy]
        for (x0, y0), (x1, y1) in segs:
            ax.plot([x0, x1], [y0, y1], color=LINK_COLORS[name], lw=0.5, alpha=0.45, zorder=1)
        drawn += len(segs)
        ax.plot([], [], color=LINK_COLORS[name], lw=1, label=f"{name} links ({len(segs)})")
    kinds = (("BS", range(n_bs), "^", "tab:gray"), ("UAV", range(n_bs, n), "D", "tab:cyan"),
             ("vehicle", [z for z in xy if z >= n], "o", "tab:blue"))
    for name, nodes, mk, col in kinds:
        pts = [(z, *xy[z]) for z in nodes if z in xy]
        if pts:
            ax.scatter([p[1] for p in pts], [p[2] for p in pts], marker=mk, s=60, color=col,
                       edgecolors="k", lw=0.5, zorder=4, label=name)
            for z, x, y in pts:
                ax.annotate(_node_name(z, n_bs, n), (x, y), xytext=(4, 4),
                            textcoords="offset points", fontsize=7, zorder=5)
    if len(routes):
        widest = max(int(routes.hops.max()), 1)
        for r in routes.itertuples():
            if r.src not in xy or r.dst not in xy:
                continue
            (x0, y0), (x1, y1) = xy[r.src], xy[r.dst]
            ax.annotate("", (x1, y1), (x0, y0), zorder=3, arrowprops={
                "arrowstyle": "-|>", "color": "tab:red", "alpha": 0.75,
                "lw": 1.5 + 4.5 * r.hops / widest, "mutation_scale": 14})
            ax.annotate(f"{r.route} ×{r.hops}",
                        ((x0 + x1) / 2, (y0 + y1) / 2), fontsize=8, color="darkred", zorder=6,
                        ha="center", bbox={"boxstyle": "round,pad=0.2", "fc": "white",
                                           "ec": "none", "alpha": 0.75})
        ax.plot([], [], color="tab:red", lw=4, label=f"busiest routes (top {len(routes)}, whole run)")
    ax.set_aspect("equal")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.grid(alpha=0.2)
    ax.legend(fontsize=8, loc="upper left", framealpha=0.85)
    ax.set_title(f"graph at t = {t_links:.3g} s (positions at {t_pos:.3g} s) — {label}",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return {"t_links": t_links, "t_positions": t_pos, "links": drawn, "routes": routes}


def write_offload_report(traces: list[Trace], labels: list[str], out: Path,
                         numbers: list[int]) -> list[Path]:
    """``offload_summary.csv``/``.md`` over the offloading traces (with each trace's busiest
    routes in the Markdown), and per trace ``NN_<label>_latency.png``, ``_outcomes.png`` and
    ``_graph.png``."""
    table = offload_summary_table(traces, labels)
    f_csv, f_md = out / "offload_summary.csv", out / "offload_summary.md"
    table.to_csv(f_csv, index=False)
    md = [to_markdown(table, OFFLOAD_NOTE)]
    written = [f_csv, f_md]
    for tr, lab, i in zip(traces, labels, numbers, strict=True):
        stem = _stem(i, lab)
        files = [out / f"{stem}_{what}.png" for what in ("latency", "outcomes", "graph")]
        plot_latency_breakdown(tr, lab, files[0])
        plot_outcomes(tr, lab, files[1])
        g = plot_offload_graph(tr, lab, files[2])
        written += files
        routes = g["routes"]
        md.append(f"\n### busiest routes — {lab}\n")
        if len(routes):
            shown = routes.assign(airtime_mean_s=routes.airtime_mean_s.map(lambda v: f"{v:.4g}"))
            md.append(to_markdown(shown.astype(str)))
        else:
            md.append("no hops were transmitted.\n")
    f_md.write_text("".join(md))
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
