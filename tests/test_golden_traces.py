"""Determinism and refactoring safety: five fixed runs reproduce the committed golden traces
dataset by dataset, column by column (tests/_golden.py says how they were made)."""

from __future__ import annotations

import pytest
from _golden import CASES, GOLDEN_DIR, compare_traces, run_case


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_run_reproduces_its_golden_trace(case, tmp_path):
    expected = GOLDEN_DIR / f"{case.name}.h5"
    assert expected.exists(), f"{expected} missing: python tests/_golden.py writes it"
    actual = run_case(case, tmp_path / "run.h5", tmp_path / "data")
    assert compare_traces(expected, actual) == []


def test_the_comparison_sees_a_changed_value(tmp_path):
    """compare_traces is not vacuous: one float nudged by 1e-6 relative is reported."""
    import shutil

    import h5py

    src = GOLDEN_DIR / "twin-city-packet.h5"
    copy = tmp_path / "copy.h5"
    shutil.copy(src, copy)
    with h5py.File(copy, "r+") as f:
        rows = f["packets"][()]
        rows["finished"][3] *= 1 + 1e-6
        f["packets"][...] = rows
    diff = compare_traces(src, copy)
    assert len(diff) == 1 and diff[0].startswith("/packets.finished: 1 rows differ, first row 3")
