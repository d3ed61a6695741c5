"""Workload forecasting for edge servers (twin-migration Sec. V, Alg. 1, Table II).

Public API:

- ``make_predictor(name, checkpoint=None, **kw) -> WorkloadPredictor`` and the
  ``WorkloadPredictor`` protocol (``predict_next(history (W, S)) -> (S,)``) for the simulator;
- ``NeuralForecaster`` (train / predict / save / load), ``TrainConfig``, ``FeatureConfig``,
  ``week_split``, ``make_window_data`` for offline training;
- ``MODEL_NAMES``, ``PREDICTOR_NAMES``, ``build_net``; ``all_metrics`` and friends.
"""

import importlib

_HOME = {  # public name -> the module defining it (imported on first use: torch is heavy)
    "baseline_forecast": "baselines",
    **dict.fromkeys(("FeatureConfig", "Scaler", "TimeSplit", "make_window_data", "week_split"), "data"),
    **dict.fromkeys(("METRICS", "all_metrics", "mae", "mape", "r2", "rmse", "wape"), "metrics"),
    **dict.fromkeys(("LagPredictor", "NeuralPredictor", "WorkloadPredictor", "make_predictor"), "predictor"),
    **dict.fromkeys(("KERNEL_PREDICTORS", "PREDICTOR_NAMES", "BASELINE_MODELS", "MODEL_NAMES"), "names"),
    **dict.fromkeys(("NEURAL_MODELS", "build_net"), "registry"),
    **dict.fromkeys(("NeuralForecaster", "TrainConfig"), "train"),
}


def __getattr__(name: str):
    if name not in _HOME:
        raise AttributeError(f"module 'models.forecast' has no attribute {name!r}")
    return getattr(importlib.import_module(f"models.forecast.{_HOME[name]}"), name)


__all__ = [
    "BASELINE_MODELS", "KERNEL_PREDICTORS", "METRICS", "MODEL_NAMES", "NEURAL_MODELS",
    "PREDICTOR_NAMES", "FeatureConfig", "LagPredictor", "NeuralForecaster", "NeuralPredictor",
    "Scaler", "TimeSplit", "TrainConfig", "WorkloadPredictor", "all_metrics",
    "baseline_forecast", "build_net", "mae", "make_predictor", "make_window_data", "mape", "r2",
    "rmse", "wape", "week_split",
]
