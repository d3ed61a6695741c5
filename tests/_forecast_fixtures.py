"""Tiny synthetic series shared by the forecast tests (24-step "days" keep them fast)."""

import numpy as np

SPD = 24


def periodic(n_days: int = 28, n_series: int = 3, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """(n_days * SPD, n_series) daily-periodic flow with per-series level and optional noise."""
    rng = np.random.default_rng(seed)
    n = n_days * SPD
    phase = 2 * np.pi * np.arange(n)[:, None] / SPD
    level = 100 + 40 * np.arange(n_series)[None, :]
    flow = level + 50 * np.sin(phase + np.arange(n_series)[None, :])
    if noise:
        flow = flow + rng.normal(0, noise, flow.shape)
    return np.maximum(flow, 0).astype(np.float32)
