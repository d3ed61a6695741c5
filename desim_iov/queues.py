"""Work-conserving FIFO queues tracked by their unfinished work (a Lindley recursion).

A FIFO server of fixed rate ``mu`` needs no event per departure: with ``W`` the unfinished
work at the last arrival ``t``, an arrival of ``b`` bits at ``now`` finds
``max(W - mu (now - t), 0)`` bits ahead of it and completes ``(W' )/ mu`` seconds later,
``W' = that + b``. The packet kernel waits that long with one ``timeout``; the slot fidelity
uses the same admission as a fluid (no timeout). Plain Python floats: this is the per-packet
hot path (DESIGN.md Sec. 3, Speed).
"""

from __future__ import annotations


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
