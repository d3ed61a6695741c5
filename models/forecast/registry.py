"""Forecaster names -> factories. The names are the project's everywhere (CSV, CLI, scenario
``predictor:`` option): ``lstm_transformer, lstm, gru, cnn_lstm, cnn_gru, naive, seasonal_day,
seasonal_week``."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from models.forecast.names import BASELINE_MODELS, MODEL_NAMES, NEURAL_MODEL_NAMES  # noqa: F401  (re-exported)
from models.forecast.nets import LSTMTransformer, RecurrentNet

NEURAL_MODELS: dict[str, Callable[..., nn.Module]] = {
    "lstm_transformer": lambda n_features, **kw: LSTMTransformer(n_features, **kw),
    "lstm": lambda n_features, **kw: RecurrentNet(n_features, cell="lstm", conv=False, **kw),
    "gru": lambda n_features, **kw: RecurrentNet(n_features, cell="gru", conv=False, **kw),
    "cnn_lstm": lambda n_features, **kw: RecurrentNet(n_features, cell="lstm", conv=True, **kw),
    "cnn_gru": lambda n_features, **kw: RecurrentNet(n_features, cell="gru", conv=True, **kw),
}
if tuple(NEURAL_MODELS) != NEURAL_MODEL_NAMES:  # the names are defined in models.forecast.names
    raise ImportError(f"NEURAL_MODELS {tuple(NEURAL_MODELS)} differ from {NEURAL_MODEL_NAMES}")

# Options that only the LSTM-based Transformer takes; the others ignore them.
_TRANSFORMER_ONLY = ("d_h", "d_k", "nhead", "dim_feedforward", "num_layers", "dropout", "pool")
_RECURRENT_ONLY = ("hidden", "conv_channels")


def check_name(name: str) -> str:
    if name not in MODEL_NAMES:
        raise ValueError(f"unknown forecaster {name!r}; allowed: {', '.join(MODEL_NAMES)}")
    return name


def build_net(name: str, n_features: int, **kw) -> nn.Module:
    """A fresh torch net for a neural forecaster name (options not applicable to it are
    dropped, so one option dict can configure the whole table)."""
    check_name(name)
    if name not in NEURAL_MODELS:
        raise ValueError(f"{name!r} is a numpy baseline, not a torch net")
    drop = _RECURRENT_ONLY if name == "lstm_transformer" else _TRANSFORMER_ONLY
    return NEURAL_MODELS[name](n_features, **{k: v for k, v in kw.items() if k not in drop})
