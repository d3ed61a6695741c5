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
    with pytest.raises(ValueError, match=r"flow_5min.csv: non-numeric value 'abc'"):
        load_pems_d12(tmp_path)


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
