"""Generic trajectory CSV import: both layouts, time kinds, malformed lines, streaming."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from traces.csvtraj import read_csvtraj
from traces.errors import TraceFormatError

XY = """id,t,x,y,z
car1,0,0.0,0.0,1.5
car1,1,10.0,0.0,1.5
car2,0,5.0,5.0,
car2,1,oops,5.0,2.0
car2,2,6.0,5.0
car1,1,11.0,0.0,1.5

car10,0.5,1.0,1.0,1.0
"""


def write(path: Path, text: str, newline: str = "\n") -> Path:
    path.write_bytes(text.replace("\n", newline).encode())
    return path


def test_metric_layout_with_a_malformed_line(tmp_path: Path) -> None:
    ts = read_csvtraj(write(tmp_path / "m.csv", XY))
    assert ts.crs == "xy" and ts.t0 is None
    # car2's first fix has an empty z (allowed): a run needs z on every fix or on none, so
    # the column is left out and the report says why
    assert list(ts.frame.columns) == ["vehicle", "t", "x", "y"]
    assert "Left out column z: 1 of 4 kept fixes have none." in ts.report.notes
    assert ts.vehicles() == ["car1", "car10", "car2"]
    r = ts.report
    assert r.lines_read == 8 and r.rows_kept == 4 and r.balanced
    assert r.removed == {"malformed": 2, "duplicate_time": 1, "blank": 1}
    assert r.examples == [f"{tmp_path / 'm.csv'}:5: bad x 'oops'",
                          f"{tmp_path / 'm.csv'}:6: expected 5 fields as in the header, got 4"]
    f = ts.frame.set_index("vehicle")
    assert f.loc["car10", "t"] == 0.5
    ts.check()


def test_degree_layout_in_either_column_order_with_iso_times(tmp_path: Path) -> None:
    a = write(tmp_path / "a.csv", "id,t,lat,lon\n7,2008-02-02 10:00:00,39.9,116.4\n"
                                  "7,2008-02-02 10:01:00,39.9,116.401\n8,2008-02-02 10:00:30,39.95,116.5\n")
    b = write(tmp_path / "b.csv", "Vehicle,Timestamp,Longitude,Latitude\n7,2008-02-02T10:00:00,116.4,39.9\n"
                                  "7,2008-02-02T10:01:00,116.401,39.9\n8,2008-02-02T10:00:30,116.5,39.95\n",
              "\r\n")
    ta, tb = read_csvtraj(a), read_csvtraj(b)
    pd.testing.assert_frame_equal(ta.frame, tb.frame)
    assert ta.crs == "lonlat" and ta.t0 == pd.Timestamp("2008-02-02 10:00:00")
    assert ta.frame["t"].tolist() == [0.0, 60.0, 30.0]
    assert ta.frame["lon"].tolist() == [116.4, 116.401, 116.5]


def test_utc_offsets_are_converted(tmp_path: Path) -> None:
    p = write(tmp_path / "z.csv", "id,t,x,y\na,2024-01-01T00:00:00Z,0,0\na,2024-01-01T02:00:01+02:00,1,0\n")
    ts = read_csvtraj(p)
    assert ts.t0 == pd.Timestamp("2024-01-01", tz="UTC") and ts.frame["t"].tolist() == [0.0, 1.0]


def test_window_selection_and_streaming(tmp_path: Path) -> None:
    p = write(tmp_path / "m.csv", XY)
    big = read_csvtraj(p, window=(0, 1), max_vehicles=2)
    assert big.vehicles() == ["car1", "car2"]  # natural order: car1, car2, car10
    assert big.report.removed == {"malformed": 2, "blank": 1, "outside_window": 2,
                                  "vehicle_not_selected": 1}
    assert big.report.balanced
    for size in (1, 2, 5):
        small = read_csvtraj(p, window=(0, 1), max_vehicles=2, chunksize=size)
        pd.testing.assert_frame_equal(big.frame, small.frame)
        assert small.report.removed == big.report.removed
        assert small.report.examples == big.report.examples


def test_iso_window_sets_t0(tmp_path: Path) -> None:
    p = write(tmp_path / "i.csv", "id,t,x,y\na,2024-05-01 08:00:00,0,0\na,2024-05-01 08:00:10,5,0\n")
    ts = read_csvtraj(p, window=("2024-05-01 08:00:05", None))
    assert ts.t0 == pd.Timestamp("2024-05-01 08:00:05") and ts.frame["t"].tolist() == [5.0]


def test_on_error_raise_and_header_errors(tmp_path: Path) -> None:
    with pytest.raises(TraceFormatError) as err:
        read_csvtraj(write(tmp_path / "m.csv", XY), on_error="raise")
    assert err.value.line == 5 and str(err.value).endswith("m.csv:5: bad x 'oops'")
    with pytest.raises(TraceFormatError, match=r"h.csv:1: CSV header .* needs columns id, t"):
        read_csvtraj(write(tmp_path / "h.csv", "id,x,y\na,0,0\n"))
    with pytest.raises(TraceFormatError, match="both x,y and lat,lon"):
        read_csvtraj(write(tmp_path / "b.csv", "id,t,x,y,lat,lon\n"))
    with pytest.raises(TraceFormatError, match="empty file"):
        read_csvtraj(write(tmp_path / "e.csv", "\n\n"))


def test_out_of_range_degrees_are_malformed(tmp_path: Path) -> None:
    p = write(tmp_path / "d.csv", "id,t,lat,lon\na,0,91.0,10\na,1,45,10\n")
    r = read_csvtraj(p).report
    assert r.removed == {"malformed": 1} and r.examples[0].endswith(":2: bad lat '91.0'")


def test_trajectory_set_checks_its_invariants() -> None:
    from traces.trajectories import ImportReport, TrajectorySet

    def frame(v, t):
        return pd.DataFrame({"vehicle": v, "t": t, "x": 0.0, "y": 0.0})

    TrajectorySet(frame(["a", "a", "b"], [0.0, 1.0, 0.0]), "xy").check()
    for v, t in ((["b", "a"], [0.0, 0.0]), (["a", "a"], [1.0, 1.0]), (["a", "a"], [1.0, 0.0])):
        with pytest.raises(ValueError, match="not sorted"):
            TrajectorySet(frame(v, t), "xy").check()
    with pytest.raises(ValueError, match="lacks column"):
        TrajectorySet(frame(["a"], [0.0]), "lonlat")
    r = ImportReport(lines_read=3, rows_kept=1, removed={"malformed": 1})
    assert "do not add up" in r.summary() and not r.balanced


def test_degrees_get_the_t_drive_cleaning(tmp_path: Path) -> None:
    p = write(tmp_path / "ll.csv", "id,t,lat,lon\n"
              "a,0,39.90,116.40\n"      # kept
              "a,1,0,0\n"               # zero_coordinate: the receivers' null fix
              "a,2,39.90,0.0\n"         # zero_coordinate
              "a,3,68.09,145.01\n"      # kept, or out_of_region with a region
              "a,4,39.91,116.41\n")     # kept
    r = read_csvtraj(p).report
    assert r.removed == {"zero_coordinate": 2} and r.rows_kept == 3 and r.balanced
    r = read_csvtraj(p, region=(115.4, 39.4, 117.6, 41.1)).report
    assert r.removed == {"zero_coordinate": 2, "out_of_region": 1} and r.rows_kept == 2
    assert read_csvtraj(p, drop_zero=False).report.rows_kept == 5
    xy = write(tmp_path / "xy.csv", "id,t,x,y\na,0,0,0\na,1,0,5\n")  # metres: 0 is a place
    assert read_csvtraj(xy).report.rows_kept == 2
    with pytest.raises(ValueError, match="region"):
        read_csvtraj(p, region=(117.6, 39.4, 115.4, 41.1))


def test_non_utf8_id_is_malformed(tmp_path: Path) -> None:
    p = tmp_path / "bad.csv"
    p.write_bytes(b"id,t,x,y\n\xff\xfe,1,2,3\na,1,2,3\n")
    ts = read_csvtraj(p)
    assert ts.vehicles() == ["a"] and ts.report.removed == {"malformed": 1}
    assert ts.report.examples[0].startswith(f"{p}:2: bytes that are not UTF-8 in id")
    with pytest.raises(TraceFormatError, match=":2: bytes that are not UTF-8"):
        read_csvtraj(p, on_error="raise")


def test_truncated_gzip_is_one_line_error(tmp_path: Path) -> None:
    import gzip

    from traces.detect import load_trajectories
    from traces.errors import CorruptGzipError

    rows = "".join(f"v{i % 7},{i},{i * 3.5:.1f},{i % 11}.0\n" for i in range(40_000))
    data = gzip.compress(("id,t,x,y\n" + rows).encode())
    p = tmp_path / "cut.csv.gz"
    p.write_bytes(data[: len(data) // 2])
    for read in (read_csvtraj, load_trajectories):
        with pytest.raises(CorruptGzipError) as err:
            read(p)
        assert str(err.value) == f"{p}: truncated or corrupt gzip (Compressed file ended " \
                                 "before the end-of-stream marker was reached)"
