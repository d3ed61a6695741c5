"""Vehicle twins on edge servers and their stop-and-copy migrations (twin-migration Eq. 10–12).

Each twin is on exactly one server (``host``) or in flight to ``destination``.
A migration moves S^mig bits at the Eq. 11 rate of the moment: the twin leaves its server now
and is usable on the destination S^mig / R^mig seconds later (Eq. 12). The state changes
synchronously, so everything at this instant sees it.
"""

from __future__ import annotations

from collections.abc import Callable

import simpy

from models.rate import transmission_latency_s


class TwinRegistry:
    """Where every vehicle's twin is. ``on_start(v, src, dst, start, end, rate)`` is called
    for each migration as it starts (the app records it and holds the vehicle's packets)."""

    def __init__(self, env: simpy.Environment, hosts: list[int], twin_bits: float,
                 on_start: Callable[[int, int, int, float, float, float], None]) -> None:
        self.env = env
        n = len(hosts)
        self.host = list(hosts)
        self.in_flight = [False] * n
        self.destination = [-1] * n
        self.twin_bits = twin_bits
        self._on_start = on_start

    def current(self, v: int) -> int:
        """The server hosting the twin, or receiving it while in flight."""
        return self.destination[v] if self.in_flight[v] else self.host[v]

    def placed(self) -> list[int]:
        """Host of every twin, -1 for twins in flight."""
        return [-1 if f else h for f, h in zip(self.in_flight, self.host, strict=True)]

    def migrate(self, v: int, src: int, dst: int, rate: float) -> None:
        """Start moving twin ``v`` from ``src`` to ``dst`` at ``rate`` bit/s (Eq. 12)."""
        env = self.env
        dur = float(transmission_latency_s(self.twin_bits, rate))
        self.in_flight[v] = True
        self.destination[v] = dst
        end = env.now + dur
        self._on_start(v, src, dst, env.now, end, rate)
        env.process(self._land(v, dst, dur))

    def _land(self, v: int, dst: int, dur: float):
        yield self.env.timeout(dur)
        self.host[v] = dst
        self.in_flight[v] = False
        self.destination[v] = -1
