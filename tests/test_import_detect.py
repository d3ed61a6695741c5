"""Format detection from content, dispatch to the readers, and errors on unknown content."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from traces.detect import detect_format, load_trajectories
from traces.errors import TraceFormatError

TDRIVE = "3,2008-02-02 13:30:00,116.40,39.90\r\n3,2008-02-02 13:35:00,116.41,39.91\r\n"
FCD = ('<?xml version="1.0" encoding="UTF-8"?>\n<!-- ' + "configuration " * 400 + "-->\n"
       '<fcd-export>\n<timestep time="0.00">\n'
       '<vehicle id="v" x="100.0" y="200.0" angle="0" type="car" speed="0" pos="0" lane="e_0" slope="0"/>\n'
       '</timestep>\n</fcd-export>\n')
CSV = "\ufeffid,t,x,y\na,0,0,0\na,1,5,0\n"


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    d = tmp_path / "logs"
    d.mkdir()
    (d / "3.txt").write_text(TDRIVE)
    out = {"dir": d}
    for name, text in {"log.dat": TDRIVE, "run.out": FCD, "table.txt": CSV}.items():
        (tmp_path / name).write_text(text)
        out[name] = tmp_path / name
    out["zipped"] = tmp_path / "sim.bin"
    out["zipped"].write_bytes(gzip.compress(FCD.encode()))
    return out


def test_each_format_is_told_from_content(files: dict[str, Path]) -> None:
    assert detect_format(files["dir"]) == "tdrive"
    assert detect_format(files["log.dat"]) == "tdrive"  # headerless T-Drive line, any name
    assert detect_format(files["run.out"]) == "fcd"  # root found after a long comment
    assert detect_format(files["zipped"]) == "fcd"  # gzip by magic bytes
    assert detect_format(files["table.txt"]) == "csv"  # header with id and t, after a BOM


def test_load_dispatches_and_passes_options(files: dict[str, Path]) -> None:
    ts = load_trajectories(files["dir"], min_points=1)
    assert ts.crs == "lonlat" and ts.vehicles() == ["3"]
    assert load_trajectories(files["zipped"], geo=False).crs == "xy"
    assert len(load_trajectories(files["table.txt"])) == 2
    forced = load_trajectories(files["log.dat"], fmt="tdrive")
    assert len(forced) == 2 and forced.report.balanced
    with pytest.raises(ValueError, match="unknown trajectory format 'gpx'"):
        load_trajectories(files["log.dat"], fmt="gpx")


def test_unknown_content_names_file_and_expectation(tmp_path: Path) -> None:
    odd = tmp_path / "odd.csv"
    odd.write_text("timestamp;lat;lon\n1;2;3\n")
    with pytest.raises(TraceFormatError) as err:
        detect_format(odd)
    msg = str(err.value)
    assert msg.startswith(f"{odd}:1: unknown trajectory format, first line 'timestamp;lat;lon'")
    assert "expected a T-Drive" in msg and "<fcd-export>" in msg and "id and t" in msg
    routes = tmp_path / "routes.xml"
    routes.write_text('<?xml version="1.0"?>\n<routes><vehicle id="a"/></routes>\n')
    with pytest.raises(TraceFormatError, match=r"routes.xml: XML root is <routes>, not <fcd-export>"):
        detect_format(routes)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n \n")
    with pytest.raises(TraceFormatError, match="empty file"):
        load_trajectories(empty)
    (tmp_path / "nothing").mkdir()
    with pytest.raises(TraceFormatError, match="no <id>.txt files"):
        detect_format(tmp_path / "nothing")


def test_missing_file_and_directory_are_one_line_format_errors(tmp_path: Path) -> None:
    from traces.csvtraj import read_csvtraj
    from traces.fcd import read_fcd

    for read in (read_fcd, read_csvtraj):
        with pytest.raises(TraceFormatError, match="is a directory, expected a"):
            read(tmp_path)
        with pytest.raises(TraceFormatError, match="gone.xml: no such file"):
            read(tmp_path / "gone.xml")
    with pytest.raises(TraceFormatError, match="no such file or directory"):
        detect_format(tmp_path / "gone.xml")
