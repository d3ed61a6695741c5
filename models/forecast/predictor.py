"""Digital-twin workload predictor API for the simulator (twin-migration Eq. 19, ``S^pre_m``).

At each decision slot the kernel passes the last ``W`` observed workloads of its ``S`` servers
and asks for the next step's value of each::

    pred = make_predictor("lstm_transformer", checkpoint="runs/forecast/lstm_transformer_s0.pt")
    s_pre = pred.predict_next(history)      # history (W, S) -> (S,), W >= pred.history_needed

``none`` (no predictor) and ``oracle`` (the true next value) are the kernel's own options and
are not built here; :data:`PREDICTOR_NAMES` lists every name a scenario may use.
"""

from __future__ import annotations

import os
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd
import torch

from models.forecast.baselines import BASELINE_LAGS
from models.forecast.data import (
    STEPS_PER_DAY,
    FeatureConfig,
    TimeSplit,
    build_features,
    make_window_data,
)
from models.forecast.names import KERNEL_PREDICTORS, PREDICTOR_NAMES  # noqa: F401  (re-exported)
from models.forecast.registry import MODEL_NAMES, NEURAL_MODELS, check_name
from models.forecast.train import NeuralForecaster, TrainConfig

FIVE_MINUTES = pd.Timedelta(minutes=5)


@runtime_checkable
class WorkloadPredictor(Protocol):
    """One-step workload forecaster of ``S`` series.

    ``history_needed``: the smallest ``W`` that :meth:`predict_next` accepts.
    ``fit(history)``: optional (re)training on a ``(T, S)`` history; a no-op for baselines.
    ``predict_next(history)``: ``(W, S)`` most recent steps, oldest first -> ``(S,)`` forecast of
    the step after the last row.
    """

    name: str
    history_needed: int

    def fit(self, history: np.ndarray) -> None: ...

    def predict_next(self, history: np.ndarray) -> np.ndarray: ...


def _check_history(name: str, history: np.ndarray, need: int, n_series: int | None = None,
                   what: str = "") -> np.ndarray:
    h = np.asarray(history, dtype=np.float32)
    if h.ndim != 2:
        raise ValueError(f"{name}: history must be (W, S), got shape {h.shape}")
    if h.shape[0] < need:
        raise ValueError(f"{name}: needs at least {need} steps of history{what}, "
                         f"got {h.shape[0]}")
    if n_series is not None and h.shape[1] != n_series:
        raise ValueError(f"{name}: trained for {n_series} series, history has {h.shape[1]}")
    if not np.isfinite(h[-need:]).all():
        raise ValueError(f"{name}: history holds NaN or inf in its last {need} steps")
    return h


class LagPredictor:
    """``naive`` (lag 1) and seasonal naive (lag one day or one week) as predictors."""

    def __init__(self, name: str, steps_per_day: int = STEPS_PER_DAY) -> None:
        if name not in BASELINE_LAGS:
            raise ValueError(f"unknown baseline {name!r}; allowed: {', '.join(BASELINE_LAGS)}")
        self.name = name
        self.steps_per_day = int(steps_per_day)
        self.history_needed = {"naive": 1, "seasonal_day": steps_per_day,
                               "seasonal_week": 7 * steps_per_day}[name]
        self._what = {"naive": "", "seasonal_day": " (one day)",
                      "seasonal_week": " (one week)"}[name]

    def fit(self, history: np.ndarray) -> None:
        """Nothing to learn."""

    def predict_next(self, history: np.ndarray) -> np.ndarray:
        h = _check_history(self.name, history, self.history_needed, what=self._what)
        return h[-self.history_needed].copy()


class NeuralPredictor:
    """A :class:`~models.forecast.train.NeuralForecaster` behind the predictor API.

    Built from a checkpoint (``make_predictor(name, checkpoint=...)``) or untrained, in which
    case :meth:`fit` must be called first. A checkpoint's scaler and (for the shared model) its
    station embedding belong to the series it was trained on, so ``history`` must have the same
    number of series in the same order.
    """

    def __init__(self, name: str, forecaster: NeuralForecaster | None = None,
                 feature_cfg: FeatureConfig | None = None, train_cfg: TrainConfig | None = None,
                 mode: str = "shared", net_kwargs: dict | None = None,
                 val_fraction: float = 0.1) -> None:
        self.name = check_name(name)
        self.forecaster = forecaster
        self.feature_cfg = forecaster.feature_cfg if forecaster else (feature_cfg or FeatureConfig())
        self.train_cfg = train_cfg or TrainConfig(progress=False)
        self.mode = forecaster.mode if forecaster else mode
        self.net_kwargs = dict(net_kwargs or {})
        self.val_fraction = val_fraction

    @property
    def history_needed(self) -> int:
        return self.feature_cfg.history_needed

    def fit(self, history: np.ndarray, observed: np.ndarray | None = None,
            timestamps: pd.DatetimeIndex | None = None) -> None:
        """Train a fresh net on ``history`` (T, S): the last ``val_fraction`` of the targets
        validate (early stopping), the scaler is fitted on the rest."""
        h = _check_history(self.name, history, self.history_needed + 2)
        n = h.shape[0]
        first = self.history_needed
        cut = max(first + 1, n - int(round(self.val_fraction * (n - first))))
        if cut >= n:
            raise ValueError(f"{self.name}: history of {n} steps too short to train and validate")
        split = TimeSplit(train=(0, cut), val=(cut, n), test=(n, n + 1))
        obs = np.ones_like(h, dtype=bool) if observed is None else np.asarray(observed, bool)
        data = make_window_data(h, obs, split, self.feature_cfg, timestamps)
        fc = NeuralForecaster.create(self.name, self.mode, data, self.net_kwargs)
        fc.fit(data, self.train_cfg)
        self.forecaster = fc

    def predict_next(self, history: np.ndarray, next_time: pd.Timestamp | None = None,
                     step: pd.Timedelta = FIVE_MINUTES) -> np.ndarray:
        """``(S,)`` forecast of the step after ``history``'s last row, in its units.

        ``next_time`` (the timestamp of the predicted step) is needed only by a model trained
        with time features."""
        if self.forecaster is None:
            raise ValueError(f"{self.name}: untrained; call fit(history) or pass a checkpoint")
        fc = self.forecaster
        need = self.history_needed
        h = _check_history(self.name, history, need, fc.n_series,
                           what=f" (window {self.feature_cfg.window} + seasonal lags)")[-need:]
        ts = None
        if self.feature_cfg.time_features:
            if next_time is None:
                raise ValueError(f"{self.name}: trained with time features; pass next_time")
            ts = pd.date_range(end=pd.Timestamp(next_time) - step, periods=need, freq=step)
        feats = build_features(fc.scaler.transform(h), self.feature_cfg, ts)
        s = np.arange(h.shape[1])
        t = np.full_like(s, need)
        return fc.predict(torch.as_tensor(feats), t, s).astype(np.float32)


def make_predictor(name: str, checkpoint: str | os.PathLike | None = None,
                   **kw) -> WorkloadPredictor:
    """Predictor by name (``naive``, ``seasonal_day``, ``seasonal_week`` or a neural model).

    Neural models load ``checkpoint`` (a file written by ``NeuralForecaster.save`` or the
    forecast table's ``--out``); without one they are returned untrained (call ``fit``).
    Keyword options: ``steps_per_day`` for the seasonal baselines; ``feature_cfg``,
    ``train_cfg``, ``mode``, ``net_kwargs`` for an untrained neural predictor.
    """
    if name in KERNEL_PREDICTORS:
        raise ValueError(f"predictor {name!r} is handled by the simulation kernel "
                         f"('none': no prediction, 'oracle': the true next value)")
    if name not in MODEL_NAMES:
        raise ValueError(f"unknown predictor {name!r}; allowed: {', '.join(PREDICTOR_NAMES)}")
    if name in BASELINE_LAGS:
        if checkpoint is not None:
            raise ValueError(f"predictor {name!r} has no parameters; do not pass a checkpoint")
        return LagPredictor(name, **kw)
    assert name in NEURAL_MODELS
    if checkpoint is None:
        return NeuralPredictor(name, **kw)
    fc = NeuralForecaster.load(checkpoint)
    if fc.name != name:
        raise ValueError(f"{checkpoint}: checkpoint holds {fc.name!r}, not {name!r}")
    return NeuralPredictor(name, forecaster=fc)
