"""Reference forecasters without parameters (numpy): naive last value and seasonal naive.

- ``naive``: ``y_hat(t) = x(t-1)`` (persistence);
- ``seasonal_day``: ``y_hat(t) = x(t - 288)``, same time yesterday (5-minute steps);
- ``seasonal_week``: ``y_hat(t) = x(t - 2016)``, same time last week.

They read past values as recorded, PeMS-imputed cells included, exactly as the neural models'
inputs do.
"""

from __future__ import annotations

import numpy as np

from models.forecast.data import STEPS_PER_DAY, STEPS_PER_WEEK

BASELINE_LAGS = {"naive": 1, "seasonal_day": STEPS_PER_DAY, "seasonal_week": STEPS_PER_WEEK}


def lag_forecast(flow: np.ndarray, t: np.ndarray, s: np.ndarray, lag: int) -> np.ndarray:
    """``flow[t - lag, s]`` for targets ``(t, s)``; raises if a target lacks that history."""
    t = np.asarray(t, dtype=np.int64)
    if len(t) and int(t.min()) - lag < 0:
        raise ValueError(f"lag-{lag} forecast of target step {int(t.min())} needs step "
                         f"{int(t.min()) - lag} < 0")
    return np.asarray(flow, dtype=np.float32)[t - lag, s]


def baseline_forecast(name: str, flow: np.ndarray, t: np.ndarray, s: np.ndarray,
                      steps_per_day: int = STEPS_PER_DAY) -> np.ndarray:
    """Forecast of a named baseline for targets ``(t, s)`` of a ``(N, S)`` flow array."""
    if name not in BASELINE_LAGS:
        raise ValueError(f"unknown baseline {name!r}; allowed: {', '.join(BASELINE_LAGS)}")
    lag = {"naive": 1, "seasonal_day": steps_per_day, "seasonal_week": 7 * steps_per_day}[name]
    return lag_forecast(flow, t, s, lag)
