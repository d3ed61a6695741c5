"""Workload forecasting for edge servers (twin-migration Sec. V, Alg. 1, Table II).

Public API:

- ``make_predictor(name, checkpoint=None, **kw) -> WorkloadPredictor`` and the
  ``WorkloadPredictor`` protocol (``predict_next(history (W, S)) -> (S,)``) for the simulator;
- ``NeuralForecaster`` (train / predict / save / load), ``TrainConfig``, ``FeatureConfig``,
  ``week_split``, ``make_window_data`` for offline training;
- ``MODEL_NAMES``, ``PREDICTOR_NAMES``, ``build_net``; ``all_metrics`` and friends.
"""

from models.forecast.baselines import baseline_forecast
from models.forecast.data import FeatureConfig, Scaler, TimeSplit, make_window_data, week_split
from models.forecast.metrics import METRICS, all_metrics, mae, mape, r2, rmse, wape
from models.forecast.predictor import (
    KERNEL_PREDICTORS,
    PREDICTOR_NAMES,
    LagPredictor,
    NeuralPredictor,
    WorkloadPredictor,
    make_predictor,
)
from models.forecast.registry import BASELINE_MODELS, MODEL_NAMES, NEURAL_MODELS, build_net
from models.forecast.train import NeuralForecaster, TrainConfig

__all__ = [
    "BASELINE_MODELS", "KERNEL_PREDICTORS", "METRICS", "MODEL_NAMES", "NEURAL_MODELS",
    "PREDICTOR_NAMES", "FeatureConfig", "LagPredictor", "NeuralForecaster", "NeuralPredictor",
    "Scaler", "TimeSplit", "TrainConfig", "WorkloadPredictor", "all_metrics",
    "baseline_forecast", "build_net", "mae", "make_predictor", "make_window_data", "mape", "r2",
    "rmse", "wape", "week_split",
]
