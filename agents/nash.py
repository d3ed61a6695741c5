"""Nash-equilibrium adjustment of the joint action (quantum-DRL Alg. 3, reading A37).

Alg. 3 lines 9–16: "while not converged: define U_x(a_x, a_-x); a*_x = argmax_{a_x} U_x(a_x,
a*_-x) for each x". The paper names no utility and no solver. Reading: U_x is agent x's
adjusted reward R_x + I_x - P_x (Eq. 63–68, 90–92, Alg. 3 line 21) predicted by the digital
twin's one-slot model (desim_iov/apps/offload_model.py, on the DT's estimated frequencies), and
a* is found by iterated best response from the sampled joint action: in a fixed order (relays
first, since their standing rules shape every vehicle's path, then vehicles), each agent
replaces its action by the best of its allowed actions given the others' current ones; the
loop stops when a round changes no action (a pure Nash equilibrium of the one-slot game) or
after ``rounds`` rounds. Ties keep the current action, so an equilibrium is a fixed point.

Cost: a vehicle's utility depends on its own placements only (memoised for the epoch by what
decides them, so a later round re-evaluates only the candidates whose path changed), a relay's
on the placements through it (only those are re-placed per candidate); agents with one allowed
action are skipped, and nothing is evaluated in a slot where no vehicle places a task (no
utility then depends on any choice: the sampled action stands).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.offload_blocks import ActionCodec
from desim_iov.kinds import VEHICLE_AGENT


@dataclass
class NashResult:
    actions: dict[str, np.ndarray]
    rounds: int
    converged: bool
    changed: int  # agents whose action differs from the sampled one


def allowed_actions(codec: ActionCodec, flat_mask: np.ndarray) -> np.ndarray:
    """Every allowed joint action (k, components) of one agent under its kernel mask."""
    masks = codec.code_masks(flat_mask[None, :])
    per_group = [np.flatnonzero(m[0]) for m in masks]
    grids = np.meshgrid(*per_group, indexing="ij")
    codes = np.stack([g.reshape(-1) for g in grids], axis=1)
    return codec.decode(codes)


def iterated_best_response(model, actions: dict[str, np.ndarray], candidates: dict[str, np.ndarray],
                           rounds: int = 3) -> NashResult:
    """Alg. 3 lines 9–16 on ``model`` (an :class:`~desim_iov.apps.offload_model.EpochModel`):
    ``candidates[x]`` (k, 3) are x's allowed actions."""
    cur = {a: np.asarray(x, np.int64) for a, x in actions.items()}
    start = {a: x.copy() for a, x in cur.items()}
    has_tasks = bool(model.tasks) and any(model.obs[a].kind == VEHICLE_AGENT for a in cur)
    order = [a for a in cur if model.obs[a].kind != VEHICLE_AGENT] + \
            [a for a in cur if model.obs[a].kind == VEHICLE_AGENT]
    if not has_tasks:  # nothing is placed: no utility depends on any choice but the agent's own levels
        order = []
    done_rounds, converged = 0, not order
    for _ in range(rounds if order else 0):
        moved = False
        for a in order:
            cand = candidates[a]
            if len(cand) <= 1:
                continue
            vals, _ = model.best_response(a, cur, cand)
            here = np.flatnonzero((cand == cur[a]).all(axis=1))
            best = int(np.argmax(vals))
            if here.size and vals[best] <= vals[here[0]] + 1e-12:
                continue  # ties keep the current action: an equilibrium is a fixed point
            cur[a] = cand[best].copy()
            moved = True
        done_rounds += 1
        if not moved:
            converged = True
            break
    changed = sum(not np.array_equal(cur[a], start[a]) for a in cur)
    return NashResult(cur, done_rounds, converged, changed)
