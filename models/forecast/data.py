"""Windowing, scaling and the time split for one-step workload forecasting (twin-migration Alg. 1).

Alg. 1 turns each server's series into samples ``S_m(t-T), ..., S_m(t-1) -> S_m(t)`` (window
``T = 6``). Here a sample is a (target step ``t``, series ``s``) pair; its input is the
``(T, F)`` slice ``features[t-T:t, s]`` of a per-step feature array:

- feature 0: the scaled flow at step ``tau``;
- one feature per seasonal lag ``P`` (one week and one day): the scaled flow at
  ``tau + 1 - P + lead``, so the window's last position carries ``x[t - P + lead]``; with
  ``lead = 0`` that is the target's value one period earlier (what seasonal naive predicts),
  with ``lead = 1`` (default) the window spans ``x[t-P-4 .. t-P+1]``, i.e. it also shows what
  happened *next* one period earlier (still strictly before ``t`` since ``lead < P``);
- optionally time features of step ``tau + 1`` (time-of-day sin/cos, weekend flag).

Every input of a sample lies strictly before its target ``t``. Splits are by target time:
``train = [0, a)``, ``val = [a, b)``, ``test = [b, c)``; the scaler is fitted on rows ``< a``
only, and training samples touch rows ``< a`` only (``tests/test_forecast_data.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

STEPS_PER_DAY = 288  # 5-minute steps
STEPS_PER_WEEK = 7 * STEPS_PER_DAY


@dataclass(frozen=True)
class TimeSplit:
    """Target-step ranges ``[start, stop)`` of the train, validation and test sets."""

    train: tuple[int, int]
    val: tuple[int, int]
    test: tuple[int, int]

    def __post_init__(self) -> None:
        (a0, a1), (b0, b1), (c0, c1) = self.train, self.val, self.test
        if not (0 <= a0 < a1 <= b0 < b1 <= c0 < c1):
            raise ValueError(f"time split must be ordered train < val < test, got {self}")


def week_split(
    n_steps: int,
    train_weeks: int = 3,
    val_days: int = 2,
    test_weeks: int = 1,
    steps_per_day: int = STEPS_PER_DAY,
) -> TimeSplit:
    """Weeks ``1..train_weeks`` for training, whose last ``val_days`` days are held out for
    validation, then ``test_weeks`` weeks for testing (D12: train 01-01..01-19, val 01-20..01-21,
    test 01-22..01-28)."""
    week = 7 * steps_per_day
    b = train_weeks * week
    a = b - val_days * steps_per_day
    c = b + test_weeks * week
    if c > n_steps:
        raise ValueError(f"week split needs {c} steps ({train_weeks}+{test_weeks} weeks), "
                         f"series has {n_steps}")
    return TimeSplit(train=(0, a), val=(a, b), test=(b, c))


@dataclass
class Scaler:
    """Per-series affine scaling ``z = (x - mean) / std`` fitted on training rows only."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, flow: np.ndarray, observed: np.ndarray | None = None, stop: int | None = None,
            min_std: float = 1.0) -> Scaler:
        """Fit on rows ``[0, stop)`` and, where a series has observed cells there, on those
        only (series with none, like D12's fully imputed stations, use all their rows)."""
        x = np.asarray(flow[:stop], dtype=np.float64)
        m = np.ones_like(x, dtype=bool) if observed is None else np.asarray(observed[:stop], bool)
        m = np.where(m.any(axis=0, keepdims=True), m, True)
        cnt = m.sum(axis=0)
        mean = np.where(m, x, 0.0).sum(axis=0) / cnt
        var = np.where(m, (x - mean) ** 2, 0.0).sum(axis=0) / cnt
        return cls(mean=mean.astype(np.float32),
                   std=np.maximum(np.sqrt(var), min_std).astype(np.float32))

    def transform(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.std).astype(np.float32)

    def inverse(self, z: np.ndarray, series: np.ndarray | None = None) -> np.ndarray:
        """Back to flow units; ``series`` gives each element's series index for 1-D ``z``."""
        if series is None:
            return z * self.std + self.mean
        return z * self.std[series] + self.mean[series]


@dataclass(frozen=True)
class FeatureConfig:
    """What a window holds. ``window`` is Alg. 1's ``T``."""

    window: int = 6
    seasonal_lags: tuple[int, ...] = (STEPS_PER_WEEK, STEPS_PER_DAY)
    seasonal_lead: int = 1
    time_features: bool = False

    def __post_init__(self) -> None:
        if self.window < 1:
            raise ValueError(f"window must be >= 1, got {self.window}")
        if any(p <= self.seasonal_lead for p in self.seasonal_lags) or self.seasonal_lead < 0:
            raise ValueError(f"seasonal lags {self.seasonal_lags} must exceed seasonal_lead "
                             f"{self.seasonal_lead} >= 0 (inputs must precede the target)")

    @property
    def n_features(self) -> int:
        return 1 + len(self.seasonal_lags) + (3 if self.time_features else 0)

    @property
    def history_needed(self) -> int:
        """Steps of history a one-step prediction needs (``window`` plus the longest lag)."""
        if not self.seasonal_lags:
            return self.window
        return max(self.window, self.window + max(self.seasonal_lags) - 1 - self.seasonal_lead)

    def to_dict(self) -> dict:
        return {"window": self.window, "seasonal_lags": list(self.seasonal_lags),
                "seasonal_lead": self.seasonal_lead, "time_features": self.time_features}

    @classmethod
    def from_dict(cls, d: dict) -> FeatureConfig:
        return cls(window=int(d["window"]), seasonal_lags=tuple(int(x) for x in d["seasonal_lags"]),
                   seasonal_lead=int(d["seasonal_lead"]), time_features=bool(d["time_features"]))


def time_features(timestamps: pd.DatetimeIndex) -> np.ndarray:
    """(N, 3): sin/cos of time of day and a weekend flag, for the step *after* each timestamp."""
    ts = pd.DatetimeIndex(timestamps)
    step = ts[1] - ts[0] if len(ts) > 1 else pd.Timedelta(minutes=5)
    nxt = ts + step
    sec = np.asarray(nxt.hour) * 3600 + np.asarray(nxt.minute) * 60 + np.asarray(nxt.second)
    frac = sec / 86400.0
    weekend = (np.asarray(nxt.day_of_week) >= 5).astype(np.float32)
    return np.stack([np.sin(2 * np.pi * frac), np.cos(2 * np.pi * frac), weekend],
                    axis=-1).astype(np.float32)


def build_features(scaled: np.ndarray, cfg: FeatureConfig,
                   timestamps: pd.DatetimeIndex | None = None) -> np.ndarray:
    """(N, S, F) per-step features from scaled flow (N, S); see the module docstring.

    Seasonal features whose source step would be before row 0 are NaN; :func:`valid_targets`
    never selects a window that contains them.
    """
    n, s = scaled.shape
    feats = [scaled]
    for p in cfg.seasonal_lags:
        shifted = np.full_like(scaled, np.nan)
        k = p - 1 - cfg.seasonal_lead  # feature at tau = x[tau + 1 - p + lead]
        if k < n:
            shifted[k:] = scaled[: n - k] if k > 0 else scaled
        feats.append(shifted)
    if cfg.time_features:
        if timestamps is None:
            raise ValueError("time features need timestamps")
        tf = time_features(timestamps)
        feats.extend(np.broadcast_to(tf[:, None, i], (n, s)) for i in range(3))
    return np.stack(feats, axis=-1).astype(np.float32)


def first_valid_target(cfg: FeatureConfig) -> int:
    """Smallest target step whose whole window (lags included) lies at row >= 0."""
    return cfg.history_needed


def valid_targets(rng: tuple[int, int], cfg: FeatureConfig, mask: np.ndarray | None = None,
                  n_series: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Sample indices ``(t, s)`` with target ``t`` in ``[start, stop)`` and a full window.

    With ``mask`` (N, S) only cells where it is True are kept; otherwise every series
    (``n_series`` of them) is kept.
    """
    start = max(rng[0], first_valid_target(cfg))
    stop = rng[1]
    if stop <= start:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if mask is None:
        if n_series is None:
            raise ValueError("valid_targets needs mask or n_series")
        t, s = np.meshgrid(np.arange(start, stop), np.arange(n_series), indexing="ij")
        return t.ravel(), s.ravel()
    t, s = np.nonzero(mask[start:stop])
    return (t + start).astype(np.int64), s.astype(np.int64)


def rows_touched(t: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """Every flow row a set of samples reads, inputs and targets (for leakage checks)."""
    t = np.asarray(t, dtype=np.int64)
    rows = [t]
    for j in range(1, cfg.window + 1):
        rows.append(t - j)
        for p in cfg.seasonal_lags:
            rows.append(t - j + 1 - p + cfg.seasonal_lead)
    return np.unique(np.concatenate(rows))


def training_target_mask(observed: np.ndarray, split: TimeSplit) -> np.ndarray:
    """Which cells may serve as training/validation targets: the observed ones, except that a
    series with no observed cell before the test period uses all its cells (so a shared or
    per-server model still learns something for it); such series are never scored."""
    obs = np.asarray(observed, dtype=bool)
    seen = obs[: split.test[0]].any(axis=0)
    return np.where(seen[None, :], obs, True)


@dataclass
class WindowData:
    """Everything a trainer needs: features, scaled targets and sample indices per split."""

    features: np.ndarray  # (N, S, F)
    target: np.ndarray  # (N, S) scaled flow
    scaler: Scaler
    cfg: FeatureConfig
    split: TimeSplit
    train_idx: tuple[np.ndarray, np.ndarray]
    val_idx: tuple[np.ndarray, np.ndarray]
    extra: dict = field(default_factory=dict)


def make_window_data(flow: np.ndarray, observed: np.ndarray, split: TimeSplit,
                     cfg: FeatureConfig, timestamps: pd.DatetimeIndex | None = None) -> WindowData:
    """Scale (fitted on the training rows), build features and the train/val sample indices."""
    scaler = Scaler.fit(flow, observed, stop=split.train[1])
    z = scaler.transform(flow)
    feats = build_features(z, cfg, timestamps)
    tmask = training_target_mask(observed, split)
    return WindowData(
        features=feats,
        target=z,
        scaler=scaler,
        cfg=cfg,
        split=split,
        train_idx=valid_targets(split.train, cfg, tmask),
        val_idx=valid_targets(split.val, cfg, tmask),
        # provenance for checkpoints: the last step any training or validation target reads
        extra={} if timestamps is None else {"fitted_until": str(timestamps[split.val[1] - 1])},
    )
