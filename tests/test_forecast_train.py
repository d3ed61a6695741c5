"""Training reduces validation loss; checkpoints round-trip with ``weights_only=True``."""

import numpy as np
import pytest
import torch
from _forecast_fixtures import SPD, periodic

from models.forecast.data import FeatureConfig, make_window_data, valid_targets, week_split
from models.forecast.registry import build_net
from models.forecast.train import NeuralForecaster, TrainConfig, predict_scaled, train_net

CFG = FeatureConfig(window=6, seasonal_lags=(SPD,))


def _data(noise=2.0):
    flow = periodic(noise=noise)
    split = week_split(len(flow), steps_per_day=SPD)
    return flow, split, make_window_data(flow, np.ones_like(flow, bool), split, CFG)


def test_tiny_training_run_reduces_validation_loss_on_a_periodic_series():
    torch.set_num_threads(1)
    _, _, data = _data()
    feats, target = torch.as_tensor(data.features), torch.as_tensor(data.target)
    torch.manual_seed(0)
    net = build_net("lstm_transformer", CFG.n_features, n_stations=3, residual=False)
    vt, vs = data.val_idx
    before = np.mean((predict_scaled(net, feats, vt, vs, 6, True) - data.target[vt, vs]) ** 2)
    res = train_net(net, feats, target, data.train_idx, data.val_idx, 6, True,
                    TrainConfig(epochs=2, batch_size=64, lr=3e-3, progress=False))
    assert res.epochs_run == 2 and len(res.history) == 2
    assert res.best_val < 0.5 * before


def test_training_is_reproducible_with_a_fixed_seed():
    torch.set_num_threads(1)
    _, _, data = _data()
    cfg = TrainConfig(epochs=1, batch_size=128, samples_per_epoch=512, progress=False, seed=3)
    a = NeuralForecaster.create("gru", "shared", data)
    b = NeuralForecaster.create("gru", "shared", data)
    a.fit(data, cfg)
    b.fit(data, cfg)
    for (ka, va), (kb, vb) in zip(a.nets[0].state_dict().items(), b.nets[0].state_dict().items(),
                                  strict=True):
        assert ka == kb and torch.equal(va, vb)


@pytest.mark.parametrize("mode", ["shared", "per_server"])
def test_checkpoint_round_trip_with_weights_only(tmp_path, mode):
    torch.set_num_threads(1)
    flow, split, data = _data()
    fc = NeuralForecaster.create("cnn_lstm", mode, data, station_ids=["a", "b", "c"])
    fc.fit(data, TrainConfig(epochs=1, batch_size=128, samples_per_epoch=256, progress=False))
    path = fc.save(tmp_path / "ck.pt")
    raw = torch.load(path, weights_only=True)  # plain tensors and primitives only
    assert raw["model"] == "cnn_lstm" and raw["mode"] == mode
    assert raw["train"]["epochs_run"] == [1] * len(raw["state_dicts"])
    assert len(raw["state_dicts"]) == (1 if mode == "shared" else 3)
    back = NeuralForecaster.load(path)
    assert back.station_ids == ["a", "b", "c"] and back.feature_cfg == CFG
    t, s = valid_targets(split.test, CFG, n_series=3)
    np.testing.assert_array_equal(back.predict(data.features, t, s),
                                  fc.predict(data.features, t, s))


def test_loading_a_non_checkpoint_fails_with_a_clear_message(tmp_path):
    p = tmp_path / "junk.pt"
    torch.save({"hello": torch.zeros(1)}, p)
    with pytest.raises(ValueError, match="junk.pt: not a desim_iov.forecast/1 checkpoint"):
        NeuralForecaster.load(p)
    with pytest.raises(ValueError, match="missing.pt: no such forecaster checkpoint file"):
        NeuralForecaster.load(tmp_path / "missing.pt")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a torch file")
    with pytest.raises(ValueError) as e:
        NeuralForecaster.load(garbage)
    msg = str(e.value)  # one line, never the advice to turn weights-only loading off
    assert "garbage.pt: not a loadable forecaster checkpoint" in msg
    assert "\n" not in msg and "weights_only" not in msg
