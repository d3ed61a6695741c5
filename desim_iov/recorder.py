"""The run's trace as the kernel sees it: rows appended by field name, root attributes set
at the end, periodic samplers. ``Recorder`` writes HDF5 through :class:`traces.writer.TraceWriter`;
``NullRecorder`` drops everything (runs without a trace: RL training, kernel tests).

Hot paths ask once for an :meth:`Recorder.appender` naming the fields they pass, in their
order; it is checked against the schema then, and costs one call per row afterwards.
"""

from __future__ import annotations

import abc
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from traces.writer import TraceWriter

Sampler = Callable[[float], None]


class _Base(abc.ABC):
    def __init__(self, dtypes: dict[str, np.dtype]) -> None:
        self.dtypes = dtypes
        self._samplers: list[Sampler] = []

    def appender(self, name: str, *fields: str) -> Callable[[tuple], None]:
        """A function taking one row as a tuple of values in the order of ``fields``, which
        must be exactly the dataset's field names (in any order)."""
        names = self.dtypes[name].names
        if sorted(fields) != sorted(names):
            raise KeyError(f"/{name} has fields {names}; an appender named {fields}")
        if tuple(fields) == names:
            return functools.partial(self._append, name)
        order = [fields.index(f) for f in names]
        return lambda row: self._append(name, tuple(row[i] for i in order))

    def append(self, name: str, **fields: Any) -> None:
        """One row by field name (every field of the dataset)."""
        names = self.dtypes[name].names
        if fields.keys() != set(names):
            raise KeyError(f"/{name} has fields {names}; got {sorted(fields)}")
        self._append(name, tuple(fields[f] for f in names))

    def rows(self, name: str, n: int) -> np.ndarray:
        """A zeroed structured array of ``n`` rows of dataset ``name`` (fill by field name,
        then :meth:`append_many`)."""
        return np.zeros(n, self.dtypes[name])

    def add_sampler(self, sampler: Sampler) -> None:
        """``sampler(t)`` runs at every trace sample instant, in the order added."""
        self._samplers.append(sampler)

    def sample(self, t: float) -> None:
        for s in self._samplers:
            s(t)

    @abc.abstractmethod
    def _append(self, name: str, row: tuple) -> None:
        """Write one row (a tuple in the dataset's field order)."""


class Recorder(_Base):
    """Rows into an HDF5 trace (docs/TRACE_FORMAT.md); root attributes named in ``attrs``
    at the start may be updated by :meth:`set_attrs` (SWMR allows no new ones)."""

    def __init__(self, path: str | Path, dtypes: dict[str, np.dtype], attrs: dict[str, Any], *,
                 chunk_rows: int, dataset_attrs: dict[str, dict[str, Any]] | None = None) -> None:
        super().__init__(dtypes)
        self.writer = TraceWriter(path, dtypes, attrs, chunk_rows=chunk_rows, dataset_attrs=dataset_attrs)
        self._append = self.writer.append  # type: ignore[method-assign]

    def _append(self, name: str, row: tuple) -> None:
        self.writer.append(name, row)  # shadowed per instance by the writer's own method (speed)

    def append_many(self, name: str, rows: np.ndarray) -> None:
        self.writer.append_many(name, rows)

    def set_attrs(self, **attrs: Any) -> None:
        self.writer.set_attrs(**attrs)

    def flush(self) -> None:
        self.writer.flush()

    def close(self, complete: bool) -> None:
        self.writer.close(complete)


class NullRecorder(_Base):
    """The same interface, nothing kept."""

    def _append(self, name: str, row: tuple) -> None:
        pass

    def append_many(self, name: str, rows: np.ndarray) -> None:
        pass

    def set_attrs(self, **attrs: Any) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self, complete: bool) -> None:
        pass
