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


def read_dt_states(path: str | Path) -> DTStates:
    """The ``/dt_states`` of trace ``path`` per agent kind (kinds with no agent are left out).
    A trace without it, or with a slot missing an agent's row, is a one-line TraceError."""
    tr = open_trace(path)
    if "dt_states" not in tr.datasets:
        raise TraceError(f"{tr.path}: no /dt_states (written by task-offloading runs, trace schema "
                         f">= 1.5; this one is {tr.attrs.get('schema_version')})")
    rows = tr.array("dt_states")
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
        if len(r) != len(slots) * agents:
            raise TraceError(f"{tr.path}: /dt_states has {len(r)} {kind} rows, expected one per agent "
                             f"and slot ({len(slots)} x {agents})")
        state = np.zeros((len(slots), agents, n), np.float32)
        action = np.zeros((len(slots), agents, 3), np.int64)
        state[si, r["index"]] = r["state"][:, :n]
        action[si, r["index"]] = r["action"]
        kinds[kind] = KindStates(slots, state, action)
    return DTStates(tr.path, tr.scenario, kinds)
