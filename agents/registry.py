"""The named policies (DESIGN.md Sec. 6–7), declared in one table: name -> where its factory
lives (``"module:callable"``) and a one-line help. A policy's module is imported only when that
policy is made (:func:`agents.base.make_policy`), so listing the names imports neither torch
nor scipy, and no policy module needs to import the registry."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, NamedTuple


class Entry(NamedTuple):
    factory: str  # "module:callable", called with the user's parameters
    help: str  # one line, shown by `desim-iov policies`


POLICIES: dict[str, Entry] = {
    "random": Entry("agents.heuristics:RandomPolicy",
                    "uniformly random host each slot (paper's Random)"),
    "greedy": Entry("agents.heuristics:GreedyPolicy",
                    "nearest server, 10 % random exploration (paper's Greedy)"),
    "least-loaded": Entry("agents.heuristics:LeastLoadedPolicy",
                          "feasible RSU/UAV with the least workload, ties to the nearest"),
    "oracle": Entry("agents.oracle:OraclePolicy",
                    "hindsight per-slot joint optimum of the Eq. 22 objective (MILP); a reference"),
    "dm-mappo": Entry("agents.learned:dm_mappo",
                      "DM-MAPPO: shared-actor MAPPO with the dynamic action mask (Eq. 23-33); "
                      "needs checkpoint="),
    "mappo": Entry("agents.learned:mappo",
                   "MAPPO without the action mask (the paper's ablation, Fig. 9); needs checkpoint="),
    "masac": Entry("agents.learned:masac",
                   "discrete multi-agent SAC with the action mask; needs checkpoint="),
    "masac-nomask": Entry("agents.learned:masac_nomask",
                          "discrete multi-agent SAC without the action mask; needs checkpoint="),
}

# the trained agents (name -> help): their factories need checkpoint= and scenario=
LEARNED: dict[str, str] = {
    name: e.help for name, e in POLICIES.items() if e.factory.startswith("agents.learned:")
}


def factory_of(name: str) -> Callable[..., Any]:
    """The factory of a registered policy, its module imported now."""
    module, attr = POLICIES[name].factory.split(":")
    return getattr(importlib.import_module(module), attr)
