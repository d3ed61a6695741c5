"""Training of the digital twin's peephole LSTMs (quantum-DRL Alg. 1) on windows of observed
vectors o (``models.dt_data``), one model per agent kind, and their test scores against
persistence.

Alg. 1: Adam (alpha = 1e-3, beta = (0.9, 0.999), eps = 1e-8), parameters N(0, 1/n), loss Eq. 74
(``models.dt_lstm.dt_loss``) on mini-batches of 64, back-propagation through the window, at
most ``epochs`` epochs; after each, the validation set is scored (line 14) and the learning
rate reduced on a plateau of it (line 15: ``ReduceLROnPlateau``); training stops early after
``patience`` epochs without improvement and keeps the best weights. Inputs and targets are
scaled by the training targets' mean and std per feature, stored with the model (a feature
constant in training is predicted as that constant).
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from models.dt_data import Windows
from models.dt_lstm import DTForecaster, KindModel, dt_loss


@dataclass
class DTTrainConfig:
    """Alg. 1 and Sec. VI's values by default (the paper gives no patience or plateau rule)."""

    epochs: int = 1000
    batch_size: int = 64
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    patience: int = 20  # epochs without a better validation MSE before stopping
    lr_factor: float = 0.5  # ReduceLROnPlateau
    lr_patience: int = 5
    min_lr: float = 1e-5
    eta_w: float = 0.01  # Eq. 74
    var_sign: float = 1.0  # +1: Eq. 74 as printed; -1: "encouraging diversity"
    hidden: int = 128
    layers: int = 3
    dropout: float = 0.3
    head: int | None = None
    peephole: str = "diagonal"
    residual: bool = True
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "patience", "hidden", "layers"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    def net_kwargs(self, n: int) -> dict[str, Any]:
        return {"n_in": n, "n_out": n, "hidden": self.hidden, "layers": self.layers, "dropout": self.dropout,
                "head": self.head, "peephole": self.peephole, "residual": self.residual}


@dataclass
class KindResult:
    """One kind's training: per epoch (train Eq. 74 loss, validation MSE), both scaled, and the
    training MSE (the squared error's mean over features, as the validation MSE; with dropout)."""

    kind: str
    history: list[tuple[float, float]] = field(default_factory=list)
    train_mse: list[float] = field(default_factory=list)
    lrs: list[float] = field(default_factory=list)
    best_epoch: int = 0
    epochs_run: int = 0
    seconds: float = 0.0
    n_train: int = 0
    n_val: int = 0


def fit_scaler(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and std of the training targets (S, n) (``KindModel`` scales a
    constant feature, std < 1e-6, by 1 and predicts it as its constant)."""
    return y.mean(axis=0).astype(np.float64), y.std(axis=0).astype(np.float64)


@torch.no_grad()
def _scaled_mse(net: DTForecaster, x: torch.Tensor, y: torch.Tensor, batch: int = 4096) -> float:
    if not len(y):
        return float("nan")
    net.train(False)  # inference mode (dropout off)
    tot = 0.0
    for i in range(0, len(y), batch):
        tot += float(((net(x[i:i + batch]) - y[i:i + batch]) ** 2).sum())
    return tot / y.numel()


def train_kind(kind: str, train: Windows, val: Windows, n_state: int, nvec: tuple[int, int, int],
               cfg: DTTrainConfig, desc: str | None = None) -> tuple[KindModel, KindResult]:
    """Fit one kind's :class:`DTForecaster` (module docstring); returns the model with the best
    validation weights (the last ones without a validation set) and its history."""
    if not len(train):
        raise ValueError(f"{kind}: no training windows (traces too short for the window?)")
    n = train.x.shape[2]
    torch.manual_seed(cfg.seed)
    net = DTForecaster(**cfg.net_kwargs(n))
    mean, std = fit_scaler(train.y)
    model = KindModel(kind, net, mean, std, n_state, tuple(nvec))
    xt, yt = torch.from_numpy(model.scale(train.x)), torch.from_numpy(model.scale(train.y))
    xv, yv = torch.from_numpy(model.scale(val.x)), torch.from_numpy(model.scale(val.y))
    gen = torch.Generator().manual_seed(cfg.seed)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, betas=cfg.betas, eps=cfg.eps)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=cfg.lr_factor, patience=cfg.lr_patience,
                                                         min_lr=cfg.min_lr)
    res = KindResult(kind, n_train=len(train), n_val=len(val))
    steps = math.ceil(len(train) / cfg.batch_size)
    bar = tqdm(total=cfg.epochs * steps, desc=desc or f"dt {kind}", disable=not cfg.progress, leave=False,
               mininterval=1.0, dynamic_ncols=True)
    best, best_state, bad = math.inf, None, 0
    t0 = time.perf_counter()
    for epoch in range(1, cfg.epochs + 1):
        net.train()
        order = torch.randperm(len(train), generator=gen)
        tot = tot_se = 0.0
        for i in range(0, len(train), cfg.batch_size):
            b = order[i:i + cfg.batch_size]
            pred = net(xt[b])
            loss = dt_loss(pred, yt[b], cfg.eta_w, cfg.var_sign)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            tot += loss.item() * len(b)
            tot_se += float(((pred.detach() - yt[b]) ** 2).sum())
            bar.update(1)
        v = _scaled_mse(net, xv, yv)
        res.history.append((tot / len(train), v))
        res.train_mse.append(tot_se / yt.numel())
        res.lrs.append(opt.param_groups[0]["lr"])
        res.epochs_run = epoch
        bar.set_postfix(train=f"{tot / len(train):.4f}", val=f"{v:.4f}", lr=f"{res.lrs[-1]:.1e}")
        if not len(val):
            continue
        plateau.step(v)
        if v < best - 1e-7:
            best, best_state, bad, res.best_epoch = v, copy.deepcopy(net.state_dict()), 0, epoch
        else:
            bad += 1
            if bad >= cfg.patience:
                break
    bar.close()
    if best_state is not None:
        net.load_state_dict(best_state)
    else:
        res.best_epoch = res.epochs_run
    res.seconds = time.perf_counter() - t0
    net.train(False)  # inference mode (dropout off)
    model.info = {"best_epoch": res.best_epoch, "epochs_run": res.epochs_run, "train": asdict(cfg)}
    return model, res


def evaluate(model: KindModel, data: Windows, load_index: int | None = None) -> dict[str, float]:
    """Test scores in the units of o (the observation features): the model's (also scaled as in
    training, ``scaled_mse``) and persistence's
    (o^(t+1) = o(t)) mean squared error over samples and features, their ratio, the same on the
    state features only (without the encoded action), and with ``load_index`` on that one
    feature (a relay's queued bits / D^max, the observations' forecast block)."""
    if not len(data):
        return {"n": 0}
    pred = model.predict(data.x)
    last = data.x[:, -1]
    y = data.y
    n_s = model.n_state

    def mse(p: np.ndarray, cols: slice | int = slice(None)) -> float:
        return float(np.mean((p[:, cols] - y[:, cols]) ** 2))

    out = {"n": int(len(y)), "scaled_mse": float(np.mean(((pred - y) / model.scale_std) ** 2)),
           "mse": mse(pred), "persistence_mse": mse(last),
           "state_mse": mse(pred, slice(0, n_s)), "state_persistence_mse": mse(last, slice(0, n_s))}
    out["ratio"] = out["mse"] / out["persistence_mse"] if out["persistence_mse"] > 0 else float("nan")
    out["state_ratio"] = (out["state_mse"] / out["state_persistence_mse"]
                          if out["state_persistence_mse"] > 0 else float("nan"))
    if load_index is not None:
        out["load_mse"], out["load_persistence_mse"] = mse(pred, load_index), mse(last, load_index)
    return out
