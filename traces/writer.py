"""HDF5 trace writer: chunked, compressed, appended while the run goes (DESIGN.md Sec. 5).

Rows are buffered in numpy structured arrays of ``chunk_rows`` and appended to resizable 1-D
datasets (gzip + shuffle). The root attribute ``complete`` is 0 until :meth:`close` after a
clean finish sets it to 1, and :meth:`flush` is called regularly, so a run that dies leaves a
readable file that says it is incomplete. While it is written the file is in SWMR mode: a
reader opened with ``h5py.File(path, "r", swmr=True)`` follows the run (``Dataset.refresh()``).

A flush writes each dataset's partial last chunk; the next rows rewrite that chunk elsewhere in
the file, and an SWMR writer never reuses the space it leaves (a reader may still be reading
it). The waste grows with the number of flushes, i.e. with wall time, not with the data: 2 h of
100 vehicles flushed every 5 s took 17.8 bytes per packet instead of 14.6, 45 with a flush every
0.05 s. :meth:`close` after a clean finish therefore copies the datasets (compressed chunks as
they are, ``H5Ocopy``) and the root attributes into a fresh file that replaces the old one, when
the waste exceeds ``COMPACT_MIN_WASTE`` of the file and 1 MiB.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from traces.schema import SCHEMA_VERSION, UNITS

#: compact the file at a clean close when the space left behind by flushes exceeds this
#: fraction of it (and 1 MiB)
COMPACT_MIN_WASTE = 0.05


class TraceWriteError(OSError):
    """Writing the trace failed (a full disk, a file-size limit, a vanished directory);
    ``str(e)`` is one line. After it the file is left as it is, marked incomplete: HDF5 cannot
    close a file whose writes fail, so nothing more is attempted on it."""


def _lock(path: Path) -> Any:
    """An exclusive lock on ``path``'s trace for the writer's lifetime: a second run writing the
    same file is refused before it truncates the first one's (SWMR mode releases HDF5's own file
    lock so that readers can follow the run). The lock is ``flock`` on a hidden file beside the
    trace, released by the kernel when the process ends, so a killed run leaves no stale lock."""
    try:
        import fcntl
    except ImportError:  # no flock (Windows): no lock
        return None
    lock = path.with_name(f".{path.name}.lock")
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise TraceWriteError(f"{path}: cannot create the trace ({_reason(e)})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        holder = ""
        try:
            holder = f" (process {lock.read_text().strip()})" if lock.read_text().strip() else ""
        except OSError:
            pass
        raise TraceBusyError(f"{path}: another run is writing this trace{holder}; give this one another --out") \
            from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd, lock


def _unlock(held: Any) -> None:
    if held is None:
        return
    fd, lock = held
    try:
        lock.unlink()
    except OSError:
        pass
    os.close(fd)


def _reason(e: OSError) -> str:
    """The operating system's words from an HDF5 error (its message holds a whole back trace)."""
    text = str(e)
    if "error message = '" in text:
        return " ".join(text.split("error message = '")[-1].split("'")[0].split())
    return " ".join((e.strerror or text).split())


class TraceBusyError(OSError):
    """Another process is writing the same trace; ``str(e)`` is one line."""


class TraceWriter:
    def __init__(
        self,
        path: str | Path,
        dtypes: dict[str, np.dtype],
        attrs: dict[str, Any],
        chunk_rows: int = 8192,
        dataset_attrs: dict[str, dict[str, Any]] | None = None,
        swmr: bool = True,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = _lock(self.path)  # before the file is truncated
        try:
            self._file = h5py.File(self.path, "w", libver=("v110", "v110"))
        except OSError as e:
            _unlock(self._lock)
            raise TraceWriteError(f"{self.path}: cannot create the trace ({_reason(e)})") from None
        self._chunk = int(chunk_rows)
        self._buf: dict[str, np.ndarray] = {}
        self._n: dict[str, int] = {}
        self._ds: dict[str, h5py.Dataset] = {}
        self.rows: dict[str, int] = {}
        f = self._file
        f.attrs["schema_version"] = SCHEMA_VERSION
        f.attrs["complete"] = np.int8(0)
        for k, v in attrs.items():
            f.attrs[k] = v
        for name, dt in dtypes.items():
            ds = f.create_dataset(
                name,
                shape=(0,),
                maxshape=(None,),
                dtype=dt,
                chunks=(self._chunk,),
                compression="gzip",
                compression_opts=4,
                shuffle=True,
            )
            ds.attrs["units"] = json.dumps(UNITS.get(name, {}))
            for k, v in (dataset_attrs or {}).get(name, {}).items():
                ds.attrs[k] = v
            self._ds[name] = ds
            self._buf[name] = np.zeros(self._chunk, dtype=dt)
            self._n[name] = 0
            self.rows[name] = 0
        f.flush()
        if swmr:  # readers may follow the run (h5py.File(path, "r", swmr=True))
            f.swmr_mode = True

    def append(self, name: str, row: tuple) -> None:
        """Buffer one row (a tuple in the dataset's field order)."""
        n = self._n[name]
        self._buf[name][n] = row
        n += 1
        self._n[name] = n
        if n == self._chunk:
            self._write(name)

    def append_many(self, name: str, rows: np.ndarray) -> None:
        """Buffer a structured array of rows."""
        rows = np.asarray(rows, dtype=self._buf[name].dtype)
        i = 0
        while i < len(rows):
            n = self._n[name]
            take = min(self._chunk - n, len(rows) - i)
            self._buf[name][n : n + take] = rows[i : i + take]
            self._n[name] = n + take
            i += take
            if self._n[name] == self._chunk:
                self._write(name)

    def _write(self, name: str) -> None:
        n = self._n[name]
        if n == 0:
            return
        ds = self._ds[name]
        start = ds.shape[0]
        try:
            ds.resize((start + n,))
            ds[start : start + n] = self._buf[name][:n]
        except OSError as e:
            raise self._failed(e) from None
        self.rows[name] = start + n
        self._n[name] = 0

    broken = False  # a write failed: the file is left alone from then on

    def _failed(self, e: OSError) -> TraceWriteError:
        self.broken = True
        return TraceWriteError(f"{self.path}: writing the trace failed ({_reason(e)}); the file is "
                               "incomplete (complete = 0)")

    def flush(self) -> None:
        if self.broken:
            return
        for name in self._ds:
            self._write(name)
        try:
            self._file.flush()
        except OSError as e:
            raise self._failed(e) from None

    def set_attrs(self, **attrs: Any) -> None:
        """Update root attributes created at the start (SWMR allows no new ones)."""
        for k, v in attrs.items():
            if k not in self._file.attrs:
                raise KeyError(f"root attribute {k!r} was not created with the trace")
            self._file.attrs[k] = v

    def close(self, complete: bool) -> None:
        """Write what is buffered; mark ``complete`` only after a clean finish (then compact)."""
        if self.broken or not self._file.id.valid:
            return
        try:
            self._close(complete)
        finally:
            _unlock(self._lock)
            self._lock = None

    def _close(self, complete: bool) -> None:
        self.flush()
        self._file.attrs["complete"] = np.int8(1 if complete else 0)
        self._file.close()
        if complete:
            try:
                compact(self.path)
            except OSError as e:  # the trace is whole and closed; only the rewrite failed
                warnings.warn(f"{self.path}: left as written, not compacted ({_reason(e)})", stacklevel=3)


def compact(path: str | Path, min_waste: float = COMPACT_MIN_WASTE, min_bytes: int = 2**20) -> bool:
    """Rewrite a closed trace without the file space its flushes left behind (module
    docstring): the same datasets (chunks, filters, attributes copied as they are) and root
    attributes (with their stored types) in a fresh file that replaces it. Returns whether it
    did; a file with less waste than ``min_waste`` of its size, or ``min_bytes``, is left alone."""
    path = Path(path)
    size = path.stat().st_size
    with h5py.File(path, "r") as f:
        used = sum(f[k].id.get_storage_size() for k in f if isinstance(f[k], h5py.Dataset))
        if any(not isinstance(f[k], h5py.Dataset) for k in f):
            return False  # a layout this writer does not make: leave it
    if size - used < max(min_waste * size, min_bytes):
        return False
    tmp = path.with_name(path.name + ".compacting")
    try:
        with h5py.File(path, "r") as src, h5py.File(tmp, "w", libver=("v110", "v110")) as dst:
            for k in src.attrs:
                dst.attrs.create(k, src.attrs[k], dtype=src.attrs.get_id(k).dtype)
            for k in src:
                src.copy(src[k], dst, name=k)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return True
