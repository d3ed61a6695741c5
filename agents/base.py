"""The one Policy protocol every decision maker satisfies (DESIGN.md Sec. 6), and making a
policy by name from the table in agents/registry.py."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np

from agents.registry import factory_of, table_of
from desim_iov.apps.twin_spaces import Observation


@runtime_checkable
class Policy(Protocol):
    """``act`` maps each agent's observation to a server index; ``reset`` hands the policy its
    own random stream (so exploration never perturbs mobility or traffic)."""

    name: str

    def reset(self, rng: np.random.Generator) -> None: ...

    def act(self, observations: Mapping[str, Observation]) -> dict[str, int]: ...


@runtime_checkable
class HindsightPolicy(Policy, Protocol):
    """A reference that may read the run's documented hindsight view (the oracle): the kernel
    calls ``bind(view)`` once, before the run, with the app's view
    (desim_iov/apps/twin_hindsight.py). No learner or heuristic has ``bind``: they see only
    their observations."""

    def bind(self, view: Any) -> None: ...


class HindsightReference:
    """Shared by the hindsight references (``oracle``, ``hindsight``): the kernel hands them
    the app's documented hindsight view through :meth:`bind` before the run; :meth:`viewed`
    refuses to act without it. No random stream: they are deterministic."""

    name = "?"

    def __init__(self) -> None:
        self.view: Any = None

    def reset(self, rng: np.random.Generator) -> None:
        pass

    def bind(self, view: Any) -> None:
        self.view = view

    def viewed(self) -> Any:
        if self.view is None:
            raise RuntimeError(f"the {self.name} policy needs the run's view: Simulation binds it")
        return self.view


def policy_names(app: str = "twin_migration") -> dict[str, str]:
    """name -> one-line description of every policy registered for ``app`` (agents/registry.py)."""
    return {name: entry.help for name, entry in sorted(table_of(app).items())}


def make_policy(name: str, *, app: str = "twin_migration", **params: Any) -> Policy:
    """The policy registered as ``name`` for the scenario's ``app``, built with ``params``;
    unknown names and bad parameters raise one-line ``KeyError``s."""
    if name not in table_of(app):
        raise KeyError(f"unknown policy {name!r} for app {app} (allowed: {', '.join(policy_names(app))})")
    factory = factory_of(name, app)
    try:
        return factory(**params)
    except (TypeError, ValueError) as e:
        # the user's parameters only (a Scenario object passed along would fill the line)
        shown = {k: v for k, v in params.items() if k != "scenario"}
        raise KeyError(f"policy {name!r}: bad parameters {shown}: {e}") from None
