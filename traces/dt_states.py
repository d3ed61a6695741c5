"""Read a task-offloading trace's ``/dt_states`` (schema >= 1.5, docs/TRACE_FORMAT.md) back as
one sequence per agent kind: the digital twin's training data (``desim-iov dt train``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from traces.reader import TraceError, open_trace
from traces.schema import AGENT_KIND_CODE


@dataclass
class KindStates:
    """One agent kind's rows of one trace as a grid: ``slots`` (T,), ``state`` (T, A, n) float32
    (the valid features), ``action`` (T, A, 3) int (the previous slot's action, -1 = none)."""

    slots: np.ndarray
    state: np.ndarray
    action: np.ndarray


@dataclass
class DTStates:
    path: Path
    scenario: dict[str, Any]
    kinds: dict[str, KindStates]


_FIELDS = ("slot", "kind", "index", "n", "state", "action")


def read_dt_states(path: str | Path) -> DTStates:
    """The ``/dt_states`` of trace ``path`` per agent kind (kinds with no agent are left out).
    A trace without it, a dataset lacking a field, a kind code, agent index, state size or
    action out of range, a non-finite state feature, two rows for one agent and slot, or a slot
    missing an agent's row is a one-line TraceError naming the file."""
    tr = open_trace(path)
    if "dt_states" not in tr.datasets:
        raise TraceError(f"{tr.path}: no /dt_states (written by task-offloading runs, trace schema "
                         f">= 1.5; this one is {tr.attrs.get('schema_version')})")
    try:
        scenario = tr.scenario
    except ValueError as e:  # the root attribute is not JSON
        raise TraceError(f"{tr.path}: its scenario attribute is not JSON ({' '.join(str(e).split())})") from None
    rows = tr.array("dt_states")
    names = rows.dtype.names or ()
    missing = [f for f in _FIELDS if f not in names]
    if missing:
        raise TraceError(f"{tr.path}: /dt_states lacks the field(s) {', '.join(missing)}")
    _check_rows(tr.path, rows)
    kinds: dict[str, KindStates] = {}
    for kind, code in AGENT_KIND_CODE.items():
        r = rows[rows["kind"] == code]
        if not len(r):
            continue
        slots, si = np.unique(r["slot"], return_inverse=True)
        agents = int(r["index"].max()) + 1
        ns = np.unique(r["n"])
        if len(ns) != 1:
            raise TraceError(f"{tr.path}: /dt_states of the {kind}s have several state sizes {ns.tolist()}")
        n = int(ns[0])
        if len(r) != len(slots) * agents or len(np.unique(si * agents + r["index"])) != len(r):
            raise TraceError(f"{tr.path}: /dt_states has {len(r)} {kind} rows, expected one per agent "
                             f"and slot ({len(slots)} x {agents})")
        state = np.zeros((len(slots), agents, n), np.float32)
        action = np.zeros((len(slots), agents, 3), np.int64)
        state[si, r["index"]] = r["state"][:, :n]
        action[si, r["index"]] = r["action"]
        kinds[kind] = KindStates(slots, state, action)
    return DTStates(tr.path, scenario, kinds)


def _check_rows(path: Path, rows: np.ndarray) -> None:
    """One-line TraceErrors for rows no run writes (see :func:`read_dt_states`)."""
    odd = [f for f in ("slot", "kind", "index", "n", "action") if rows[f].dtype.kind not in "iu"]
    if odd:
        raise TraceError(f"{path}: /dt_states field(s) {', '.join(odd)} are not integers")
    if rows["action"].shape[1:] != (3,) or rows["state"].ndim != 2:
        raise TraceError(f"{path}: /dt_states has action shape {rows['action'].shape[1:]} and state "
                         f"shape {rows['state'].shape[1:]}, expected (3,) and (features,)")
    width = rows["state"].shape[1]
    with np.errstate(invalid="ignore"):
        nonfinite = (~np.isfinite(rows["state"]) & (np.arange(width) < rows["n"][:, None])).any(axis=1)
    checks = (
        (~np.isin(rows["kind"], list(AGENT_KIND_CODE.values())),
         f"an agent kind code not in {sorted(AGENT_KIND_CODE.values())}"),
        (rows["index"] < 0, "a negative agent index"),
        (rows["n"] > width, f"a state size over the {width} features stored"),
        ((rows["action"] < -1).any(axis=1), "an action below -1 (none)"),
        (nonfinite, "a state feature that is NaN or infinite"),
    )
    for bad, what in checks:
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise TraceError(f"{path}: /dt_states row {i} (slot {rows['slot'][i]}) has {what}")
