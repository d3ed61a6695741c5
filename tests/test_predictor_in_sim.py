"""The digital twin's workload predictor inside the kernel (issue 5 item 5): forecasts enter
the observations and the mask (Fig. 4), /predictions records them and their errors."""

from __future__ import annotations

import numpy as np
import pytest
from test_realdata_scenarios import fake_data

from agents.base import make_policy
from desim_iov.config import PREDICTORS, ConfigError, load_scenario
from desim_iov.kinds import SATELLITE
from desim_iov.sim import Simulation
from traces.reader import open_trace


def scenario(root, *more):
    return load_scenario("twin-city-tdrive", [
        f"data_dir={root}", "duration=900", "rsus.count=12", "uavs.count=2",
        "background.pems_source=data:fake.npz", "background.pems_start=1970-01-01 02:00",
        "vehicles.traffic.packet_size=800 kB", *more])


def test_names_match_the_forecasting_package():
    from models.forecast.predictor import PREDICTOR_NAMES

    assert set(PREDICTORS) == set(PREDICTOR_NAMES)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return fake_data(tmp_path_factory.mktemp("data"))


def test_oracle_and_naive_forecasts_are_recorded_with_their_errors(root, tmp_path):
    for name in ("oracle", "naive"):
        out = tmp_path / f"{name}.h5"
        sim = Simulation(scenario(root, f"predictor.name={name}"), make_policy("greedy"), trace_path=str(out))
        sim.run()
        pred = open_trace(out).df("predictions")
        steps = sorted(pred.time.unique())
        assert steps == [0.0, 300.0, 600.0]  # once per 5-minute step
        # the fake flow of every station at step k (counted from 1970-01-01 00:00) is k + 1
        k = 24 + (pred.time // 300).astype(int)
        np.testing.assert_allclose(pred.actual, k + 1)
        expect = k + 1 if name == "oracle" else k  # naive: the last observed step
        np.testing.assert_allclose(pred.predicted, expect)
        np.testing.assert_allclose(pred.error, pred.predicted - pred.actual)


def _first_epoch(root, *more):
    sim = Simulation(scenario(root, *more), None)
    obs = sim.advance()
    sim.close()
    return sim, obs


def test_prediction_enters_observations_and_mask(root):
    """S^o = cache + S^pre + the slot data of the twins each server hosts (Eq. 8, 19); the mask
    (Eq. 23, Fig. 4) refuses servers where S^o + the vehicle's S_v would exceed L_max."""
    cache = ["rsus.cache=70 MB", "uavs.cache=70 MB"]  # S_v = 60 MB fits, S_v + S^pre does not
    sim, obs = _first_epoch(root, "predictor.name=oracle", *cache)
    s = sim.scenario
    flow_mean = np.arange(100).mean() + 1.0
    pre = s.background.utilisation * 25.0 / flow_mean * sim.servers.mu * s.slot  # step 24: flow 25
    pre = np.where(sim.servers.background_on, pre, 0.0)
    hosted = np.zeros(sim.world.n_servers)
    for o in obs.values():
        hosted[o.current] += s.slot_bits
    assert hosted.sum() == len(obs) * 60e6 * 8
    loads = sim.servers.loads(0.0)
    for o in obs.values():
        np.testing.assert_allclose(o.workloads, loads + pre + hosted)  # shared by all vehicles
        task = np.where(np.arange(sim.world.n_servers) == o.current, 0.0, s.slot_bits)
        in_range = (o.distances <= sim.world.range_m) | (sim.world.kinds == SATELLITE)
        expect = in_range & (loads + pre + hosted + task <= sim.world.cache_bits)
        np.testing.assert_array_equal(o.mask.astype(bool), expect)
    # the forecast is what closes servers: without a predictor they stay open
    _, obs_none = _first_epoch(root, "predictor.name=none", *cache)
    n_oracle = sum(int(o.mask[:-1].sum()) for o in obs.values())
    n_none = sum(int(o.mask[:-1].sum()) for o in obs_none.values())
    assert n_none > n_oracle >= 0


def test_bad_predictor_settings_are_refused(root):
    with pytest.raises(ConfigError, match="set background.model: pems"):
        load_scenario("twin-city", ["predictor.name=naive"])
    with pytest.raises(ConfigError, match="field 'predictor.name'"):
        load_scenario("twin-city", ["predictor.name=crystal_ball"])
    with pytest.raises(ConfigError, match="needs predictor.checkpoint"):
        Simulation(scenario(root, "predictor.name=lstm_transformer"), make_policy("greedy"))
    with pytest.raises(ConfigError, match="steps of history"):
        Simulation(scenario(root, "predictor.name=seasonal_day"), make_policy("greedy"))


def test_a_neural_checkpoint_drives_the_predictions(root, tmp_path):
    """A (tiny) LSTM-based Transformer trained on the synthetic flow, saved, then loaded by
    the kernel from predictor.checkpoint with weights_only=True."""
    from models.forecast.data import FeatureConfig
    from models.forecast.predictor import NeuralPredictor
    from models.forecast.train import TrainConfig

    flow = np.load(root / "fake.npz")["data"][..., 0]
    pred = NeuralPredictor("lstm_transformer", feature_cfg=FeatureConfig(seasonal_lags=()),
                           train_cfg=TrainConfig(epochs=2, progress=False, batch_size=32))
    pred.fit(flow[:24])  # the steps before the run's start (step 24)
    ckpt = pred.forecaster.save(tmp_path / "lt.pt")
    out = tmp_path / "n.h5"
    sc = scenario(root, "predictor.name=lstm_transformer", f"predictor.checkpoint={ckpt}")
    sim = Simulation(sc, make_policy("greedy"), trace_path=str(out))
    sim.run()
    d = open_trace(out).df("predictions")
    assert len(d) > 0 and np.isfinite(d.predicted).all()
    # the forecast is the model's: recompute the first step's from the same checkpoint
    from models.forecast.predictor import make_predictor

    again = make_predictor("lstm_transformer", ckpt).predict_next(flow[24 - 6 : 24])
    first = d[d.time == 0.0]
    station = sim.servers.background.station  # server -> PeMS station
    np.testing.assert_allclose(first.predicted, again[station[first.server]], rtol=1e-5)


def _tiny_checkpoint(flow, path, timestamps=None):
    from models.forecast.data import FeatureConfig
    from models.forecast.predictor import NeuralPredictor
    from models.forecast.train import TrainConfig

    pred = NeuralPredictor("lstm", feature_cfg=FeatureConfig(seasonal_lags=()),
                           train_cfg=TrainConfig(epochs=1, progress=False, batch_size=32))
    pred.fit(flow, timestamps=timestamps)
    return pred.forecaster.save(path)


def test_a_checkpoint_of_other_stations_or_of_the_run_period_is_caught(root, tmp_path):
    import pandas as pd

    flow = np.load(root / "fake.npz")["data"][..., 0]
    # trained on 3 series: refused when the run is built, not with a traceback mid-run
    few = _tiny_checkpoint(flow[:24, :3], tmp_path / "few.pt")
    with pytest.raises(ConfigError, match=r"trained on 3 series, .* has \d+ stations"):
        Simulation(scenario(root, "predictor.name=lstm", f"predictor.checkpoint={few}"),
                   make_policy("greedy"))
    # trained on steps the run then replays (start 02:00 = step 24; trained up to step 29)
    ts = pd.date_range("1970-01-01", periods=30, freq="5min")
    late = _tiny_checkpoint(flow[:30], tmp_path / "late.pt", timestamps=ts)
    with pytest.warns(UserWarning, match="trained on data up to 1970-01-01 02:25"):
        Simulation(scenario(root, "predictor.name=lstm", f"predictor.checkpoint={late}"),
                   make_policy("greedy")).close()
