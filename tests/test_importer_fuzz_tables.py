"""Importer fuzz, the fixed corpus of the table importers (issue 14 item 3): PeMS flow (the D12
CSV layout and the PEMS0x ``.npz``), the background workload built from it, and RSU site lists.
Before, one ``1e308`` PeMS cell became inf in float32 and turned every server's background to
0, and an all-zero file gave NaN rates, both with only numpy warnings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _importer_fuzz import (
    PEMS_FLOW,
    PLACEMENT_LL,
    PLACEMENT_XY,
    modes_agree,
    run_import,
    write_input,
)
from conftest import tiny

from desim_iov.config import ConfigError
from traces.errors import TraceFormatError
from traces.pems import PemsData, load_pems_npz

HEADER, *ROWS = PEMS_FLOW.splitlines(keepends=True)


def _flow(rows: list[str]) -> bytes:
    return (HEADER + "".join(rows)).encode()


def _with_cell(row: int, value: str) -> bytes:
    """The valid flow with station 22's cell of data row ``row`` (0-based) set to ``value``."""
    rows = list(ROWS)
    rows[row] = rows[row].rsplit(",", 1)[0] + f",{value}\n"
    return _flow(rows)


@pytest.mark.parametrize(("value", "says"), [
    ("1e308", "value 1e+308 in column 22 above 100,000 (vehicles per step)"),
    ("3.5e38", "value 3.5e+38 in column 22 above 100,000"),  # finite in float64, inf in float32
    ("1e30", "value 1e+30 in column 22 above 100,000"),
    ("inf", "non-numeric value 'inf' in column 22"),
    ("nan", "non-numeric value 'nan' in column 22"),
    ("-1", "negative value -1 in column 22"),
    ("", "missing value in column 22"),
    ("1" * 400, "non-numeric value '1111"),  # a Python int there, not a float
])
def test_pems_bad_cell_is_refused_or_its_row_repaired(tmp_path, value, says):
    """raise: the cell's file and line; skip: the row is dropped and noted, its step
    interpolated and unobserved, and the flow of every other step kept as read."""
    path = write_input(tmp_path, "pems", _with_cell(4, value))
    (_, got), (_, exact) = modes_agree("pems", "default", path)
    assert str(exact).startswith(f"{path / 'flow_5min.csv'}:6: ") and says in str(exact)
    assert got.notes[0].startswith("flow_5min.csv: dropped 1 malformed rows, first: ")
    good = run_import("pems", "default", write_input(tmp_path / "ok", "pems", PEMS_FLOW.encode()))[1]
    keep = np.arange(len(ROWS)) != 4
    np.testing.assert_array_equal(got.flow[keep], good.flow[keep])
    assert got.flow[4, 1] == (good.flow[3, 1] + good.flow[5, 1]) / 2 and not got.observed[4].any()


def test_pems_all_zero_flow_is_an_error_in_both_modes(tmp_path):
    path = write_input(tmp_path, "pems", _flow([r.split(",")[0] + ",0,0\n" for r in ROWS]))
    (lenient, got), (strict, exact) = modes_agree("pems", "default", path)
    assert lenient == strict == "error"
    assert str(exact) == f"{path / 'flow_5min.csv'}: every flow cell is 0: no workload shape (a " \
        "background scaled to its mean would be 0/0)"


def test_pems_row_of_another_period_is_dropped_not_a_decade_of_steps(tmp_path):
    """A row dated 1970 among rows of 2022: strict reading refuses the step; lenient reading
    drops the row (before, the grid ran from 1970: 5 million interpolated steps)."""
    rows = list(ROWS)
    rows[6] = "1970-01-01 00:00" + rows[6][16:]
    path = write_input(tmp_path, "pems", _flow(rows))
    (_, got), (_, exact) = modes_agree("pems", "default", path)
    assert ":8: irregular time step at 1970-01-01 00:00:00" in str(exact)
    assert got.n_steps == len(ROWS) and got.timestamps[0] == pd.Timestamp("2022-01-24 08:00")
    assert "timestamp 1970-01-01 00:00:00 lies over 12 steps from the file's median row" in got.notes[0]


def test_pems_too_sparse_to_interpolate_is_an_error(tmp_path):
    """Skip mode fills short gaps; 3 usable rows for 12 steps is not a repair."""
    rows = [r if i < 3 else r.rsplit(",", 1)[0] + ",x\n" for i, r in enumerate(ROWS)]
    path = write_input(tmp_path, "pems", _flow(rows))
    (lenient, got), _ = modes_agree("pems", "default", path)
    assert lenient == "error" and str(got).startswith(f"{path / 'flow_5min.csv'}: only 3 valid rows "
                                                       "for the 12 steps from 2022-01-24 08:00:00")


@pytest.mark.parametrize(("values", "says"), [
    (np.full((4, 2, 1), 1e308), "holds NaN or inf in feature 0 (or a value beyond float32)"),
    (np.full((4, 2, 1), np.nan), "holds NaN or inf"),
    (np.r_[np.ones(7), -3.0].reshape(4, 2, 1), "'data'[3, 1, 0] = -3 outside [0, 100,000]"),
    (np.r_[np.ones(7), 1e30].reshape(4, 2, 1), "'data'[3, 1, 0] = 1e+30 outside [0, 100,000]"),
    (np.zeros((4, 2, 1)), "feature 0 of 'data' is 0 everywhere: no workload shape"),
])
def test_pems_npz_bad_values_are_one_line(tmp_path, values, says):
    path = tmp_path / "PEMS.npz"
    np.savez(path, data=values)
    with pytest.raises(ValueError) as err:
        load_pems_npz(path)
    assert str(err.value).startswith(f"{path}: ") and says in str(err.value)


def _background(tmp_path: Path, flow: bytes):
    from desim_iov.servers import PemsBackground

    src = write_input(tmp_path, "pems", flow)
    s = tiny("twin-city", "background.model=pems", f"background.pems_source={src}",
             "background.pems_start=2022-01-24 08:00", "duration=600")
    m = 6
    return PemsBackground(s, np.full(m, 1e9), np.ones(m, bool), np.zeros(m), np.random.default_rng(0))


def test_pems_background_is_never_silently_zero(tmp_path):
    """The workload the run sees: positive and finite for every server at every time of a
    good file; a 1e308 cell is a one-line ConfigError naming file and line (before: every
    server's background 0)."""
    bg = _background(tmp_path / "good", PEMS_FLOW.encode())
    rates = np.array([bg.rate(t) for t in np.arange(0.0, 600.0, 30.0)])
    assert np.isfinite(rates).all() and (rates > 0).all()
    with pytest.raises(ConfigError, match=r"background.pems_source: .*flow_5min.csv:6: value 1e\+308"):
        _background(tmp_path / "bad", _with_cell(4, "1e308"))


def test_pems_background_refuses_a_zero_mean(tmp_path, monkeypatch):
    """The background's own guard (the importer already refuses such data): flow whose mean
    is 0 cannot be scaled to background.utilisation."""
    import desim_iov.servers as servers

    zero = PemsData(flow=np.zeros((12, 2), np.float32), observed=np.ones((12, 2), bool),
                    timestamps=pd.date_range("2022-01-24 08:00", periods=12, freq="5min"),
                    station_ids=np.array(["11", "22"]), lat=np.full(2, np.nan), lon=np.full(2, np.nan))
    monkeypatch.setattr(servers, "_read_pems", lambda path, mtime: zero)
    with pytest.raises(ConfigError, match="mean flow 0, so the background cannot be scaled"):
        _background(tmp_path, PEMS_FLOW.encode())


@pytest.mark.parametrize(("text", "line", "says"), [
    (PLACEMENT_XY.replace("150.5", "1e308"), 3, "x 1e+308 outside [-1e+08, 1e+08] m"),
    (PLACEMENT_XY.replace("-20", "-2e8"), 3, "y -2e+08 outside [-1e+08, 1e+08] m"),
    (PLACEMENT_XY.replace("12.5", "1e308"), 3, "z 1e+308 outside [-10000, 100000] m"),
    (PLACEMENT_XY.replace("12.5", "inf"), 3, "bad z 'inf'"),
    (PLACEMENT_LL.replace("39.91", "91"), 3, "lat 91 outside [-90, 90] degrees"),
    (PLACEMENT_LL.replace("116.40", "-180.5"), 2, "lon -180.5 outside [-180, 180] degrees"),
    (PLACEMENT_XY.replace("150.5", "1" * 10_000), 3, "bad x '1111"),
])
def test_placement_implausible_site_is_one_line_naming_the_line(tmp_path, text, line, says):
    path = write_input(tmp_path, "placement", text.encode())
    outcome, err = run_import("placement", "default", path)
    assert outcome == "error" and isinstance(err, TraceFormatError)
    assert err.line == line and says in err.message and len(err.message) < 200
