"""Registry entries of the learning agents (agents/base.py): ``dm-mappo``, ``mappo``,
``masac``, ``masac-nomask``. Importing this module is cheap (torch loads only when a policy is
made). Each factory needs ``checkpoint=`` (a ``checkpoint.pt`` written by
:func:`agents.train.train`) and ``scenario=`` (preset name, YAML path or Scenario) and raises a
one-line ``TypeError`` without them, which ``make_policy`` reports as a ``KeyError``.

``agents.base.policy_names()`` imports it with the other policy modules.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from agents.base import Policy, register

LEARNED: dict[str, str] = {
    "dm-mappo": "DM-MAPPO: shared-actor MAPPO with the dynamic action mask (Eq. 23-33); needs checkpoint=",
    "mappo": "MAPPO without the action mask (the paper's ablation, Fig. 9); needs checkpoint=",
    "masac": "discrete multi-agent SAC with the action mask; needs checkpoint=",
    "masac-nomask": "discrete multi-agent SAC without the action mask; needs checkpoint=",
}


def _factory(name: str) -> Callable[..., Policy]:
    def factory(*, checkpoint: str | Path | None = None, scenario: Any = None) -> Policy:
        if checkpoint is None or scenario is None:
            raise TypeError(f"policy {name!r} is learned: it needs checkpoint=PATH (a checkpoint.pt "
                            f"written by train) and scenario=")
        from agents.train import load_policy

        return load_policy(name, checkpoint, scenario)

    return factory


for _name, _help in LEARNED.items():
    register(_name, _help)(_factory(_name))
