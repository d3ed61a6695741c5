"""Queues: work-conserving FIFO queues tracked by their unfinished work (a Lindley recursion)
and a priority CPU in cycles (task offloading).

A FIFO server of fixed rate ``mu`` needs no event per departure: with ``W`` the unfinished
work at the last arrival ``t``, an arrival of ``b`` bits at ``now`` finds
``max(W - mu (now - t), 0)`` bits ahead of it and completes ``(W' )/ mu`` seconds later,
``W' = that + b``. The packet kernel waits that long with one ``timeout``; the slot fidelity
uses the same admission as a fluid (no timeout). Plain Python floats: this is the per-packet
hot path (DESIGN.md Sec. 3, Speed).
"""

from __future__ import annotations

import heapq
import math


class WorkQueue:
    """Cache + CPU of one server (twin-migration Eq. 8–9): unfinished ``work`` bits at time
    ``t``, drained at ``rate`` bit/s, at most ``capacity`` bits held (L_max, Eq. 14)."""

    __slots__ = ("capacity", "rate", "t", "work")

    def __init__(self, rate: float, capacity: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.work = 0.0
        self.t = 0.0

    def load(self, now: float) -> float:
        """Unfinished work (bits) at ``now`` (>= the last arrival)."""
        w = self.work - self.rate * (now - self.t)
        return w if w > 0.0 else 0.0

    def admit(self, bits: float, now: float) -> float:
        """Admit ``bits`` at ``now`` if they fit below ``capacity``: return the seconds until
        they are processed (FIFO behind the unfinished work), or -1.0 when refused."""
        w = self.work - self.rate * (now - self.t)
        if w < 0.0:
            w = 0.0
        if w + bits > self.capacity:
            return -1.0
        w += bits
        self.work = w
        self.t = now
        return w / self.rate


class PriorityCpu:
    """A node's CPU for the offloading app (quantum-DRL Eq. 4–5, C3/C4): jobs of ``cycles``
    served one at a time, highest priority P_ij first then first come (non-preemptive), at the
    frequency ``frequency()`` returns when a job starts (f_cpu(t) changes every slot and with the
    agent's CPU level, so a Lindley shortcut would be wrong). At most ``budget`` cycles start per
    slot of ``slot`` seconds (C_z); a job that would exceed it waits for the next slot, except
    the first of a slot (a job larger than C_z would otherwise never start).

    ``submit(job, priority, cycles, done)`` queues a job; ``done(job, start, end)`` is called
    when it completes. ``on_start(job, start, end)`` (optional) is told each service interval."""

    __slots__ = ("env", "frequency", "budget", "slot", "_heap", "_seq", "busy", "_waiting",
                 "queued_cycles", "admitted", "_admit_slot", "on_start")

    def __init__(self, env, frequency, budget: float, slot: float, on_start=None) -> None:
        self.env = env
        self.frequency = frequency
        self.budget = budget
        self.slot = slot
        self._heap: list = []
        self._seq = 0
        self.busy = False
        self._waiting = False
        self.queued_cycles = 0.0
        self.admitted = 0.0  # cycles started in the slot _admit_slot
        self._admit_slot = -1
        self.on_start = on_start

    def __len__(self) -> int:
        return len(self._heap)

    def jobs(self) -> list:
        """Queued jobs (not in service), in no particular order."""
        return [e[2] for e in self._heap]

    def submit(self, job, priority: float, cycles: float, done) -> None:
        heapq.heappush(self._heap, (-priority, self._seq, job, cycles, done))
        self._seq += 1
        self.queued_cycles += cycles
        if not self.busy and not self._waiting:
            self._next()

    def _next(self, _event=None) -> None:
        self._waiting = False
        if not self._heap:
            self.busy = False
            return
        now = self.env.now
        k = math.floor(now / self.slot + 1e-9)
        if k != self._admit_slot:
            self._admit_slot, self.admitted = k, 0.0
        cycles = self._heap[0][3]
        if self.admitted > 0.0 and self.admitted + cycles > self.budget:
            self.busy, self._waiting = False, True  # C_z spent: the next slot
            self.env.timeout((k + 1) * self.slot - now).callbacks.append(self._next)
            return
        _, _, job, cycles, done = heapq.heappop(self._heap)
        self.queued_cycles -= cycles
        self.admitted += cycles
        end = now + cycles / self.frequency()
        self.busy = True
        if self.on_start is not None:
            self.on_start(job, now, end)
        self.env.timeout(end - now).callbacks.append(lambda _e: self._finish(job, now, end, done))

    def _finish(self, job, start: float, end: float, done) -> None:
        self.busy = False
        done(job, start, end)
        if not self.busy and not self._waiting:
            self._next()
