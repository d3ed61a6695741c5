"""RSU placement from data: server lists from CSV, and sites where trajectory fixes are dense."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.placement import along_density, grid_positions
from traces.errors import TraceFormatError
from traces.placement import from_file


def test_from_file_metric_with_and_without_height(tmp_path: Path) -> None:
    p = tmp_path / "rsu.csv"
    p.write_text("id,x,y\nr1,0,0\n\nr2,150.5,-20\n")
    np.testing.assert_array_equal(from_file(p), [[0.0, 0.0], [150.5, -20.0]])
    p.write_text("x,y,z\n1,2,25\n")
    assert from_file(p).shape == (1, 3) and from_file(p)[0, 2] == 25.0


def test_from_file_degrees_are_projected_about_the_origin(tmp_path: Path) -> None:
    a = tmp_path / "a.csv"
    a.write_text("lat,lon\n39.90,116.40\n39.91,116.40\n39.90,116.41\n")
    b = tmp_path / "b.csv"
    b.write_text("Longitude,Latitude\r\n116.40,39.90\r\n116.40,39.91\r\n116.41,39.90\r\n")
    xy = from_file(a, lon0=116.40, lat0=39.90)
    np.testing.assert_allclose(from_file(b, lon0=116.40, lat0=39.90), xy)
    metres_per_degree = 6_371_393 * np.pi / 180
    np.testing.assert_allclose(xy, [[0, 0], [0, 0.01 * metres_per_degree],
                                    [0.01 * metres_per_degree * np.cos(np.radians(39.9)), 0]],
                               atol=0.05)  # azimuthal equidistant vs equirectangular: < 5 cm at 1 km
    with pytest.raises(ValueError, match="need lon0= and lat0="):
        from_file(a)


def test_from_file_errors_name_the_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.csv"
    p.write_text("x,y\n1,2\n3,four\n")
    with pytest.raises(TraceFormatError, match=r"bad.csv:3: bad y 'four'"):
        from_file(p)
    p.write_text("x,y\n1,2,3\n")
    with pytest.raises(TraceFormatError, match=r"bad.csv:2: expected 2 fields"):
        from_file(p)
    p.write_text("name,height\na,1\n")
    with pytest.raises(TraceFormatError, match=r"bad.csv:1: header 'name,height' needs .*x,y"):
        from_file(p)
    p.write_text("x;y\n1;2\n")  # not comma-separated
    with pytest.raises(TraceFormatError, match="needs comma-separated columns"):
        from_file(p)
    p.write_text("lat,lon\n39.9,116.4\n\n139.9,116.4\n")
    with pytest.raises(TraceFormatError, match=r"bad.csv:4: lat 139.9 outside \[-90, 90\] degrees"):
        from_file(p, lon0=116.4, lat0=39.9)
    p.write_text("x,y\n")
    with pytest.raises(TraceFormatError, match="bad.csv: no server site after the header"):
        from_file(p)
    for missing in (tmp_path / "nope.csv", tmp_path):
        with pytest.raises(TraceFormatError) as err:
            from_file(missing)
        assert str(err.value).startswith(str(missing)) and "\n" not in str(err.value)


def town(rng: np.random.Generator) -> np.ndarray:
    """A busy 1.5 km district, a taxi rank far away (one hot cell), sparse traffic around."""
    district = rng.uniform([4000, 4000], [5500, 5500], size=(4000, 2))
    rank = rng.normal([-8000, -8000], 20, size=(1500, 2))
    background = rng.uniform(-10_000, 10_000, size=(300, 2))
    return np.vstack([district, rank, background])


def test_city_is_a_regular_connected_patch_over_the_busy_district() -> None:
    pts = town(np.random.default_rng(0))
    sites = along_density(pts, 16, layout="city", rng=np.random.default_rng(1), cell_m=250.0)
    assert sites.shape == (16, 2)
    np.testing.assert_array_equal(sites % 250.0, 125.0)  # centres of the 250 m lattice
    assert ((sites >= 4000) & (sites <= 5500)).all()  # in the district, not at the taxi rank
    cells = {tuple(c) for c in (sites // 250).astype(int).tolist()}
    assert len(cells) == 16
    # edge-connected: a flood fill from one cell reaches all
    todo, seen = [next(iter(cells))], set()
    while todo:
        c = todo.pop()
        if c in seen:
            continue
        seen.add(c)
        todo += [nb for nb in ((c[0] + 1, c[1]), (c[0] - 1, c[1]), (c[0], c[1] + 1), (c[0], c[1] - 1))
                 if nb in cells]
    assert seen == cells


def test_city_fills_with_empty_cells_when_fixes_are_few() -> None:
    pts = np.array([[10.0, 10.0], [12.0, 11.0], [600.0, 10.0]])
    sites = along_density(pts, 9, layout="city", rng=np.random.default_rng(0), cell_m=100.0)
    assert len({tuple(s) for s in sites.tolist()}) == 9
    assert [50.0, 50.0] in sites.tolist()  # the busiest cell is always used


def test_rural_is_sparse_on_fixes_and_follows_density() -> None:
    rng = np.random.default_rng(5)
    busy = rng.uniform([0, 0], [20_000, 10_000], size=(20_000, 2))
    quiet = rng.uniform([-20_000, 0], [0, 10_000], size=(1_000, 2))
    pts = np.vstack([busy, quiet])
    sites = along_density(pts, 12, layout="rural", rng=np.random.default_rng(2), cell_m=1000.0)
    d = np.hypot(*(sites[:, None, :] - sites[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(d, np.inf)
    assert d.min() >= 3000.0  # default separation: 3 cells
    assert all((pts == s).all(axis=1).any() for s in sites)  # each site is a fix (on a road)
    assert (sites[:, 0] > 0).sum() >= 9  # most where traffic is 20x denser


def test_placement_is_deterministic_given_the_generator() -> None:
    pts = town(np.random.default_rng(3))
    for layout in ("city", "rural"):
        a = along_density(pts, 10, layout=layout, rng=np.random.default_rng(7))
        b = along_density(pts, 10, layout=layout, rng=np.random.default_rng(7))
        np.testing.assert_array_equal(a, b)


def test_density_placement_rejects_impossible_requests() -> None:
    pts = np.array([[0.0, 0.0], [100.0, 0.0]])
    with pytest.raises(ValueError, match="only 1 of 2 rural sites"):
        along_density(pts, 2, layout="rural", rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="n >= 1"):
        along_density(pts, 0, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="layout must be"):
        along_density(pts, 1, layout="suburb", rng=np.random.default_rng(0))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one finite"):
        along_density(np.full((3, 2), np.nan), 1, rng=np.random.default_rng(0))


def test_existing_layouts_are_unchanged() -> None:
    np.testing.assert_array_equal(grid_positions(200, 100, 2), [[-50.0, 0.0], [50.0, 0.0]])
