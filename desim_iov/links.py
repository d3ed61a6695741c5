"""Transmissions over a link: a FIFO transmitter (or receiver) that sends one message at a
time at the rate of the moment (twin-migration Eq. 4–7; quantum-DRL Eq. 5–7).

Its state is the time it becomes free, i.e. the Lindley recursion of :mod:`desim_iov.queues`
with the unfinished work counted in seconds of air time (rates change with every mobility
step, so work in bits would not say when it ends). Plain floats: per-packet hot path.
"""

from __future__ import annotations


class FifoLink:
    """One transmitter: messages leave in arrival order; ``free`` is when the last one ends."""

    __slots__ = ("free",)

    def __init__(self) -> None:
        self.free = 0.0

    def send(self, now: float, airtime: float) -> float:
        """Queue ``airtime`` seconds of transmission at ``now``; return its end time."""
        start = self.free
        if start < now:
            start = now
        done = start + airtime
        self.free = done
        return done

    def block_until(self, t: float) -> None:
        """Nothing may start before ``t`` (a twin in flight holds the vehicle's packets)."""
        if self.free < t:
            self.free = t
