"""The digital twin's one-slot model of the offloading game (quantum-DRL Alg. 3, reading A37):
the utility U_x(a_x, a_-x) of every agent for any joint action of the current epoch, predicted
without touching the run — placements by the closed form of Eq. 5–7 on the DT's state (the
estimated frequencies f^ = f_cpu + U(+-0.15 GHz) of Table II, the synced rates and queues),
rewards by Eq. 63–68 adjusted by Eq. 90–92 (the same code as the run's rewards,
``RewardScorer.evaluate``).

The Nash-equilibrium step (agents/nash.py) asks it for best responses: every allowed action of
one agent with the others' actions fixed. A vehicle's utility depends only on its own
placements; a relay's on the placements through it and, by n_mean, on how many subtasks each
relay handles — :meth:`EpochModel.best_response` evaluates only what an agent's choice can
change: placements are cached by what decides them (vehicle, first hop, power level, size, the
path's rules and levels, a drop at the hop limit), a vehicle's utility likewise (for the epoch:
across candidates and rounds), and a relay's candidates re-place only the subtasks whose path
reaches it. Every value is the one ``utilities`` gives for the joint action (the same
operations in the same order).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from desim_iov.apps.offload_scoring import relay_nodes
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
        self.scorer = app.scorer
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
        self.n_of_split = [tc.n_subtasks(level) for level in tc.split_levels]
        # per vehicle with tasks: their sizes (all tasks of a run share tc.size)
        self.tasks = {v: [t.bits for t in app.pending[v]] for v in range(app.V) if app.pending[v]}
        self.N = app.N
        self.relay_ids = relay_nodes(ep)
        self._cache: dict[tuple, Placement] = {}
        self._fastest: dict[int, int] = {}
        self._vehicle_u: dict[tuple, float] = {}  # a vehicle's utility by what decides it

    # ------------------------------------------------------------------ one joint action

    def _set_relay(self, o: Any, act: np.ndarray, rules: list[int], cpu: np.ndarray, relay: np.ndarray) -> None:
        """Relay ``o``'s action into the node state (rule, CPU level, power level)."""
        t = int(act[0]) if o.mask[int(act[0])] else 0  # a masked rule is refused: process
        rules[o.index] = t
        cpu[o.index] = self.cpu_levels[int(act[1])]
        relay[o.index] = int(act[2])

    def _node_state(self, actions: dict[str, np.ndarray]) -> tuple[list[int], np.ndarray, np.ndarray]:
        rules, cpu, relay = list(self.base_rule), self.base_cpu.copy(), self.base_relay.copy()
        for a, act in actions.items():
            o = self.obs[a]
            if o.kind != VEHICLE_AGENT:
                self._set_relay(o, act, rules, cpu, relay)
        return rules, cpu, relay

    def _first_hop(self, o: Any, first: int) -> int:
        """A vehicle's first hop; a refused one is the kernel's replacement (the fastest)."""
        if o.mask[first]:
            return first
        z = self._fastest.get(o.index)
        if z is None:
            z = self._fastest[o.index] = self.app.topo.fastest_access(o.index)
        return z if z >= 0 else self.N

    def _route(self, first: int, rules: list[int], cpu: np.ndarray, relay: np.ndarray) -> tuple:
        """What decides a placement besides the vehicle, power and size: the path from
        ``first`` under ``rules``, the relays' power levels along it, the last node's CPU level,
        and whether it is dropped at the hop limit (``at_hop_limit: drop``: the same path ends
        processed or dropped as the last node's rule is process or forward)."""
        path, dropped = self.app.nodes.path(first, rules)
        return tuple(path), tuple(int(relay[z]) for z in path[:-1]), float(cpu[path[-1]]), dropped

    def _placement(self, v: int, first: int, power: int, bits: float, rules: list[int],
                   cpu: np.ndarray, relay: np.ndarray, route: tuple) -> Placement:
        key = (v, first, power, bits, *route)
        pl = self._cache.get(key)
        if pl is None:
            pl = self.app.nodes.closed_form(v, first, power, bits, rules=rules, relay_level=relay, cpu_level=cpu,
                                            f_cpu=self.f)
            self._cache[key] = pl
        return pl

    def _items(self, v: int, first: int, power: int, n: int, rules: list[int], cpu: np.ndarray,
               relay: np.ndarray, route: tuple) -> list[tuple[Any, Placement]]:
        """Vehicle ``v``'s released subtasks (n per task) with their placements."""
        items = []
        for size in self.tasks[v]:
            bits = size / n
            pl = self._placement(v, first, power, bits, rules, cpu, relay, route)
            items += [(_Cycles(bits * self.cycles_per_bit), pl)] * n
        return items

    def _released(self, actions: dict[str, np.ndarray], rules: list[int], cpu: np.ndarray,
                  relay: np.ndarray, vehicles: Any = None) -> dict[int, list[tuple[Any, Placement]]]:
        out: dict[int, list[tuple[Any, Placement]]] = {}
        for a, act in actions.items():
            o = self.obs[a]
            if o.kind != VEHICLE_AGENT or (vehicles is not None and o.index not in vehicles):
                continue
            first = self._first_hop(o, int(act[0]))
            if first == self.N or o.index not in self.tasks:
                continue
            route = self._route(first, rules, cpu, relay)
            out[o.index] = self._items(o.index, first, int(act[1]), self.n_of_split[int(act[2])], rules, cpu,
                                       relay, route)
        return out

    def _decoded(self, actions: dict[str, np.ndarray]) -> dict[str, tuple[int, int, int, bool]]:
        return {a: (int(x[0]), int(x[1]), int(x[2]), False) for a, x in actions.items()}

    def utilities(self, actions: dict[str, np.ndarray], only: Any = None) -> dict[str, float]:
        """U_x(a) = R_x^adj (Eq. 63–68 + Eq. 90–92) of every agent of the epoch (or of the
        agents in ``only``) under the joint action ``actions`` (every acting agent's 3
        components)."""
        rules, cpu, relay = self._node_state(actions)
        released = self._released(actions, rules, cpu, relay)
        rewards, _, _, _ = self.scorer.evaluate(self.ep, self._decoded(actions), released, f_cpu=self.f,
                                                cpu_level=cpu, queued_cycles=self.queued, only=only)
        return rewards

    # ------------------------------------------------------------------ best responses

    def best_response(self, agent: str, actions: dict[str, np.ndarray],
                      candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """U_agent for each row of ``candidates`` (k, 3) with the others' actions fixed:
        (utilities (k,), the best row); each value is ``utilities`` of the joint action with
        that row substituted, evaluated only where the agent's choice can change it."""
        if self.obs[agent].kind == VEHICLE_AGENT:
            vals = self._vehicle_values(agent, actions, candidates)
        else:
            vals = self._relay_values(agent, actions, candidates)
        return vals, candidates[int(np.argmax(vals))]

    def _vehicle_values(self, agent: str, actions: dict[str, np.ndarray], candidates: np.ndarray) -> np.ndarray:
        """A vehicle's utility is its own (Eq. 64 + 90–92) and depends on its own placements
        only, so it is memoised by what decides them (first hop, power level, subtasks per
        task, the route's rules and levels): across candidates and rounds it is evaluated once."""
        o = self.obs[agent]
        v = o.index
        rules, cpu, relay = self._node_state(actions)  # the relays' actions: fixed here
        routes: dict[int, tuple] = {}
        vals = np.empty(len(candidates))
        for k, (first, power, split) in enumerate(candidates.tolist()):
            first = self._first_hop(o, first)
            if first == self.N or v not in self.tasks:  # held: nothing placed
                key, route = (v,), None
            else:
                route = routes.get(first)
                if route is None:
                    route = routes[first] = self._route(first, rules, cpu, relay)
                n = self.n_of_split[split]
                key = (v, first, power, n, *route)
            u = self._vehicle_u.get(key)
            if u is None:
                items = [] if route is None else self._items(v, first, power, n, rules, cpu, relay, route)
                u = self._vehicle_u[key] = float(self.scorer.vehicle_terms(v, items)[0])
            vals[k] = u
        return vals

    def _relay_values(self, agent: str, actions: dict[str, np.ndarray], candidates: np.ndarray) -> np.ndarray:
        """A BS's/UAV's utility (Eq. 65–68 + 90–92) depends on the subtasks through it and,
        through n_mean (A32), on how many each relay handles. A relay's choice changes only
        the placements whose path reaches it (the path before it is the same for any choice):
        the others are placed once, and per candidate only the paths through the relay are."""
        o = self.obs[agent]
        x = o.index
        nodes = self.app.nodes
        rules, cpu, relay = self._node_state(actions)
        through, others = set(), set()
        for a, act in actions.items():
            ov = self.obs[a]
            if ov.kind == VEHICLE_AGENT:
                first = self._first_hop(ov, int(act[0]))
                if first != self.N and x in nodes.path(first, rules)[0]:
                    through.add(ov.index)
                else:
                    others.add(ov.index)
        relays = set(self.relay_ids)  # one agent per node

        def handled_by_relays(released: dict[int, list[tuple[Any, Placement]]]) -> int:
            return sum(z in relays for items in released.values() for _, pl in items for z in pl.nodes)

        fixed = handled_by_relays(self._released(actions, rules, cpu, relay, vehicles=others))
        vals = np.empty(len(candidates))
        for k, cand in enumerate(candidates):
            rules_k, cpu_k, relay_k = list(rules), cpu.copy(), relay.copy()
            self._set_relay(o, cand, rules_k, cpu_k, relay_k)
            released = self._released(actions, rules_k, cpu_k, relay_k, vehicles=through)
            # float(handled[relay_ids].mean()) of the scorer: a sum of whole numbers is exact in any order
            n_mean = (fixed + handled_by_relays(released)) / len(self.relay_ids)
            tallied = self.scorer.tally_node(released.values(), x)
            u = self.scorer.relay_terms(o.kind, *tallied, n_mean=n_mean, f=self.f[x] * cpu_k[x],
                                        queued=self.queued[x])[0]
            vals[k] = float(u)
        return vals
