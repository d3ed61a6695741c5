"""The simulator-facing predictor API: shapes, baselines, too-short history, consistency with
batch evaluation."""

import numpy as np
import pytest
import torch
from _forecast_fixtures import SPD, periodic

from models.forecast.baselines import baseline_forecast
from models.forecast.data import FeatureConfig, make_window_data, week_split
from models.forecast.predictor import (
    PREDICTOR_NAMES,
    LagPredictor,
    WorkloadPredictor,
    make_predictor,
)
from models.forecast.train import NeuralForecaster, TrainConfig


def test_seasonal_naive_is_exact_on_a_perfectly_periodic_series():
    flow = periodic(n_days=15)
    t = np.arange(7 * SPD, len(flow))
    s = np.zeros_like(t)
    np.testing.assert_allclose(baseline_forecast("seasonal_day", flow, t, s, SPD), flow[t, 0])
    np.testing.assert_allclose(baseline_forecast("seasonal_week", flow, t, s, SPD), flow[t, 0])
    p = make_predictor("seasonal_week", steps_per_day=SPD)
    np.testing.assert_allclose(p.predict_next(flow[:-1]), flow[-1])
    p = make_predictor("seasonal_day", steps_per_day=SPD)
    np.testing.assert_allclose(p.predict_next(flow[-SPD - 1:-1]), flow[-1])


def test_baseline_predictors_return_one_value_per_series():
    h = periodic(n_days=8, n_series=4)
    for name in ("naive", "seasonal_day", "seasonal_week"):
        p = make_predictor(name, steps_per_day=SPD)
        assert isinstance(p, WorkloadPredictor)
        p.fit(h)  # optional, a no-op
        out = p.predict_next(h)
        assert out.shape == (4,) and out.dtype == np.float32
    np.testing.assert_array_equal(make_predictor("naive").predict_next(h), h[-1])


def test_too_short_history_raises_a_clear_error():
    with pytest.raises(ValueError, match=r"seasonal_week: needs at least 2016 steps .*one week"):
        make_predictor("seasonal_week").predict_next(np.zeros((2000, 3)))
    with pytest.raises(ValueError, match=r"seasonal_day: needs at least 288 steps .*one day"):
        LagPredictor("seasonal_day").predict_next(np.zeros((10, 3)))
    with pytest.raises(ValueError, match=r"\(W, S\)"):
        make_predictor("naive").predict_next(np.zeros(5))


def test_kernel_names_and_unknown_names_are_rejected():
    assert PREDICTOR_NAMES[:2] == ("none", "oracle")
    for name in ("none", "oracle"):
        with pytest.raises(ValueError, match="kernel"):
            make_predictor(name)
    with pytest.raises(ValueError, match="unknown predictor 'arima'"):
        make_predictor("arima")
    with pytest.raises(ValueError, match="no parameters"):
        make_predictor("naive", checkpoint="x.pt")


def test_neural_predictor_from_checkpoint_matches_batch_evaluation(tmp_path):
    torch.set_num_threads(1)
    flow = periodic(noise=2.0)
    split = week_split(len(flow), steps_per_day=SPD)
    cfg = FeatureConfig(window=6, seasonal_lags=(7 * SPD,))
    data = make_window_data(flow, np.ones_like(flow, bool), split, cfg)
    fc = NeuralForecaster.create("lstm_transformer", "shared", data)
    fc.fit(data, TrainConfig(epochs=1, batch_size=128, samples_per_epoch=256, progress=False))
    path = fc.save(tmp_path / "lt.pt")

    p = make_predictor("lstm_transformer", checkpoint=path)
    assert isinstance(p, WorkloadPredictor) and p.history_needed == 6 + 7 * SPD - 2
    t = split.test[0] + 5
    out = p.predict_next(flow[:t])  # longer history than needed is fine
    assert out.shape == (3,)
    s = np.arange(3)
    np.testing.assert_allclose(out, fc.predict(data.features, np.full(3, t), s), rtol=1e-5)

    with pytest.raises(ValueError, match="needs at least 172 steps"):
        p.predict_next(flow[:100])
    with pytest.raises(ValueError, match="trained for 3 series, history has 2"):
        p.predict_next(flow[:t, :2])
    with pytest.raises(ValueError, match="holds 'lstm_transformer', not 'gru'"):
        make_predictor("gru", checkpoint=path)


def test_untrained_neural_predictor_needs_fit_then_predicts():
    torch.set_num_threads(1)
    p = make_predictor("gru", feature_cfg=FeatureConfig(window=6, seasonal_lags=()),
                       train_cfg=TrainConfig(epochs=1, batch_size=64, samples_per_epoch=256,
                                             progress=False))
    h = periodic(n_days=6, n_series=2, noise=1.0)
    with pytest.raises(ValueError, match="untrained"):
        p.predict_next(h)
    p.fit(h)
    assert p.predict_next(h[-10:]).shape == (2,)
