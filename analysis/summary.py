"""Run metrics recomputed from a trace: twin-migration Eq. 13–16 as the paper's per-slot
formulas, beside the same quantities measured packet by packet."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.objectives import (
    ShapedReward,
    load_variance,
    objectives,
    packet_loss_rate,
    server_load_bits,
)
from traces.reader import Trace, open_trace
from traces.schema import OUTCOME_CODE, OUTCOMES


@dataclass
class Summary:
    per_vehicle: pd.DataFrame
    total: dict[str, float]
    drops: dict[str, int]


def reached_s(tr: Trace, slots: pd.DataFrame, pk: pd.DataFrame) -> float:
    """The simulated time a trace covers: the planned duration when the run finished, else the
    end of its last recorded slot or the last packet event it flushed, whichever is later
    (never more than planned). Rates per hour of an incomplete run divide by this."""
    planned = float(tr.scenario["duration"])
    if tr.complete:
        return planned
    ends = [0.0]
    if len(slots):
        ends.append((float(slots.slot.max()) + 1.0) * float(tr.scenario["slot"]))
    if len(pk):
        ends.append(float(np.nanmax(np.r_[pk.created.to_numpy(float), pk.finished.to_numpy(float)])))
    return min(planned, max(ends))


def summarize(trace: Trace | str) -> Summary:
    tr = trace if isinstance(trace, Trace) else open_trace(trace)
    sc = tr.scenario
    slot_len = float(sc["slot"])
    slot_bits = float(sc["vehicles"]["traffic"]["data_rate"]) * slot_len
    pk = tr.df("packets")
    slots = tr.df("slots")
    mig = tr.df("migrations")
    load = tr.df("server_load")
    # every vehicle of the scenario, also one that never drove (no packet, no slot)
    n_veh = max(int(sc["vehicles"]["count"]), int(pk.vehicle.max()) + 1 if len(pk) else 0,
                int(slots.vehicle.max()) + 1 if len(slots) else 0)

    delivered = pk.outcome == OUTCOME_CODE["delivered"]
    unfinished = pk.outcome == OUTCOME_CODE["in_flight_at_end"]
    dropped = ~delivered & ~unfinished
    lat = (pk.finished - pk.created).where(delivered)
    pk = pk.assign(latency=lat, slot=np.floor(pk.created / slot_len).astype(int))

    rows = []
    for v in range(n_veh):
        p = pk[pk.vehicle == v]
        sv = slots[slots.vehicle == v]
        finished = int((~(p.outcome == OUTCOME_CODE["in_flight_at_end"])).sum())
        ndrop = int((dropped[pk.vehicle == v]).sum())
        per_slot_mean = p.dropna(subset=["latency"]).groupby("slot").latency.mean()
        rows.append(
            {
                "vehicle": v,
                "generated": len(p),
                "delivered": int(p.latency.notna().sum()),
                "dropped": ndrop,
                "loss_measured": ndrop / finished if finished else 0.0,
                "loss_formula_q": float(packet_loss_rate(sv.failed.to_numpy())) if len(sv) else 0.0,
                "latency_mean_s": float(p.latency.mean()) if p.latency.notna().any() else float("nan"),
                "latency_p95_s": float(p.latency.quantile(0.95)) if p.latency.notna().any() else float("nan"),
                "O_T_formula_s": float(sv.t_sum[np.isfinite(sv.t_sum)].sum()),
                "O_T_measured_s": float(per_slot_mean.sum()),
                "migrations": int((mig.vehicle == v).sum()),
                "migrations_formula": int(sv.migrated.sum()),
                "slots": int(len(sv)),
                # the workload S'_m(t) of the server hosting this vehicle's twin (Eq. 8), mean
                # over its slots: the per-vehicle side of the load that O_V measures over servers
                "host_load_mean_bit": float(sv.load[np.isfinite(sv.load)].mean())
                if np.isfinite(sv.load).any() else float("nan"),
            }
        )
    per_vehicle = pd.DataFrame(rows)

    # O_V: per slot, variance over servers of S'(t) (Eq. 8 on the loads sampled at the slot
    # start) — formula; and of the loads measured over the slot — measured
    m = int(load.server.max()) + 1 if len(load) else 0
    var_formula, var_measured = [], []
    for k, sv in slots.groupby("slot"):
        t0 = k * slot_len
        at = load[np.isclose(load.time, t0)].sort_values("server")
        if len(at) != m:
            continue
        pending = at.load.to_numpy()
        assign = np.full(n_veh, -1)
        assign[sv.vehicle.to_numpy()] = sv.server.to_numpy()
        var_formula.append(float(load_variance(server_load_bits(pending, assign, slot_bits))))
        within = load[(load.time >= t0) & (load.time < t0 + slot_len)]
        mean_load = within.groupby("server").load.mean().reindex(range(m), fill_value=0.0)
        var_measured.append(float(load_variance(mean_load.to_numpy())))
    t_sum = slots.t_sum.to_numpy()
    finite = np.isfinite(t_sum)  # a slot whose host has no usable link has T^sum = inf (Eq. 6)
    obj = objectives(t_sum[finite], np.array(var_formula), per_vehicle.loss_formula_q.to_numpy())
    finished = int((~unfinished).sum())
    shaper = ShapedReward(**sc.get("reward", {"w_latency": 1.0, "w_load": 1.0, "w_failure": 1.0,
                                              "latency_cap": 300.0}))
    rewards = [shaper(g.t_sum.to_numpy(), g.load.to_numpy(), g.failed.to_numpy())
               for _, g in slots.groupby("slot", sort=True)]
    total = {
        "packets_generated": int(len(pk)),
        "packets_delivered": int(delivered.sum()),
        "packets_dropped": int(dropped.sum()),
        "packets_in_flight_at_end": int(unfinished.sum()),
        "loss_measured": float(dropped.sum() / finished) if finished else 0.0,
        "latency_mean_s": float(lat.mean()) if delivered.any() else float("nan"),
        "latency_p95_s": float(lat.quantile(0.95)) if delivered.any() else float("nan"),
        "reward_mean": float(np.mean(np.concatenate(rewards))) if rewards else float("nan"),
        "O_T_formula_s": obj["O_T"],
        "slots_without_link": int((~finite).sum()),
        "O_T_measured_s": float(per_vehicle.O_T_measured_s.sum()),
        "O_V_formula_bit2": obj["O_V"],
        "O_V_measured_bit2": float(np.sum(var_measured)),
        "O_D_formula": obj["O_D"],
        "O_D_measured": float(per_vehicle.loss_measured.sum()),
        "migrations": int(len(mig)),
        "migrations_formula": int(slots.migrated.sum()),
        "O_V_formula_per_slot_bit2": float(np.mean(var_formula)) if var_formula else float("nan"),
        "host_load_mean_bit": float(slots.load[np.isfinite(slots.load)].mean())
        if len(slots) and np.isfinite(slots.load).any() else float("nan"),
        "slots": int(slots.slot.nunique()) if len(slots) else 0,
        "vehicles": int(n_veh),
        "duration_s": reached_s(tr, slots, pk),  # simulated time the trace covers
        "duration_planned_s": float(sc["duration"]),
        "complete": int(tr.complete),
    }
    drops = {OUTCOMES[c]: int((pk.outcome == c).sum()) for c in OUTCOMES if c != 0}
    return Summary(per_vehicle=per_vehicle, total=total, drops=drops)


def format_summary(sm: Summary, title: str = "") -> str:
    """A plain-text table for the terminal."""
    t = sm.total
    lines = [title] if title else []
    pv = sm.per_vehicle.copy()
    cols = ["vehicle", "generated", "delivered", "dropped", "loss_measured", "loss_formula_q",
            "latency_mean_s", "latency_p95_s", "migrations"]
    lines.append(pv[cols].to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    lines.append("")
    width = max(len(k) for k in t)
    for k, v in t.items():
        lines.append(f"{k:<{width}}  {v:.6g}" if isinstance(v, float) else f"{k:<{width}}  {v}")
    lines.append("drops: " + ", ".join(f"{k}={v}" for k, v in sm.drops.items()))
    return "\n".join(lines)
