"""CPython's cyclic garbage collector while the kernel runs.

Reference counting frees what a packet allocates as soon as the packet is done: its process,
generator and events form no cycle that outlives it (tests/test_kernel_events.py). The
*cyclic* collector, however, starts a pass whenever allocations outnumber deallocations by a
threshold, and its passes traverse every container that survived the earlier ones. A loaded
city keeps 10^4–10^5 packets in flight, each a generator, a ``Process`` and a pending
``Timeout`` (seven tracked containers), so these passes cost more per packet the more packets
are in flight: with the collector's defaults they took ~40 % of a 400-vehicle twin-city run
and were what made the cost per packet grow with the city (docs/ARCHITECTURE.md, "Packets in
the kernel").

While the kernel runs, :func:`paused` turns the automatic passes off (process-wide; the
outermost of nested or concurrent runs turns them back on, and only if they were on), and
:class:`PeriodicCollection` runs one full collection every ``interval`` wall-clock seconds,
so the little cyclic garbage others make (policies, libraries) is still reclaimed, at a cost
that does not grow with the number of packets in flight. After a run, the first automatic
pass traverses what the run allocated since the last periodic collection and still holds,
once (the packets still in flight: ~1 s after 60 s of 400 vehicles, negligible at 100);
moving it to the oldest generation unseen (``gc.freeze(); gc.unfreeze()``) would avoid that
but leaves the collector's count of old objects stale, so that later automatic passes become
frequent full ones (measured: 30x slower runs after it). Nothing here changes a result.
"""

from __future__ import annotations

import contextlib
import gc
import threading
import time
from collections.abc import Iterator

_lock = threading.Lock()
_depth = 0  # runs inside paused() now, in any thread
_restore = False  # whether the outermost one found the automatic collector on


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """No automatic cyclic-collector passes inside the block (reference counting goes on)."""
    global _depth, _restore
    with _lock:
        if _depth == 0:
            _restore = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _restore:
                gc.enable()


class PeriodicCollection:
    """A full collection every ``interval`` wall-clock seconds, checked by :meth:`tick`."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.collections = 0
        self._last = time.monotonic()

    def tick(self) -> None:
        now = time.monotonic()
        if now - self._last >= self.interval:
            gc.collect()
            self.collections += 1
            self._last = time.monotonic()
