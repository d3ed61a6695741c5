"""Exact replay of a recorded run, and what-if replay under another policy.

A trace holds its scenario (with the seed) and every decision. Re-running the scenario with a
:class:`RecordedPolicy` that plays those decisions back must reproduce every packet; running it
with another policy re-uses the same exogenous inputs (mobility, packet arrivals, background
load: the kernel's named random streams) — common random numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from desim_iov.apps.twin_spaces import Observation
from desim_iov.config import ConfigError, Scenario
from desim_iov.decisions import PolicyError
from desim_iov.kinds import agent_id
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


def scenario_of(trace: Trace) -> Scenario:
    """The scenario a trace was recorded with (validated again)."""
    try:
        return Scenario.model_validate_json(trace.attrs["scenario"])
    except ValueError as e:
        first = str(e).splitlines()[0]
        raise ConfigError(f"{trace.path}: its scenario no longer validates: {first}") from None


@dataclass
class Comparison:
    """Row-by-row comparison of two traces' datasets."""

    matched: dict[str, int]
    total: dict[str, int]

    @property
    def identical(self) -> bool:
        return all(self.matched[k] == self.total[k] for k in self.total)

    def lines(self) -> list[str]:
        return [f"identical: {self.matched[k]}/{self.total[k]} {k}" for k in self.total]


DATASETS = ("packets", "migrations", "decisions", "slots", "server_load", "positions")


def compare_traces(a: Trace, b: Trace, datasets: tuple[str, ...] = DATASETS) -> Comparison:
    """Count rows equal byte for byte (NaN-safe) in each dataset; ``/packets`` is aligned by
    packet id (rows are written in completion order)."""
    matched, total = {}, {}
    for name in datasets:
        x, y = a.array(name), b.array(name)
        if name == "packets":
            x, y = np.sort(x, order="packet_id"), np.sort(y, order="packet_id")
        n = max(len(x), len(y))
        total[name] = n
        if x.dtype != y.dtype:  # another schema version: compare the columns both have
            common = [f for f in x.dtype.names if f in (y.dtype.names or ())
                      and x.dtype[f] == y.dtype[f]]
            if not common:
                matched[name] = 0
                continue
            x, y = _columns(x, common), _columns(y, common)
        k = min(len(x), len(y))
        width = x.dtype.itemsize
        xb = np.frombuffer(x[:k].tobytes(), dtype=np.uint8).reshape(k, width)
        yb = np.frombuffer(y[:k].tobytes(), dtype=np.uint8).reshape(k, width)
        matched[name] = int(np.all(xb == yb, axis=1).sum())
    return Comparison(matched, total)


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
