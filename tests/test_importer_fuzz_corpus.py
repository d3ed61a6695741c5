"""Importer fuzz, the fixed corpus (issue 14 item 3): every importer's valid small inputs
damaged in every way a file is damaged in practice (empty, cut, binary garbage, latin-1 and
UTF-16, a 10 MB line or field, NUL bytes, gzip whole or cut, reordered lines, CR line ends),
and the trajectory importers' number and date damage (NaN, inf, 1e308, negative and huge
times, 1970 and 2099, coordinates off the globe). Every file ends in a clean result or one error
line naming the file (``tests/_importer_fuzz.py``); with ``on_error="skip"`` the good rows are
kept and the dropped ones counted, and ``"raise"`` refuses the file at the first bad line."""

from __future__ import annotations

import functools
from pathlib import Path

import pandas as pd
import pytest
from _importer_fuzz import (
    CSV_ISO,
    CSV_XY,
    FCD,
    FCD_GEO,
    TDRIVE,
    VALID,
    generic_damage,
    modes_agree,
    run_import,
    write_input,
)

from traces.errors import MAX_MESSAGE, TraceFormatError
from traces.fcd import read_fcd
from traces.tdrive import read_tdrive

DAMAGES = tuple(generic_damage("a,b\n1,2\n"))


@functools.lru_cache(maxsize=16)
def _damaged(kind: str, valid: str) -> dict[str, bytes]:
    return generic_damage(VALID[kind][valid])


CASES = [(k, v, d) for k in VALID for i, v in enumerate(VALID[k]) for d in DAMAGES
         if "10MB" not in d or i == 0]  # the 10 MB ones once per importer: ~0.4 s each


@pytest.mark.parametrize(("kind", "valid", "damage"), CASES, ids=["-".join(c) for c in CASES])
def test_damaged_file_ends_in_a_result_or_one_error_line(tmp_path, kind, valid, damage):
    path = write_input(tmp_path, kind, _damaged(kind, valid)[damage])
    if kind == "placement":
        outcome, _ = run_import(kind, "default", path)
    else:
        (outcome, got), (strict, exact) = modes_agree(kind, "default", path)
    # what each importer must make of the plainest damage: T-Drive reads an empty log (the
    # real release has one) and counts garbage lines as malformed; every other format refuses
    if damage in ("empty", "binary_garbage", "utf16"):
        if kind == "tdrive":
            assert outcome == "accepted" and got.report.rows_kept == 0
            assert got.report.removed.get("malformed", 0) == (0 if damage == "empty" else got.report.lines_read
                                                              - got.report.removed.get("blank", 0))
        else:
            assert outcome == "error"
    if damage in ("gzip", "crlf", "cr_only") and kind != "placement":  # the same data
        assert outcome == strict == "accepted"


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


@pytest.mark.parametrize("kind", ["tdrive", "csv", "fcd"])
def test_a_10_mb_line_costs_that_line_only(tmp_path, kind):
    """A line of 10 MB of digits among good ones: skip keeps every other row and names the
    line in a message of at most MAX_MESSAGE characters; raise refuses at that line."""
    valid = {"tdrive": TDRIVE, "csv": CSV_XY, "fcd": FCD}[kind]
    lines = _lines(valid)
    at = 3  # 0-based: line 4 of the file
    if kind == "fcd":  # a vehicle element whose x is 10 MB long
        at = next(i for i, ln in enumerate(lines) if "<vehicle" in ln)
        lines[at] = lines[at].replace('x="', 'x="' + "9" * 10_000_000, 1)
    else:
        lines[at] = lines[at].replace(",", "," + "9" * 10_000_000, 1)
    path = write_input(tmp_path, kind, "".join(lines).encode())
    (_, got), (strict, exact) = modes_agree(kind, "default", path)
    (tmp_path / "v").mkdir()
    clean = run_import(kind, "default", write_input(tmp_path / "v", kind, valid.encode()))[1]
    assert got.report.removed["malformed"] == 1
    assert got.report.rows_kept == clean.report.rows_kept - 1
    assert strict == "error" and exact.line == at + 1
    assert len(exact.message) <= MAX_MESSAGE + 30 and "characters" in exact.message


# ---- numbers and dates ----------------------------------------------------------------------

def _tdrive_line(t: str, lon: str = "116.40500", lat: str = "39.90500") -> str:
    return f"7,{t},{lon},{lat}\n"


TDRIVE_BAD = [  # (bad line, what the message says)
    (_tdrive_line("2008-02-02 10:30:00", lon="nan"), "bad longitude 'nan'"),
    (_tdrive_line("2008-02-02 10:30:00", lon="inf"), "bad longitude 'inf'"),
    (_tdrive_line("2008-02-02 10:30:00", lat="1e308"), "latitude '1e308' outside [-90, 90]"),
    (_tdrive_line("2008-02-02 10:30:00", lon="-200"), "longitude '-200' outside [-180, 180]"),
    (_tdrive_line("1970-01-01 00:00:00"), "before the GPS epoch 1980-01-06"),
    (_tdrive_line("1969-12-31 23:59:59"), "before the GPS epoch"),
    (_tdrive_line("9999-12-31 23:59:59"), "'9999-12-31 23:59:59' from 2262-01-01 on"),
    (_tdrive_line("2008-02-30 10:30:00"), "bad time '2008-02-30 10:30:00'"),
    ("99999999999999999999,2008-02-02 10:30:00,116.4,39.9\n", "is not an integer"),
]


@pytest.mark.parametrize(("line", "says"), TDRIVE_BAD, ids=[s for _, s in TDRIVE_BAD])
@pytest.mark.parametrize("mode", ["default", "bare"])
def test_tdrive_bad_number_or_date_is_malformed_with_its_line(tmp_path, line, says, mode):
    lines = _lines(TDRIVE)
    path = write_input(tmp_path, "tdrive", "".join(lines[:4] + [line] + lines[4:]).encode())
    (_, got), (_, exact) = modes_agree("tdrive", mode, path)
    assert got.report.removed == {"malformed": 1} and got.report.rows_kept == len(lines)
    assert got.report.examples == [f"{path}:5: {exact.message}"] and says in exact.message


def _taxi(d: Path, taxi: int, day: str, n: int = 6) -> None:
    (d / f"{taxi}.txt").write_text("".join(
        f"{taxi},{day} 10:{m:02d}:00,116.{400 + 3 * m + taxi:03d},39.90{taxi}\n" for m in range(n)))


def test_a_taxi_dated_far_from_the_fleet_is_dropped_and_named(tmp_path):
    """Four taxis of 2008 and one of 2099: the 2099 taxi would set no t0 of its own but leave
    t spanning 91 years; it is dropped as far_date, counted and named, and every kept taxi
    starts within the first minutes."""
    for taxi in (1, 2, 3, 4):
        _taxi(tmp_path, taxi, "2008-02-03")
    _taxi(tmp_path, 5, "2099-02-03")
    ts = read_tdrive(tmp_path)
    assert ts.vehicles() == ["1", "2", "3", "4"] and ts.t0 == pd.Timestamp("2008-02-03 10:00")
    r = ts.report
    assert r.removed == {"far_date": 6} and r.balanced and float(ts.frame["t"].max()) == 300.0
    assert any("Dropped 1 vehicles (6 fixes)" in n and "5 (2099-02-03)" in n for n in r.notes)
    _taxi(tmp_path, 5, "2012-02-03")  # 4 years: plausible, kept (the run's warning names it)
    ts = read_tdrive(tmp_path)
    assert "5" in ts.vehicles() and "far_date" not in ts.report.removed


def test_fixes_far_from_their_files_median_are_dropped(tmp_path):
    """A stray 2099 fix in a 2008 log with splitting off: it would stretch the taxi over 91
    years; it is dropped (far_date, noted), the rest kept."""
    lines = _lines(TDRIVE)
    path = write_input(tmp_path, "tdrive", "".join(lines + [_tdrive_line("2099-01-01 00:00:00")]).encode())
    (_, got), (strict, _) = modes_agree("tdrive", "bare", path)
    assert got.report.removed == {"far_date": 1} and got.report.rows_kept == len(lines)
    assert strict == "accepted" and any("dated 2099-01-01 00:00:00, over 3,653 days" in n for n in got.report.notes)


CSV_BAD = [  # (bad line for CSV_XY: id,t,x,y,z,speed; what the message says)
    ("1,-5,0,0,0,1\n", "time '-5' outside [0, 1e+09] s"),
    ("1,1e300,0,0,0,1\n", "time '1e300' outside"),
    ("1,nan,0,0,0,1\n", "bad time 'nan'"),
    ("1,20,1e308,0,0,1\n", "x '1e308' outside [-1e+08, 1e+08] m"),
    ("1,20,0,-inf,0,1\n", "bad y '-inf'"),
    ("1,20,0,0,1e308,1\n", "z '1e308' outside [-10000, 100000] m"),
    ("1,20,0,0,0,-3e8\n", "speed '-3e8' outside [-1000, 1000] m/s"),
    ("1,20,0,0,0,NaN\n", "bad speed 'NaN'"),
    ("1" * 300 + ",20,0,0,0,1\n", "longer than 256 characters"),
]


@pytest.mark.parametrize(("line", "says"), CSV_BAD, ids=[s for _, s in CSV_BAD])
def test_csv_bad_number_is_malformed_with_its_line(tmp_path, line, says):
    lines = _lines(CSV_XY)
    path = write_input(tmp_path, "csv", "".join(lines[:3] + [line] + lines[3:]).encode())
    (_, got), (_, exact) = modes_agree("csv", "default", path)
    assert got.report.removed == {"malformed": 1} and got.report.rows_kept == len(lines) - 1
    assert exact.line == 4 and says in exact.message, exact.message
    assert list(got.frame.columns) == ["vehicle", "t", "x", "y", "z", "speed"]


def test_csv_iso_dates_far_or_in_another_zone(tmp_path):
    lines = _lines(CSV_ISO)
    bad = ["taxi9,1970-01-01T00:00:00Z,39.9,116.4\n",  # 4: before the GPS epoch
           "taxi9,2024-05-01T08:09:00,39.9,116.4\n",  # 5: no zone, unlike the first time
           "taxi9,2099-01-01T00:00:00Z,39.9,116.4\n"]  # 6: far from the others: far_date
    path = write_input(tmp_path, "csv", "".join(lines[:3] + bad + lines[3:]).encode())
    (_, got), (_, exact) = modes_agree("csv", "default", path)
    r = got.report
    assert r.removed == {"malformed": 2, "far_date": 1} and r.rows_kept == len(lines) - 1
    assert [e.split(": ", 1)[1] for e in r.examples] == [
        "time '1970-01-01T00:00:00Z' before the GPS epoch 1980-01-06 (a receiver's reset clock)",
        "time '2024-05-01T08:09:00' has no offset or Z, unlike the file's first time"]
    assert exact.line == 4 and float(got.frame["t"].max()) == 240.0
    assert got.t0 == pd.Timestamp("2024-05-01 08:00", tz="UTC")


def test_csv_z_missing_on_some_fixes_leaves_the_column_out(tmp_path):
    """An empty z is allowed, but NaN heights would stop a run (a trajectory needs finite
    positions): the column is left out and the report says why."""
    path = write_input(tmp_path, "csv", CSV_XY.replace(",1.5,11\n", ",,11\n", 1).encode())
    outcome, ts = run_import("csv", "default", path)
    assert outcome == "accepted" and "z" not in ts.frame and "speed" in ts.frame
    assert "Left out column z: 1 of 10 kept fixes have none." in ts.report.notes


def test_fcd_negative_and_huge_times_are_malformed_not_a_traceback(tmp_path):
    """Before: one negative time= was a negative SimPy delay (a traceback in the run)."""
    text = FCD.replace('time="0.00"', 'time="-5.00"').replace('time="4.00"', 'time="1e300"')
    path = write_input(tmp_path, "fcd", text.encode())
    (_, got), (_, exact) = modes_agree("fcd", "default", path)
    r = got.report
    assert r.removed == {"malformed": 4, "person": 1} and r.rows_kept == 6
    assert exact.line == 4 and exact.message == "<timestep> time '-5.00' outside [0, 1e+09] s"
    assert r.examples[2].endswith(":21: <timestep> time '1e300' outside [0, 1e+09] s")
    assert got.frame["t"].between(1.0, 3.0).all()


@pytest.mark.parametrize(("attr", "says"), [
    ('x="1e308"', "has x='1e308' outside [-1e+08, 1e+08] m"),
    ('y="-1e9"', "has y='-1e9' outside [-1e+08, 1e+08] m"),
    ('z="1e308"', "has z='1e308' outside [-10000, 100000] m"),
    ('speed="3e8"', "has speed='3e8' outside [-1000, 1000] m/s"),
    ('x="nan"', "has a non-numeric x='nan'"),
    ('id="' + "v" * 300 + '"', "id longer than 256 characters"),
])
def test_fcd_bad_attribute_is_malformed_with_its_line(tmp_path, attr, says):
    name = attr.split("=")[0]
    lines = _lines(FCD)
    at = next(i for i, ln in enumerate(lines) if 'id="veh2"' in ln and 'time' not in ln and i > 8)
    lines[at] = lines[at].replace(f' {name}="', f' {name}_old="', 1).replace("<vehicle ", f"<vehicle {attr} ", 1)
    path = write_input(tmp_path, "fcd", "".join(lines).encode())
    (_, got), (_, exact) = modes_agree("fcd", "default", path)
    assert got.report.removed == {"malformed": 1, "person": 1} and got.report.rows_kept == 9
    assert exact.line == at + 1 and says in exact.message, exact.message


def test_fcd_geo_file_with_metres_is_malformed_with_the_line(tmp_path):
    """A geo file (SUMO's configuration says so) whose vehicle has x=200: not a longitude."""
    lines = _lines(FCD_GEO)
    at = next(i for i, ln in enumerate(lines) if 'time="2.00"' in ln) + 1
    lines[at] = lines[at].replace('x="116.400200"', 'x="200.5"')
    path = write_input(tmp_path, "fcd", "".join(lines).encode())
    ts = read_fcd(path, geo=True)
    assert ts.report.removed == {"malformed": 1} and len(ts.frame) == 4 and ts.crs == "lonlat"
    assert ts.report.examples == [f"{path}:{at + 1}: <vehicle> at x=200.5, y=39.9 is not lon/lat "
                                  "in a lon/lat (geo) file"]
    with pytest.raises(TraceFormatError, match=rf":{at + 1}: <vehicle> at x=200.5"):
        read_fcd(path, geo=True, on_error="raise")


def test_fcd_declared_encoding_it_cannot_read_is_one_line(tmp_path):
    for enc in ("A", "utf-32", "rot13"):
        path = write_input(tmp_path, "fcd", FCD.replace('encoding="UTF-8"', f'encoding="{enc}"').encode())
        for kind in ("fcd", "auto"):
            outcome, err = run_import(kind, "default", path)
            assert outcome == "error" and "XML declares an encoding that cannot be read" in str(err)


def test_an_error_message_never_exceeds_its_limit():
    e = TraceFormatError("f.csv", 3, "bad x " + "9" * 10_000_000)
    assert str(e).startswith("f.csv:3: bad x 999") and len(e.message) < MAX_MESSAGE + 30
    assert str(e).endswith("... (10,000,006 characters)") and "\n" not in str(e)
