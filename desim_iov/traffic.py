"""Arrival processes: endless streams of arrival times in batches (lists of floats), drawn from
their own random stream (common random numbers across policies). Chosen by name
(``ARRIVALS``, the scenario's ``vehicles.traffic.arrivals``). Batches, not single times: the
per-packet process then iterates a plain list (no generator frame per packet)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

BATCH = 1024  # draws per call to the generator (the per-packet path then reads floats)


def constant_arrivals(rng: np.random.Generator, start: float, mean_gap: float) -> Iterator[list[float]]:
    """``start + k * gap`` exactly (no accumulated rounding); ``rng`` unused."""
    k = 0
    while True:
        yield (start + mean_gap * np.arange(k, k + BATCH)).tolist()
        k += BATCH


def poisson_arrivals(rng: np.random.Generator, start: float, mean_gap: float) -> Iterator[list[float]]:
    """A Poisson process of rate ``1 / mean_gap`` after ``start`` (exponential gaps)."""
    t = start
    while True:
        times = (np.cumsum(rng.exponential(mean_gap, BATCH)) + t).tolist()
        yield times
        t = times[-1]


ARRIVALS: dict[str, Callable[[np.random.Generator, float, float], Iterator[list[float]]]] = {
    "constant": constant_arrivals,
    "poisson": poisson_arrivals,
}
