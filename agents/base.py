"""The one Policy protocol every decision maker satisfies (DESIGN.md Sec. 6), and the registry
of named policies."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np

from desim_iov.apps.twin_spaces import Observation


@runtime_checkable
class Policy(Protocol):
    """``act`` maps each agent's observation to a server index; ``reset`` hands the policy its
    own random stream (so exploration never perturbs mobility or traffic)."""

    name: str

    def reset(self, rng: np.random.Generator) -> None: ...

    def act(self, observations: Mapping[str, Observation]) -> dict[str, int]: ...


_REGISTRY: dict[str, tuple[Callable[..., Policy], str]] = {}


def register(name: str, help: str) -> Callable[[Callable[..., Policy]], Callable[..., Policy]]:
    def deco(factory: Callable[..., Policy]) -> Callable[..., Policy]:
        _REGISTRY[name] = (factory, help)
        return factory

    return deco


def policy_names() -> dict[str, str]:
    """name -> one-line description of every registered policy."""
    import agents.heuristics  # noqa: F401  (modules register their policies on import)
    import agents.learned  # noqa: F401  (cheap: torch loads when a learned policy is made)
    import agents.oracle  # noqa: F401

    return {k: v[1] for k, v in sorted(_REGISTRY.items())}


def make_policy(name: str, **params: Any) -> Policy:
    names = policy_names()
    if name not in names:
        raise KeyError(f"unknown policy {name!r} (allowed: {', '.join(names)})")
    factory = _REGISTRY[name][0]
    try:
        return factory(**params)
    except (TypeError, ValueError) as e:
        # the user's parameters only (a Scenario object passed along would fill the line)
        shown = {k: v for k, v in params.items() if k != "scenario"}
        raise KeyError(f"policy {name!r}: bad parameters {shown}: {e}") from None
