"""The digital twin's one-slot model of the offloading game (quantum-DRL Alg. 3, reading A37):
the utility U_x(a_x, a_-x) of every agent for any joint action of the current epoch, predicted
without touching the run — placements by the closed form of Eq. 5–7 on the DT's state (the
estimated frequencies f^ = f_cpu + U(+-0.15 GHz) of Table II, the synced rates and queues),
rewards by Eq. 63–68 adjusted by Eq. 90–92 (the same code as the run's rewards,
``RewardScorer.evaluate``).

The Nash-equilibrium step (agents/nash.py) asks it for best responses: every allowed action of
one agent with the others' actions fixed. A vehicle's utility depends only on its own
placements; a relay's on every placement through it — :meth:`EpochModel.best_response`
evaluates only what an agent's choice can change, and placements are cached by what decides
them (vehicle, first hop, power level, size, the path's rules and levels).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from desim_iov.kinds import VEHICLE_AGENT

if TYPE_CHECKING:
    from desim_iov.apps.offload_records import Placement
    from desim_iov.apps.task_offloading import TaskOffloadingApp


class _Cycles:
    """A released subtask as the scorer sees it (only its cycles matter)."""

    __slots__ = ("cycles",)

    def __init__(self, cycles: float) -> None:
        self.cycles = cycles


class EpochModel:
    """The current epoch of ``app`` (after ``observe``, before ``apply``) as a pure function of
    the joint action. Raises RuntimeError when the app has no open epoch."""

    def __init__(self, app: TaskOffloadingApp) -> None:
        ep = app._epoch
        if ep is None:
            raise RuntimeError("the digital twin's model needs an open epoch (after observe)")
        self.app, self.ep = app, ep
        self.obs = ep["obs"]
        dt = ep["dt"]
        self.f = np.asarray(dt.f_est, float)  # the DT's estimate, not the true f_cpu
        self.queued = np.asarray(dt.queue_cycles, float)
        nodes = app.nodes
        self.base_rule = list(nodes.rule)
        self.base_cpu = np.asarray(nodes.cpu_level, float).copy()
        self.base_relay = np.asarray(nodes.relay_level).copy()
        self.cpu_levels = np.asarray(app.net.cpu_levels, float)
        tc = app.tasks_cfg
        self.cycles_per_bit = tc.cycles_per_bit
        # per vehicle with tasks: their sizes (all tasks of a run share tc.size)
        self.tasks = {v: [t.bits for t in app.pending[v]] for v in range(app.V) if app.pending[v]}
        self.N = app.N
        self._cache: dict[tuple, Placement] = {}

    # ------------------------------------------------------------------ one joint action

    def _node_state(self, actions: dict[str, np.ndarray]) -> tuple[list[int], np.ndarray, np.ndarray]:
        rules, cpu, relay = list(self.base_rule), self.base_cpu.copy(), self.base_relay.copy()
        for a, act in actions.items():
            o = self.obs[a]
            if o.kind == VEHICLE_AGENT:
                continue
            t = int(act[0]) if o.mask[int(act[0])] else 0  # a masked rule is refused: process
            rules[o.index] = t
            cpu[o.index] = self.cpu_levels[int(act[1])]
            relay[o.index] = int(act[2])
        return rules, cpu, relay

    def _placement(self, v: int, first: int, power: int, bits: float, rules: list[int],
                   cpu: np.ndarray, relay: np.ndarray) -> Placement:
        nodes = self.app.nodes
        path, _ = nodes.path(first, rules)
        key = (v, first, power, bits, tuple(path), tuple(int(relay[z]) for z in path[:-1]),
               float(cpu[path[-1]]))
        pl = self._cache.get(key)
        if pl is None:
            pl = nodes.closed_form(v, first, power, bits, rules=rules, relay_level=relay, cpu_level=cpu,
                                   f_cpu=self.f)
            self._cache[key] = pl
        return pl

    def _released(self, actions: dict[str, np.ndarray], rules: list[int], cpu: np.ndarray,
                  relay: np.ndarray, vehicles: Any = None) -> dict[int, list[tuple[Any, Placement]]]:
        tc, N = self.app.tasks_cfg, self.N
        out: dict[int, list[tuple[Any, Placement]]] = {}
        for a, act in actions.items():
            o = self.obs[a]
            if o.kind != VEHICLE_AGENT or (vehicles is not None and o.index not in vehicles):
                continue
            first, power, split = (int(x) for x in act)
            if not o.mask[first]:  # refused: the kernel's replacement (the fastest first hop)
                z = self.app.topo.fastest_access(o.index)
                first = z if z >= 0 else N
            if first == N or o.index not in self.tasks:
                continue
            n = tc.n_subtasks(tc.split_levels[split])
            items = []
            for size in self.tasks[o.index]:
                bits = size / n
                pl = self._placement(o.index, first, power, bits, rules, cpu, relay)
                items += [(_Cycles(bits * self.cycles_per_bit), pl)] * n
            out[o.index] = items
        return out

    def _decoded(self, actions: dict[str, np.ndarray]) -> dict[str, tuple[int, int, int, bool]]:
        return {a: (int(x[0]), int(x[1]), int(x[2]), False) for a, x in actions.items()}

    def utilities(self, actions: dict[str, np.ndarray], only: Any = None) -> dict[str, float]:
        """U_x(a) = R_x^adj (Eq. 63–68 + Eq. 90–92) of every agent of the epoch (or of the
        agents in ``only``) under the joint action ``actions`` (every acting agent's 3
        components)."""
        rules, cpu, relay = self._node_state(actions)
        released = self._released(actions, rules, cpu, relay)
        rewards, _, _, _ = self.app.scorer.evaluate(self.ep, self._decoded(actions), released, f_cpu=self.f,
                                                    cpu_level=cpu, queued_cycles=self.queued, only=only)
        return rewards

    def best_response(self, agent: str, actions: dict[str, np.ndarray],
                      candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """U_agent for each row of ``candidates`` (k, 3) with the others' actions fixed:
        (utilities (k,), the best row). A vehicle's utility is its own (Eq. 64 + 90–92) and
        depends on no one else's placements, so only its own are recomputed."""
        o = self.obs[agent]
        vals = np.empty(len(candidates))
        joint = dict(actions)
        if o.kind == VEHICLE_AGENT:
            rules, cpu, relay = self._node_state(actions)
            for k, cand in enumerate(candidates):
                released = self._released({agent: cand}, rules, cpu, relay)
                r, _, _, _ = self.app.scorer.evaluate(self.ep, self._decoded({agent: cand}), released,
                                                      f_cpu=self.f, cpu_level=cpu, queued_cycles=self.queued)
                vals[k] = r[agent]
        else:
            for k, cand in enumerate(candidates):
                joint[agent] = cand
                vals[k] = self.utilities(joint, only=(agent,))[agent]
        return vals, candidates[int(np.argmax(vals))]
