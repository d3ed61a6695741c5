"""Agent checkpoints: ``{"format", "config", "state"}`` read back with ``weights_only=True``."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from models.checkpoint_io import load_weights_only

CHECKPOINT_FORMAT = 1


def save_checkpoint(path: str | Path, config: Mapping[str, Any], state: Mapping[str, Any]) -> Path:
    """``torch.save`` of ``{"format", "config" (JSON text), "state"}``; ``state`` holds only
    tensors, state_dicts and plain Python values, so :func:`load_checkpoint` can read it with
    ``weights_only=True``. Written to a temporary file first, then renamed: a crash never
    leaves a half-written checkpoint."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save({"format": CHECKPOINT_FORMAT, "config": json.dumps(dict(config)), "state": dict(state)}, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(config, state) of a checkpoint written by :func:`save_checkpoint`."""
    blob = load_weights_only(path, "agent checkpoint")
    if not isinstance(blob, dict) or blob.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not a desim_iov agent checkpoint (format {CHECKPOINT_FORMAT})")
    return json.loads(blob["config"]), blob["state"]
