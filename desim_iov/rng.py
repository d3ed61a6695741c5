"""Named random streams spawned from one root seed (DESIGN.md Sec. 3).

Each stochastic component asks for its own ``numpy.random.Generator`` by name. A stream's
state depends only on (seed, name), never on which other streams exist or how much they were
used, so changing the policy, or adding a vehicle, leaves every other stream's draws alone:
common random numbers for what-if comparisons, exact replays.
"""

from __future__ import annotations

import zlib

import numpy as np


class RngStreams:
    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self._made: dict[str, np.random.Generator] = {}

    def get(self, name: str) -> np.random.Generator:
        """The generator for ``name`` (the same object on every call)."""
        g = self._made.get(name)
        if g is None:
            key = zlib.crc32(name.encode("utf-8"))
            ss = np.random.SeedSequence(entropy=self.seed, spawn_key=(key,))
            g = self._made[name] = np.random.Generator(np.random.PCG64(ss))
        return g
