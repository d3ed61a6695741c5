"""Run metrics of a task-offloading trace (schema 1.4: /tasks, /subtasks, /hops, /agent_steps),
per vehicle and in total.

Definitions (docs/TRACE_FORMAT.md):

- *processed*: subtasks whose outcome is ``processed_in_time`` or ``processed_late``; latency
  (``/subtasks.latency``: finished − released), hops, QoS and the per-subtask energies are
  averaged over these only (the other outcomes have no latency or QoS, and spent only part of
  their energy);
- *deadline hit rate*: ``deadline_met`` among processed subtasks;
- *completed tasks*: tasks every subtask of which is processed; a task's latency runs from its
  creation (``/tasks.created``) to the end of its last subtask (``tasks_completed``,
  ``task_latency_mean_s``, ``task_latency_total_s``);
- *hops*: relay hops after the access hop (``/subtasks.hops``; 0 = processed where it landed);
- energy totals: sums over every /subtasks row (what was spent, whatever the outcome):
  vehicle transmit (``e_tx_vehicle``), relay transmit (``e_tx_relay``), processing (``e_proc``);
- QoS: Eq. 48 (``qos``) and its normalised form Eq. 93 (``qos_norm``), means over processed;
- refused: /agent_steps rows whose action lay outside the mask (replaced by the kernel).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from desim_iov.replay import trace_app  # noqa: F401  (re-exported: the analysis dispatches on it)
from traces.reader import Trace, open_trace
from traces.schema import SUBTASK_CODE, SUBTASK_OUTCOMES, TASK_STATUS

PROCESSED = (SUBTASK_CODE["processed_in_time"], SUBTASK_CODE["processed_late"])
ENERGIES = ("e_tx_vehicle", "e_tx_relay", "e_proc")
AGENT_KINDS = ("vehicle", "uav", "bs")


@dataclass
class OffloadSummary:
    per_vehicle: pd.DataFrame
    total: dict[str, float]
    outcomes: dict[str, int]  # every SUBTASK_OUTCOMES name -> subtasks
    task_status: dict[str, int]  # every TASK_STATUS name -> tasks


def _mean(x: pd.Series) -> float:
    return float(x.mean()) if len(x) else float("nan")


def _quantile(x: pd.Series, q: float) -> float:
    return float(x.quantile(q)) if len(x) else float("nan")


def _metrics(sub: pd.DataFrame, tasks: pd.DataFrame, refused: int) -> dict[str, float]:
    """The metrics of one group of /subtasks and /tasks rows (a vehicle, or all)."""
    proc = sub[sub.outcome.isin(PROCESSED)]
    out: dict[str, float] = {"tasks": int(len(tasks)), "subtasks": int(len(sub))}
    for code, name in SUBTASK_OUTCOMES.items():
        out[name] = int((sub.outcome == code).sum())
    for code, name in TASK_STATUS.items():
        out[f"tasks_{name}"] = int((tasks.status == code).sum())
    out["processed"] = int(len(proc))
    # a task is completed when every one of its subtasks is processed; its latency runs from
    # its creation to its last subtask's end (what the vehicle waits for)
    per_task = sub.groupby("task").agg(n=("outcome", "size"), done=("outcome", lambda o: o.isin(PROCESSED).all()),
                                       end=("finished", "max"))
    per_task = per_task.join(tasks.set_index("task")[["created", "n_sub"]], how="inner")
    done = per_task[per_task.done & (per_task.n == per_task.n_sub)]
    task_lat = done.end - done.created
    out["tasks_completed"] = int(len(done))
    out["task_latency_mean_s"] = _mean(task_lat)
    out["task_latency_total_s"] = float(task_lat.sum())
    out["latency_mean_s"] = _mean(proc.latency)
    out["latency_p50_s"] = _quantile(proc.latency, 0.50)
    out["latency_p95_s"] = _quantile(proc.latency, 0.95)
    out["deadline_hit_rate"] = float(proc.deadline_met.mean()) if len(proc) else float("nan")
    out["hops_mean"] = _mean(proc.hops)
    for col in ("t_tx", "t_queue", "t_proc"):
        out[f"{col}_mean_s"] = _mean(proc[col])
    for col in ENERGIES:
        out[f"{col}_J"] = float(sub[col].sum())
    out["energy_J"] = float(sum(out[f"{c}_J"] for c in ENERGIES))
    for col in ENERGIES:
        out[f"{col}_per_subtask_J"] = _mean(proc[col])
    out["qos_mean"] = _mean(proc.qos)
    out["qos_norm_mean"] = _mean(proc.qos_norm)
    out["refused"] = int(refused)
    return out


def _kinds(steps: pd.DataFrame) -> pd.Series:
    return steps["kind"].map(lambda k: k.decode() if isinstance(k, bytes) else str(k))


def summarize_offload(trace: Trace | str) -> OffloadSummary:
    """Per-vehicle table (one row per vehicle of the scenario, also one that never had a task)
    and totals of an offloading trace."""
    tr = trace if isinstance(trace, Trace) else open_trace(trace)
    sc = tr.scenario
    sub, tasks, steps = tr.df("subtasks"), tr.df("tasks"), tr.df("agent_steps")
    kind = _kinds(steps)
    n_veh = max(int(sc["vehicles"]["count"]),
                int(sub.vehicle.max()) + 1 if len(sub) else 0,
                int(tasks.vehicle.max()) + 1 if len(tasks) else 0)
    veh_refused = steps[(kind == "vehicle") & (steps.refused == 1)].groupby("index").size()
    rows = []
    for v in range(n_veh):
        rows.append({"vehicle": v, **_metrics(sub[sub.vehicle == v], tasks[tasks.vehicle == v],
                                              int(veh_refused.get(v, 0)))})
    per_vehicle = pd.DataFrame(rows)

    m = _metrics(sub, tasks, int(steps.refused.sum()))
    outcomes = {name: m.pop(name) for name in SUBTASK_OUTCOMES.values()}
    task_status = {name: m.pop(f"tasks_{name}") for name in TASK_STATUS.values()}
    total: dict[str, float] = {
        "tasks_generated": m.pop("tasks"),
        "subtasks_generated": m.pop("subtasks"),
        **m,
    }
    for k in AGENT_KINDS:
        total[f"refused_{k}"] = int(((kind == k) & (steps.refused == 1)).sum())
    total["agent_steps"] = int(len(steps))
    total["hop_rows"] = int(len(tr.array("hops")))
    total["vehicles"] = int(n_veh)
    total["duration_s"] = float(sc["duration"])
    return OffloadSummary(per_vehicle=per_vehicle, total=total, outcomes=outcomes,
                          task_status=task_status)


def flat_totals(sm: OffloadSummary) -> dict[str, float]:
    """Totals with the outcome and task-status counts as ``subtasks_<outcome>`` and
    ``tasks_<status>`` (one flat mapping: the what-if comparison of `desim-iov replay`)."""
    out = dict(sm.total)
    out.update({f"subtasks_{k}": v for k, v in sm.outcomes.items()})
    out.update({f"tasks_{k}": v for k, v in sm.task_status.items()})
    return out


PER_VEHICLE_COLUMNS = ["vehicle", "tasks", "subtasks", "processed", *SUBTASK_OUTCOMES.values(),
                       "latency_mean_s", "latency_p95_s", "deadline_hit_rate", "hops_mean",
                       "energy_J", "qos_mean", "qos_norm_mean", "refused"]


def format_offload_summary(sm: OffloadSummary, title: str = "") -> str:
    """A plain-text table for the terminal: per vehicle, then the totals, the outcomes by
    reason and the task status counts."""
    lines = [title] if title else []
    pv = sm.per_vehicle
    cols = [c for c in PER_VEHICLE_COLUMNS if c in pv.columns]
    lines.append(pv[cols].to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    lines.append("")
    t = sm.total
    width = max(len(k) for k in t)
    for k, v in t.items():
        lines.append(f"{k:<{width}}  {v:.6g}" if isinstance(v, float) else f"{k:<{width}}  {v}")
    lines.append("subtask outcomes: " + ", ".join(f"{k}={v}" for k, v in sm.outcomes.items()))
    lines.append("task status: " + ", ".join(f"{k}={v}" for k, v in sm.task_status.items()))
    return "\n".join(lines)
