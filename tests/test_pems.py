"""PeMS importers: the real D12 Orange export (skipped when ../shared/data is absent) and the
error messages / .npz layout on tiny fixtures."""

import numpy as np
import pandas as pd
import pytest

from traces.pems import default_data_dir, load_pems_d12, load_pems_npz

D12 = default_data_dir() / "pems" / "D12_Orange_2022-01"
needs_d12 = pytest.mark.skipif(not (D12 / "flow_5min.csv").is_file(),
                               reason=f"PeMS D12 data not found at {D12} (set DESIM_IOV_DATA)")


@pytest.mark.realdata
@needs_d12
def test_d12_loads_81_stations_over_four_weeks_with_observation_mask():
    d = load_pems_d12()
    assert d.flow.shape == (8064, 81) and d.flow.dtype == np.float32
    assert d.observed.shape == (8064, 81) and d.observed.dtype == bool
    assert d.timestamps[0] == pd.Timestamp("2022-01-01 00:00")
    assert d.timestamps[-1] == pd.Timestamp("2022-01-28 23:55")
    assert len(d.station_ids) == 81 and d.station_ids[0] == "1205320"
    assert 0.85 < d.observed.mean() < 0.87  # 14.1 % of cells imputed (PROVENANCE Sec. 3)
    # the network-wide outage 2022-01-08 03:05 .. 01-10 10:25 is imputed everywhere
    out = (d.timestamps >= "2022-01-08 03:05") & (d.timestamps <= "2022-01-10 10:25")
    assert out.sum() == 665 and not d.observed[out].any()
    assert sorted(d.station_ids[d.fully_imputed]) == ["1205364", "1221932"]
    assert np.isnan(d.lat).all() and np.isnan(d.lon).all()  # stations.csv has no coordinates
    assert {"fwy", "abs_pm", "lanes"} <= set(d.stations.columns)


@pytest.mark.realdata
@needs_d12
def test_d12_accepts_the_shared_data_dir_or_the_dataset_dir():
    assert load_pems_d12(D12).flow.shape == load_pems_d12(D12.parent.parent).flow.shape


def _write_d12(tmp_path, n=4, flow_rows=None, obs_cols=None):
    ts = pd.date_range("2022-01-01", periods=n, freq="5min").strftime("%Y-%m-%d %H:%M")
    flow = pd.DataFrame({"timestamp": ts, "11": range(n), "22": range(n)})
    if flow_rows is not None:
        flow = flow.iloc[:flow_rows]
    flow.to_csv(tmp_path / "flow_5min.csv", index=False)
    obs = pd.DataFrame({"timestamp": ts, **{c: [100] * n for c in (obs_cols or ["11", "22"])}})
    obs.to_csv(tmp_path / "observed_pct_5min.csv", index=False)
    pd.DataFrame({"node": [0, 1], "vds_id": ["11", "22"], "fwy": ["I5-N", "I5-S"]}).to_csv(
        tmp_path / "stations.csv", index=False)


def test_d12_tiny_fixture_loads_and_bad_inputs_raise_one_line_errors(tmp_path):
    _write_d12(tmp_path)
    d = load_pems_d12(tmp_path)
    assert d.flow.shape == (4, 2) and d.observed.all() and list(d.station_ids) == ["11", "22"]

    with pytest.raises(ValueError, match="not found"):
        load_pems_d12(tmp_path / "nowhere")
    _write_d12(tmp_path, flow_rows=3)
    with pytest.raises(ValueError, match=r"observed_pct_5min.csv: shape \(4, 2\) differs"):
        load_pems_d12(tmp_path)
    _write_d12(tmp_path, obs_cols=["11", "33"])
    with pytest.raises(ValueError, match="station columns differ"):
        load_pems_d12(tmp_path)
    _write_d12(tmp_path)
    (tmp_path / "stations.csv").unlink()
    with pytest.raises(ValueError, match=r"stations.csv: file not found"):
        load_pems_d12(tmp_path)
    _write_d12(tmp_path)
    (tmp_path / "flow_5min.csv").write_text("timestamp,11\n2022-01-01 00:00,abc\n")
    with pytest.raises(ValueError, match=r"flow_5min.csv:2: non-numeric value 'abc' in column 11$"):
        load_pems_d12(tmp_path)


def _lines(path):
    return path.read_text().splitlines()


def test_d12_malformed_rows_name_file_and_line_or_are_skipped(tmp_path):
    """One-line errors with the line (pandas' own ParserError text has a newline); with
    on_error='skip' the bad rows are dropped and their steps kept as unobserved cells."""
    _write_d12(tmp_path, n=6)
    good = load_pems_d12(tmp_path)
    flow = tmp_path / "flow_5min.csv"
    lines = _lines(flow)  # header + 6 rows; flow of both stations at step i is i
    lines[3] = lines[3] + ",7"                        # line 4: a field too many
    lines[5] = "2022-01-01 00:20,-3,4"                # line 6: negative flow
    flow.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError) as exc:
        load_pems_d12(tmp_path)
    assert str(exc.value) == f"{flow}:4: expected 3 fields as in the header, got 4"
    d = load_pems_d12(tmp_path, on_error="skip")
    assert d.flow.shape == (6, 2) and d.timestamps.equals(good.timestamps)
    # steps 2 and 4 have no valid row: unobserved, flow interpolated from steps 1, 3 and 5
    assert d.observed.all(axis=1).tolist() == [True, True, False, True, False, True]
    np.testing.assert_array_equal(d.flow[:, 0], [0, 1, 2, 3, 4, 5])
    assert d.notes[0].startswith(f"flow_5min.csv: dropped 2 malformed rows, first: {flow}:4: ")
    assert "2 of 6 steps lack a valid row" in d.notes[-1]
    # an empty cell and a bad timestamp are reported with their line too
    flow.write_text("timestamp,11,22\n2022-01-01 00:00,1,\n")
    with pytest.raises(ValueError, match=r"flow_5min.csv:2: missing value in column 22$"):
        load_pems_d12(tmp_path)
    flow.write_text("timestamp,11,22\n\n2022-01-01 00:00,1,2\n2022-13-01 00:05,1,2\n")
    with pytest.raises(ValueError, match=r"flow_5min.csv:4: bad timestamp '2022-13-01 00:05'"):
        load_pems_d12(tmp_path)
    # a time step that does not fit the grid
    _write_d12(tmp_path, n=6)
    lines = _lines(flow)
    lines[4] = lines[4].replace("00:15", "00:17")
    flow.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"flow_5min.csv:5: irregular time step at 2022-01-01 00:17"):
        load_pems_d12(tmp_path)
    d = load_pems_d12(tmp_path, on_error="skip")
    assert d.observed.all(axis=1).tolist() == [True, True, True, False, True, True]
    assert "off the 0 days 00:05:00 grid" in d.notes[0]


def test_d12_streams_in_chunks(tmp_path):
    """Chunks of 3 lines give the same arrays as one chunk, and the same as pandas reading the
    whole file (an independent reference)."""
    _write_d12(tmp_path, n=50)
    a = load_pems_d12(tmp_path, chunksize=3)
    b = load_pems_d12(tmp_path, chunksize=10_000)
    ref = pd.read_csv(tmp_path / "flow_5min.csv", index_col=0)
    np.testing.assert_array_equal(a.flow, b.flow)
    np.testing.assert_array_equal(a.flow, ref.to_numpy(np.float32))
    assert (a.timestamps == pd.to_datetime(ref.index)).all() and a.observed.all()


def test_npz_layout_loads_time_sensor_feature(tmp_path):
    data = np.random.default_rng(0).uniform(0, 300, (10, 4, 3)).astype(np.float32)
    p = tmp_path / "PEMS08.npz"
    np.savez(p, data=data)
    d = load_pems_npz(p)
    assert d.flow.shape == (10, 4) and d.observed.all()
    np.testing.assert_array_equal(d.flow, data[:, :, 0])
    assert d.timestamps[0] == pd.Timestamp("2016-07-01")  # documented PEMS08 start
    np.testing.assert_array_equal(load_pems_npz(p, feature=2).flow, data[:, :, 2])
    with pytest.raises(ValueError, match="feature 3 out of range"):
        load_pems_npz(p, feature=3)
    np.savez(tmp_path / "bad.npz", data=np.zeros(5))
    with pytest.raises(ValueError, match=r"bad.npz: 'data' must be \[time, sensor, feature\]"):
        load_pems_npz(tmp_path / "bad.npz")
    np.savez(tmp_path / "nokey.npz", x=np.zeros((2, 2, 1)))
    with pytest.raises(ValueError, match="no 'data' array"):
        load_pems_npz(tmp_path / "nokey.npz")
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(ValueError, match="junk.npz: not a readable .npz"):
        load_pems_npz(tmp_path / "junk.npz")


def test_npy_is_memory_mapped_and_cut_npz_is_one_line(tmp_path):
    data = np.arange(10 * 4 * 3, dtype=np.float32).reshape(10, 4, 3)
    np.save(tmp_path / "PEMS04.npy", data)
    d = load_pems_npz(tmp_path / "PEMS04.npy", feature=1)
    np.testing.assert_array_equal(d.flow, data[:, :, 1])
    assert not isinstance(d.flow, np.memmap) and d.flow.flags.owndata  # a copy, not the map

    assert d.timestamps[0] == pd.Timestamp("2018-01-01")
    np.savez_compressed(tmp_path / "z.npz", data=data)
    raw = (tmp_path / "z.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match=r"cut.npz: not a readable .npz \(") as err:
        load_pems_npz(tmp_path / "cut.npz")
    assert "\n" not in str(err.value)
    (tmp_path / "cut.npy").write_bytes((tmp_path / "PEMS04.npy").read_bytes()[:200])
    with pytest.raises(ValueError, match=r"cut.npy: not a readable .npy"):
        load_pems_npz(tmp_path / "cut.npy")


def test_unreadable_stations_csv_is_one_line(tmp_path):
    _write_d12(tmp_path)
    (tmp_path / "stations.csv").write_text("node,vds_id\n0,11\n1,22,extra\n")
    with pytest.raises(ValueError, match=r"stations.csv: not a readable CSV") as err:
        load_pems_d12(tmp_path)  # pandas' ParserError text ends in a newline
    assert "\n" not in str(err.value)
