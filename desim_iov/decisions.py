"""The generic decision process: periodic epochs at which the app's agents observe and act
(DESIGN.md Sec. 3), with a policy inside the run or under external control
(``Simulation.advance``/``act``: PettingZoo envs, replay).

At each epoch the app builds every acting agent's observation and int8 action mask (1 =
allowed) from the kernel's state; the policy maps observations to actions; the app applies
them at the epoch's instant. Without a policy the process stops the clock at the epoch
(``pending``) until :meth:`DecisionProcess.act` applies the actions and resumes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import simpy


class PolicyError(RuntimeError):
    """A policy returned something the kernel cannot apply."""


@dataclass(frozen=True)
class AgentSpec:
    """One agent: its id (``desim_iov.kinds.agent_id``), kind (vehicle, uav, bs) and its own
    gymnasium observation and action spaces."""

    agent: str
    kind: str
    observation_space: Any
    action_space: Any


class DecisionProcess:
    """Decision epochs of one run. ``policy`` None: external control."""

    def __init__(self, env: simpy.Environment, app: Any, policy: Any) -> None:
        self.env, self.app, self.policy = env, app, policy
        self.policy_name = getattr(policy, "name", "external")
        self.pending: dict[str, Any] | None = None
        self._waiting: simpy.Event | None = None

    def epoch(self, slot: int, t: float):
        """Process fragment run by the clock (``yield from``) at each epoch."""
        obs = self.app.observe(slot, t)
        if not obs:
            return
        if self.policy is not None:
            self.app.apply(self.policy.act(obs), self.policy_name)
        else:  # external control: act() applies the actions, then resumes the clock
            self.pending = obs
            self._waiting = self.env.event()
            yield self._waiting

    def act(self, actions: dict[str, Any]) -> Any:
        """Apply the pending epoch's actions now and resume the clock; the app's outcome of
        the epoch (twin migration: its /slots rows)."""
        if self.pending is None:
            raise PolicyError("act() called with no decision pending")
        out = self.app.apply(actions, self.policy_name)
        self.pending = None
        waiting, self._waiting = self._waiting, None
        waiting.succeed()
        return out
