"""The HDF5 trace: root attributes, datasets readable by pandas.read_hdf and h5py, units."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pandas as pd
import pytest
from conftest import tiny

from agents.base import make_policy
from analysis.summary import summarize
from desim_iov.sim import Simulation
from traces.reader import TraceError, open_trace
from traces.schema import OUTCOMES, SCHEMA_VERSION, mask_from_bytes

DATASETS = ["packets", "migrations", "decisions", "slots", "server_load", "positions", "servers"]


@pytest.fixture(scope="module")
def trace_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("fmt") / "t.h5"
    Simulation(tiny("twin-rural"), make_policy("random"), trace_path=str(path),
               provenance={"desim_iov_version": "test", "git_sha": "abc"}).run()
    return path


def test_root_attributes(trace_path):
    with h5py.File(trace_path) as f:
        assert f.attrs["schema_version"] == SCHEMA_VERSION
        assert int(f.attrs["complete"]) == 1
        assert json.loads(f.attrs["scenario"])["name"] == "twin-rural"
        assert int(f.attrs["seed"]) == 0
        assert f.attrs["desim_iov_version"] == "test"
        # superblock v3: the file format of libver ("v110", "v110"), SWMR-capable
        assert f.id.get_create_plist().get_version()[0] == 3


@pytest.mark.parametrize("name", DATASETS)
def test_pandas_read_hdf_reads_every_dataset(trace_path, name):
    df = pd.read_hdf(trace_path, name)
    assert len(df) > 0
    with h5py.File(trace_path) as f:
        ds = f[name]
        assert ds.chunks is not None and ds.compression == "gzip" and ds.shuffle
        assert list(df.columns) == list(ds.dtype.names)
        assert len(df) == ds.shape[0]


def test_outcome_names_and_mask_decoding(trace_path):
    with h5py.File(trace_path) as f:
        names = json.loads(f["packets"].attrs["outcome_names"])
    assert {int(k): v for k, v in names.items()} == OUTCOMES
    dec = open_trace(trace_path).df("decisions")
    masks = mask_from_bytes(dec["mask"].to_numpy())
    assert masks.shape == (len(dec), 68 + 10 + 1)  # RSUs, UAVs, satellite
    np.testing.assert_array_equal(masks.sum(axis=1), dec.n_feasible)


def test_summary_recomputes_the_papers_metrics(trace_path):
    sm = summarize(trace_path)
    t = sm.total
    assert t["packets_generated"] == t["packets_delivered"] + t["packets_dropped"] + t["packets_in_flight_at_end"]
    assert t["migrations"] == t["migrations_formula"]
    slots = open_trace(trace_path).df("slots")
    assert t["O_T_formula_s"] == pytest.approx(slots.t_sum.sum())
    assert (sm.per_vehicle.loss_formula_q <= 1).all()


def test_foreign_empty_and_truncated_files_are_refused(tmp_path, trace_path):
    with pytest.raises(TraceError, match="no such trace"):
        open_trace(tmp_path / "missing.h5")
    (tmp_path / "empty.h5").write_bytes(b"")
    with pytest.raises(TraceError, match="not a readable HDF5"):
        open_trace(tmp_path / "empty.h5")
    data = trace_path.read_bytes()
    (tmp_path / "cut.h5").write_bytes(data[: len(data) // 3])
    with pytest.raises(TraceError):
        open_trace(tmp_path / "cut.h5")
    with h5py.File(tmp_path / "foreign.h5", "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(TraceError, match="not a desim_iov trace"):
        open_trace(tmp_path / "foreign.h5")


def test_a_swmr_reader_follows_a_live_run(tmp_path):
    """While the run goes, a reader opened with swmr=True sees /packets grow."""
    path = tmp_path / "live.h5"
    sc = __import__("conftest").tiny("twin-city", "duration=300", "trace.chunk_rows=256")
    sim = Simulation(sc, make_policy("greedy"), trace_path=str(path))
    sim.start()
    seen = []
    with h5py.File(path, "r", swmr=True) as reader:
        ds = reader["packets"]
        for until in (100, 200, 300):
            sim.env.run(until=until)
            sim.recorder.flush()
            ds.refresh()
            seen.append(ds.shape[0])
            assert int(reader.attrs["complete"]) == 0
    assert seen[0] > 0 and seen[0] < seen[1] < seen[2]
    sim.run()  # the rest of the run, then the trace is closed complete
    assert int(h5py.File(path).attrs["complete"]) == 1


_KILLED_RUN = """
import os, sys
from agents.base import make_policy
from desim_iov.config import load_scenario
from desim_iov.sim import Simulation
sc = load_scenario("twin-city", ["duration=300", "trace.chunk_rows=256"])
sim = Simulation(sc, make_policy("greedy"), trace_path=sys.argv[1])
sim.start()
sim.env.run(until=100)
sim.recorder.flush()
os._exit(9)  # as SIGKILL: no close, no atexit, the file stays marked open for writing
"""


def test_a_killed_run_leaves_a_readable_incomplete_trace(tmp_path):
    """DESIGN Sec. 5: a run that dies leaves a readable file marked incomplete — also when the
    process is killed outright and the HDF5 file is never closed."""
    import subprocess
    import sys
    import warnings

    from traces.reader import IncompleteTraceWarning

    path = tmp_path / "killed.h5"
    proc = subprocess.run([sys.executable, "-c", _KILLED_RUN, str(path)], timeout=120)
    assert proc.returncode == 9
    with pytest.raises(OSError):  # a plain read-only open refuses the file ...
        h5py.File(path, "r")
    with warnings.catch_warnings(record=True) as caught:  # ... the reader does not
        warnings.simplefilter("always")
        tr = open_trace(path)
    assert any(issubclass(w.category, IncompleteTraceWarning) for w in caught)
    assert not tr.complete
    packets = tr.df("packets")
    assert len(packets) > 0 and packets["created"].max() < 100.0 + 1e-9


def test_damaged_dataset_and_directory_give_one_line_errors(tmp_path, trace_path):
    """Zeroed bytes inside a dataset's stored chunk: the file opens, reading that dataset gives
    a one-line TraceError naming the file and the dataset (not h5py's OSError)."""
    with h5py.File(trace_path) as f:
        info = f["packets"].id.get_chunk_info(0)
    data = bytearray(trace_path.read_bytes())
    data[info.byte_offset:info.byte_offset + info.size] = bytes(info.size)
    bad = tmp_path / "zeroed.h5"
    bad.write_bytes(bytes(data))
    tr = open_trace(bad)
    assert len(tr.df("servers")) > 0  # the undamaged datasets still read
    with pytest.raises(TraceError) as err:
        tr.df("packets")
    msg = str(err.value)
    assert "\n" not in msg and str(bad) in msg and "'/packets'" in msg and "damaged" in msg
    with pytest.raises(TraceError, match="is a directory"):
        open_trace(tmp_path)
