"""Errors raised by the trace importers."""

from __future__ import annotations

from os import PathLike


class TraceFormatError(ValueError):
    """Input trace data does not follow its format.

    Carries ``path`` (the file), ``line`` (1-based line number, or ``None`` when the problem is
    the file as a whole) and ``message``. ``str(e)`` is one line: ``path:line: message``.
    """

    def __init__(self, path: str | PathLike[str], line: int | None, message: str) -> None:
        self.path = str(path)
        self.line = line
        # one line, whatever the caller passed: embedded newlines would break log parsing
        self.message = " ".join(str(message).split())
        where = self.path if line is None else f"{self.path}:{line}"
        super().__init__(f"{where}: {self.message}")


class CorruptGzipError(TraceFormatError):
    """A gzip stream that ends early (``truncated``: the writer was killed, the copy was cut)
    or whose compressed data is damaged. One line: ``path: truncated or corrupt gzip (...)``."""

    def __init__(self, path: str | PathLike[str], truncated: bool, detail: str) -> None:
        self.truncated = truncated
        super().__init__(path, None, f"truncated or corrupt gzip ({detail})")
