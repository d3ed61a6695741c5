"""Tell a trajectory file's format from its content, and load it with the matching reader."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from os import PathLike
from pathlib import Path
from typing import Any, Literal

from traces._textio import open_binary, open_text
from traces.csvtraj import header_columns, read_csvtraj
from traces.errors import TraceFormatError
from traces.fcd import feed_xml, read_fcd
from traces.tdrive import read_tdrive
from traces.trajectories import TrajectorySet

Format = Literal["tdrive", "fcd", "csv"]
READERS: dict[str, Callable[..., TrajectorySet]] = {
    "tdrive": read_tdrive,
    "fcd": read_fcd,
    "csv": read_csvtraj,
}
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_TDRIVE_LINE = re.compile(
    rf"^\s*\d+\s*,\s*\d{{4}}-\d{{2}}-\d{{2}} \d{{2}}:\d{{2}}:\d{{2}}\s*,\s*{_NUMBER}\s*,\s*{_NUMBER}\s*$")
_TAXI_FILE = re.compile(r"^\d+\.txt$")
_EXPECTED = ("expected a T-Drive directory of <id>.txt files or line 'id,YYYY-MM-DD HH:MM:SS,lon,lat', "
             "a SUMO <fcd-export> XML file (plain or gzip), or a CSV whose header has id and t columns")


def _xml_root(path: Path, limit: int = 1 << 20) -> str | None:
    """Tag of the root element, parsing at most ``limit`` bytes (SUMO puts a long comment with
    its configuration before the root); ``None`` when none was found."""
    parser = ET.XMLPullParser(events=("start",))
    read = 0
    try:
        with open_binary(path) as fh:
            while read < limit:
                block = fh.read(1 << 14)
                if not block:
                    break
                read += len(block)
                feed_xml(parser, block, path, 1)
                for _, el in parser.read_events():
                    return el.tag
    except ET.ParseError as err:
        line = err.position[0] if err.position else None
        msg = re.sub(r":\s*line \d+, column \d+$", "", str(err))
        raise TraceFormatError(path, line, f"looks like XML but is not well-formed: {msg}") from None
    return None


def detect_format(path: str | PathLike[str]) -> Format:
    """``"tdrive"``, ``"fcd"`` or ``"csv"``, from the content (never the file name's extension):

    - a directory holding ``<n>.txt`` files: ``tdrive``;
    - XML (plain or gzip) whose root element is ``<fcd-export>``: ``fcd``;
    - a first non-blank line ``int,YYYY-MM-DD HH:MM:SS,float,float``: ``tdrive``;
    - a first non-blank line naming ``id`` and ``t`` columns (or their aliases): ``csv``.

    Anything else raises :class:`TraceFormatError` naming the file and what was expected.
    """
    path = Path(path)
    if path.is_dir():
        if any(_TAXI_FILE.match(p.name) for p in path.iterdir()):
            return "tdrive"
        raise TraceFormatError(path, None, f"directory holds no <id>.txt files; {_EXPECTED}")
    if not path.is_file():
        raise TraceFormatError(path, None, "no such file or directory")
    with open_text(path) as fh:
        head = fh.read(4096)
    stripped = head.lstrip()
    if not stripped:
        raise TraceFormatError(path, None, f"empty file; {_EXPECTED}")
    if stripped.startswith("<"):
        root = _xml_root(path)
        if root == "fcd-export":
            return "fcd"
        what = f"XML root is <{root}>" if root else "no XML root element in the first MiB"
        raise TraceFormatError(path, None, f"{what}, not <fcd-export>; {_EXPECTED}")
    line_no, first = next((i, ln) for i, ln in enumerate(head.splitlines(), 1) if ln.strip())
    if _TDRIVE_LINE.match(first):
        return "tdrive"
    cols = header_columns(first)
    if "id" in cols and "t" in cols:
        return "csv"
    shown = first.strip()
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    raise TraceFormatError(path, line_no, f"unknown trajectory format, first line {shown!r}; {_EXPECTED}")


def load_trajectories(path: str | PathLike[str], fmt: Format | None = None, **options: Any) -> TrajectorySet:
    """Read ``path`` with the reader for ``fmt`` (default: :func:`detect_format`); ``options``
    go to that reader (:func:`~traces.tdrive.read_tdrive`, :func:`~traces.fcd.read_fcd`,
    :func:`~traces.csvtraj.read_csvtraj`)."""
    if fmt is None:
        fmt = detect_format(path)
    if fmt not in READERS:
        raise ValueError(f"unknown trajectory format {fmt!r}; choose one of {sorted(READERS)}")
    return READERS[fmt](path, **options)
