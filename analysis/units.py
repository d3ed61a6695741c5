"""The unit of every column the report writes (issue 14 item 5): a column's name ends in its
unit (``_s``, ``_J``, ``_bit``, ``_bit2``, ``_MB2``, ``_h``), or it is a count, a share or a
label listed here. A name never means two units: the report's tests hold every CSV column to
this table, and ``docs/TRACE_FORMAT.md`` lists it."""

from __future__ import annotations

#: name suffix -> unit
SUFFIXES = {"_s": "s", "_J": "J", "_bit": "bit", "_bit2": "bit²", "_MB2": "MB²", "_per_vehicle_h": "1/(vehicle h)"}

#: columns without a unit suffix -> their unit ("count", "share" in [0, 1], "label", "1" dimensionless)
NAMED = {
    # labels
    "trace": "label", "vehicle": "label", "group": "label", "seeds": "label",
    # counts
    "generated": "count", "delivered": "count", "dropped": "count", "migrations": "count",
    "migrations_formula": "count", "slots": "count", "vehicles": "count", "n": "count", "n_seeds": "count",
    "tasks": "count", "subtasks": "count", "processed_in_time": "count", "processed_late": "count",
    "edge_vanished": "count", "hop_limit": "count", "in_flight_at_end": "count", "tasks_released": "count",
    "tasks_no_link": "count", "tasks_held_at_end": "count", "processed": "count", "refused": "count",
    "complete": "count",
    # shares and means of counts
    "loss_measured": "share", "loss_formula_q": "share", "deadline_hit_rate": "share", "hops_mean": "hops",
    # dimensionless scores
    "reward_mean": "1", "qos_mean": "1/s - J (Eq. 48 mixes them)", "qos_norm_mean": "1 (Eq. 93)",
}


def unit_of(column: str) -> str | None:
    """The unit of a report column, or None when it has none (a defect: add it here)."""
    base = column
    for tail in ("_ci95_lo", "_ci95_hi", "_ci95"):
        base = base.removesuffix(tail)
    if base in NAMED:
        return NAMED[base]
    for suffix, unit in sorted(SUFFIXES.items(), key=lambda kv: -len(kv[0])):
        if base.endswith(suffix):
            return unit
    return None


def markdown_table() -> str:
    rows = ["| column or suffix | unit |", "|---|---|"]
    rows += [f"| `*{s}` | {u} |" for s, u in SUFFIXES.items()]
    rows += [f"| `{c}` | {u} |" for c, u in NAMED.items()]
    return "\n".join(rows)
