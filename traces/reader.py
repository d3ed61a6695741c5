"""Read a desim_iov HDF5 trace back: attributes, the scenario, and pandas DataFrames."""

from __future__ import annotations

import json
import warnings
from functools import cached_property
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from traces.schema import SCHEMA_VERSION


class TraceError(ValueError):
    """A trace file that cannot be used; ``str(e)`` is one line naming the file."""


class IncompleteTraceWarning(UserWarning):
    pass


class Trace:
    """An opened trace. ``df(name)`` reads one dataset into a DataFrame."""

    def __init__(self, path: str | Path, allow_incomplete: bool = True) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise TraceError(f"{self.path}: is a directory, expected an HDF5 trace file")
        if not self.path.is_file():
            raise TraceError(f"{self.path}: no such trace file")
        try:
            with _open(self.path) as f:
                self.attrs: dict[str, Any] = {k: _plain(v) for k, v in f.attrs.items()}
                self.datasets = sorted(f.keys())
        except (OSError, KeyError, RuntimeError) as e:
            raise TraceError(f"{self.path}: not a readable HDF5 file ({e.__class__.__name__})") from None
        version = self.attrs.get("schema_version")
        if version is None or "scenario" not in self.attrs:
            raise TraceError(f"{self.path}: not a desim_iov trace (no schema_version/scenario)")
        if str(version).split(".")[0] != SCHEMA_VERSION.split(".")[0]:
            raise TraceError(
                f"{self.path}: trace schema {version} is not readable by this version "
                f"(reads {SCHEMA_VERSION.split('.')[0]}.x)"
            )
        self.complete = bool(self.attrs.get("complete", 0))
        if not self.complete:
            if not allow_incomplete:
                raise TraceError(f"{self.path}: the run that wrote this trace did not finish")
            warnings.warn(
                f"{self.path}: the run that wrote this trace did not finish (complete=0)",
                IncompleteTraceWarning,
                stacklevel=2,
            )

    @cached_property
    def scenario(self) -> dict[str, Any]:
        return json.loads(self.attrs["scenario"])

    def array(self, name: str) -> np.ndarray:
        """Dataset ``/name`` as a structured array; a damaged file gives a one-line TraceError."""
        self._require(name)
        try:
            with _open(self.path) as f:
                return f[name][()]
        except (OSError, KeyError, RuntimeError, ValueError) as e:
            raise self._damaged(name, e) from None

    def dataset_attrs(self, name: str) -> dict[str, Any]:
        self._require(name)
        try:
            with _open(self.path) as f:
                return {k: _plain(v) for k, v in f[name].attrs.items()}
        except (OSError, KeyError, RuntimeError, ValueError) as e:
            raise self._damaged(name, e) from None

    def _require(self, name: str) -> None:
        if name not in self.datasets:
            raise TraceError(f"{self.path}: no dataset '/{name}' (has {', '.join(self.datasets)})")

    def _damaged(self, name: str, e: Exception) -> TraceError:
        """h5py's message (e.g. 'filter returned failure during read'), on one line."""
        why = " ".join(str(e).split()) or e.__class__.__name__
        return TraceError(f"{self.path}: dataset '/{name}' cannot be read, the file is "
                          f"damaged or truncated ({why})")

    def df(self, name: str) -> pd.DataFrame:
        return pd.DataFrame(self.array(name))


def _open(path: Path) -> h5py.File:
    """Open read-only. A writer killed without closing (SIGKILL, power loss) leaves the file
    marked as open for SWMR writing, which a plain open refuses; a SWMR read still works and
    sees everything flushed before the crash (``complete`` stays 0)."""
    try:
        return h5py.File(path, "r")
    except OSError as e:
        if "already open for write" not in str(e):
            raise  # truncated, empty, not HDF5: refused by the caller
        return h5py.File(path, "r", swmr=True)


def _plain(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.generic):
        return v.item()
    return v


def open_trace(path: str | Path, allow_incomplete: bool = True) -> Trace:
    return Trace(path, allow_incomplete=allow_incomplete)
