"""The digital twin's training data read back from a trace (``traces.dt_states``), fuzzed
(issue 14 item 3): ``/dt_states`` rows with any kind code, agent index, state size, NaN or
1e308 features, missing or repeated rows, a dataset lacking fields or of another type, no
dataset, another schema major, a scenario that is not JSON. Each ends in per-kind grids of
finite states or in one TraceError line naming the file; never another exception."""

from __future__ import annotations

import os

import h5py
import numpy as np
import pytest

from traces.dt_states import read_dt_states
from traces.reader import TraceError
from traces.schema import DT_STATE_WIDTH, OFFLOAD_DTYPES, SCHEMA_VERSION

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SCALE = max(1, int(os.environ.get("DESIM_FUZZ_EXAMPLES", "1000"))) / 1000
DTYPE = OFFLOAD_DTYPES["dt_states"]


def _rows(slots: int = 3, agents: int = 2, kinds=(0, 2), n: int = 5) -> np.ndarray:
    """One row per (kind, slot, agent): what a run writes."""
    out = []
    for k in kinds:
        for s in range(slots):
            for a in range(agents):
                state = np.zeros(DT_STATE_WIDTH, np.float32)
                state[:n] = np.arange(n) + 10 * s + a
                out.append((s, 30.0 * s, k, a, n, state, (a, -1, 0)))
    return np.array(out, dtype=DTYPE)


def _write(path, rows, *, version: str = SCHEMA_VERSION, scenario: str = "{}", drop: bool = False):
    with h5py.File(path, "w") as f:
        f.attrs["schema_version"] = version
        f.attrs["scenario"] = scenario
        f.attrs["complete"] = 1
        if not drop:
            f.create_dataset("dt_states", data=rows)
    return path


def _outcome(path):
    """``"ok"`` (and the data checked) or ``"error"``; anything else fails."""
    try:
        d = read_dt_states(path)
    except TraceError as e:
        assert str(path) in str(e) and "\n" not in str(e), str(e)
        return "error"
    for k in d.kinds.values():
        assert np.isfinite(k.state).all() and k.state.shape[:2] == k.action.shape[:2]
        assert (k.action >= -1).all() and len(k.slots) == k.state.shape[0]
    return "ok"


def test_valid_rows_read_back_as_grids(tmp_path):
    d = read_dt_states(_write(tmp_path / "t.h5", _rows()))
    assert sorted(d.kinds) == ["bs", "vehicle"] and d.kinds["vehicle"].state.shape == (3, 2, 5)
    assert d.kinds["bs"].state[2, 1, 4] == 4 + 20 + 1


@pytest.mark.parametrize(("change", "says"), [
    (lambda r: r.__setitem__("kind", 7), "an agent kind code not in [0, 1, 2]"),
    (lambda r: r["index"].__setitem__(3, -2), "row 3 (slot 1) has a negative agent index"),
    (lambda r: r["n"].__setitem__(0, 200), f"a state size over the {DT_STATE_WIDTH} features"),
    (lambda r: r["state"].__setitem__((4, 2), np.nan), "row 4 (slot 2) has a state feature that is NaN"),
    (lambda r: r["state"].__setitem__((4, 2), np.inf), "NaN or infinite"),
    (lambda r: r["action"].__setitem__((1, 0), -7), "an action below -1"),
    # (slot 0, agent 0) twice, agent 1 missing: 6 rows = 3 x 2, which the count alone passed
    (lambda r: r["index"].__setitem__(1, 0), "has 6 vehicle rows, expected one per agent and slot (3 x 2)"),
])
def test_rows_no_run_writes_are_one_line(tmp_path, change, says):
    rows = _rows(kinds=(0,))
    change(rows)
    with pytest.raises(TraceError, match=r"t\.h5: /dt_states ") as e:
        read_dt_states(_write(tmp_path / "t.h5", rows))
    assert says in str(e.value) and "\n" not in str(e.value)


def test_a_nan_beyond_the_state_size_is_padding(tmp_path):
    rows = _rows()
    rows["state"][:, -1] = np.nan  # past n: never read
    assert _outcome(_write(tmp_path / "t.h5", rows)) == "ok"


@pytest.mark.parametrize(("kw", "rows", "says"), [
    ({"drop": True}, None, "no /dt_states"),
    ({"version": "9.0"}, None, "trace schema 9.0 is not readable"),
    ({"scenario": "{not json"}, None, "its scenario attribute is not JSON"),
    ({}, np.zeros(3, [("slot", "<i4"), ("kind", "u1")]), "lacks the field(s) index, n, state, action"),
    ({}, np.zeros(3, [(f, "<f8") for f in ("slot", "kind", "index", "n", "state", "action")]),
     "field(s) slot, kind, index, n, action are not integers"),
    ({}, np.zeros(3, [("slot", "<i4"), ("kind", "u1"), ("index", "<i4"), ("n", "u1"),
                      ("state", "<f4", (4,)), ("action", "<i2", (2,))]), "expected (3,) and (features,)"),
])
def test_damaged_trace_is_one_line(tmp_path, kw, rows, says):
    path = _write(tmp_path / "t.h5", _rows() if rows is None else rows, **kw)
    with pytest.raises(TraceError) as e:
        read_dt_states(path)
    assert says in str(e.value) and str(path) in str(e.value)


CELLS = st.one_of(st.integers(-3, 300), st.sampled_from([np.nan, np.inf, -np.inf, 1e308, 3.5e38, -1e-30]))


@settings(max_examples=max(1, int(150 * SCALE)), derandomize=True, database=None, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(edits=st.lists(st.tuples(st.sampled_from(["slot", "kind", "index", "n", "state", "action", "drop",
                                                 "repeat"]), st.integers(0, 11), CELLS), max_size=4))
def test_mutated_rows_end_in_grids_or_one_line(tmp_path, edits):
    rows = _rows()
    for field, i, value in edits:
        if field == "drop":
            rows = np.delete(rows, i % len(rows))
        elif field == "repeat":
            rows = np.insert(rows, 0, rows[i % len(rows)])
        elif field in ("state", "action"):
            with np.errstate(all="ignore"):
                rows[field][i % len(rows), 0] = value if field == "state" else np.clip(
                    np.nan_to_num(value), -(2**15), 2**15 - 1)
        else:
            info = np.iinfo(rows[field].dtype)
            rows[field][i % len(rows)] = int(np.clip(np.nan_to_num(value), info.min, info.max))
    assert _outcome(_write(tmp_path / "t.h5", rows)) in ("ok", "error")
