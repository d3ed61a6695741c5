"""Opening trace files: gzip detected by magic bytes, text decoded leniently, read in chunks."""

from __future__ import annotations

import gzip
import io
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import IO

GZIP_MAGIC = b"\x1f\x8b"


def is_gzip(path: str | Path) -> bool:
    """True when the file starts with the gzip magic bytes (whatever its extension)."""
    with open(path, "rb") as fh:
        return fh.read(2) == GZIP_MAGIC


def open_binary(path: str | Path) -> IO[bytes]:
    """Open a file for reading bytes, transparently gunzipping it if it is gzip data."""
    if is_gzip(path):
        return gzip.open(path, "rb")
    return open(path, "rb")


def open_text(path: str | Path) -> IO[str]:
    """Open a (possibly gzipped) file as UTF-8 text.

    A byte-order mark is dropped, LF, CRLF and CR line ends all read as ``\\n``, and undecodable
    bytes become U+FFFD so that the line holding them is reported as malformed rather than
    aborting the whole import.
    """
    raw = open_binary(path)
    return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline=None)


def line_chunks(fh: IO[str], chunksize: int, first_line: int = 1) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(number of the first line, lines)`` blocks of at most ``chunksize`` lines.

    Only one block is held at a time; the trailing newline of each line is kept.
    """
    if chunksize < 1:
        raise ValueError(f"chunksize must be >= 1, got {chunksize}")
    line_no = first_line
    while True:
        block = list(itertools.islice(fh, chunksize))
        if not block:
            return
        yield line_no, block
        line_no += len(block)


def require_file(path: Path, what: str) -> None:
    """Raise a one-line error unless ``path`` is a regular file (``what``: the format expected)."""
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a directory, expected a {what} file")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
