"""The digital twin's data (quantum-DRL Sec. V-B, Eq. 74): an agent's observed vector
o(t) = [state features s(t), its previous action a(t-1) normalised], windows of ``window``
slots -> the next o, and the split by time. numpy only (the kernel builds o with it too, so the
kernel's and the trainer's vectors are the same)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NO_ACTION = -1  # an agent that did not act in the previous slot (an idle vehicle, slot 0)


def encode_actions(actions: np.ndarray, nvec: tuple[int, int, int] | list[int]) -> np.ndarray:
    """Action codes (..., 3) -> floats in [0, 1]: component c / (nvec - 1) (0 when the component
    has a single value); "no action" (-1 in every component) -> -1 in every component, outside
    the range of an action."""
    a = np.asarray(actions, dtype=np.float64)
    den = np.maximum(np.asarray(nvec, dtype=np.float64) - 1.0, 1.0)
    out = a / den
    return np.where(a < 0, -1.0, out)


def observed_vectors(states: np.ndarray, actions: np.ndarray,
                     nvec: tuple[int, int, int] | list[int]) -> np.ndarray:
    """o = [state (..., n), encoded previous action (..., 3)] (..., n + 3), float64."""
    return np.concatenate([np.asarray(states, dtype=np.float64), encode_actions(actions, nvec)], axis=-1)


@dataclass
class Windows:
    """Samples ``x`` (S, window, n) -> ``y`` (S, n) of one agent kind."""

    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)

    @staticmethod
    def concat(parts: list[Windows], window: int, n: int) -> Windows:
        parts = [p for p in parts if len(p)]
        if not parts:
            return Windows(np.zeros((0, window, n)), np.zeros((0, n)))
        return Windows(np.concatenate([p.x for p in parts]), np.concatenate([p.y for p in parts]))


def make_windows(seq: np.ndarray, window: int, start: int = 0, stop: int | None = None) -> Windows:
    """Every (window -> next) sample of a sequence ``seq`` (T, A, n) (T slots, A agents) whose
    inputs and target all lie in slots [start, stop): x = seq[t-window:t, a], y = seq[t, a]."""
    T = seq.shape[0]
    stop = T if stop is None else min(stop, T)
    ts = np.arange(start + window, stop)
    if ts.size == 0:
        return Windows(np.zeros((0, window, seq.shape[2])), np.zeros((0, seq.shape[2])))
    idx = ts[:, None] - window + np.arange(window)[None, :]  # (S_t, window)
    x = seq[idx]  # (S_t, window, A, n)
    x = np.moveaxis(x, 2, 1).reshape(-1, window, seq.shape[2])  # (S_t * A, window, n)
    y = seq[ts].reshape(-1, seq.shape[2])
    return Windows(x, y)


def time_split(T: int, val_frac: float, test_frac: float) -> tuple[int, int]:
    """Slot boundaries (t_val, t_test) of a trace of T slots: [0, t_val) trains, [t_val,
    t_test) validates, [t_test, T) tests (the held-out last part)."""
    if not (0 <= val_frac < 1 and 0 <= test_frac < 1 and val_frac + test_frac < 1):
        raise ValueError(f"val_frac {val_frac} and test_frac {test_frac}: need fractions summing to < 1")
    t_test = T - int(round(T * test_frac))
    t_val = t_test - int(round(T * val_frac))
    return t_val, t_test
