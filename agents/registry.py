"""The named policies (DESIGN.md Sec. 6–7), declared in one table: name -> where its factory
lives (``"module:callable"``) and a one-line help. A policy's module is imported only when that
policy is made (:func:`agents.base.make_policy`), so listing the names imports neither torch
nor scipy, and no policy module needs to import the registry."""

from __future__ import annotations

import functools
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
}


class Learner(NamedTuple):
    algorithm: str  # the module that trains it (agents.train reads it)
    use_mask: bool  # trained and evaluated with the kernel's action mask (Eq. 23)
    help: str
    app: str = "twin_migration"
    hyper: dict[str, Any] = {}  # the algorithm's Config fields this variant fixes
    overrides: tuple[str, ...] = ()  # scenario settings this variant fixes (ablations)
    forecast: bool = False  # uses the digital twin's forecaster (offloading "with LSTM")


#: the trained agents: `desim-iov train --agent NAME`; as policies they need checkpoint= and
#: scenario= (agents.learned.learned_policy)
LEARNERS: dict[str, Learner] = {
    "dm-mappo": Learner("agents.dm_mappo", True, "DM-MAPPO: shared-actor MAPPO with the dynamic "
                        "action mask (Eq. 23-33); needs checkpoint="),
    "mappo": Learner("agents.dm_mappo", False,
                     "MAPPO without the action mask (the paper's ablation, Fig. 9); needs checkpoint="),
    "masac": Learner("agents.masac", True, "discrete multi-agent SAC with the action mask; needs checkpoint="),
    "masac-nomask": Learner("agents.masac", False,
                            "discrete multi-agent SAC without the action mask; needs checkpoint="),
}
POLICIES.update({name: Entry("agents.learned:learned_policy", lr.help) for name, lr in LEARNERS.items()})

# name -> help of the trained agents (the CLI passes them the scenario)
LEARNED: dict[str, str] = {name: lr.help for name, lr in LEARNERS.items()}

#: the task-offloading learners (quantum-DRL paper, Figs. 3-7): `desim-iov train --agent NAME
#: --scenario offload-urban`; the "with LSTM" ones need the digital twin's forecaster
#: (offload.dt.predictor; `train` fits one first when the scenario has none)
OFFLOAD_LEARNERS: dict[str, Learner] = {
    "qdrl": Learner("agents.qdrl", True, "offloading: multi-agent quantum actor-critic + DT peephole-LSTM "
                    "forecast + Nash-equilibrium step (Alg. 1-3, the proposed method); needs checkpoint=",
                    "task_offloading", forecast=True),
    "qdrl-sa": Learner("agents.qdrl", True, "offloading: single-agent quantum-DRL (one circuit and critic for "
                       "every decision, team reward, no Alg. 3); needs checkpoint=", "task_offloading",
                       {"shared": True}, forecast=True),
    "qdrl-nolstm": Learner("agents.qdrl", True, "offloading: quantum-DRL with the DT but no forecaster "
                           "(Fig. 4-5 ablation); needs checkpoint=", "task_offloading",
                           overrides=("offload.dt.predictor=none",)),
    "qdrl-nodt": Learner("agents.qdrl", True, "offloading: quantum-DRL without the digital twin (local states, "
                         "no forecast, no Alg. 3; Fig. 5 ablation); needs checkpoint=", "task_offloading",
                         {"nash": False}, ("offload.dt.enabled=false", "offload.dt.predictor=none")),
    "ppo-offload": Learner("agents.ppo_offload", True, "offloading: multi-agent PPO with the DT forecast "
                           "(Fig. 3-4 baseline); needs checkpoint=", "task_offloading", forecast=True),
    "ddpg-offload": Learner("agents.ddpg_offload", True, "offloading: multi-agent DDPG (Gumbel-softmax) with the "
                            "DT forecast (Fig. 3-4 baseline); needs checkpoint=", "task_offloading", forecast=True),
}

#: every learner of both apps by name (agents.train)
ALL_LEARNERS: dict[str, Learner] = {**LEARNERS, **OFFLOAD_LEARNERS}

#: the learners that also collect their rollouts from the batched slot env (desim_iov/vector,
#: `desim-iov train --envs N`): the twin-migration ones and MA-PPO on task offloading
BATCHED_ROLLOUTS: tuple[str, ...] = (*LEARNERS, "ppo-offload")

#: the task-offloading app's policies (quantum-DRL paper baselines): a name may mean a
#: different policy in each app ("random")
OFFLOAD_POLICIES: dict[str, Entry] = {
    "nearest": Entry("agents.offload_heuristics:NearestPolicy",
                     "offloading: nearest BS/UAV with a link; relays process locally"),
    "max-rate": Entry("agents.offload_heuristics:MaxRatePolicy",
                      "offloading: BS/UAV of the highest access rate; relays process locally"),
    "min-latency": Entry("agents.offload_heuristics:MinLatencyPolicy",
                         "offloading: shortest predicted delay on the DT graph (Dijkstra); relays "
                         "forward when a successor finishes sooner"),
    "random": Entry("agents.offload_heuristics:RandomOffloadPolicy",
                    "offloading: every action component uniformly among the allowed values"),
    "hindsight": Entry("agents.offload_oracle:HindsightOffloadPolicy",
                       "offloading: per-slot best assignment on the true CPU frequencies and rates; "
                       "a reference"),
}
OFFLOAD_POLICIES.update({name: Entry("agents.learned:learned_policy", lr.help)
                         for name, lr in OFFLOAD_LEARNERS.items()})

#: ``app`` -> its policy table
POLICY_TABLES: dict[str, dict[str, Entry]] = {"twin_migration": POLICIES,
                                              "task_offloading": OFFLOAD_POLICIES}


def table_of(app: str) -> dict[str, Entry]:
    if app not in POLICY_TABLES:
        raise KeyError(f"unknown app {app!r} (allowed: {', '.join(POLICY_TABLES)})")
    return POLICY_TABLES[app]


def factory_of(name: str, app: str = "twin_migration") -> Callable[..., Any]:
    """The factory of a policy registered for ``app``, its module imported now."""
    module, attr = table_of(app)[name].factory.split(":")
    factory = getattr(importlib.import_module(module), attr)
    learned = LEARNERS if app == "twin_migration" else OFFLOAD_LEARNERS
    return functools.partial(factory, name) if name in learned else factory
