"""Exact replay of a recorded run, and what-if replay under another policy.

A trace holds its scenario (with the seed) and every decision. Re-running the scenario with a
:class:`RecordedPolicy` that plays those decisions back must reproduce every packet; running it
with another policy re-uses the same exogenous inputs (mobility, packet arrivals, background
load: the kernel's named random streams) — common random numbers.

Task-offloading traces (root attribute ``app``) hold their decisions in ``/agent_steps``;
:class:`RecordedOffloadPolicy` plays those back and :func:`datasets_of` names the datasets an
exact replay must reproduce. :func:`recorded_policy` picks the player by the trace's app.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from desim_iov.apps.twin_spaces import Observation
from desim_iov.config import ConfigError, Scenario
from desim_iov.decisions import PolicyError
from desim_iov.kinds import VEHICLE_AGENT, agent_id
from traces.reader import Trace, TraceError


class RecordedPolicy:
    """Plays back the ``/decisions`` of a trace: (slot, agent) -> action."""

    name = "recorded"

    def __init__(self, trace: Trace) -> None:
        dec = trace.df("decisions")
        self.source = str(trace.path)
        self._actions = {
            (int(s), agent_id(int(a))): int(x)
            for s, a, x in zip(dec.slot, dec.agent, dec.action, strict=True)
        }

    def reset(self, rng: np.random.Generator) -> None:
        pass

    def act(self, observations: Mapping[str, Observation]) -> dict[str, int]:
        out = {}
        for a, o in observations.items():
            key = (o.slot, a)
            if key not in self._actions:
                raise PolicyError(
                    f"replay diverged: {self.source} has no decision for {a} at slot {o.slot}"
                )
            out[a] = self._actions[key]
        return out


def trace_app(trace: Trace) -> str:
    """The app that wrote ``trace``: its root attribute ``app``, else its scenario's ``app``;
    traces from before the attribute existed are twin migration's."""
    return str(trace.attrs.get("app") or trace.scenario.get("app") or "twin_migration")


class RecordedOffloadPolicy:
    """Plays back the ``/agent_steps`` of a task-offloading trace: (epoch time, agent) ->
    (target, level a, level b).

    /agent_steps holds the action as the kernel applied it (a refused action already replaced);
    a row marked ``refused`` is played back as a masked-out target with the recorded levels,
    which the kernel replaces the same way (the replacement depends only on the mask and the
    rates), so that the replay refuses it again. The epoch is told by the time of the digital
    twin's topology in the observation (the instant of the epoch)."""

    name = "recorded"

    def __init__(self, trace: Trace) -> None:
        st = trace.df("agent_steps")
        self.source = str(trace.path)
        self._actions: dict[tuple[float, str], tuple[int, int, int, bool]] = {}
        for t, kind, i, target, la, lb, refused in zip(
                st.time, st.kind, st["index"], st.target, st.level_a, st.level_b, st.refused,
                strict=True):
            kind = kind.decode() if isinstance(kind, bytes) else str(kind)
            # /agent_steps.target: vehicles the node (N = hold), relays -1 = process or the node
            action_target = int(target) if kind == VEHICLE_AGENT else int(target) + 1
            self._actions[(float(t), agent_id(int(i), kind))] = (
                action_target, int(la), int(lb), bool(refused))

    def reset(self, rng: np.random.Generator) -> None:
        pass

    def act(self, observations: Mapping[str, Any]) -> dict[str, np.ndarray]:
        out = {}
        for a, o in observations.items():
            t = float(o.dt.topology.t)
            key = (t, a)
            if key not in self._actions:
                raise PolicyError(f"replay diverged: {self.source} has no action for {a} at t = {t:g} s")
            target, la, lb, refused = self._actions[key]
            if refused:  # any target outside the mask is replaced as the recorded one was
                n = o.nvec[0]
                outside = np.flatnonzero(np.asarray(o.mask[:n]) == 0)
                if not outside.size:
                    raise PolicyError(f"replay diverged: {self.source} records a refused action "
                                      f"of {a} at t = {t:g} s, but every target is allowed now")
                target = int(outside[0])
            out[a] = np.array([target, la, lb], dtype=np.int64)
        return out


def recorded_policy(trace: Trace) -> RecordedPolicy | RecordedOffloadPolicy:
    """The player of ``trace``'s recorded decisions (by the app that wrote it)."""
    if trace_app(trace) == "task_offloading":
        return RecordedOffloadPolicy(trace)
    return RecordedPolicy(trace)


def scenario_of(trace: Trace) -> Scenario:
    """The scenario a trace was recorded with (validated again)."""
    try:
        return Scenario.model_validate_json(trace.attrs["scenario"])
    except ValueError as e:
        first = str(e).splitlines()[0]
        raise ConfigError(f"{trace.path}: its scenario no longer validates: {first}") from None


@dataclass
class Comparison:
    """Row-by-row comparison of two traces' datasets; ``first_difference`` says, per dataset
    that differs, where it first does (row and fields, or the row counts)."""

    matched: dict[str, int]
    total: dict[str, int]
    first_difference: dict[str, str] = field(default_factory=dict)

    @property
    def identical(self) -> bool:
        return all(self.matched[k] == self.total[k] for k in self.total)

    def lines(self) -> list[str]:
        out = []
        for k in self.total:
            if self.matched[k] == self.total[k]:
                out.append(f"identical: {self.matched[k]}/{self.total[k]} {k}")
            else:
                out.append(f"DIFFERS: {self.matched[k]}/{self.total[k]} {k} identical; "
                           f"{self.first_difference.get(k, 'first difference unknown')}")
        differ = [k for k in self.total if self.matched[k] != self.total[k]]
        out.append("replay: IDENTICAL" if not differ else f"replay: DIFFERS in {', '.join(differ)}")
        return out


DATASETS = ("packets", "migrations", "decisions", "slots", "server_load", "positions")
#: what an exact replay of a task-offloading trace must reproduce
OFFLOAD_DATASETS = ("tasks", "subtasks", "hops", "node_slots", "links", "agent_steps", "positions")
#: datasets written in completion order, aligned by these keys before comparing
SORT_KEYS = {"packets": ["packet_id"], "tasks": ["task"], "subtasks": ["subtask"],
             "hops": ["subtask", "hop"]}


def datasets_of(trace: Trace) -> tuple[str, ...]:
    """The datasets :func:`compare_traces` checks for ``trace``'s app."""
    return OFFLOAD_DATASETS if trace_app(trace) == "task_offloading" else DATASETS


def compare_traces(a: Trace, b: Trace, datasets: tuple[str, ...] | None = None) -> Comparison:
    """Count rows equal byte for byte (NaN-safe) in each dataset (default: those of ``a``'s
    app); datasets written in completion order (``/packets``, ``/tasks``, ``/subtasks``,
    ``/hops``) are aligned by their ids first."""
    matched, total, first = {}, {}, {}
    for name in datasets if datasets is not None else datasets_of(a):
        x, y = a.array(name), b.array(name)
        if name in SORT_KEYS:
            x, y = np.sort(x, order=SORT_KEYS[name]), np.sort(y, order=SORT_KEYS[name])
        n = max(len(x), len(y))
        total[name] = n
        if x.dtype != y.dtype:  # another schema version: compare the columns both have
            common = [f for f in x.dtype.names if f in (y.dtype.names or ())
                      and x.dtype[f] == y.dtype[f]]
            if not common:
                matched[name] = 0
                first[name] = "no column in common (another schema)"
                continue
            x, y = _columns(x, common), _columns(y, common)
        k = min(len(x), len(y))
        width = x.dtype.itemsize
        xb = np.frombuffer(x[:k].tobytes(), dtype=np.uint8).reshape(k, width)
        yb = np.frombuffer(y[:k].tobytes(), dtype=np.uint8).reshape(k, width)
        same = np.all(xb == yb, axis=1)
        matched[name] = int(same.sum())
        if matched[name] != n:
            first[name] = _first_difference(x, y, same)
    return Comparison(matched, total, first)


def _first_difference(x: np.ndarray, y: np.ndarray, same: np.ndarray) -> str:
    """Where two aligned structured arrays first differ: a row and its differing fields (at most
    3, with both values), or their lengths."""
    bad = np.flatnonzero(~same)
    if not bad.size:
        return f"the first {len(same)} rows agree; {len(x)} rows vs {len(y)}"
    i = int(bad[0])
    fields = [f for f in x.dtype.names if x[f][i].tobytes() != y[f][i].tobytes()]
    shown = ", ".join(f"{f} {x[f][i].tolist()!r} vs {y[f][i].tolist()!r}" for f in fields[:3])
    more = f" (+{len(fields) - 3} more fields)" if len(fields) > 3 else ""
    return f"first differing row {i}: {shown}{more}"


def _columns(a: np.ndarray, names: list[str]) -> np.ndarray:
    """A packed copy of the structured array ``a`` with only the fields ``names``."""
    out = np.empty(len(a), dtype=[(n, a.dtype[n]) for n in names])
    for n in names:
        out[n] = a[n]
    return out


def default_replay_path(path: Path, suffix: str) -> Path:
    return path.with_name(f"{path.stem}.{suffix}.h5")


def check_replayable(trace: Trace) -> None:
    if not trace.complete:
        raise TraceError(f"{trace.path}: the run that wrote this trace did not finish; cannot replay")
