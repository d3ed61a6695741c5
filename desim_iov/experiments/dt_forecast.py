"""``desim-iov dt train``: the digital twin's peephole LSTMs (quantum-DRL Alg. 1) trained on the
``/dt_states`` of task-offloading traces, one model per agent kind, scored on held-out data
against persistence.

    desim-iov dt train TRACES... --out DIR [--epochs N] [--batch 64] [--window 8]
                       [--patience P] [--seed S] [--holdout-traces K]

Data: every agent's observed vector o(t) = [state, previous action encoded] per slot. Samples
are windows of ``window`` slots -> the next slot, per agent. Split by time within each trace
(the first 70 % trains, the next 15 % validates, the last 15 % tests; no window crosses a
boundary), or with ``--holdout-traces K`` the last K traces test and the others split 85/15
into training and validation. All traces must come from one network size (B, U, V).

Writes ``DIR/dt_forecaster.pt`` (read by ``--set offload.dt.predictor=peephole_lstm --set
offload.dt.checkpoint=DIR/dt_forecaster.pt``), ``DIR/metrics.json`` (per kind: train loss
(Eq. 74) and validation MSE at the best epoch, test MSE of the model and of persistence and
their ratio, epochs run, seconds; MSEs scaled as in training unless they say otherwise) and
``DIR/dt_loss_curves.png``.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from desim_iov.apps.offload_spaces import OffloadSpaces
from desim_iov.config import ConfigError, Scenario
from desim_iov.kinds import AGENT_KINDS
from models.dt_data import Windows, make_windows, observed_vectors, time_split
from models.dt_train import DTTrainConfig, KindResult, evaluate, train_kind
from traces.dt_states import read_dt_states

CHECKPOINT_NAME = "dt_forecaster.pt"


def _layout(path: Path, scenario: dict[str, Any]) -> dict[str, Any]:
    """The agents' layout of a trace's scenario: counts, state sizes, action components."""
    try:
        s = Scenario.model_validate(scenario)
        sp = OffloadSpaces(s)
    except (ValueError, ConfigError) as e:
        raise ValueError(f"{path}: its scenario does not validate ({str(e).splitlines()[0]})") from None
    if s.app != "task_offloading":
        raise ValueError(f"{path}: a {s.app} trace; the digital twin is the task-offloading app's")
    return {"counts": {"B": sp.B, "U": sp.U, "V": sp.V},
            "n_state": dict(sp.n_state), "nvec": {k: list(v) for k, v in sp.nvec.items()},
            "load_index": dict(sp.load_index)}


def load_windows(paths: list[str | Path], window: int, val_frac: float = 0.15, test_frac: float = 0.15,
                 holdout_traces: int = 0) -> tuple[dict[str, dict[str, Windows]], dict[str, Any]]:
    """Windows per kind and part (``train``, ``val``, ``test``) from the traces' /dt_states, and
    the agents' layout. One-line ValueError for traces of different networks."""
    if not paths:
        raise ValueError("no trace given")
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    if not 0 <= holdout_traces < len(paths):
        raise ValueError(f"--holdout-traces {holdout_traces}: need 0 <= K < {len(paths)} traces")
    layout: dict[str, Any] | None = None
    parts: dict[str, dict[str, list[Windows]]] = {}
    for j, p in enumerate(paths):
        d = read_dt_states(p)
        lay = _layout(d.path, d.scenario)
        if layout is None:
            layout = lay
        elif lay != layout:
            raise ValueError(f"{d.path}: another network than {paths[0]} ({lay['counts']} vs "
                             f"{layout['counts']}, or other state sizes): train one model per network")
        test_trace = j >= len(paths) - holdout_traces
        for kind, ks in d.kinds.items():
            if np.any(np.diff(ks.slots) != 1):
                raise ValueError(f"{d.path}: /dt_states misses slots of the {kind}s")
            seq = observed_vectors(ks.state, ks.action, lay["nvec"][kind])
            T = len(seq)
            if test_trace:
                bounds = {"test": (0, T)}
            elif holdout_traces:
                t_val, _ = time_split(T, val_frac + test_frac, 0.0)
                bounds = {"train": (0, t_val), "val": (t_val, T)}
            else:
                t_val, t_test = time_split(T, val_frac, test_frac)
                bounds = {"train": (0, t_val), "val": (t_val, t_test), "test": (t_test, T)}
            for part, (a, b) in bounds.items():
                parts.setdefault(kind, {}).setdefault(part, []).append(make_windows(seq, window, a, b))
    assert layout is not None
    out = {}
    for kind, by_part in parts.items():
        n = layout["n_state"][kind] + 3
        out[kind] = {part: Windows.concat(by_part.get(part, []), window, n) for part in ("train", "val", "test")}
    return out, layout


def train_from_traces(paths: list[str | Path], out_dir: str | Path, cfg: DTTrainConfig, window: int = 8,
                      val_frac: float = 0.15, test_frac: float = 0.15, holdout_traces: int = 0) -> dict[str, Any]:
    """Train one forecaster per agent kind, save the checkpoint, metrics.json and the loss
    curves under ``out_dir``; returns the metrics."""
    from models.dt_lstm import DTBundle

    t0 = time.perf_counter()
    data, layout = load_windows(paths, window, val_frac, test_frac, holdout_traces)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    models, results, metrics = {}, {}, {}
    for kind in AGENT_KINDS:
        if kind not in data:
            continue
        d = data[kind]
        model, res = train_kind(kind, d["train"], d["val"], layout["n_state"][kind],
                                tuple(layout["nvec"][kind]), cfg, desc=f"dt {kind}")
        models[kind], results[kind] = model, res
        best = res.history[res.best_epoch - 1] if res.best_epoch else (float("nan"), float("nan"))
        test = evaluate(model, d["test"], layout["load_index"].get(kind))
        metrics[kind] = {"train_loss": best[0], "train_mse": res.train_mse[res.best_epoch - 1] if res.best_epoch else None,
                         "val_mse": best[1], "test_mse_scaled": test.get("scaled_mse"),
                         "test": test, "epochs_run": res.epochs_run, "best_epoch": res.best_epoch,
                         "seconds": res.seconds, "n_train": res.n_train, "n_val": res.n_val}
    settings = {"traces": [str(p) for p in paths], "window": window, "val_frac": val_frac,
                "test_frac": test_frac, "holdout_traces": holdout_traces, **asdict(cfg)}
    DTBundle(models, window, layout["counts"], train=settings).save(out / CHECKPOINT_NAME)
    report = {"settings": settings, "layout": layout, "kinds": metrics, "seconds": time.perf_counter() - t0}
    (out / "metrics.json").write_text(json.dumps(report, indent=2, default=float))
    plot_curves(results, out / "dt_loss_curves.png")
    return report


def plot_curves(results: dict[str, KindResult], path: Path) -> Path:
    """Training and validation MSE (scaled, mean over features) per epoch, one panel per kind;
    the best epoch dotted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, max(len(results), 1), figsize=(4.2 * max(len(results), 1), 3.4), squeeze=False)
    for ax, (kind, res) in zip(axes[0], results.items(), strict=False):
        ep = np.arange(1, len(res.history) + 1)
        va = np.array([h[1] for h in res.history])
        ax.plot(ep, res.train_mse, label="training MSE")
        ax.plot(ep, va, label="validation MSE")
        if res.best_epoch:
            ax.axvline(res.best_epoch, color="grey", ls=":", lw=1)
        ax.set_yscale("log")
        ax.set_title(f"{kind} agents")
        ax.set_xlabel("epoch")
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel("scaled units")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def format_metrics(report: dict[str, Any]) -> str:
    """The test scores as a small table (units of o)."""
    lines = [f"{'kind':<8} {'epochs':>6} {'test MSE':>10} {'persistence':>11} {'ratio':>6} "
             f"{'load MSE':>10} {'persistence':>11}"]
    for kind, m in report["kinds"].items():
        t = m["test"]
        if not t.get("n"):
            lines.append(f"{kind:<8} {m['epochs_run']:>6} (no test windows)")
            continue
        load = (f"{t['load_mse']:>10.3g} {t['load_persistence_mse']:>11.3g}" if "load_mse" in t else "")
        lines.append(f"{kind:<8} {m['epochs_run']:>6} {t['mse']:>10.3g} {t['persistence_mse']:>11.3g} "
                     f"{t['ratio']:>6.3f} {load}")
    return "\n".join(lines)
