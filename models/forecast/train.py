"""Training loop for the neural forecasters (twin-migration Alg. 1, Phase 2) and checkpoints.

Adam on the MSE of the scaled one-step prediction (Alg. 1 line 7), mini-batches drawn with a
seeded ``torch.Generator``, early stopping on the validation MSE (best weights restored), an
optional cosine learning-rate schedule, a tqdm bar. Two layouts:

- ``shared``: one net for all series, with a station embedding;
- ``per_server``: one net per series (Alg. 1 lines 13-15 deploy ``Model_m`` on server ``m``).

Checkpoints are plain dicts of tensors and primitives saved with ``torch.save`` and loaded with
``torch.load(path, weights_only=True)``.
"""

from __future__ import annotations

import copy
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from models.checkpoint_io import load_weights_only
from models.forecast.data import FeatureConfig, Scaler, WindowData
from models.forecast.registry import build_net, check_name

CHECKPOINT_FORMAT = "desim_iov.forecast/1"


@dataclass
class TrainConfig:
    """Optimisation settings (the paper gives none beyond Adam-style training on MSE)."""

    epochs: int = 20
    batch_size: int = 256
    lr: float = 2e-3
    weight_decay: float = 0.0
    patience: int = 4  # epochs without validation improvement before stopping
    lr_schedule: str = "cosine"  # "cosine" over `epochs`, or "none"
    samples_per_epoch: int | None = None  # subsample the training set each epoch
    loss_weighting: str = "scaled"  # "scaled": MSE of scaled values; "raw": weighted by std^2
    seed: int = 0
    progress: bool = True


@dataclass
class TrainResult:
    best_val: float
    best_epoch: int
    epochs_run: int
    seconds: float
    history: list[tuple[float, float]] = field(default_factory=list)  # (train, val) MSE


def seed_everything(seed: int) -> None:
    """Fix torch's global RNG (weight initialisation). Mini-batch order has its own seeded
    ``torch.Generator`` inside :func:`train_net`; no numpy randomness is used in training."""
    torch.manual_seed(seed)


def gather_windows(features: torch.Tensor, t: torch.Tensor, s: torch.Tensor,
                   window: int) -> torch.Tensor:
    """``features[t-window:t, s]`` for each sample: (B, window, F)."""
    rows = t[:, None] - window + torch.arange(window, device=t.device)[None, :]
    return features[rows, s[:, None]]


@torch.no_grad()
def predict_scaled(net: torch.nn.Module, features: torch.Tensor, t: np.ndarray, s: np.ndarray,
                   window: int, shared: bool, batch: int = 8192) -> np.ndarray:
    """Scaled predictions for samples ``(t, s)`` (targets at rows ``t``)."""
    net.eval()  # safe: torch inference mode
    out = np.empty(len(t), dtype=np.float32)
    tt, ss = torch.as_tensor(t), torch.as_tensor(s)
    for i in range(0, len(t), batch):
        bt, bs = tt[i:i + batch], ss[i:i + batch]
        x = gather_windows(features, bt, bs, window)
        out[i:i + batch] = net(x, bs if shared else None).numpy()
    return out


def train_net(net: torch.nn.Module, features: torch.Tensor, target: torch.Tensor,
              train_idx: tuple[np.ndarray, np.ndarray], val_idx: tuple[np.ndarray, np.ndarray],
              window: int, shared: bool, cfg: TrainConfig, desc: str = "train",
              progress: bool | None = None,
              series_weight: torch.Tensor | None = None) -> TrainResult:
    """Fit ``net`` in place; returns the validation history and keeps the best weights.

    ``series_weight`` (S,) weights each series' squared error (mean 1 over series), e.g. by
    its scale squared so the loss is the MSE in flow units."""
    if len(train_idx[0]) == 0:
        raise ValueError(f"{desc}: no training samples")
    if cfg.lr_schedule not in ("cosine", "none"):
        raise ValueError(f"lr_schedule must be 'cosine' or 'none', got {cfg.lr_schedule!r}")
    gen = torch.Generator().manual_seed(cfg.seed)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    t_tr, s_tr = torch.as_tensor(train_idx[0]), torch.as_tensor(train_idx[1])
    n = len(t_tr)
    per_epoch = min(n, cfg.samples_per_epoch or n)
    steps = math.ceil(per_epoch / cfg.batch_size)
    sched = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, cfg.epochs * steps))
             if cfg.lr_schedule == "cosine" else None)
    y_val = target[val_idx[0], val_idx[1]].numpy() if len(val_idx[0]) else None
    w_val = series_weight[val_idx[1]].numpy() if series_weight is not None else 1.0

    def val_loss() -> float:
        if y_val is None:
            return float("nan")
        p = predict_scaled(net, features, val_idx[0], val_idx[1], window, shared)
        return float(np.mean(w_val * (p - y_val) ** 2))

    best, best_state, best_epoch, bad = math.inf, None, 0, 0
    history: list[tuple[float, float]] = []
    show = cfg.progress if progress is None else progress
    bar = tqdm(total=cfg.epochs * steps, desc=desc, disable=not show, leave=False,
               mininterval=1.0, dynamic_ncols=True)
    t0 = time.perf_counter()
    epoch = 0
    for epoch in range(1, cfg.epochs + 1):
        net.train()
        order = torch.randperm(n, generator=gen)[:per_epoch]
        tot = 0.0
        for i in range(0, per_epoch, cfg.batch_size):
            b = order[i:i + cfg.batch_size]
            bt, bs = t_tr[b], s_tr[b]
            x = gather_windows(features, bt, bs, window)
            err2 = (net(x, bs if shared else None) - target[bt, bs]) ** 2
            loss = torch.mean(err2 * series_weight[bs] if series_weight is not None else err2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            tot += loss.item() * len(b)
            bar.update(1)
        v = val_loss()
        history.append((tot / per_epoch, v))
        bar.set_postfix(train=f"{tot / per_epoch:.4f}", val=f"{v:.4f}")
        if y_val is None or v < best - 1e-6:
            best, best_epoch, bad = v, epoch, 0
            best_state = copy.deepcopy(net.state_dict())
        else:
            bad += 1
            if bad >= cfg.patience:
                break
    bar.close()
    if best_state is not None:
        net.load_state_dict(best_state)
    return TrainResult(best_val=best, best_epoch=best_epoch, epochs_run=epoch,
                       seconds=time.perf_counter() - t0, history=history)


class NeuralForecaster:
    """A trained neural forecaster: net(s), scaler and feature layout, for any series set.

    ``mode="shared"`` holds one net with a station embedding; ``mode="per_server"`` one net per
    series. ``predict(features, t, s)`` returns predictions in flow units.
    """

    def __init__(self, name: str, mode: str, nets: list[torch.nn.Module], scaler: Scaler,
                 feature_cfg: FeatureConfig, net_kwargs: dict,
                 station_ids: list[str] | None = None, fitted_until: str | None = None) -> None:
        check_name(name)
        if mode not in ("shared", "per_server"):
            raise ValueError(f"mode must be 'shared' or 'per_server', got {mode!r}")
        self.name, self.mode, self.nets = name, mode, nets
        self.scaler, self.feature_cfg, self.net_kwargs = scaler, feature_cfg, dict(net_kwargs)
        self.station_ids = list(station_ids) if station_ids is not None else None
        # timestamp of the last step training/validation saw (None: unknown), so a user of
        # the checkpoint can tell forecasts of unseen data from forecasts of its training data
        self.fitted_until = fitted_until
        self.results: list[TrainResult] = []
        self.train_config: dict = {}

    @property
    def n_series(self) -> int:
        return len(self.scaler.mean)

    @classmethod
    def create(cls, name: str, mode: str, data: WindowData, net_kwargs: dict | None = None,
               station_ids: list[str] | None = None) -> NeuralForecaster:
        kw = dict(net_kwargs or {})
        n_series = data.target.shape[1]
        n_feat = data.cfg.n_features
        if mode == "shared":
            nets = [build_net(name, n_feat, n_stations=n_series, **kw)]
        else:
            nets = [build_net(name, n_feat, n_stations=0, **kw) for _ in range(n_series)]
        return cls(name, mode, nets, data.scaler, data.cfg, kw, station_ids,
                   data.extra.get("fitted_until"))

    def fit(self, data: WindowData, cfg: TrainConfig) -> list[TrainResult]:
        """Train (Alg. 1 Phase 2). Per-server nets see only their own series' samples."""
        self.train_config = asdict(cfg)
        feats, target = torch.as_tensor(data.features), torch.as_tensor(data.target)
        w = data.cfg.window
        if self.mode == "shared":
            seed_everything(cfg.seed)
            self.nets[0] = build_net(self.name, data.cfg.n_features, n_stations=self.n_series,
                                     **self.net_kwargs)
            sw = None
            if cfg.loss_weighting == "raw":
                v = torch.as_tensor(self.scaler.std, dtype=torch.float32) ** 2
                sw = v / v.mean()
            elif cfg.loss_weighting != "scaled":
                raise ValueError(f"loss_weighting must be 'scaled' or 'raw', "
                                 f"got {cfg.loss_weighting!r}")
            self.results = [train_net(self.nets[0], feats, target, data.train_idx, data.val_idx,
                                      w, True, cfg, desc=f"{self.name} (shared)",
                                      series_weight=sw)]
            return self.results
        self.results = []
        outer = tqdm(range(self.n_series), desc=f"{self.name} (per-server)", leave=False,
                     disable=not cfg.progress, mininterval=1.0, dynamic_ncols=True)
        for m in outer:
            seed_everything(cfg.seed * 100_003 + m)
            self.nets[m] = build_net(self.name, data.cfg.n_features, n_stations=0,
                                     **self.net_kwargs)
            tr = [a[data.train_idx[1] == m] for a in data.train_idx]
            va = [a[data.val_idx[1] == m] for a in data.val_idx]
            if len(tr[0]) == 0:
                raise ValueError(f"{self.name}: series {m} has no training samples")
            self.results.append(train_net(self.nets[m], feats, target, tuple(tr), tuple(va),
                                          w, False, cfg, desc=f"server {m}", progress=False))
        return self.results

    def predict_scaled(self, features: np.ndarray | torch.Tensor, t: np.ndarray,
                       s: np.ndarray) -> np.ndarray:
        feats = torch.as_tensor(features)
        w = self.feature_cfg.window
        if self.mode == "shared":
            return predict_scaled(self.nets[0], feats, t, s, w, True)
        out = np.empty(len(t), dtype=np.float32)
        for m in np.unique(s):
            sel = s == m
            out[sel] = predict_scaled(self.nets[m], feats, t[sel], s[sel], w, False)
        return out

    def predict(self, features: np.ndarray | torch.Tensor, t: np.ndarray,
                s: np.ndarray) -> np.ndarray:
        """Predictions in flow units (vehicles per step) for targets ``(t, s)``."""
        return self.scaler.inverse(self.predict_scaled(features, t, s), s)

    # -- checkpoints -----------------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> Path:
        """Write a ``state_dict`` checkpoint (tensors and primitives only)."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        ckpt = {
            "format": CHECKPOINT_FORMAT,
            "model": self.name,
            "mode": self.mode,
            "net_kwargs": self.net_kwargs,
            "features": self.feature_cfg.to_dict(),
            "scaler_mean": torch.as_tensor(self.scaler.mean),
            "scaler_std": torch.as_tensor(self.scaler.std),
            "station_ids": self.station_ids,
            "fitted_until": self.fitted_until,
            "state_dicts": [n.state_dict() for n in self.nets],
            # provenance only (one entry per net): how training went
            "train": {"epochs_run": [r.epochs_run for r in self.results],
                      "best_epoch": [r.best_epoch for r in self.results],
                      "best_val_mse": [r.best_val for r in self.results],
                      "seconds": [r.seconds for r in self.results],
                      "config": self.train_config},
        }
        tmp = p.with_name(p.name + ".tmp")
        torch.save(ckpt, tmp)
        tmp.replace(p)
        return p

    @classmethod
    def load(cls, path: str | os.PathLike) -> NeuralForecaster:
        """Rebuild from :meth:`save` output with ``torch.load(..., weights_only=True)``."""
        p = Path(path)
        ckpt = load_weights_only(p, "forecaster checkpoint")
        if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"{p}: not a {CHECKPOINT_FORMAT} checkpoint")
        fcfg = FeatureConfig.from_dict(ckpt["features"])
        scaler = Scaler(mean=ckpt["scaler_mean"].numpy(), std=ckpt["scaler_std"].numpy())
        name, mode, kw = ckpt["model"], ckpt["mode"], dict(ckpt["net_kwargs"])
        n_series = len(scaler.mean)
        nets = []
        for sd in ckpt["state_dicts"]:
            net = build_net(name, fcfg.n_features,
                            n_stations=n_series if mode == "shared" else 0, **kw)
            net.load_state_dict(sd)
            net.eval()  # safe: torch's inference mode, not Python's eval
            nets.append(net)
        return cls(name, mode, nets, scaler, fcfg, kw, ckpt.get("station_ids"),
                   ckpt.get("fitted_until"))
