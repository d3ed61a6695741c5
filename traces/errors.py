"""Errors raised by the trace importers."""

from __future__ import annotations

from os import PathLike

MAX_MESSAGE = 400
"""Characters of a message kept (the file name is not counted)."""


class TraceFormatError(ValueError):
    """Input trace data does not follow its format.

    Carries ``path`` (the file), ``line`` (1-based line number, or ``None`` when the problem is
    the file as a whole) and ``message``. ``str(e)`` is one line: ``path:line: message``, the
    message cut after :data:`MAX_MESSAGE` characters.
    """

    def __init__(self, path: str | PathLike[str], line: int | None, message: str) -> None:
        self.path = str(path)
        self.line = line
        # one line, whatever the caller passed: embedded newlines would break log parsing; and
        # a short one (a value quoted from a 10 MB line must not make a 10 MB message)
        message = " ".join(str(message).split())
        if len(message) > MAX_MESSAGE:
            message = f"{message[:MAX_MESSAGE]}... ({len(message):,} characters)"
        self.message = message
        where = self.path if line is None else f"{self.path}:{line}"
        super().__init__(f"{where}: {self.message}")


class CorruptGzipError(TraceFormatError):
    """A gzip stream that ends early (``truncated``: the writer was killed, the copy was cut)
    or whose compressed data is damaged. One line: ``path: truncated or corrupt gzip (...)``."""

    def __init__(self, path: str | PathLike[str], truncated: bool, detail: str) -> None:
        self.truncated = truncated
        super().__init__(path, None, f"truncated or corrupt gzip ({detail})")
