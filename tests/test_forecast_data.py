"""Windowing, scaling and the time split: no sample of a split reads a later split's rows."""

import numpy as np
import pandas as pd
import pytest
import torch

from models.forecast.data import (
    FeatureConfig,
    Scaler,
    TimeSplit,
    build_features,
    make_window_data,
    rows_touched,
    training_target_mask,
    valid_targets,
    week_split,
)
from models.forecast.train import gather_windows

SPD = 24  # tiny "days" keep the fixtures small


def _series(n_days=28, n_series=3, seed=0):
    rng = np.random.default_rng(seed)
    n = n_days * SPD
    base = 100 + 50 * np.sin(2 * np.pi * np.arange(n) / SPD)[:, None]
    return (base + rng.normal(0, 5, (n, n_series))).astype(np.float32)


def test_week_split_of_the_d12_layout():
    sp = week_split(8064)
    assert sp.train == (0, 5472) and sp.val == (5472, 6048) and sp.test == (6048, 8064)
    with pytest.raises(ValueError, match="needs 8064 steps"):
        week_split(8000)
    with pytest.raises(ValueError, match="ordered"):
        TimeSplit(train=(0, 10), val=(5, 12), test=(12, 20))


@pytest.mark.parametrize("lead", [0, 1, 3])
def test_windows_never_read_rows_of_a_later_split(lead):
    flow = _series()
    obs = np.ones_like(flow, bool)
    sp = week_split(len(flow), steps_per_day=SPD)
    cfg = FeatureConfig(window=6, seasonal_lags=(7 * SPD, SPD), seasonal_lead=lead)
    data = make_window_data(flow, obs, sp, cfg)
    assert len(data.train_idx[0]) > 0 and len(data.val_idx[0]) > 0
    assert rows_touched(data.train_idx[0], cfg).max() < sp.train[1]
    assert rows_touched(data.val_idx[0], cfg).max() < sp.val[1]
    assert rows_touched(data.train_idx[0], cfg).min() >= 0
    for t in data.train_idx[0][::97]:  # every input row of a sample precedes its target
        rows = rows_touched(np.array([t]), cfg)
        assert rows.max() == t and (rows[:-1] < t).all()
    with pytest.raises(ValueError, match="must exceed seasonal_lead"):
        FeatureConfig(seasonal_lags=(SPD,), seasonal_lead=SPD)


def test_scaler_and_training_inputs_ignore_validation_and_test_rows():
    flow = _series()
    obs = np.ones_like(flow, bool)
    sp = week_split(len(flow), steps_per_day=SPD)
    cfg = FeatureConfig(window=6, seasonal_lags=(7 * SPD,))
    clean = make_window_data(flow, obs, sp, cfg)
    poisoned = flow.copy()
    poisoned[sp.train[1]:] = np.nan  # validation and test rows unknown
    bad = make_window_data(poisoned, obs, sp, cfg)
    np.testing.assert_array_equal(bad.scaler.mean, clean.scaler.mean)
    np.testing.assert_array_equal(bad.scaler.std, clean.scaler.std)
    t, s = (torch.as_tensor(a) for a in bad.train_idx)
    x = gather_windows(torch.as_tensor(bad.features), t, s, cfg.window)
    assert torch.isfinite(x).all() and torch.isfinite(torch.as_tensor(bad.target)[t, s]).all()


def test_scaler_uses_observed_cells_and_falls_back_for_fully_imputed_series():
    flow = np.array([[0.0, 10.0], [10.0, 20.0], [1000.0, 30.0]], np.float32)
    obs = np.array([[True, False], [True, False], [False, False]])
    sc = Scaler.fit(flow, obs, stop=3)
    assert sc.mean[0] == pytest.approx(5.0) and sc.std[0] == pytest.approx(5.0)
    assert sc.mean[1] == pytest.approx(20.0)  # no observed cell: all rows
    np.testing.assert_allclose(sc.inverse(sc.transform(flow)), flow, rtol=1e-6)


def test_imputed_targets_are_not_samples_except_for_never_observed_series():
    n = 28 * SPD
    obs = np.ones((n, 3), bool)
    obs[500:510, 0] = False
    obs[:, 2] = False  # a fully imputed station
    sp = week_split(n, steps_per_day=SPD)
    tm = training_target_mask(obs, sp)
    assert not tm[500:510, 0].any() and tm[:, 2].all()
    cfg = FeatureConfig(window=6, seasonal_lags=())
    t, s = valid_targets(sp.train, cfg, obs)
    assert not ((s == 0) & (t >= 500) & (t < 510)).any() and not (s == 2).any()
    assert t.min() >= cfg.window


@pytest.mark.parametrize("lead", [0, 1])
def test_seasonal_feature_at_last_position_is_one_period_before_target_plus_lead(lead):
    flow = _series()
    cfg = FeatureConfig(window=6, seasonal_lags=(7 * SPD, SPD), seasonal_lead=lead)
    f = build_features(flow, cfg)
    t = np.array([200, 500]), np.array([0, 2])
    x = gather_windows(torch.as_tensor(f), torch.as_tensor(t[0]), torch.as_tensor(t[1]), 6)
    np.testing.assert_array_equal(x[:, -1, 0].numpy(), flow[t[0] - 1, t[1]])
    np.testing.assert_array_equal(x[:, -1, 1].numpy(), flow[t[0] - 7 * SPD + lead, t[1]])
    np.testing.assert_array_equal(x[:, -1, 2].numpy(), flow[t[0] - SPD + lead, t[1]])
    np.testing.assert_array_equal(x[:, 0, 1].numpy(), flow[t[0] - 7 * SPD + lead - 5, t[1]])
    assert cfg.history_needed == 6 + 7 * SPD - 1 - lead
    assert rows_touched(t[0][:1], cfg).min() == t[0][0] - cfg.history_needed


def test_time_features_describe_the_next_step():
    ts = pd.date_range("2022-01-07 23:50", periods=3, freq="5min")  # Friday night
    cfg = FeatureConfig(window=1, seasonal_lags=(), time_features=True)
    f = build_features(np.zeros((3, 1), np.float32), cfg, ts)
    assert f.shape == (3, 1, 4)
    # step after 23:55 Friday is 00:00 Saturday: cos = 1, weekend flag set
    assert f[1, 0, 2] == pytest.approx(1.0) and f[1, 0, 3] == 1.0 and f[0, 0, 3] == 0.0
