"""Forecast error metrics of twin-migration Table II, computed over observed cells only.

All functions take predictions ``y_hat`` and targets ``y`` of the same shape and an optional
boolean ``mask`` (True = score this cell; PeMS-imputed targets are False). Units are those of
``y`` (vehicles per 5 min for PeMS flow).

- RMSE = sqrt(mean((y_hat - y)^2))
- MAE  = mean(|y_hat - y|)
- WAPE = sum(|y_hat - y|) / sum(|y|)    (the paper's "error rate")
- MAPE = mean(|y_hat - y| / |y|) over cells with y > 0 (zero-flow night cells are skipped)
- R^2  = 1 - sum((y - y_hat)^2) / sum((y - mean(y))^2)
"""

from __future__ import annotations

import numpy as np

METRICS = ("rmse", "mae", "wape", "mape", "r2")


def _flat(y_hat: np.ndarray, y: np.ndarray, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    y_hat = np.asarray(y_hat, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if y_hat.shape != y.shape:
        raise ValueError(f"prediction shape {y_hat.shape} differs from target shape {y.shape}")
    if mask is None:
        return y_hat.ravel(), y.ravel()
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != y.shape:
        raise ValueError(f"mask shape {mask.shape} differs from target shape {y.shape}")
    return y_hat[mask], y[mask]


def rmse(y_hat: np.ndarray, y: np.ndarray, mask: np.ndarray | None = None) -> float:
    p, t = _flat(y_hat, y, mask)
    return float(np.sqrt(np.mean((p - t) ** 2))) if t.size else float("nan")


def mae(y_hat: np.ndarray, y: np.ndarray, mask: np.ndarray | None = None) -> float:
    p, t = _flat(y_hat, y, mask)
    return float(np.mean(np.abs(p - t))) if t.size else float("nan")


def wape(y_hat: np.ndarray, y: np.ndarray, mask: np.ndarray | None = None) -> float:
    p, t = _flat(y_hat, y, mask)
    den = np.sum(np.abs(t))
    return float(np.sum(np.abs(p - t)) / den) if den > 0 else float("nan")


def mape(y_hat: np.ndarray, y: np.ndarray, mask: np.ndarray | None = None) -> float:
    p, t = _flat(y_hat, y, mask)
    pos = t > 0
    return float(np.mean(np.abs(p[pos] - t[pos]) / t[pos])) if pos.any() else float("nan")


def r2(y_hat: np.ndarray, y: np.ndarray, mask: np.ndarray | None = None) -> float:
    p, t = _flat(y_hat, y, mask)
    ss_tot = np.sum((t - t.mean()) ** 2) if t.size else 0.0
    return float(1.0 - np.sum((t - p) ** 2) / ss_tot) if ss_tot > 0 else float("nan")


def all_metrics(y_hat: np.ndarray, y: np.ndarray, mask: np.ndarray | None = None) -> dict[str, float]:
    """``{"rmse", "mae", "wape", "mape", "r2"}`` for one prediction array."""
    return {
        "rmse": rmse(y_hat, y, mask),
        "mae": mae(y_hat, y, mask),
        "wape": wape(y_hat, y, mask),
        "mape": mape(y_hat, y, mask),
        "r2": r2(y_hat, y, mask),
    }
