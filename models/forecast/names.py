"""Names of the forecasting models and of the kernel's predictors, defined once. Imports
nothing (no torch): the scenario schema validates ``predictor.name`` against them."""

from __future__ import annotations

NEURAL_MODEL_NAMES: tuple[str, ...] = ("lstm_transformer", "lstm", "gru", "cnn_lstm", "cnn_gru")
BASELINE_MODELS: tuple[str, ...] = ("naive", "seasonal_day", "seasonal_week")  # no checkpoint
MODEL_NAMES: tuple[str, ...] = (*NEURAL_MODEL_NAMES, *BASELINE_MODELS)
KERNEL_PREDICTORS: tuple[str, ...] = ("none", "oracle")  # answered by the kernel itself
PREDICTOR_NAMES: tuple[str, ...] = (*KERNEL_PREDICTORS, *MODEL_NAMES)
