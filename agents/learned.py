"""Factories of the learning agents ``dm-mappo``, ``mappo``, ``masac``, ``masac-nomask``
(their entries are in agents/registry.py). Importing this module is cheap (torch loads only
when a policy is made). Each factory needs ``checkpoint=`` (a ``checkpoint.pt`` written by
:func:`agents.train.train`) and ``scenario=`` (preset name, YAML path or Scenario) and raises a
one-line ``TypeError`` without them, which ``make_policy`` reports as a ``KeyError``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agents.base import Policy
from agents.registry import LEARNED

__all__ = ["LEARNED", "learned_policy"]


def learned_policy(name: str, *, checkpoint: str | Path | None = None, scenario: Any = None) -> Policy:
    """The greedy trained actor of ``checkpoint`` (agents.train.load_policy)."""
    if checkpoint is None or scenario is None:
        raise TypeError(f"policy {name!r} is learned: it needs checkpoint=PATH (a checkpoint.pt "
                        f"written by train) and scenario=")
    from agents.train import load_policy

    return load_policy(name, checkpoint, scenario)
