"""Trace size: the file space SWMR flushes leave behind is given back at a clean close
(traces/writer.py), without changing a dataset, an attribute or a stored type."""

from __future__ import annotations

import shutil

import h5py
import numpy as np
from _golden import compare_traces

from agents.base import make_policy
from desim_iov.config import load_scenario
from desim_iov.sim import Simulation
from traces.schema import DTYPES
from traces.writer import TraceWriter, compact


def _write(path, flushes: int, complete: bool):
    w = TraceWriter(path, {"packets": DTYPES["packets"]}, {"seed": np.int64(3), "name": "x",
                                                            "end_time": np.float64(np.nan)}, chunk_rows=256)
    rng = np.random.default_rng(0)
    n = 0
    for _ in range(flushes):
        rows = np.zeros(40, DTYPES["packets"])
        rows["packet_id"] = np.arange(n, n + 40)
        rows["created"] = rng.uniform(0, 100, 40)
        rows["finished"] = rows["created"] + rng.exponential(1.0, 40)
        w.append_many("packets", rows)
        w.flush()
        n += 40
    w.set_attrs(end_time=np.float64(12.5))
    w.close(complete)


def test_compaction_keeps_every_dataset_and_attribute_and_its_type(tmp_path):
    path = tmp_path / "t.h5"
    _write(path, 300, complete=False)  # no compaction on an incomplete close
    before = tmp_path / "before.h5"
    shutil.copy(path, before)
    assert compact(path, min_waste=0.0, min_bytes=0)
    assert path.stat().st_size < 0.6 * before.stat().st_size
    assert compare_traces(before, path) == []
    with h5py.File(before, "r") as a, h5py.File(path, "r") as b:
        assert list(a.attrs) == list(b.attrs)
        for k in a.attrs:
            assert a.attrs.get_id(k).dtype == b.attrs.get_id(k).dtype
            np.testing.assert_array_equal(a.attrs[k], b.attrs[k])
        da, db = a["packets"], b["packets"]
        assert (da.chunks, da.compression, da.compression_opts, da.shuffle, da.maxshape) == \
            (db.chunks, db.compression, db.compression_opts, db.shuffle, db.maxshape)
        assert dict(da.attrs) == dict(db.attrs)
        # the same file format (superblock version 3: libver v110, readable by PyTables/pandas)
        assert a.id.get_create_plist().get_version() == b.id.get_create_plist().get_version()
        assert b.id.get_create_plist().get_version()[0] == 3
    assert not compact(path, min_waste=0.1, min_bytes=0)  # nothing left to give back


def test_a_trace_flushed_every_tick_is_as_small_as_one_flushed_once(tmp_path):
    """Flushing (wall-clock driven) changes neither the content nor, after the close, the size:
    40 bytes per packet at most (issue 13), ~15 here."""
    sizes, paths = [], []
    for flush in ("1 ms", "1000 s"):
        sc = load_scenario("twin-city", ["duration=120", "vehicles.count=20", f"trace.flush_interval={flush}"])
        path = tmp_path / f"f{flush.split()[0]}.h5"
        stats = Simulation(sc, make_policy("greedy"), trace_path=str(path)).run()
        sizes.append(path.stat().st_size / sum(stats.generated))
        paths.append(path)
    assert compare_traces(paths[1], paths[0]) == []
    assert sizes[0] <= 1.02 * sizes[1] and sizes[0] <= 40.0
