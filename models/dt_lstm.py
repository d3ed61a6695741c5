"""The digital twin's peephole LSTM (quantum-DRL paper Sec. V-A/B, Eq. 69–74, Alg. 1, Sec. VI).

- :class:`PeepholeLSTMCell`: one step of Eq. 69–73 (input/forget gates peep at C(t-1), the
  output gate at C(t); tanh in the cell input and in h = O o tanh(C)); diagonal peepholes
  (Gers & Schmidhuber) or full matrices.
- :class:`PeepholeLSTM`: stacked cells over a window ``(B, T, F)``, dropout between layers.
- :class:`DTForecaster`: Sec. VI's network: 3 layers x 128 units, dropout 0.3, a dense head with
  a ReLU hidden layer, output the next observed vector o(t+1) of one agent.
- :func:`dt_loss`: Eq. 74, squared error plus eta_w times the batch variance of the predictions.
- :class:`KindModel` / :class:`DTBundle`: a trained net per agent kind with its input scaler,
  and the checkpoint (``torch.save`` of tensors and JSON-able values, read back with
  ``models.checkpoint_io.load_weights_only``).

Parameters are drawn theta ~ N(0, 1/n) with n the fan-in (Alg. 1), biases 0. The readings of
the paper's gaps (diagonal peepholes, the unused W_CC, the sign of the variance term, ReLU in
the head only) are in docs/MODEL.md ("Digital twin and peephole LSTM").
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

CHECKPOINT_FORMAT = "desim_iov.dt_lstm/1"
PEEPHOLES = ("diagonal", "full")


def _normal_(p: torch.Tensor, fan_in: int) -> None:
    """theta ~ N(0, 1/n), n = fan-in (Alg. 1, "Initialize LSTM parameters")."""
    with torch.no_grad():
        p.normal_(0.0, 1.0 / math.sqrt(max(fan_in, 1)))


class PeepholeLSTMCell(nn.Module):
    """One step of Eq. 69–73 on a batch.

    With o = o(t) (the input), h = h(t-1), C = C(t-1)::

        I(t) = sigma(W_I o + W_IH h + W_IC C(t-1) + b_I)         (69)
        F(t) = sigma(W_F o + W_FH h + W_FC C(t-1) + b_F)         (70)
        C(t) = F(t) o C(t-1) + I(t) o tanh(W_C o + W_CH h + b_C)  (71)
        O(t) = sigma(W_O o + W_OH h + W_OC C(t) + b_O)            (72)
        h(t) = O(t) o tanh(C(t))                                  (73)

    ``weight_x`` stacks (W_I, W_F, W_C, W_O) and ``weight_h`` (W_IH, W_FH, W_CH, W_OH), rows in
    the gate order i, f, c, o (the order of ``torch.nn.LSTMCell``'s i, f, g, o); one bias per
    gate (``nn.LSTMCell``'s ``bias_ih + bias_hh``). Peepholes W_IC, W_FC, W_OC are vectors
    (``peephole="diagonal"``, C enters element-wise as in Gers & Schmidhuber) or H x H matrices
    (``"full"``). The paper also names W_CC, which Eq. 71 does not use: there is none here.
    """

    def __init__(self, input_size: int, hidden_size: int, peephole: str = "diagonal") -> None:
        super().__init__()
        if peephole not in PEEPHOLES:
            raise ValueError(f"peephole must be one of {PEEPHOLES}, got {peephole!r}")
        self.input_size, self.hidden_size, self.peephole = input_size, hidden_size, peephole
        H = hidden_size
        self.weight_x = nn.Parameter(torch.empty(4 * H, input_size))
        self.weight_h = nn.Parameter(torch.empty(4 * H, H))
        self.bias = nn.Parameter(torch.empty(4 * H))
        shape = (H,) if peephole == "diagonal" else (H, H)
        self.w_ic = nn.Parameter(torch.empty(shape))
        self.w_fc = nn.Parameter(torch.empty(shape))
        self.w_oc = nn.Parameter(torch.empty(shape))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """N(0, 1/n): n = input size for W_x, H for W_h and the peepholes (C has H entries,
        also for a diagonal one); biases 0."""
        _normal_(self.weight_x, self.input_size)
        _normal_(self.weight_h, self.hidden_size)
        for p in (self.w_ic, self.w_fc, self.w_oc):
            _normal_(p, self.hidden_size)
        nn.init.zeros_(self.bias)

    def _peep(self, w: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return w * c if self.peephole == "diagonal" else c @ w.T

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """The input part W_* o(t) + b_* of all four gates, (..., 4H): computed for a whole
        window at once by :class:`PeepholeLSTM`."""
        return x @ self.weight_x.T + self.bias

    def step(self, gx: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Eq. 69–73 from the projected input ``gx`` (B, 4H) and (h(t-1), C(t-1))."""
        h, c = state
        gi, gf, gc, go = (gx + h @ self.weight_h.T).chunk(4, dim=-1)
        i = torch.sigmoid(gi + self._peep(self.w_ic, c))  # (69)
        f = torch.sigmoid(gf + self._peep(self.w_fc, c))  # (70)
        c = f * c + i * torch.tanh(gc)  # (71)
        o = torch.sigmoid(go + self._peep(self.w_oc, c))  # (72): peeps at C(t)
        return o * torch.tanh(c), c  # (73)

    def forward(self, x: torch.Tensor,
                state: tuple[torch.Tensor, torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(h(t), C(t)) from o(t) (B, F) and (h(t-1), C(t-1)) (zeros when None)."""
        if state is None:
            z = x.new_zeros(x.shape[0], self.hidden_size)
            state = (z, z)
        return self.step(self.project(x), state)


class PeepholeLSTM(nn.Module):
    """``layers`` stacked :class:`PeepholeLSTMCell` over a window ``x`` (B, T, F) (batch
    first), dropout between layers (not after the last); returns the last layer's h (B, T, H)."""

    def __init__(self, input_size: int, hidden_size: int, layers: int = 1, dropout: float = 0.0,
                 peephole: str = "diagonal") -> None:
        super().__init__()
        if layers < 1:
            raise ValueError(f"layers must be >= 1, got {layers}")
        self.cells = nn.ModuleList(
            PeepholeLSTMCell(input_size if k == 0 else hidden_size, hidden_size, peephole)
            for k in range(layers))
        self.drop = nn.Dropout(dropout)
        self.hidden_size = hidden_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, _ = x.shape
        for k, cell in enumerate(self.cells):
            if k:
                x = self.drop(x)
            gx = cell.project(x)  # (B, T, 4H): the input projections of every step at once
            z = x.new_zeros(B, self.hidden_size)
            state, out = (z, z), []
            for t in range(T):
                state = cell.step(gx[:, t], state)
                out.append(state[0])
            x = torch.stack(out, dim=1)
        return x


class DTForecaster(nn.Module):
    """One agent kind's forecaster (Sec. VI): a window of the agent's observed vectors o
    (B, T, n_in), scaled, to its next o(t+1) (B, n_out), scaled.

    :class:`PeepholeLSTM` (``layers`` x ``hidden``, dropout between layers), then the last
    step's h -> Linear(hidden, head) -> ReLU -> Linear(head, n_out) (Sec. VI's "ReLU
    activation": the LSTM keeps its sigma/tanh). ``residual=True`` adds the window's last o to
    the output (the net predicts the change), as the workload forecasters do."""

    def __init__(self, n_in: int, n_out: int | None = None, hidden: int = 128, layers: int = 3,
                 dropout: float = 0.3, head: int | None = None, peephole: str = "diagonal",
                 residual: bool = True) -> None:
        super().__init__()
        n_out = n_in if n_out is None else n_out
        if residual and n_out != n_in:
            raise ValueError("residual needs n_out == n_in")
        head = hidden if head is None else head
        self.kwargs = {"n_in": n_in, "n_out": n_out, "hidden": hidden, "layers": layers,
                       "dropout": dropout, "head": head, "peephole": peephole, "residual": residual}
        self.lstm = PeepholeLSTM(n_in, hidden, layers, dropout, peephole)
        self.head = nn.Sequential(nn.Linear(hidden, head), nn.ReLU(), nn.Linear(head, n_out))
        for m in self.head:
            if isinstance(m, nn.Linear):
                _normal_(m.weight, m.in_features)
                nn.init.zeros_(m.bias)
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.head(self.lstm(x)[:, -1])
        return y + x[:, -1] if self.residual else y


def dt_loss(pred: torch.Tensor, target: torch.Tensor, eta_w: float = 0.01,
            var_sign: float = 1.0) -> torch.Tensor:
    """Eq. 74 on a batch: the squared error summed over the M features of o (mean over the
    batch) plus ``var_sign`` x eta_w x sum over features of the predictions' variance across
    the batch. ``var_sign = +1`` is the equation as printed (it penalises spread);
    ``-1`` rewards it, which is what the text says the term does ("encouraging diversity")."""
    se = ((target - pred) ** 2).sum(dim=-1).mean()
    if pred.shape[0] < 2 or eta_w == 0.0:
        return se
    return se + var_sign * eta_w * pred.var(dim=0, unbiased=False).sum()


# ---------------------------------------------------------------------------- trained models


@dataclass
class KindModel:
    """One agent kind's trained forecaster: ``net`` on inputs and targets scaled by the
    training targets' ``mean`` and ``std`` per feature; ``n_state`` state features then 3
    action features. A feature constant in training (std < 1e-6) is scaled by 1 and predicted
    as that constant (e.g. the queues of slot-fidelity traces, always empty)."""

    kind: str
    net: DTForecaster
    mean: np.ndarray
    std: np.ndarray
    n_state: int
    nvec: tuple[int, int, int]
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def n_in(self) -> int:
        return int(self.net.kwargs["n_in"])

    @property
    def constant(self) -> np.ndarray:
        return self.std < 1e-6

    @property
    def scale_std(self) -> np.ndarray:
        return np.where(self.constant, 1.0, self.std)

    def scale(self, o: np.ndarray) -> np.ndarray:
        return ((o - self.mean) / self.scale_std).astype(np.float32)

    @torch.no_grad()
    def predict(self, windows: np.ndarray, batch: int = 4096) -> np.ndarray:
        """o^(t+1) (A, n) from windows of o (A, T, n), both unscaled."""
        self.net.train(False)  # inference mode (dropout off)
        x = torch.from_numpy(self.scale(np.asarray(windows, dtype=np.float64)))
        out = [self.net(x[i:i + batch]).numpy() for i in range(0, len(x), batch)]
        y = np.concatenate(out) if out else np.zeros((0, self.n_in), np.float32)
        y = y.astype(np.float64) * self.scale_std + self.mean
        y[:, self.constant] = self.mean[self.constant]
        return y


@dataclass
class DTBundle:
    """The DT's forecasters, one per agent kind, trained for one network size ``counts``
    ({"B", "U", "V"}) and ``window`` slots of history."""

    models: dict[str, KindModel]
    window: int
    counts: dict[str, int]
    train: dict[str, Any] = field(default_factory=dict)

    def save(self, path: str | os.PathLike) -> Path:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        kinds = {k: {"net": m.net.kwargs, "n_state": m.n_state, "nvec": list(m.nvec), "info": m.info}
                 for k, m in self.models.items()}
        torch.save({
            "format": CHECKPOINT_FORMAT,
            "window": int(self.window),
            "counts": {k: int(v) for k, v in self.counts.items()},
            "kinds": kinds,
            "train": self.train,
            "state": {k: m.net.state_dict() for k, m in self.models.items()},
            "scaler": {k: {"mean": torch.as_tensor(m.mean), "std": torch.as_tensor(m.std)}
                       for k, m in self.models.items()},
        }, p)
        return p

    @classmethod
    def load(cls, path: str | os.PathLike) -> DTBundle:
        """Read a checkpoint written by :meth:`save`; anything else is a one-line ValueError."""
        from models.checkpoint_io import load_weights_only

        ck = load_weights_only(path, "digital-twin forecaster checkpoint")
        if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT:
            got = ck.get("format") if isinstance(ck, dict) else type(ck).__name__
            raise ValueError(f"{path}: not a digital-twin forecaster checkpoint "
                             f"(format {got!r}, expected {CHECKPOINT_FORMAT!r})")
        models = {}
        try:
            for kind, meta in ck["kinds"].items():
                net = DTForecaster(**meta["net"])
                net.load_state_dict(ck["state"][kind])
                sc = ck["scaler"][kind]
                models[kind] = KindModel(kind, net, sc["mean"].numpy().astype(np.float64),
                                         sc["std"].numpy().astype(np.float64), int(meta["n_state"]),
                                         tuple(int(n) for n in meta["nvec"]), dict(meta.get("info", {})))
            return cls(models, int(ck["window"]), {k: int(v) for k, v in ck["counts"].items()},
                       dict(ck.get("train", {})))
        except (KeyError, TypeError, RuntimeError, ValueError) as e:
            why = " ".join(str(e).split())[:200]
            raise ValueError(f"{path}: damaged digital-twin forecaster checkpoint ({type(e).__name__}: {why})") from None
