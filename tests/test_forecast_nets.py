"""Output shapes of every registered net, shared (station embedding) and per-server."""

import pytest
import torch

from models.forecast.nets import LSTMTransformer
from models.forecast.registry import MODEL_NAMES, NEURAL_MODELS, build_net, check_name


@pytest.mark.parametrize("name", list(NEURAL_MODELS))
@pytest.mark.parametrize("n_stations", [0, 5])
def test_each_net_maps_a_window_batch_to_one_value_per_sample(name, n_stations):
    torch.manual_seed(0)
    net = build_net(name, n_features=3, n_stations=n_stations, hidden=8, d_h=8, d_k=16,
                    dim_feedforward=32)
    x = torch.randn(7, 6, 3)
    st = torch.randint(0, 5, (7,)) if n_stations else None
    y = net(x, st)
    assert y.shape == (7,) and torch.isfinite(y).all()


def test_residual_nets_predict_the_change_from_the_last_value():
    torch.manual_seed(0)
    a = build_net("lstm", 2, residual=True)
    b = build_net("lstm", 2, residual=False)
    b.load_state_dict(a.state_dict())
    x = torch.randn(4, 6, 2)
    torch.testing.assert_close(a(x), b(x) + x[:, -1, 0])


def test_lstm_transformer_has_the_papers_sizes_and_explicit_feedforward():
    net = LSTMTransformer(n_features=1)
    assert net.lstm.hidden_size == 32 and net.dense.out_features == 64
    layer = net.encoder.layers[0]
    assert layer.self_attn.num_heads == 4 and layer.self_attn.embed_dim == 64
    assert layer.linear1.out_features == 128  # not torch's default 2048
    assert LSTMTransformer(1, pool="mean")(torch.randn(2, 6, 1)).shape == (2,)


def test_shared_net_requires_station_index_and_names_are_checked():
    net = build_net("gru", 1, n_stations=3)
    with pytest.raises(ValueError, match="station index"):
        net(torch.randn(2, 6, 1))
    with pytest.raises(ValueError, match="unknown forecaster"):
        check_name("transformer")
    with pytest.raises(ValueError, match="numpy baseline"):
        build_net("naive", 1)
    assert MODEL_NAMES == ("lstm_transformer", "lstm", "gru", "cnn_lstm", "cnn_gru", "naive",
                           "seasonal_day", "seasonal_week")
