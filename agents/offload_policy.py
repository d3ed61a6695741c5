"""A trained task-offloading learner (qdrl and its ablations, ppo-offload, ddpg-offload) as a
kernel policy for ``desim-iov eval`` / ``make_policy(name, app="task_offloading",
checkpoint=..., scenario=...)``: greedy actions of the trained actors; for the learners that
use Alg. 3 the Nash-equilibrium step runs on the digital twin's one-slot model at every epoch,
from the greedy joint action, as in training.

The evaluation scenario gets the learner's fixed settings (the ablations' "no forecaster",
"no DT") and, when it names no forecaster of its own, the digital-twin settings the learner was
trained with (its forecaster checkpoint): the forecast block is part of the learner's input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from agents.offload_blocks import OffloadActorPolicy, OffloadLayout
from agents.registry import ALL_LEARNERS


def _with_training_dt(scenario: Any, saved: dict[str, Any] | None) -> Any:
    dt = getattr(scenario.offload, "dt", None)
    if dt is None or saved is None or dt.predictor != "none":
        return scenario
    saved_dt = ((saved.get("offload") or {}).get("dt")) or {}
    if saved_dt.get("predictor", "none") == "none":
        return scenario
    from desim_iov.env import make_scenario

    return make_scenario(scenario, **{f"offload.dt.{k}": v for k, v in saved_dt.items() if v is not None})


class NashPolicy(OffloadActorPolicy):
    """Greedy actions, then Alg. 3 on the epoch's digital-twin model (``obs.dt.model``)."""

    def __init__(self, name: str, layout: OffloadLayout, act_kind: Any, rounds: int) -> None:
        super().__init__(name, layout, act_kind)
        self.rounds = rounds

    def act(self, observations: Any) -> dict[str, np.ndarray]:
        from agents.nash import allowed_actions, iterated_best_response

        actions = super().act(observations)
        if not observations:
            return actions
        dt = next(iter(observations.values())).dt
        make_model = getattr(dt, "model", None)
        if make_model is None:
            return actions
        kind_of = {a: k for k, kl in self.layout.kinds.items() for a in kl.agents}
        cands = {a: allowed_actions(self.layout.kinds[kind_of[a]].codec, np.asarray(o.mask, bool))
                 for a, o in observations.items()}
        return iterated_best_response(make_model(), actions, cands, self.rounds).actions


def load_offload_policy(name: str, checkpoint: str | Path, cfg: dict[str, Any], state: dict[str, Any],
                        scenario: Any) -> OffloadActorPolicy:
    from agents.train import _agent, make_config, scenario_for
    from desim_iov.env import DesimParallelEnv

    sc = _with_training_dt(scenario_for(name, scenario), cfg.get("scenario"))
    env = DesimParallelEnv(sc)
    layout = OffloadLayout.of_env(env)
    layout.check(cfg["layout"], str(checkpoint))
    mod, _ = _agent(name)
    hyper = {k: v for k, v in cfg["hyper"].items() if k != "use_mask"}
    learner = mod.Learner(env, make_config(name, **hyper), int(cfg["seed"]))
    learner.load_state_dict(state["learner"])
    if getattr(learner, "use_nash", False) and ALL_LEARNERS[name].app == "task_offloading":
        return NashPolicy(name, learner.layout, learner.policy_act, int(hyper.get("nash_rounds", 3)))
    return OffloadActorPolicy(name, learner.layout, learner.policy_act)
