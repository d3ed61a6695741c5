"""Digital twins plugged into the kernel: the edge servers' workload forecaster
(twin-migration Sec. V, Alg. 1, Fig. 4), chosen by name (``predictor.name``: ``oracle``,
the baselines of ``models.forecast`` or a trained network with ``predictor.checkpoint``).

It forecasts each PeMS step's flow from the steps before it (a one-step forecast), scaled as
the background, and records every forecast and its error in /predictions once per step.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from models.forecast.names import BASELINE_MODELS

if TYPE_CHECKING:
    from desim_iov.config import Scenario
    from desim_iov.recorder import Recorder
    from desim_iov.servers import EdgeServers



class WorkloadForecaster:
    """S^pre_m (bits): the background work each server is predicted to receive over the next
    slot (twin-migration Eq. 19, Fig. 4)."""

    def __init__(self, scenario: Scenario, servers: EdgeServers, recorder: Recorder) -> None:
        self.scenario, self.servers, self.recorder = scenario, servers, recorder
        self.bg = servers.background  # a PemsBackground (the config requires it)
        self.model: Any = _make_model(scenario, self.bg)
        self._cache: tuple[int, np.ndarray] | None = None

    def predicted_work(self, t: float, slot: int) -> np.ndarray:
        s, bg, srv = self.scenario, self.bg, self.servers
        data, station, mean = bg.data, bg.station, bg.mean
        k = bg.i0 + int(t // bg.step)
        if self._cache is None or self._cache[0] != k:
            actual = data.flow[k]
            if self.model == "oracle":
                flow = actual.astype(float)
            else:
                hist = data.flow[k - self.model.history_needed : k]
                kw = {}
                if getattr(getattr(self.model, "feature_cfg", None), "time_features", False):
                    kw["next_time"] = data.timestamps[k]
                flow = np.asarray(self.model.predict_next(hist, **kw), float)
            self._cache = (k, flow)
            on = np.flatnonzero(srv.background_on)
            rows = self.recorder.rows("predictions", len(on))
            rows["time"], rows["slot"], rows["server"] = t, slot, on
            rows["predicted"] = flow[station[on]]
            rows["actual"] = actual[station[on]]
            rows["error"] = rows["predicted"] - rows["actual"]
            rho = s.background.utilisation * flow[station[on]] / mean
            rows["predicted_bits"] = rho * srv.mu[on] * s.slot
            self.recorder.append_many("predictions", rows)
        flow = self._cache[1]
        rho = np.where(srv.background_on, s.background.utilisation * flow[station] / mean, 0.0)
        return rho * srv.mu * s.slot


def make_forecaster(scenario: Scenario, servers: EdgeServers, recorder: Recorder) -> WorkloadForecaster | None:
    """The scenario's forecaster, or None for ``predictor.name: none``."""
    if scenario.predictor.name == "none":
        return None
    return WorkloadForecaster(scenario, servers, recorder)


def _make_model(s: Scenario, bg: Any) -> Any:
    """The forecasting model, checked against the PeMS data it will read."""
    import pandas as pd

    from desim_iov.config import ConfigError

    pr = s.predictor
    if pr.name == "oracle":
        return "oracle"
    from models.forecast.predictor import make_predictor

    neural = pr.name not in BASELINE_MODELS  # the baselines need no checkpoint
    if neural and not pr.checkpoint:
        raise ConfigError(
            f"predictor {pr.name} needs predictor.checkpoint "
            "(`desim-iov forecast table --out DIR` writes them)"
        )
    try:
        pred = make_predictor(pr.name, pr.checkpoint if neural else None)
    except (OSError, ValueError, RuntimeError) as e:
        raise ConfigError(f"predictor.checkpoint {pr.checkpoint}: {e}") from None
    data, i0 = bg.data, bg.i0
    if i0 < pred.history_needed:
        raise ConfigError(
            f"predictor {pr.name} needs {pred.history_needed} steps of history before "
            f"background.pems_start; {s.background.pems_start} has {i0}"
        )
    fc = getattr(pred, "forecaster", None)
    if fc is not None:  # a checkpoint belongs to the stations it was trained on
        if fc.n_series != data.n_stations:
            raise ConfigError(
                f"predictor.checkpoint {pr.checkpoint}: trained on {fc.n_series} series, "
                f"{s.background.pems_source} has {data.n_stations} stations"
            )
        ids = [str(x) for x in data.station_ids]
        if fc.station_ids is not None and list(fc.station_ids) != ids:
            raise ConfigError(
                f"predictor.checkpoint {pr.checkpoint}: trained on other stations than "
                f"{s.background.pems_source} (first ids {fc.station_ids[:3]} vs {ids[:3]})"
            )
        until = getattr(fc, "fitted_until", None)
        if until is not None and data.timestamps[i0] <= pd.Timestamp(until):
            warnings.warn(
                f"predictor.checkpoint {pr.checkpoint} was trained on data up to {until}; "
                f"background.pems_start {s.background.pems_start} is not after it, so "
                "it forecasts flow it was trained on",
                stacklevel=2,
            )
    return pred
