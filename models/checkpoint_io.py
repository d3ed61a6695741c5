"""Reading torch checkpoints safely: ``weights_only=True`` always, one-line errors.

Shared by the forecasters (``models.forecast``) and the learning agents
(``agents.blocks.checkpoints``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def load_weights_only(path: str | os.PathLike, what: str) -> Any:
    """``torch.load(path, map_location="cpu", weights_only=True)``; a missing, unreadable or
    unsafe file raises a one-line ``ValueError`` naming ``path`` and ``what`` was expected
    (torch's own message is several lines and suggests turning weights-only loading off, which
    we never do: that would unpickle arbitrary objects)."""
    import torch

    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{p}: no such {what} file")
    try:
        return torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds (pickle, zip, runtime)
        # the exception's name only: torch's text runs to many lines and advises unsafe loading
        raise ValueError(f"{p}: not a loadable {what} ({type(exc).__name__})") from None
