"""Importer fuzz (issue 14 item 3): valid small inputs of every importer (T-Drive, trajectory
CSV, SUMO FCD, the format detector, PeMS D12, RSU placement), mutated by hypothesis: fields
replaced by hostile tokens or random floats and text, bytes inserted, flipped or cut, lines
repeated, dropped or swapped, then maybe gzipped or re-encoded. Each example must end in a clean
result or a one-line error of the importer's type naming the file, within a time limit
(``tests/_importer_fuzz.py`` says what "clean" means); and ``on_error="skip"`` and ``"raise"``
must agree: a file that the lenient reading repairs (malformed rows dropped) is refused by the
strict one at the first problem line, and one it takes whole is read the same by both.

Hypothesis runs derandomised (the same examples on every machine) without an example database;
``DESIM_FUZZ_EXAMPLES`` scales the counts (default 1,000 examples in all). With
``DESIM_FUZZ_TALLY=path`` the outcomes per importer (each example is two imports, ``skip`` and
``raise``, but for the placement files) are written there as JSON when the run ends.
"""

from __future__ import annotations

import gzip
import os
import re
from pathlib import Path

import pytest
from _importer_fuzz import TALLY, TOKENS, VALID, modes_agree, run_import, write_input

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SCALE = max(1, int(os.environ.get("DESIM_FUZZ_EXAMPLES", "1000"))) / 1000


def fuzz(examples: int):
    return settings(max_examples=max(1, int(examples * SCALE)), derandomize=True, database=None,
                    deadline=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


_PIECES = re.compile(r'([,"\n])')  # CSV fields and XML attribute values lie between these


@st.composite
def mutated(draw, text: str) -> bytes:
    """``text`` after 1-4 random damages, then maybe gzipped, cut, or re-encoded."""
    data = text
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["field", "field", "field", "bytes", "cut", "lines", "long"]))
        if op in ("field", "long"):
            parts = _PIECES.split(data)
            slots = [i for i, p in enumerate(parts) if p and not _PIECES.fullmatch(p)]
            i = draw(st.sampled_from(slots)) if slots else 0
            new = draw(st.one_of(st.sampled_from(TOKENS), st.floats().map(repr),
                                 st.integers(-(10**20), 10**20).map(str), st.text(max_size=8)))
            if op == "long":
                new = new * draw(st.integers(1000, 50_000)) if new else "9" * 100_000
            parts[i:i + 1] = [new]
            data = "".join(parts)
        elif op == "bytes":
            at = draw(st.integers(0, len(data)))
            data = data[:at] + draw(st.binary(max_size=12)).decode("latin-1") + data[at:]
        elif op == "cut":
            a = draw(st.integers(0, len(data)))
            b = draw(st.integers(a, min(len(data), a + 40)))
            data = data[:a] + data[b:]
        else:
            lines = data.splitlines(keepends=True) or [""]
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            how = draw(st.sampled_from(["repeat", "drop", "swap"]))
            if how == "repeat":
                lines.insert(j, lines[i])
            elif how == "drop":
                del lines[i]
            else:
                lines[i], lines[j] = lines[j], lines[i]
            data = "".join(lines)
    coding = draw(st.sampled_from(["utf-8"] * 6 + ["gzip", "gzip-cut", "utf-16", "latin-1"]))
    if coding.startswith("gzip"):
        raw = gzip.compress(data.encode("utf-8", "surrogatepass"), mtime=0)
        return raw[: draw(st.integers(10, len(raw) - 1))] if coding == "gzip-cut" else raw
    return data.encode(coding, "replace")


def _fuzz(kind: str, tmp: Path, data: bytes, mode: str = "default") -> None:
    path = write_input(tmp, kind, data)
    if kind == "placement":
        run_import(kind, mode, path)
    else:
        modes_agree(kind, mode, path)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _valid(kind: str):
    return st.sampled_from(sorted(VALID[kind].values())).flatmap(mutated)


def _run(kind: str, scratch: Path, examples: int, modes: tuple[str, ...] = ("default",)) -> None:
    """``examples`` mutations of ``kind``'s valid inputs; then check that they reached both
    outcomes (a fuzz whose mutations never break a file, or never leave one readable, tests
    nothing)."""
    before = TALLY[kind].copy()

    @fuzz(examples)
    @given(data=_valid(kind), mode=st.sampled_from(modes))
    def one(data: bytes, mode: str) -> None:
        _fuzz(kind, scratch, data, mode)

    one()
    seen = TALLY[kind] - before
    assert seen["accepted"] > 0 and seen["error"] > 0, dict(seen)


def test_tdrive_fuzz(scratch):
    _run("tdrive", scratch, 160, ("default", "bare"))


def test_csv_fuzz(scratch):
    _run("csv", scratch, 200, ("default", "cleaned"))


def test_fcd_fuzz(scratch):
    _run("fcd", scratch, 180)


def test_detected_format_fuzz(scratch):
    _run("auto", scratch, 100)


def test_pems_fuzz(scratch):
    _run("pems", scratch, 160)


def test_placement_fuzz(scratch):
    _run("placement", scratch, 200)
