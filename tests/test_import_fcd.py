"""SUMO FCD import: metric and geo output, gzip by magic bytes, persons, errors with lines."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from traces.errors import CorruptGzipError, TraceFormatError
from traces.fcd import read_fcd

# Real output of Eclipse SUMO 1.28.0 (first 4 steps) on a 3-node network projected from
# lon/lat with netconvert --proj.utm, one walking person and two cars:
#   sumo -n geo.net.xml -r r.rou.xml --fcd-output fcd_xy.xml --human-readable-time
#   sumo -n geo.net.xml -r r.rou.xml --fcd-output fcd_geo.xml --fcd-output.geo
HEAD = """<?xml version="1.0" encoding="UTF-8"?>

<!-- generated on 2026-11-21T12:51:53+00:00 by Eclipse SUMO sumo 1.28.0
<sumoConfiguration xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="http://sumo.dlr.de/xsd/sumoConfiguration.xsd">
    <output>
        <fcd-output value="fcd.xml"/>
    </output>
</sumoConfiguration>
-->

<fcd-export xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="http://sumo.dlr.de/xsd/fcd_file.xsd">
"""
SUMO_XY = HEAD + """    <timestep time="00:00:00">
        <vehicle id="veh10" x="5.09" y="0.66" z="40.06" angle="90.38" type="car" speed="13.04" pos="5.10" lane="ab_0" slope="0.67"/>
        <person id="p0" x="-0.02" y="-0.59" z="40.00" angle="90.38" type="DEFAULT_PEDTYPE" speed="0.00" pos="0.00" edge="ab" slope="0.67"/>
    </timestep>
    <timestep time="00:00:01">
        <vehicle id="veh10" x="18.13" y="0.57" z="40.21" angle="90.38" type="car" speed="13.04" pos="18.14" lane="ab_0" slope="0.67"/>
        <person id="p0" x="1.19" y="-0.60" z="40.01" angle="90.38" type="DEFAULT_PEDTYPE" speed="1.21" pos="1.21" edge="ab" slope="0.67"/>
    </timestep>
    <timestep time="00:00:02">
        <vehicle id="veh10" x="30.76" y="0.48" z="40.36" angle="90.38" type="car" speed="12.64" pos="30.78" lane="ab_0" slope="0.67"/>
        <vehicle id="veh2" x="5.09" y="0.66" z="40.06" angle="90.38" type="car" speed="12.64" pos="5.10" lane="ab_0" slope="0.67"/>
        <person id="p0" x="2.45" y="-0.61" z="40.03" angle="90.38" type="DEFAULT_PEDTYPE" speed="1.26" pos="2.47" edge="ab" slope="0.67"/>
    </timestep>
    <timestep time="00:00:03">
        <vehicle id="veh10" x="42.89" y="0.40" z="40.50" angle="90.38" type="car" speed="12.12" pos="42.90" lane="ab_0" slope="0.67"/>
        <vehicle id="veh2" x="18.28" y="0.57" z="40.21" angle="90.38" type="car" speed="13.19" pos="18.29" lane="ab_0" slope="0.67"/>
        <person id="p0" x="3.91" y="-0.62" z="40.05" angle="90.38" type="DEFAULT_PEDTYPE" speed="1.46" pos="3.93" edge="ab" slope="0.67"/>
    </timestep>
</fcd-export>
"""
SUMO_GEO = HEAD + """    <timestep time="0.00">
        <vehicle id="veh10" x="116.400060" y="39.899986" z="40.06" angle="90.38" type="car" speed="13.04" pos="5.10" lane="ab_0" slope="0.67"/>
        <person id="p0" x="116.400000" y="39.899974" z="40.00" angle="90.38" type="DEFAULT_PEDTYPE" speed="0.00" pos="0.00" edge="ab" slope="0.67"/>
    </timestep>
    <timestep time="1.00">
        <vehicle id="veh10" x="116.400212" y="39.899986" z="40.21" angle="90.38" type="car" speed="13.04" pos="18.14" lane="ab_0" slope="0.67"/>
        <person id="p0" x="116.400014" y="39.899974" z="40.01" angle="90.38" type="DEFAULT_PEDTYPE" speed="1.21" pos="1.21" edge="ab" slope="0.67"/>
    </timestep>
    <timestep time="2.00">
        <vehicle id="veh10" x="116.400360" y="39.899986" z="40.36" angle="90.38" type="car" speed="12.64" pos="30.78" lane="ab_0" slope="0.67"/>
        <vehicle id="veh2" x="116.400060" y="39.899986" z="40.06" angle="90.38" type="car" speed="12.64" pos="5.10" lane="ab_0" slope="0.67"/>
        <person id="p0" x="116.400029" y="39.899974" z="40.03" angle="90.38" type="DEFAULT_PEDTYPE" speed="1.26" pos="2.47" edge="ab" slope="0.67"/>
    </timestep>
    <timestep time="3.00">
        <vehicle id="veh10" x="116.400502" y="39.899986" z="40.50" angle="90.38" type="car" speed="12.12" pos="42.90" lane="ab_0" slope="0.67"/>
        <vehicle id="veh2" x="116.400214" y="39.899986" z="40.21" angle="90.38" type="car" speed="13.19" pos="18.29" lane="ab_0" slope="0.67"/>
        <person id="p0" x="116.400046" y="39.899974" z="40.05" angle="90.38" type="DEFAULT_PEDTYPE" speed="1.46" pos="3.93" edge="ab" slope="0.67"/>
    </timestep>
</fcd-export>
"""


def write(path: Path, text: str, gz: bool = False) -> Path:
    data = text.encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def test_sumo_metric_output(tmp_path: Path) -> None:
    ts = read_fcd(write(tmp_path / "fcd.xml", SUMO_XY))
    assert ts.crs == "xy" and ts.t0 is None  # all |x|, |y| < 90 yet read as metres
    assert list(ts.frame.columns) == ["vehicle", "t", "x", "y", "z", "speed"]
    assert ts.vehicles() == ["veh10", "veh2"]
    f = ts.frame
    assert f["t"].tolist() == [0.0, 1.0, 2.0, 3.0, 2.0, 3.0]  # HH:MM:SS times
    assert f["x"].tolist()[:2] == [5.09, 18.13] and f["z"].iloc[-1] == 40.21
    r = ts.report
    assert (r.lines_read, r.rows_kept, r.removed) == (10, 6, {"person": 4}) and r.balanced
    ts.check()


def test_sumo_geo_output_is_detected_and_agrees_with_metric(tmp_path: Path) -> None:
    geo = read_fcd(write(tmp_path / "geo.xml", SUMO_GEO))
    assert geo.crs == "lonlat" and list(geo.frame.columns)[:4] == ["vehicle", "t", "lon", "lat"]
    assert geo.frame["lon"].iloc[0] == 116.40006 and geo.frame["lat"].iloc[0] == 39.899986
    # same simulation in metres: step lengths agree once the geo set is projected
    xy = read_fcd(write(tmp_path / "xy.xml", SUMO_XY))
    proj = geo.to_xy()
    for (_, _, a), (_, _, b) in zip(proj.per_vehicle(), xy.per_vehicle(), strict=True):
        np.testing.assert_allclose(np.hypot(*np.diff(a[:, :2], axis=0).T),
                                   np.hypot(*np.diff(b[:, :2], axis=0).T), rtol=0.02)
    forced = read_fcd(tmp_path / "geo.xml", geo=False)
    assert forced.crs == "xy" and forced.frame["x"].iloc[0] == 116.40006


def test_gzip_is_detected_by_magic_bytes_not_name(tmp_path: Path) -> None:
    plain = read_fcd(write(tmp_path / "a.xml", SUMO_XY))
    packed = read_fcd(write(tmp_path / "b.xml", SUMO_XY, gz=True))  # no .gz suffix
    also = read_fcd(write(tmp_path / "c.fcd.gz", SUMO_GEO, gz=True))
    pd.testing.assert_frame_equal(plain.frame, packed.frame)
    assert also.crs == "lonlat"


def test_tiny_batches_give_the_same_result(tmp_path: Path) -> None:
    p = write(tmp_path / "fcd.xml", SUMO_XY)
    pd.testing.assert_frame_equal(read_fcd(p, chunksize=1).frame, read_fcd(p).frame)


def fcd(*steps: str) -> str:
    return "<fcd-export>\n" + "".join(steps) + "</fcd-export>\n"


def test_bad_vehicles_are_counted_with_their_line(tmp_path: Path) -> None:
    p = write(tmp_path / "f.xml", fcd(
        '<timestep time="0">\n',                               # line 2
        '  <vehicle id="a" x="0" y="0" speed="1"/>\n',          # 3 kept
        '  <vehicle id="b" x="oops" y="0" speed="1"/>\n',       # 4 malformed x
        '  <vehicle id="c" y="0"/>\n',                          # 5 malformed: no x
        '  <vehicle x="1" y="0"/>\n',                           # 6 malformed: no id
        '  <container id="k" x="1" y="1"/>\n',                  # 7 container
        '</timestep>\n',
        '<timestep time="1">\n',
        '  <vehicle id="a" x="1" y="0" speed="1"/>\n',          # 10 kept
        '  <vehicle id="a" x="1" y="0" speed="1"/>\n',          # 11 duplicate
        '</timestep>\n',
        '<timestep time="soon">\n',
        '  <vehicle id="a" x="2" y="0"/>\n',                    # 14 malformed time
        '</timestep>\n'))
    r = read_fcd(p, geo=False).report
    assert r.removed == {"malformed": 4, "container": 1, "duplicate": 1}
    assert (r.lines_read, r.rows_kept) == (8, 2) and r.balanced
    assert [e.split(": ", 1)[0] for e in r.examples] == [f"{p}:{n}" for n in (4, 5, 6, 14)]
    assert r.examples[0].endswith("<vehicle id='b'> has a non-numeric x='oops'")
    assert r.examples[1].endswith("<vehicle id='c'> lacks x")
    assert r.examples[3].endswith("<timestep> has no valid time ('soon')")
    with pytest.raises(TraceFormatError) as err:
        read_fcd(p, on_error="raise")
    assert err.value.line == 4


def test_malformed_xml_raises_with_line_number(tmp_path: Path) -> None:
    p = write(tmp_path / "broken.xml", fcd(
        '<timestep time="0">\n', '  <vehicle id="a" x="0" y="0"/>\n',
        '  <vehicle id="b" x="0" y="0">\n', '</timestep>\n'))  # <vehicle> never closed
    with pytest.raises(TraceFormatError) as err:
        read_fcd(p)
    assert err.value.line == 5 and "malformed XML" in str(err.value)
    assert str(err.value).startswith(f"{p}:5: ")
    cut = write(tmp_path / "cut.xml", SUMO_XY[:-40])  # a run killed mid-write
    with pytest.raises(TraceFormatError, match="malformed XML: file ends early"):
        read_fcd(cut, on_error="raise")


def test_other_root_is_rejected(tmp_path: Path) -> None:
    p = write(tmp_path / "routes.xml", '<?xml version="1.0"?>\n<routes>\n<vehicle id="a"/>\n</routes>\n')
    with pytest.raises(TraceFormatError, match=r"routes.xml:2: root element is <routes>, expected <fcd-export>"):
        read_fcd(p)


def test_window_and_natural_vehicle_order(tmp_path: Path) -> None:
    steps = [f'<timestep time="{t}">\n' + "".join(
        f'<vehicle id="{v}" x="{1000 + 10 * t}" y="{i}" speed="10"/>\n' for i, v in enumerate(("veh10", "veh2", "veh1")))
        + "</timestep>\n" for t in range(4)]
    p = write(tmp_path / "f.xml", fcd(*steps))
    ts = read_fcd(p, max_vehicles=2, window=(1, 3))
    assert ts.vehicles() == ["veh1", "veh2"]
    assert ts.frame["t"].tolist() == [1.0, 2.0, 1.0, 2.0]
    assert ts.report.removed == {"outside_window": 6, "vehicle_not_selected": 2}


def test_ambiguous_standing_vehicles_default_to_metres_with_a_note(tmp_path: Path) -> None:
    p = write(tmp_path / "f.xml", fcd('<timestep time="0">\n<vehicle id="a" x="13.4" y="52.5" speed="0"/>\n</timestep>\n'))
    ts = read_fcd(p)
    assert ts.crs == "xy" and "geo=True" in ts.report.notes[0] and "geo=True" in ts.report.summary()
    assert read_fcd(p, geo=True).crs == "lonlat"


def _steps(n_steps: int, n_veh: int = 3) -> str:
    return fcd(*(f'<timestep time="{t}.00">\n' + "".join(
        f'  <vehicle id="v{v}" x="{100.0 + 10 * t:.2f}" y="{50.0 * v:.2f}" speed="10.00"/>\n'
        for v in range(n_veh)) + "</timestep>\n" for t in range(n_steps)))


def test_truncated_xml_keeps_complete_timesteps_in_skip_mode(tmp_path: Path) -> None:
    """SUMO killed mid-run: the file stops inside timestep 2, in the middle of a <vehicle>."""
    text = _steps(5)
    cut_at = text.index('<vehicle id="v2" x="120.00"')  + 12  # timestep 2, third vehicle
    p = write(tmp_path / "cut.xml", text[:cut_at])
    ts = read_fcd(p)
    assert sorted(set(ts.frame["t"])) == [0.0, 1.0]  # timesteps 0 and 1 are complete
    assert len(ts) == 6 and ts.vehicles() == ["v0", "v1", "v2"]
    r = ts.report
    assert r.removed == {"truncated": 2} and r.balanced  # v0, v1 of timestep 2
    assert "ends early" in r.summary() and "2 complete timesteps" in r.summary()
    with pytest.raises(TraceFormatError, match="file ends early"):
        read_fcd(p, on_error="raise")
    # cut between two timesteps (no </fcd-export>): nothing to drop
    between = write(tmp_path / "between.xml", text[:text.index('<timestep time="3.00">')])
    ts = read_fcd(between)
    assert len(ts) == 9 and "truncated" not in ts.report.removed
    assert "ends early" in ts.report.summary()


def test_truncated_and_corrupt_gzip(tmp_path: Path) -> None:
    text = _steps(400, n_veh=5)
    full = read_fcd(write(tmp_path / "full.xml", text)).frame
    data = gzip.compress(text.encode())
    cut = tmp_path / "cut.xml.gz"
    cut.write_bytes(data[: len(data) // 2])
    ts = read_fcd(cut)
    kept = ts.frame
    assert 0 < len(kept) < len(full) and len(kept) % 5 == 0  # whole timesteps only
    last = kept["t"].max()
    pd.testing.assert_frame_equal(kept, full[full["t"] <= last].reset_index(drop=True))
    assert "gzip stream ends early" in ts.report.summary() and ts.report.balanced
    with pytest.raises(CorruptGzipError, match="truncated or corrupt gzip") as err:
        read_fcd(cut, on_error="raise")
    assert "\n" not in str(err.value) and str(err.value).startswith(f"{cut}: ")
    bad = bytearray(data)
    bad[-8] ^= 0xFF  # the CRC of the data no longer matches
    broken = tmp_path / "crc.xml.gz"
    broken.write_bytes(bytes(bad))
    with pytest.raises(CorruptGzipError, match="truncated or corrupt gzip"):
        read_fcd(broken)  # damage is fatal even when skipping
    bad = bytearray(data)
    bad[len(bad) // 2: len(bad) // 2 + 64] = b"\xff" * 64  # damaged in the middle
    broken.write_bytes(bytes(bad))
    with pytest.raises(TraceFormatError, match="corrupt gzip|malformed XML"):
        read_fcd(broken)


GEO_COMMENT = """<?xml version="1.0" encoding="UTF-8"?>
<!-- generated by Eclipse SUMO sumo 1.28.0
<sumoConfiguration>
    <output>
        <fcd-output value="fcd.xml"/>
        <fcd-output.geo value="true"/>
        <fcd-output.attributes value="x,y"/>
    </output>
</sumoConfiguration>
-->
"""


def _without_speed(text: str) -> str:
    return re.sub(r' (speed|z|angle|type|pos|lane|edge|slope)="[^"]*"', "", text)


def test_geo_output_without_speed_attribute(tmp_path: Path) -> None:
    """--fcd-output.geo --fcd-output.attributes x,y: no speed to compare steps with."""
    body = _without_speed(SUMO_GEO[SUMO_GEO.index("<fcd-export"):])
    assert "speed=" not in body
    # no configuration comment: told by the step speed (about 1e-4 deg/s, not m/s)
    ts = read_fcd(write(tmp_path / "geo.xml", body))
    assert ts.crs == "lonlat" and ts.frame["lon"].iloc[0] == 116.40006
    # SUMO's configuration comment says geo: taken from there (with a note)
    ts = read_fcd(write(tmp_path / "geo_c.xml", GEO_COMMENT + body))
    assert ts.crs == "lonlat" and "fcd-output.geo" in ts.report.summary()
    # the same run in metres without speed stays metres
    xy = read_fcd(write(tmp_path / "xy.xml", _without_speed(SUMO_XY)))
    assert xy.crs == "xy" and "speed" not in xy.frame.columns
    # a geo comment on metric data that cannot be lon/lat is refused, not misread
    far = body.replace('x="116.400060"', 'x="5000.0"', 1)
    with pytest.raises(TraceFormatError, match="fcd-output.geo"):
        read_fcd(write(tmp_path / "far.xml", GEO_COMMENT + far))
