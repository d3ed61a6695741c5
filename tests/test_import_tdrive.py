"""T-Drive import: cleaning counts, splitting, window and vehicle selection, streaming, errors."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from traces.errors import TraceFormatError
from traces.tdrive import BEIJING_REGION, read_tdrive

# One dirty taxi log. Expected fate of each line (min_points=2, defaults otherwise):
DIRTY = [
    "7,2008-02-02 10:00:00,116.40000,39.90000",  # 1 kept
    "7,2008-02-02 10:00:00,116.40000,39.90000",  # 2 duplicate (exact line)
    "7,2008-02-02 10:00:00,116.40100,39.90000",  # 3 duplicate_time (same time, other place)
    "7,2008-02-02 10:01:00,116.40500,39.90000",  # 4 kept
    "7,2008-02-02 10:02:00,116.60500,39.90000",  # 5 speed_jump: 17 km in 60 s, ~1020 km/h
    "7,2008-02-02 10:02:30,0.0,0.0",  # 6 zero_coordinate
    "7,2008-02-02 10:03:00,116.40600,0",  # 7 zero_coordinate
    "7,2008-02-02 10:03:30,145.01350,68.09484",  # 8 out_of_region
    "7,2008-02-02 10:05:00,116.41000,39.90000",  # 9 kept (427 m from line 4 in 4 min)
    "7,2008-02-02 10:06:00,116.41",  # 10 malformed: 3 fields
    "7,2008-02-31 10:07:00,116.41,39.90",  # 11 malformed: no 31 February
    "8,2008-02-02 10:08:00,116.41,39.90",  # 12 malformed: id 8 in 7.txt
    "7,2008-02-02 10:09:00,abc,39.90",  # 13 malformed: longitude
    "7,2008-02-02 10:10:00,116.41200,39.90100",  # 14 kept
    "7,2008-02-02 12:10:00,116.42000,39.91000",  # 15 kept, after a 2 h gap: piece 7#1
    "7,2008-02-02 12:11:00,116.42100,39.91000",  # 16 kept
    "7,2008-02-02 15:00:00,116.43000,39.92000",  # 17 short_segment: piece 7#2 has 1 fix
    "",  # 18 blank
]
EXPECTED_REMOVED = {"duplicate": 1, "duplicate_time": 1, "speed_jump": 1, "zero_coordinate": 2,
                    "out_of_region": 1, "malformed": 4, "short_segment": 1, "blank": 1}


def write_log(path: Path, lines: list[str], newline: str = "\n") -> Path:
    path.write_bytes((newline.join(lines) + newline).encode())
    return path


@pytest.fixture
def dirty(tmp_path: Path) -> Path:
    return write_log(tmp_path / "7.txt", DIRTY)


def test_dirty_log_counts_every_line_under_one_reason(dirty: Path) -> None:
    ts = read_tdrive(dirty)
    r = ts.report
    assert r.lines_read == 18
    assert r.removed == EXPECTED_REMOVED
    assert r.rows_kept == 6 and r.balanced
    assert r.splits == 2  # two gaps > 30 min; the last piece is then too short
    assert ts.vehicles() == ["7#0", "7#1"]
    assert ts.crs == "lonlat" and ts.t0 == pd.Timestamp("2008-02-02 10:00:00")
    f = ts.frame
    assert f["t"].tolist() == [0.0, 60.0, 300.0, 600.0, 7800.0, 7860.0]
    assert f["lon"].tolist() == [116.4, 116.405, 116.41, 116.412, 116.42, 116.421]
    ts.check()


def test_malformed_lines_are_reported_with_file_and_line(dirty: Path) -> None:
    ex = read_tdrive(dirty).report.examples
    assert [e.split(": ", 1)[0] for e in ex] == [f"{dirty}:{n}" for n in (10, 11, 12, 13)]
    assert "expected 4 comma-separated fields" in ex[0]
    assert "bad time '2008-02-31 10:07:00'" in ex[1]
    assert "taxi id 8 does not match the file name 7.txt" in ex[2]
    assert "bad longitude 'abc'" in ex[3]
    assert "malformed" in read_tdrive(dirty).report.summary()


def test_on_error_raise_stops_at_the_first_malformed_line(dirty: Path) -> None:
    with pytest.raises(TraceFormatError) as err:
        read_tdrive(dirty, on_error="raise")
    assert err.value.line == 10 and err.value.path == str(dirty)
    assert re.fullmatch(rf"{re.escape(str(dirty))}:10: expected 4 .*", str(err.value))
    assert "\n" not in str(err.value)


def test_crlf_and_lf_logs_read_the_same(tmp_path: Path) -> None:
    (tmp_path / "lf").mkdir()
    (tmp_path / "crlf").mkdir()
    lf = read_tdrive(write_log(tmp_path / "lf" / "7.txt", DIRTY, "\n"))
    crlf = read_tdrive(write_log(tmp_path / "crlf" / "7.txt", DIRTY, "\r\n"))
    pd.testing.assert_frame_equal(lf.frame, crlf.frame)
    assert lf.report.removed == crlf.report.removed == EXPECTED_REMOVED


def test_tiny_chunks_give_the_same_result_as_one_chunk(dirty: Path) -> None:
    big = read_tdrive(dirty, chunksize=1_000_000)
    for size in (1, 3, 7):
        small = read_tdrive(dirty, chunksize=size)
        pd.testing.assert_frame_equal(big.frame, small.frame)
        assert (small.report.removed, small.report.splits) == (big.report.removed, big.report.splits)
        assert small.report.examples == big.report.examples


def test_window_keeps_half_open_interval_and_sets_t0(dirty: Path) -> None:
    ts = read_tdrive(dirty, window=("2008-02-02 10:00:30", pd.Timestamp("2008-02-02 12:10:30")))
    r = ts.report
    # lines 1-3 are before, 16-17 after; then line 4 is the first fix, line 15 a lone piece
    assert r.removed == {"outside_window": 5, "speed_jump": 1, "zero_coordinate": 2,
                         "out_of_region": 1, "malformed": 4, "short_segment": 1, "blank": 1}
    assert r.balanced and r.rows_kept == 3
    assert ts.t0 == pd.Timestamp("2008-02-02 10:00:30")
    assert ts.vehicles() == ["7#0"]
    assert ts.frame["t"].tolist() == [30.0, 270.0, 570.0]


def test_aware_window_is_converted_to_beijing_time(dirty: Path) -> None:
    naive = read_tdrive(dirty, window=("2008-02-02 10:00:30", None))
    aware = read_tdrive(dirty, window=(pd.Timestamp("2008-02-02 02:00:30", tz="UTC"), None))
    pd.testing.assert_frame_equal(naive.frame, aware.frame)


def test_options_switch_cleaning_steps_off(dirty: Path) -> None:
    ts = read_tdrive(dirty, region=None, max_speed_mps=None, split_gap_s=None, min_points=1)
    assert ts.report.removed == {"duplicate": 1, "duplicate_time": 1, "zero_coordinate": 2,
                                 "malformed": 4, "blank": 1}
    assert ts.vehicles() == ["7"] and ts.report.splits == 0 and len(ts) == 9


def fleet(tmp_path: Path) -> Path:
    """Taxis 1, 2 (only zero positions) and 10, plus a file that is not a taxi log."""
    d = tmp_path / "logs"
    d.mkdir(exist_ok=True)
    write_log(d / "10.txt", ["10,2008-02-03 08:00:00,116.3,39.9", "10,2008-02-03 08:01:00,116.301,39.9"])
    write_log(d / "2.txt", ["2,2008-02-03 08:00:00,0,0", "2,2008-02-03 08:05:00,0,0"])
    write_log(d / "1.txt", ["1,2008-02-02 08:00:00,116.5,39.8", "1,2008-02-02 08:01:00,116.501,39.8"],
              "\r\n")
    (d / "README.md").write_text("not a log\n")
    return d


def test_directory_is_read_in_numeric_id_order(tmp_path: Path) -> None:
    ts = read_tdrive(fleet(tmp_path))
    assert ts.vehicles() == ["1", "10"]  # frame order is plain string order
    r = ts.report
    assert r.files_read == 3 and r.lines_read == 6 and r.removed == {"zero_coordinate": 2}
    assert any("Ignored 1" in n for n in r.notes)
    assert ts.t0 == pd.Timestamp("2008-02-02 08:00:00")


def test_max_vehicles_takes_first_taxis_with_data_and_stops_reading(tmp_path: Path) -> None:
    ts = read_tdrive(fleet(tmp_path), max_vehicles=1)
    assert ts.vehicles() == ["1"] and ts.report.files_read == 1
    assert any("2 files not read" in n for n in ts.report.notes)
    ts = read_tdrive(fleet(tmp_path), max_vehicles=2)  # taxi 2 has no valid fix: 1 and 10
    assert ts.vehicles() == ["1", "10"] and ts.report.files_read == 3 and ts.report.balanced


def test_file_not_named_by_id_may_hold_several_taxis(tmp_path: Path) -> None:
    p = write_log(tmp_path / "sample.txt", [
        "12,2008-02-02 08:00:00,116.3,39.9", "3,2008-02-02 08:00:00,116.4,39.9",
        "12,2008-02-02 08:01:00,116.301,39.9", "3,2008-02-02 08:01:00,116.401,39.9"])
    ts = read_tdrive(p, max_vehicles=1)
    assert ts.vehicles() == ["3"]
    assert ts.report.removed == {"vehicle_not_selected": 2}


def test_per_vehicle_and_bounds(dirty: Path) -> None:
    ts = read_tdrive(dirty)
    parts = list(ts.per_vehicle())
    assert [p[0] for p in parts] == ["7#0", "7#1"]
    vid, t, xy = parts[1]
    assert t.tolist() == [7800.0, 7860.0] and xy.shape == (2, 2)
    assert ts.bounds() == (116.4, 39.9, 116.421, 39.91)
    xy_set = ts.to_xy(116.4, 39.9)
    assert xy_set.crs == "xy" and xy_set.frame["x"].iloc[0] == 0.0
    assert xy_set.frame["x"].iloc[1] == pytest.approx(0.005 * np.pi / 180 * 6_371_393 * np.cos(np.radians(39.9)))


def test_missing_path_and_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(TraceFormatError, match="nope: no such file or directory"):
        read_tdrive(tmp_path / "nope")
    with pytest.raises(TraceFormatError, match="no T-Drive <id>.txt files"):
        read_tdrive(tmp_path)


def _data_dir() -> Path:
    default = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    return Path(os.environ.get("DESIM_IOV_DATA", default))


@pytest.mark.realdata
def test_real_tdrive_twenty_taxis_add_up() -> None:
    logs = _data_dir() / "tdrive" / "taxi_log_2008_by_id"
    if not logs.is_dir():
        pytest.skip(f"T-Drive logs not found at {logs} (set DESIM_IOV_DATA)")
    ts = read_tdrive(logs, max_vehicles=20)
    r = ts.report
    taxis = {v.split("#")[0] for v in ts.vehicles()}
    assert len(taxis) == 20
    # the files read are the first ones in numeric order; count their lines independently
    names = sorted((p for p in logs.iterdir() if p.name[:-4].isdigit()), key=lambda p: int(p.stem))
    lines = sum(p.read_bytes().count(b"\n") for p in names[: r.files_read])
    assert r.lines_read == lines
    assert r.lines_read == r.rows_kept + sum(r.removed.values())
    assert r.removed.get("malformed", 0) == 0 and r.removed["duplicate"] > 0
    lo1, la1, lo2, la2 = ts.bounds()
    assert BEIJING_REGION[0] <= lo1 and lo2 <= BEIJING_REGION[2]
    assert BEIJING_REGION[1] <= la1 and la2 <= BEIJING_REGION[3]
    ts.check()


def _sequential_reference(start, ts, x, y, vmax, gap, candidates=4, lookahead=16):
    """The rule as written, one fix at a time: compare each fix with the previous kept one; when
    the jump follows a piece's first kept fix, keep instead the first fix (of the first
    ``candidates``) from which this very rule keeps most of the piece's first ``lookahead``."""

    def fits(a, b):
        dt = ts[b] - ts[a]
        return dt > gap or np.hypot(x[b] - x[a], y[b] - y[a]) <= vmax * dt

    def chain(s, e):  # fixes kept in [s, e) from s, stopping at a gap
        kept, a = 1, s
        for j in range(s + 1, e):
            if ts[j] - ts[a] > gap:
                break
            if fits(a, j):
                kept, a = kept + 1, j
        return kept

    n = len(ts)
    end_of = np.zeros(n, int)  # each row's vehicle end
    for i in range(n - 1, -1, -1):
        end_of[i] = i + 1 if i == n - 1 or start[i + 1] else end_of[i + 1]
    drop = np.zeros(n, bool)
    anchor, fresh, i = None, False, 0
    while i < n:
        if start[i] or anchor is None or ts[i] - ts[anchor] > gap:
            anchor, fresh, i = i, True, i + 1  # a piece starts: its first fix is not judged yet
            continue
        if fits(anchor, i):
            anchor, fresh, i = i, False, i + 1
            continue
        if fresh:
            e = min(anchor + lookahead, end_of[anchor])
            lengths = [chain(s, e) for s in range(anchor, min(anchor + candidates, e))]
            best = anchor + int(np.argmax(lengths))
            drop[anchor:best] = True
            anchor, fresh, i = best, False, best + 1
            continue
        drop[i] = True
        i += 1
    return drop


def test_bad_first_fix_of_a_piece_is_dropped_not_the_piece(tmp_path: Path) -> None:
    """A cold-start fix 30 km away, then 29 good fixes a minute apart: the 29 stay."""
    lines = ["5,2008-02-02 09:00:00,116.70000,39.90000"]  # 25 km east of the route
    lines += [f"5,2008-02-02 09:{m:02d}:00,{116.40 + 0.002 * m:.5f},39.90000" for m in range(1, 30)]
    ts = read_tdrive(write_log(tmp_path / "5.txt", lines))
    assert len(ts) == 29 and ts.report.removed == {"speed_jump": 1}
    assert ts.frame["lon"].iloc[0] == pytest.approx(116.402)
    # a good first fix followed by a stuck run of three bad fixes keeps the good one
    stuck = lines[1:2] + ["5,2008-02-02 09:02:00,116.70000,39.90000"] * 1 + [
        f"5,2008-02-02 09:0{m}:00,116.70000,39.90000" for m in (3, 4)] + lines[5:]
    ts = read_tdrive(write_log(tmp_path / "5.txt", stuck))
    assert ts.report.removed == {"speed_jump": 3} and ts.frame["lon"].iloc[0] == pytest.approx(116.402)


def test_vectorised_speed_filter_matches_the_sequential_rule() -> None:
    from traces._clean import speed_jumps

    rng = np.random.default_rng(4)
    for _ in range(20):
        n = int(rng.integers(2, 300))
        start = np.zeros(n, bool)
        start[0] = True
        start[rng.choice(n, size=n // 40, replace=False)] = True
        ts = np.cumsum(rng.uniform(1, 120, n))
        ts[rng.random(n) < 0.03] += 4000  # some gaps longer than the split threshold
        ts = np.sort(ts)
        steps = rng.normal(0, 300, n)
        steps[rng.random(n) < 0.01] += 50_000  # relocations: long runs of dropped fixes
        x = np.cumsum(steps)
        x[rng.random(n) < 0.1] += 50_000  # isolated outliers, sometimes in runs
        y = np.cumsum(rng.normal(0, 300, n))
        got = speed_jumps(start, ts, x, y, geo=False, max_speed_mps=30.0, gap_s=1800.0)
        np.testing.assert_array_equal(got, _sequential_reference(start, ts, x, y, 30.0, 1800.0))


def test_truncated_gzip_log_is_one_line_error(tmp_path: Path) -> None:
    import gzip

    lines = [f"3,2008-02-02 {h:02d}:{m:02d}:00,116.{4000 + m:05d},39.90000" for h in range(24)
             for m in range(60)]
    data = gzip.compress(("\n".join(lines) * 20).encode())
    p = tmp_path / "3.txt"
    p.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(TraceFormatError, match=r"3.txt: truncated or corrupt gzip \(") as err:
        read_tdrive(p)
    assert "\n" not in str(err.value)
