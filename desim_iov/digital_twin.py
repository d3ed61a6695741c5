"""The digital twin of the task-offloading agents (quantum-DRL Sec. V-A/B; spec 4.8, readings
A45, A47): a synchronised store of every agent's observed state and previous action, what the
DT serves back (CPU estimates f^, queues, forecasts) and its forecaster, chosen by name.

At every slot t the app computes the state features s_x(t) of EVERY agent (vehicles included,
idle ones too: no task -> zeros in the task features) and calls :meth:`DigitalTwin.sync` with
them and each agent's action of slot t-1 (``-1`` in all three components when it did not act:
an idle vehicle, or slot 0). The DT stores o_x(t) = [s_x(t), a_x(t-1) encoded]
(``models.dt_data.observed_vectors``: components c / (nvec - 1), "none" -> -1), keeps the
last ``window + sync_delay_slots`` syncs, and writes one ``/dt_states`` row per agent.

Sync delay k (A47): what the DT serves at slot t is the sync of slot t - k (before k syncs,
nothing: nominal f_max and empty queues). :meth:`served` gives f^, queued cycles and bits per
BS/UAV node as the DT knows them; :meth:`forecast` predicts o^_x(t+1) for every agent from the
window of syncs ending at t - k (k + 1 one-step predictions, each fed back as the newest
input; the window is padded with its oldest sync while fewer than ``window`` exist).
:meth:`forecast_block` is the forecast block of the observations: from o^(t+1) of every
BS/UAV, the action part's first component, i.e. the DT's prediction of the standing rule the
relay takes now (0 = process here, (1 + w)/N = forward to node w), zeros without a forecast.
(A relay's queue would be the other candidate, but slot fidelity has no queues: that feature
is 0 in every slot there, and a block of zeros teaches a learner nothing. Alg. 3 reads the
predicted actions of the others the same way, spec 4.8.)

``enabled = False`` ("without DT", A45): the store still records (the trace), but serves
nominal f_max and no queues and forecasts nothing; :meth:`local_view` then gives each agent
only its own node's exact state.

Predictors (``PREDICTORS``): ``none``, ``persistence`` (o^(t+1) = o(t)), ``peephole_lstm``
(``models.dt_lstm.DTBundle`` read from ``offload.dt.checkpoint``).
"""

from __future__ import annotations

import dataclasses
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from desim_iov.config import ConfigError
from desim_iov.kinds import BS_AGENT, UAV_AGENT, VEHICLE_AGENT
from models.dt_data import NO_ACTION, observed_vectors
from traces.schema import AGENT_KIND_CODE

if TYPE_CHECKING:
    from desim_iov.apps.offload_records import DigitalTwinView
    from desim_iov.apps.offload_spaces import OffloadSpaces
    from desim_iov.config.offload import DigitalTwinCfg

KINDS = (VEHICLE_AGENT, UAV_AGENT, BS_AGENT)


@dataclass
class Sync:
    """One slot's synchronisation: o per kind (A, n_state + 3), and per BS/UAV node the DT's
    CPU estimate f^ and the queued cycles and bits."""

    slot: int
    t: float
    o: dict[str, np.ndarray]
    f_est: np.ndarray
    queue_cycles: np.ndarray
    queue_bits: np.ndarray


class Predictor(Protocol):
    """One-step forecaster: windows of o per kind (W, A, n) -> o^ of the next slot (A, n)."""

    name: str

    def predict(self, history: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...


class Persistence:
    """o^(t+1) = o(t)."""

    name = "persistence"

    def predict(self, history: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {k: h[-1].copy() for k, h in history.items()}


class PeepholeLSTMPredictor:
    """The trained peephole LSTMs (one per agent kind) of a ``desim-iov dt train`` checkpoint,
    checked against this run's network: agent counts, state sizes, action components, window."""

    name = "peephole_lstm"

    def __init__(self, path: str, spaces: OffloadSpaces, window: int) -> None:
        from models.dt_lstm import DTBundle

        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"offload.dt.checkpoint {path}: no such file")
        try:
            bundle = DTBundle.load(p)
        except ValueError as e:
            raise ConfigError(f"offload.dt.checkpoint: {e}") from None
        counts = {"B": spaces.B, "U": spaces.U, "V": spaces.V}
        if bundle.counts != counts:
            raise ConfigError(f"offload.dt.checkpoint {path}: trained for {_counts(bundle.counts)}, "
                              f"this run has {_counts(counts)}")
        if bundle.window != window:
            raise ConfigError(f"offload.dt.checkpoint {path}: trained on windows of {bundle.window} "
                              f"slots, offload.dt.window is {window}")
        for kind, n in _agent_counts(spaces).items():
            if not n:
                continue
            m = bundle.models.get(kind)
            want = (spaces.n_state[kind] + 3, tuple(spaces.nvec[kind]))
            got = None if m is None else (m.n_in, tuple(m.nvec))
            if got != want:
                raise ConfigError(f"offload.dt.checkpoint {path}: the {kind} model takes "
                                  f"{'nothing' if got is None else f'{got[0]} features, actions {got[1]}'}; "
                                  f"this run's {kind}s have {want[0]}, actions {want[1]}")
        self.models = bundle.models

    def predict(self, history: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {k: self.models[k].predict(np.swapaxes(h, 0, 1)) for k, h in history.items()}


def _counts(c: dict[str, int]) -> str:
    return f"B = {c.get('B')}, U = {c.get('U')}, V = {c.get('V')}"


def _agent_counts(spaces: OffloadSpaces) -> dict[str, int]:
    return {VEHICLE_AGENT: spaces.V, UAV_AGENT: spaces.U, BS_AGENT: spaces.B}


#: predictor name (``offload.dt.predictor``) -> factory(cfg, spaces), None for no forecast
PREDICTORS: dict[str, Any] = {
    "none": lambda cfg, spaces: None,
    "persistence": lambda cfg, spaces: Persistence(),
    "peephole_lstm": lambda cfg, spaces: PeepholeLSTMPredictor(cfg.checkpoint, spaces, cfg.window),
}


class DigitalTwin:
    """The DT store of one run (module docstring). ``spaces``: the app's ``OffloadSpaces``;
    ``f_max`` (N,) nominal CPU frequencies; ``recorder``: where /dt_states (and
    /dt_predictions with a forecast) go."""

    def __init__(self, cfg: DigitalTwinCfg, spaces: OffloadSpaces, f_max: np.ndarray,
                 recorder: Any = None) -> None:
        self.cfg = cfg
        self.enabled = bool(cfg.enabled)
        self.window, self.delay = int(cfg.window), int(cfg.sync_delay_slots)
        self.spaces = spaces
        self.B, self.N = spaces.B, spaces.N
        self.f_max = np.asarray(f_max, dtype=float)
        self.counts = _agent_counts(spaces)
        self.nvec = {k: tuple(spaces.nvec[k]) for k in KINDS}
        self.n_o = {k: spaces.n_state[k] + 3 for k in KINDS}
        self._syncs: deque[Sync] = deque(maxlen=self.window + self.delay)
        self.predictor: Predictor | None = PREDICTORS[cfg.predictor](cfg, spaces) if self.enabled else None
        self.recorder = recorder
        self._cache: tuple[int, dict[str, np.ndarray]] | None = None  # (slot, o^ per kind)
        self._predicted_load: tuple[int, np.ndarray] | None = None  # (target slot, (N,))

    @property
    def predictor_name(self) -> str:
        return self.predictor.name if self.predictor is not None else "none"

    @staticmethod
    def no_actions(counts: dict[str, int]) -> dict[str, np.ndarray]:
        """Every agent's "no action" (-1, -1, -1), per kind (A, 3)."""
        return {k: np.full((n, 3), NO_ACTION, np.int64) for k, n in counts.items()}

    # ------------------------------------------------------------------ sync

    def sync(self, slot: int, t: float, states: dict[str, np.ndarray], actions: dict[str, np.ndarray], *,
             f_est: np.ndarray, queue_cycles: np.ndarray, queue_bits: np.ndarray) -> None:
        """Store slot ``slot``'s o(t) = [states, previous actions] of every agent (per kind
        (A, n_state) and (A, 3), -1 = none) and the nodes' f^ and queues; trace rows."""
        o = {}
        for k in KINDS:
            s = np.asarray(states[k], dtype=np.float32).reshape(self.counts[k], self.n_o[k] - 3)
            o[k] = observed_vectors(s, actions[k], self.nvec[k])
        self._syncs.append(Sync(slot, t, o, np.array(f_est, dtype=float), np.array(queue_cycles, dtype=float),
                                np.array(queue_bits, dtype=float)))
        self._cache = None
        if self.recorder is not None:
            self._write_states(slot, t, states, actions)
            if self._predicted_load is not None and self._predicted_load[0] == slot:
                self._write_predictions(slot, t, self._predicted_load[1], self.current_block())
            self._predicted_load = None

    def _write_states(self, slot: int, t: float, states: dict[str, np.ndarray], actions: dict[str, np.ndarray]) -> None:
        n_rows = sum(self.counts.values())
        if not n_rows:
            return
        rows = self.recorder.rows("dt_states", n_rows)
        rows["slot"], rows["time"] = slot, t
        i = 0
        for k in KINDS:
            n = self.counts[k]
            if not n:
                continue
            sl = slice(i, i + n)
            rows["kind"][sl] = AGENT_KIND_CODE[k]
            rows["index"][sl] = np.arange(n)
            rows["n"][sl] = self.n_o[k] - 3
            rows["state"][sl, : self.n_o[k] - 3] = np.asarray(states[k], dtype=np.float32)
            rows["action"][sl] = actions[k]
            i += n
        self.recorder.append_many("dt_states", rows)

    def _write_predictions(self, slot: int, t: float, predicted: np.ndarray, actual: np.ndarray) -> None:
        rows = self.recorder.rows("dt_predictions", self.N)
        rows["slot"], rows["time"] = slot, t
        nodes = np.arange(self.N)
        bs = nodes < self.B
        rows["kind"] = np.where(bs, AGENT_KIND_CODE[BS_AGENT], AGENT_KIND_CODE[UAV_AGENT])
        rows["index"] = np.where(bs, nodes, nodes - self.B)
        rows["predicted"], rows["actual"] = predicted, actual
        self.recorder.append_many("dt_predictions", rows)

    # ------------------------------------------------------------------ what the DT serves

    def observed(self) -> Sync | None:
        """The sync the DT holds now: the newest one ``sync_delay_slots`` slots ago (None
        before any; None without the DT)."""
        if not self.enabled or len(self._syncs) <= self.delay:
            return None
        return self._syncs[-1 - self.delay]

    def served(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(f^, queued cycles, queued bits) per BS/UAV node as the DT serves them: the
        delayed sync's, or nominal f_max and empty queues when it has none (or is disabled)."""
        s = self.observed()
        if s is None:
            return self.f_max.copy(), np.zeros(self.N), np.zeros(self.N)
        return s.f_est.copy(), s.queue_cycles.copy(), s.queue_bits.copy()

    def history(self, kind: str) -> np.ndarray:
        """The DT's window of o for ``kind`` (window, A, n), oldest first, ending at the
        delayed sync; padded with its oldest sync. Empty (0, A, n) before any sync."""
        avail = list(self._syncs)[: len(self._syncs) - self.delay] if len(self._syncs) > self.delay else []
        avail = avail[-self.window:]
        if not avail:
            return np.zeros((0, self.counts[kind], self.n_o[kind]))
        seq = [avail[0].o[kind]] * (self.window - len(avail)) + [s.o[kind] for s in avail]
        return np.stack(seq)

    def forecast(self, kinds: tuple[str, ...] | None = None) -> dict[str, np.ndarray] | None:
        """o^_x(t+1) for every agent of ``kinds`` (default all), per kind (A, n); None without a
        forecast (predictor none, DT disabled, or nothing synced yet)."""
        if self.predictor is None or self.observed() is None:
            return None
        kinds = tuple(k for k in (kinds or KINDS) if self.counts[k])
        slot = self._syncs[-1].slot
        if self._cache is None or self._cache[0] != slot:
            self._cache = (slot, {})
        have = self._cache[1]
        todo = tuple(k for k in kinds if k not in have)
        if todo:
            hist = {k: self.history(k) for k in todo}
            pred: dict[str, np.ndarray] = {}
            for _ in range(self.delay + 1):  # from slot t - k to t + 1: k + 1 one-step forecasts
                pred = self.predictor.predict(hist)
                hist = {k: np.concatenate([h[1:], pred[k][None]]) for k, h in hist.items()}
            have.update(pred)
        return {k: have[k] for k in kinds}

    def _load(self, o: dict[str, np.ndarray]) -> np.ndarray:
        out = np.zeros(self.N)
        li = self.spaces.block_index
        if BS_AGENT in o and self.B:
            out[: self.B] = o[BS_AGENT][:, li[BS_AGENT]]
        if UAV_AGENT in o and self.N > self.B:
            out[self.B:] = o[UAV_AGENT][:, li[UAV_AGENT]]
        return out

    def current_block(self) -> np.ndarray:
        """Every BS/UAV's block feature in the newest sync (the truth: its previous rule)."""
        return self._load(self._syncs[-1].o) if self._syncs else np.zeros(self.N)

    def forecast_block(self) -> np.ndarray:
        """The observations' forecast block (N,): o^(t+1) of every BS/UAV's rule feature
        (nodes BSs then UAVs; module docstring), zeros without a forecast. Remembered for
        /dt_predictions."""
        pred = self.forecast((UAV_AGENT, BS_AGENT))
        if pred is None:
            return np.zeros(self.N, np.float32)
        load = self._load(pred)
        self._predicted_load = (self._syncs[-1].slot + 1, load)
        return np.clip(np.nan_to_num(load), -10.0, 10.0).astype(np.float32)

    # ------------------------------------------------------------------ without the DT

    def local_view(self, view: DigitalTwinView, kind: str, node: int | None, *, f_cpu: np.ndarray,
                   queue_cycles: np.ndarray, queue_bits: np.ndarray, vehicle: int | None = None) -> DigitalTwinView:
        """Without the DT (A45): ``view`` (nominal f_max, empty queues) with the agent's own
        node's exact f_cpu and queues (a relay ``node``), or only its own pending bits (a
        ``vehicle``). With the DT: ``view`` itself."""
        if self.enabled:
            return view
        if kind == VEHICLE_AGENT:
            own = {vehicle: view.pending_bits[vehicle]} if vehicle in view.pending_bits else {}
            return dataclasses.replace(view, pending_bits=own)
        f, qc, qb = view.f_est.copy(), view.queue_cycles.copy(), view.queue_bits.copy()
        f[node], qc[node], qb[node] = f_cpu[node], queue_cycles[node], queue_bits[node]
        return dataclasses.replace(view, f_est=f, queue_cycles=qc, queue_bits=qb, pending_bits={})


__all__ = ["KINDS", "PREDICTORS", "DigitalTwin", "PeepholeLSTMPredictor", "Persistence", "Predictor", "Sync"]
