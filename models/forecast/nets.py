"""Torch one-step forecasters: the LSTM-based Transformer (twin-migration Sec. V, Eq. 17-18,
Fig. 2) and the recurrent baselines of its Table II (LSTM, GRU, CNN-LSTM, CNN-GRU).

Every net maps a window ``x`` of shape ``(B, T, F)`` (feature 0 = scaled flow, see
``models.forecast.data``) and, for a shared model, the series index ``station`` ``(B,)`` to the
scaled next value ``(B,)``.

Common options, identical for all nets so the comparison stays like for like:

- ``n_stations > 0`` adds a learned station embedding (``emb_dim``) concatenated to every step's
  input (shared model across servers); ``n_stations = 0`` is a per-server model (Alg. 1).
- ``residual=True`` predicts the change from the window's last value: ``y = x[:, -1, 0] + f(x)``.
"""

from __future__ import annotations

import torch
from torch import nn


class _StationInput(nn.Module):
    """Concatenates a per-station embedding to each time step (no-op when ``n_stations == 0``)."""

    def __init__(self, n_stations: int, emb_dim: int) -> None:
        super().__init__()
        self.emb = nn.Embedding(n_stations, emb_dim) if n_stations > 0 else None
        self.extra = emb_dim if n_stations > 0 else 0

    def forward(self, x: torch.Tensor, station: torch.Tensor | None) -> torch.Tensor:
        if self.emb is None:
            return x
        if station is None:
            raise ValueError("a shared model needs the station index of every sample")
        e = self.emb(station)[:, None, :].expand(-1, x.shape[1], -1)
        return torch.cat([x, e], dim=-1)


class RecurrentNet(nn.Module):
    """LSTM / GRU baseline, optionally preceded by a kernel-1 ``Conv1d`` (CNN-LSTM, CNN-GRU).

    Kernel 1 means the convolution mixes features within a step only (twin-migration Sec. VII-A:
    "one-dimensional convolution with a kernel size of 1, followed by ... GRU or LSTM").
    The head reads the last hidden state.
    """

    def __init__(self, n_features: int, cell: str = "lstm", conv: bool = False, hidden: int = 32,
                 conv_channels: int = 32, n_stations: int = 0, emb_dim: int = 8,
                 residual: bool = True) -> None:
        super().__init__()
        if cell not in ("lstm", "gru"):
            raise ValueError(f"cell must be 'lstm' or 'gru', got {cell!r}")
        self.inp = _StationInput(n_stations, emb_dim)
        d_in = n_features + self.inp.extra
        self.conv = (nn.Sequential(nn.Conv1d(d_in, conv_channels, kernel_size=1), nn.ReLU())
                     if conv else None)
        rnn_in = conv_channels if conv else d_in
        rnn_cls = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = rnn_cls(rnn_in, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)
        self.residual = residual

    def forward(self, x: torch.Tensor, station: torch.Tensor | None = None) -> torch.Tensor:
        h = self.inp(x, station)
        if self.conv is not None:
            h = self.conv(h.transpose(1, 2)).transpose(1, 2)  # Conv1d wants (B, C, T)
        out, _ = self.rnn(h)
        y = self.head(out[:, -1]).squeeze(-1)
        return y + x[:, -1, 0] if self.residual else y


class LSTMTransformer(nn.Module):
    """LSTM-based Transformer (twin-migration Sec. V, Fig. 2, Alg. 1).

    ``LSTM(d_h)`` over the window (Eq. 17) -> ``Linear(d_h, d_k)`` (the Dense layer giving a
    ``T x d_k`` matrix) -> ``TransformerEncoder`` with ``nhead`` heads (Eq. 18, ``d_model = d_k``)
    -> a linear head on the **last** position -> one step.

    Deviations (see docs/MODEL.md): torch's standard LSTM cell ``C_t = f*C_{t-1} + i*C~_t``
    instead of Eq. 17e's ``sigma(...)`` around it; standard scaled dot-product attention
    ``softmax(QK^T / sqrt(d_head)) V`` per head with ``d_head = d_k / nhead``; no positional
    encoding (the LSTM states already carry order); ``dim_feedforward`` explicit (128).
    """

    def __init__(self, n_features: int, d_h: int = 32, d_k: int = 64, nhead: int = 4,
                 dim_feedforward: int = 128, num_layers: int = 1, dropout: float = 0.0,
                 pool: str = "last", n_stations: int = 0, emb_dim: int = 8,
                 residual: bool = True) -> None:
        super().__init__()
        if pool not in ("last", "mean"):
            raise ValueError(f"pool must be 'last' or 'mean', got {pool!r}")
        self.inp = _StationInput(n_stations, emb_dim)
        self.lstm = nn.LSTM(n_features + self.inp.extra, d_h, batch_first=True)
        self.dense = nn.Linear(d_h, d_k)
        layer = nn.TransformerEncoderLayer(d_model=d_k, nhead=nhead,
                                           dim_feedforward=dim_feedforward, dropout=dropout,
                                           batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=num_layers,
                                             enable_nested_tensor=False)
        self.head = nn.Linear(d_k, 1)
        self.pool = pool
        self.residual = residual

    def forward(self, x: torch.Tensor, station: torch.Tensor | None = None) -> torch.Tensor:
        h, _ = self.lstm(self.inp(x, station))  # H_t: (B, T, d_h)
        z = self.encoder(self.dense(h))  # (B, T, d_k)
        z = z[:, -1] if self.pool == "last" else z.mean(dim=1)
        y = self.head(z).squeeze(-1)
        return y + x[:, -1, 0] if self.residual else y
