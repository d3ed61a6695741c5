"""Opening trace files: gzip detected by magic bytes, text decoded leniently, read in chunks."""

from __future__ import annotations

import gzip
import io
import itertools
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from traces.errors import CorruptGzipError, TraceFormatError

GZIP_MAGIC = b"\x1f\x8b"


def is_gzip(path: str | Path) -> bool:
    """True when the file starts with the gzip magic bytes (whatever its extension)."""
    with open(path, "rb") as fh:
        return fh.read(2) == GZIP_MAGIC


class _CheckedGzip(io.RawIOBase):
    """A gzip file as a raw stream whose decoding errors are one-line
    :class:`~traces.errors.CorruptGzipError` (``truncated`` for a stream that ends before its
    end marker) instead of ``EOFError`` / ``zlib.error`` / ``gzip.BadGzipFile`` tracebacks."""

    def __init__(self, path: str | Path) -> None:
        self._path = path
        self._gz = gzip.open(path, "rb")

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        try:  # read1: one decompression step, so a cut stream gives up all data before the cut
            data = self._gz.read1(len(b))
        except EOFError as e:
            raise CorruptGzipError(self._path, True, str(e) or "unexpected end of data") from None
        except (zlib.error, gzip.BadGzipFile) as e:
            raise CorruptGzipError(self._path, False, str(e) or e.__class__.__name__) from None
        b[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._gz.close()
        super().close()


def open_binary(path: str | Path) -> IO[bytes]:
    """Open a file for reading bytes, transparently gunzipping it if it is gzip data (a damaged
    or cut gzip stream raises :class:`~traces.errors.CorruptGzipError` when read)."""
    if is_gzip(path):
        return io.BufferedReader(_CheckedGzip(path), buffer_size=1 << 16)
    return open(path, "rb")


def open_text(path: str | Path) -> IO[str]:
    """Open a (possibly gzipped) file as UTF-8 text.

    A byte-order mark is dropped, LF, CRLF and CR line ends all read as ``\\n``, and undecodable
    bytes become U+FFFD so that the line holding them is reported as malformed rather than
    aborting the whole import (the readers refuse a field holding U+FFFD).
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
    """Raise a one-line :class:`TraceFormatError` unless ``path`` is a regular file (``what``:
    the format expected)."""
    if path.is_dir():
        raise TraceFormatError(path, None, f"is a directory, expected a {what} file")
    if not path.is_file():
        raise TraceFormatError(path, None, "no such file")
