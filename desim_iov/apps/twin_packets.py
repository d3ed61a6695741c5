"""The twin-migration app's packets (packet fidelity): each vehicle's arrival process and one
SimPy process per packet — uplink (Eq. 4/6) through the vehicle's FIFO transmitter, the host's
cache and CPU (Eq. 8–9, overflow to the satellite), downlink (Eq. 5/7) — or a drop with a
reason; one /packets row each (docs/MODEL.md, "The packet model").

Kernel events per delivered packet: the arrival process's timeout, the process's start, the
end of its uplink, the end of its computation and the process's end (five; a packet that
overflows to the satellite adds its transfer). Each stage is a FIFO in closed form (the Lindley
recursion of ``FifoLink`` and ``WorkQueue``), so the packet wakes once per stage, when the state
it reads next must be current: the server's queue at the end of the uplink, the radio and the
downlink at the end of the computation. The downlink's end needs no wake-up: its arrival time
is known when the result is sent, and its row is written when the clock passes that time.

Rows are written in exactly the order a wake-up at the arrival would have written them: each
packet event carries a *stamp*, the order in which it was scheduled among the packet events,
and SimPy runs events of equal time in the order they were scheduled; a result's stamp is the
one its wake-up would have had. Before any row is written, the results whose (arrival,
stamp) precede the running event's are written; at the end those arriving before the end.
"""

from __future__ import annotations

import heapq
import itertools
import math
from typing import TYPE_CHECKING

import numpy as np

from desim_iov.links import FifoLink
from desim_iov.traffic import ARRIVALS
from traces.schema import OUTCOME_CODE, OUTCOMES

if TYPE_CHECKING:
    from desim_iov.apps.twin_migration import TwinMigrationApp

DELIVERED = OUTCOME_CODE["delivered"]
OUT_OF_RANGE = OUTCOME_CODE["out_of_range"]
CACHE_OVERFLOW = OUTCOME_CODE["cache_overflow"]
TWIN_MIGRATING = OUTCOME_CODE["twin_migrating"]
IN_FLIGHT_AT_END = OUTCOME_CODE["in_flight_at_end"]


class TwinPackets:
    """The packets of one twin-migration run: ``start`` the arrival processes, ``hold`` a
    vehicle's transmitter during a migration, ``finish`` at the end. ``generated`` (per
    vehicle), ``n_outcome`` (per outcome code) and ``live`` (packet id -> (vehicle, target
    server, created, bits) of the packets in flight) are the running counts."""

    def __init__(self, app: TwinMigrationApp) -> None:
        s = app.scenario
        self.app, self.env, self.scenario = app, app.env, s
        self.radio, self.servers, self.world = app.radio, app.servers, app.world
        self.generated = app.stats.generated
        self.n_outcome = [0] * len(OUTCOMES)
        self.result_ratio = s.vehicles.traffic.result_ratio
        self.hold_packets = s.migration.packets_during == "hold"
        V = app.V
        self.uplink = [FifoLink() for _ in range(V)]
        self.downlink = [FifoLink() for _ in range(V)]
        # the per-packet path reads these lists directly (they are never replaced)
        twins = app.twins
        self._host, self._in_flight, self._destination = twins.host, twins.in_flight, twins.destination
        self._queues = self.servers.queues
        self.live: dict[int, tuple[int, int, float, float]] = {}
        self._pid = 0
        self._stamps = itertools.count()  # scheduling order of the packet events
        # results on their way down: (arrival, stamp, /packets row), a heap
        self._receiving: list[tuple[float, int, tuple]] = []
        self._rec = app.recorder.appender("packets", "packet_id", "vehicle", "server", "created",
                                          "finished", "bits", "outcome", "overflowed")

    def start(self) -> None:
        for v in range(len(self.uplink)):
            self.env.process(self._traffic(v))

    def hold(self, v: int, until: float) -> None:
        """Nothing leaves vehicle ``v`` before ``until`` (its twin is in flight, hold mode)."""
        self.uplink[v].block_until(until)

    # ------------------------------------------------------------------ processes

    def _traffic(self, v: int):
        """Packets of ``packet_size`` bits at ``data_rate`` (S_v per second), created in
        [start, end) of the vehicle's trajectory. A live vehicle (SUMO) starts when it enters
        and stops at the first packet after it has left."""
        env, w = self.env, self.world
        tr = self.scenario.vehicles.traffic
        live = w.live is not None
        if live and w.vehicle_start(v) == np.inf:
            yield w.live.entry(v)
        start, end = w.vehicle_start(v), min(w.vehicle_end(v), self.scenario.duration)
        batches = ARRIVALS[tr.arrivals](self.app.sim.streams.get(f"traffic.vehicle.{v}"), start,
                                        tr.packet_size / tr.data_rate)
        bits = tr.packet_size
        generated, process, packet, stamps = self.generated, env.process, self._packet, self._stamps
        if start > env.now:
            yield env.timeout(start - env.now)
        timeout = env.timeout
        live_end = w.live.end if live else None
        for times in batches:
            for t in times:
                if t >= end:
                    return
                stamp = next(stamps)
                yield timeout(t - env.now)
                if live and t >= live_end[v]:  # it left while this packet was waiting
                    return
                pid = self._pid
                self._pid = pid + 1
                generated[v] += 1
                process(packet(pid, v, bits, stamp))

    def _packet(self, pid: int, v: int, bits: float, stamp: int):
        # the hot path: plain floats, attributes bound to locals; ``stamp`` is the running
        # event's (the arrival's timeout, then each of this process's own)
        env = self.env
        created = env.now
        if self._in_flight[v]:
            if not self.hold_packets:
                self._end(pid, v, self._destination[v], created, bits, TWIN_MIGRATING, 0, stamp, False)
                return
            m = self._destination[v]
        else:
            m = self._host[v]
        radio = self.radio
        rate = radio.rate_up_rows[v][m]
        if not radio.reachable_rows[v][m] or rate <= 0.0:
            self._end(pid, v, m, created, bits, OUT_OF_RANGE, 0, stamp, False)
            return
        self.live[pid] = (v, m, created, bits)
        stamps = self._stamps
        # uplink (Eq. 4/6): the vehicle's transmitter is a FIFO; in hold mode it is blocked
        # until the twin has landed (see hold)
        done = self.uplink[v].send(created, bits / rate)
        stamp = next(stamps)
        yield env.timeout(done - created)

        # cache and CPU (Eq. 8-9): FIFO behind the unfinished work of server m
        overflowed = 0
        wait = self._queues[m].admit(bits, env.now)
        if wait < 0.0:
            servers = self.servers
            if not servers.overflow_to_satellite or m == servers.satellite:
                self._end(pid, v, m, created, bits, CACHE_OVERFLOW, 0, stamp)
                return
            # Eq. 9: an overloaded RSU/UAV hands the data to the satellite's CPU
            stamp = next(stamps)
            yield env.timeout(bits / radio.r_sat)
            m = servers.satellite
            overflowed = 1
            wait = self._queues[m].admit(bits, env.now)
            if wait < 0.0:
                self._end(pid, v, m, created, bits, CACHE_OVERFLOW, 1, stamp)
                return
        stamp = next(stamps)
        yield env.timeout(wait)

        # downlink (Eq. 5/7) from the server that computed the result
        now = env.now
        rate = radio.rate_down_rows[v][m]
        if not radio.reachable_rows[v][m] or rate <= 0.0:
            self._end(pid, v, m, created, bits, OUT_OF_RANGE, overflowed, stamp)
            return
        done = self.downlink[v].send(now, bits * self.result_ratio / rate)
        # arrives when a timeout of done - now would have fired (SimPy: now + delay)
        receiving = self._receiving
        if receiving and receiving[0][0] <= now:
            self._write_received(now, stamp)
        heapq.heappush(receiving, (now + (done - now), next(stamps),
                                   (pid, v, m, created, done, bits, DELIVERED, overflowed)))

    # ------------------------------------------------------------------ rows

    def _write_received(self, now: float, stamp: int) -> None:
        """The rows of the results that arrived before the event (``now``, ``stamp``)."""
        receiving, live, rec = self._receiving, self.live, self._rec
        pop = heapq.heappop
        n = 0
        while receiving:
            at, s, row = receiving[0]
            if at > now or at == now and s > stamp:
                break
            pop(receiving)
            del live[row[0]]
            rec(row)
            n += 1
        self.n_outcome[DELIVERED] += n

    def _end(self, pid: int, v: int, m: int, created: float, bits: float, outcome: int,
             overflowed: int, stamp: int, live: bool = True) -> None:
        now = self.env.now
        if self._receiving and self._receiving[0][0] <= now:
            self._write_received(now, stamp)
        if live:
            del self.live[pid]
        self.n_outcome[outcome] += 1
        self._rec((pid, v, m, created, now, bits, outcome, overflowed))

    def finish(self) -> None:
        """The results that arrived before the end; the packets still travelling (a result
        arriving at the end instant too) end as ``in_flight_at_end``, by packet id."""
        self._write_received(self.env.now, -1)
        self._receiving.clear()
        live = self.live
        if live:
            pids = np.fromiter(live, np.int64, len(live))
            order = np.argsort(pids, kind="stable")
            vals = np.array(list(live.values()), dtype=float).reshape(-1, 4)[order]
            rows = self.app.recorder.rows("packets", len(live))
            rows["packet_id"] = pids[order]
            rows["vehicle"], rows["server"] = vals[:, 0], vals[:, 1]
            rows["created"], rows["bits"] = vals[:, 2], vals[:, 3]
            rows["finished"] = math.nan
            rows["outcome"] = IN_FLIGHT_AT_END
            rows["overflowed"] = 0
            self.app.recorder.append_many("packets", rows)
            self.n_outcome[IN_FLIGHT_AT_END] += len(live)
            live.clear()
