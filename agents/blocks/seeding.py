"""One seed for Python's, NumPy's and torch's global generators."""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python's, NumPy's and torch's global generators; return a fresh NumPy generator
    for the caller's own draws."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - third-party code may draw from the legacy global
    torch.manual_seed(seed)
    return np.random.default_rng(seed)
