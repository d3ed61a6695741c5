"""Hindsight oracle: the per-slot joint twin assignment that minimises the paper's weighted
objective with the true positions over the coming slot and the true background workload.

Per epoch, with A the active vehicles and n_m the number of them placed on server m:

    minimise  sum_{v,m} x_vm c_vm  +  sum_{m,n} y_mn g_m(n)
    s.t.      sum_m x_vm = 1 (each vehicle one host),  sum_n y_mn = 1,
              sum_v x_vm = sum_n n y_mn (y picks n_m),  x, y binary,

    c_vm   = w_T (T^up + T^down + T^mig) / tau + w_d xi^range_vm
    g_m(n) = n [ w_T T^cul(S'_m(n)) / tau + w_s S'_m(n) / L_max + w_d 1(S'_m(n) > L_max) ]
    S'_m(n) = S_m(t) + Lambda_m + n S_v                                    (Eq. 8)

with T^up/T^down/T^mig of Eq. 6, 7, 12 at t, T^cul of Eq. 9 (overflow to C_s), xi^range_vm = 1
when the vehicle leaves server m's range at any mobility step of the slot (true future
positions, Eq. 14), Lambda_m the true mean background work arriving over the slot, tau the
slot length. The weights are the scenario's Eq. 22 reward weights; the fixed scales (tau,
L_max) replace the running Z-scores. It is solved exactly by a MILP (HiGHS through
``scipy.optimize.milp``); the per-server cost g_m(n) need not be convex (overflow to the faster
satellite CPU), which rules out a plain assignment. It is the optimum of each slot in
hindsight, not of the whole episode: a learner that plans migrations ahead can beat it.

Hard constraints (twin-migration Eq. 16d-16e), so the oracle plays by the learners' rules:

- vehicle v may only pick a server m with K_vm = 1 (the kernel's Eq. 23 mask in its
  observation) that stays within range over the whole slot (xi^range_vm = 0);
- S_m(t) + n_m S_v <= L_max for every server that hosts twins (Eq. 8/16e, with the unfinished
  work S_m(t) the kernel's xi of Eq. 14 is judged on).

Fallbacks, only where these admit nothing: a vehicle with no such server (no mask entry in
range all slot, e.g. no satellite) gets the soft version for itself alone (any server with a
live migration link, charged w_d xi^range_vm in c_vm); if the capacity rows then make the
joint problem infeasible, they become the soft w_d 1(S' > L_max) term of g_m(n) again.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from agents.base import HindsightReference
from desim_iov.apps.twin_spaces import Observation
from models.compute import computing_latency_s
from models.geo import pairwise_distance_m
from models.rate import transmission_latency_s


class OraclePolicy(HindsightReference):
    """Needs the run's hindsight view (``bind``, desim_iov/apps/twin_hindsight.py): it reads
    the future, which no agent may."""

    name = "oracle"

    def _future_reach(self, t: float, vehicles: list[int]) -> np.ndarray:
        """(A, M) True where server m stays within range of vehicle v over [t, t + tau)."""
        h = self.view
        s = h.scenario
        times = t + np.arange(0.0, s.slot, s.mobility_step)
        ok = np.ones((len(vehicles), h.n_servers), bool)
        for k, tk in enumerate(times.tolist()):
            veh, srv = h.positions(tk, vehicles)
            d = pairwise_distance_m(veh, srv)
            ok &= (d <= h.range_m) | h.always_reachable
            if k == 0:  # a usable link now (an FBL rate can be 0 within range)
                ok &= h.reachable(vehicles)
        return ok

    def act(self, observations: Mapping[str, Observation]) -> dict[str, int]:
        agents, cur, cand, c, g = self.costs(observations)
        choice = solve_assignment(c[:, cand], g[cand])
        if choice is None:  # the capacity rows admit nothing: soft Eq. 16e (the w_d term in g)
            agents, cur, cand, c, g = self.costs(observations, hard_capacity=False)
            choice = solve_assignment(c[:, cand], g[cand])
        if choice is None:  # cannot happen (staying put is always allowed): stay
            return {a: int(o) for a, o in zip(agents, cur, strict=True)}
        return {a: int(cand[m]) for a, m in zip(agents, choice, strict=True)}

    def costs(self, observations: Mapping[str, Observation], hard_capacity: bool = True):
        """(agents, current hosts, candidate servers, c (A, M), g (M, A + 1)) of the epoch;
        inf marks what the hard constraints forbid (module docstring). ``hard_capacity``
        False leaves Eq. 16e to the soft w_d term of g."""
        h = self.viewed()
        s = h.scenario
        agents = list(observations)
        vehicles = [observations[a].vehicle for a in agents]
        cur = np.array([observations[a].current for a in agents])
        t = next(iter(observations.values())).time
        n_a, n_m = len(agents), h.n_servers
        rw, tau = s.reward, s.slot
        s_v = h.slot_bits

        # per (vehicle, server): transmission, migration, leaving range
        rate_up, rate_dn = h.rates(vehicles)
        t_up = transmission_latency_s(s_v, rate_up)
        t_dn = transmission_latency_s(s_v * h.result_ratio, rate_dn)
        in_flight = h.in_flight(vehicles)
        mig = h.migration_rates(cur)  # inf to itself
        t_mig = transmission_latency_s(s.vehicles.twin_size, mig)
        latency = np.minimum(t_up + t_dn + t_mig, rw.latency_cap)
        reach = self._future_reach(t, vehicles)
        c = rw.w_latency * latency / tau + rw.w_failure * (~reach)
        # a twin in flight cannot move again; a dead inter-server link cannot carry it
        allowed = (mig > 0) & ~(in_flight[:, None] & (np.arange(n_m)[None] != cur[:, None]))
        # Eq. 16d and the Eq. 23 mask as hard constraints, per vehicle, where they admit a host
        mask = np.stack([np.asarray(observations[a].mask, bool) for a in agents])
        hard = allowed & mask & reach
        allowed = np.where(hard.any(axis=1, keepdims=True), hard, allowed)
        c = np.where(allowed, c, np.inf)

        # per (server, n): computing, load, overflow (Eq. 8-9, 14)
        steps = t + np.arange(0.0, tau, s.mobility_step)
        lam = sum(h.background_rate(tk) for tk in steps.tolist()) * s.mobility_step
        pending = h.loads(t) + lam
        n = np.arange(n_a + 1)
        load = pending[:, None] + n[None, :] * s_v  # (M, n)
        cpu, cache = h.cpu_hz, h.cache_bits
        c_s = cpu[h.satellite] if h.satellite >= 0 else cpu[:, None]  # Eq. 9 overflow CPU
        t_cul = computing_latency_s(load, s.vehicles.cycles_per_bit, cpu[:, None], cache[:, None], c_s)
        over = load > cache[:, None]
        g = n[None, :] * (rw.w_latency * np.minimum(t_cul, rw.latency_cap) / tau
                          + rw.w_load * load / cache[:, None] + rw.w_failure * over)
        if hard_capacity:  # Eq. 16e: S_m(t) + n S_v <= L_max wherever twins are placed (n >= 1)
            full = (h.loads(t)[:, None] + n[None, :] * s_v > cache[:, None]) & (n[None, :] > 0)
            g = np.where(full, np.inf, g)

        cand = np.flatnonzero(np.isfinite(c).any(axis=0))  # servers some vehicle may use
        return agents, cur, cand, c, g


def solve_assignment(c: np.ndarray, g: np.ndarray) -> np.ndarray | None:
    """Exact minimiser of sum_v c[v, m_v] + sum_m g[m, n_m] over host choices m_v (n_m the
    number of vehicles on m), by MILP. ``c`` (A, K), inf where a host is forbidden; ``g``
    (K, A + 1), inf where a count is forbidden. Returns the chosen column per row, or None if
    nothing is feasible."""
    n_a, k = c.shape
    n_x, n_y = n_a * k, k * (n_a + 1)
    allowed = np.isfinite(c)
    count_ok = np.isfinite(g)
    cost = np.concatenate([np.where(allowed, c, 0.0).ravel(), np.where(count_ok, g, 0.0).ravel()])
    a = np.zeros((n_a + 2 * k, n_x + n_y))
    for i in range(n_a):  # each vehicle exactly one host
        a[i, i * k : (i + 1) * k] = 1
    for j in range(k):
        y = slice(n_x + j * (n_a + 1), n_x + (j + 1) * (n_a + 1))
        a[n_a + j, y] = 1  # one vehicle count per server ...
        a[n_a + k + j, j:n_x:k] = 1  # ... equal to the vehicles placed there
        a[n_a + k + j, y] = -np.arange(n_a + 1)
    lo = hi = np.concatenate([np.ones(n_a + k), np.zeros(k)])
    upper = np.concatenate([allowed.ravel(), count_ok.ravel()]).astype(float)  # forbidden: 0
    res = milp(cost, constraints=LinearConstraint(a, lo, hi), integrality=np.ones(n_x + n_y),
               bounds=Bounds(0, upper))
    if res.x is None:
        return None
    return np.argmax(res.x[:n_x].reshape(n_a, k), axis=1)

