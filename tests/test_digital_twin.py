"""The task-offloading digital twin (desim_iov/digital_twin.py): its window, sync delay,
persistence and multi-step forecasts, the forecast block of the observations, "without DT",
/dt_states and /dt_predictions, the observation sizes, and ``desim-iov dt train`` end to end."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from agents.base import make_policy
from desim_iov.apps.offload_spaces import MAX_FEATURES, OffloadSpaces
from desim_iov.cli import main
from desim_iov.config import ConfigError, load_scenario
from desim_iov.digital_twin import DigitalTwin
from desim_iov.sim import Simulation
from traces.schema import AGENT_KIND_CODE

BASE = ["duration=0.4 s", "offload.tasks.prob_per_slot=0.3"]


def _twin(*overrides):
    sc = load_scenario("offload-urban", list(overrides))
    sp = OffloadSpaces(sc)
    f_max = np.full(sp.N, 10e9)
    return DigitalTwin(sc.offload.dt, sp, f_max), sp


def _sync(tw, sp, slot):
    """Every state feature = the slot number; f^ = 1 GHz + slot; queues 10 x slot cycles."""
    states = {k: np.full((n, sp.n_state[k]), float(slot), np.float32) for k, n in tw.counts.items()}
    tw.sync(slot, 0.02 * slot, states, DigitalTwin.no_actions(tw.counts), f_est=np.full(sp.N, 1e9 + slot),
            queue_cycles=np.full(sp.N, 10.0 * slot), queue_bits=np.full(sp.N, 100.0 * slot))


# ---------------------------------------------------------------------------- the store


def test_window_is_the_last_syncs_padded_with_the_oldest():
    tw, sp = _twin("offload.dt.window=3")
    assert tw.history("uav").shape == (0, 10, sp.n_state["uav"] + 3)
    _sync(tw, sp, 0)
    np.testing.assert_array_equal(tw.history("uav")[:, 0, 0], [0, 0, 0])
    for t in range(1, 6):
        _sync(tw, sp, t)
    h = tw.history("bs")
    assert h.shape == (3, 4, sp.n_state["bs"] + 3)
    np.testing.assert_array_equal(h[:, 2, 5], [3, 4, 5])
    np.testing.assert_array_equal(h[-1, 0, -3:], [-1, -1, -1])  # no previous action: -1 each


def test_sync_delay_serves_k_slot_old_state_and_forecasts_k_plus_1_steps():
    tw, sp = _twin("offload.dt.window=2", "offload.dt.sync_delay_slots=2", "offload.dt.predictor=persistence")
    _sync(tw, sp, 0)
    _sync(tw, sp, 1)
    f, qc, qb = tw.served()  # nothing synced 2 slots ago: nominal f_max, empty queues, no forecast
    assert (f == 10e9).all() and not qc.any() and not qb.any()
    assert tw.forecast() is None and not tw.forecast_block().any()
    for t in range(2, 6):
        _sync(tw, sp, t)
    assert tw.observed().slot == 3
    f, qc, qb = tw.served()
    assert (f == 1e9 + 3).all() and (qc == 30).all() and (qb == 300).all()
    np.testing.assert_array_equal(tw.history("vehicle")[:, 0, 0], [2, 3])
    pred = tw.forecast()  # persistence: o^(t+1) = o(t - k)
    assert set(pred) == {"vehicle", "uav", "bs"} and (pred["uav"][:, :-3] == 3).all()
    # the block is the relays' rule (the action's first component): "no action" (-1) here
    np.testing.assert_array_equal(tw.forecast_block(), np.full(sp.N, -1.0, np.float32))

    class PlusOne:  # a one-step predictor: +1 per step, so k + 1 = 3 steps give o(t - k) + 3
        name = "plus_one"

        def predict(self, history):
            return {k: h[-1] + 1 for k, h in history.items()}

    tw.predictor, tw._cache = PlusOne(), None
    np.testing.assert_array_equal(tw.forecast(("bs",))["bs"][:, 0], np.full(4, 6.0))


def test_without_the_dt_nothing_is_served_and_views_are_local():
    from desim_iov.apps.offload_records import DigitalTwinView

    tw, sp = _twin("offload.dt.enabled=false", "offload.dt.predictor=persistence")
    for t in range(3):
        _sync(tw, sp, t)
    assert not tw.enabled and tw.predictor is None and tw.forecast() is None
    f, qc, qb = tw.served()
    assert (f == 10e9).all() and not qc.any() and not qb.any()
    view = DigitalTwinView(None, f, tw.f_max, qc, qb, 41.25, 8e6, 3, {0: 8e6, 2: 4e6})
    f_cpu, q = np.linspace(5e9, 9e9, sp.N), np.arange(sp.N, dtype=float)
    own = tw.local_view(view, "uav", 6, f_cpu=f_cpu, queue_cycles=q, queue_bits=2 * q)
    assert own.f_est[6] == f_cpu[6] and (np.delete(own.f_est, 6) == 10e9).all()
    assert own.queue_cycles[6] == 6 and not np.delete(own.queue_cycles, 6).any() and own.queue_bits[6] == 12
    assert tw.local_view(view, "vehicle", None, f_cpu=f_cpu, queue_cycles=q, queue_bits=q,
                         vehicle=2).pending_bits == {2: 4e6}


# ---------------------------------------------------------------------------- observation sizes


def test_observation_sizes_and_the_64_feature_limit():
    sp = OffloadSpaces(load_scenario("offload-urban"))  # B = 4, U = 10, V = 8: N = 14
    assert sp.n_obs == {"vehicle": 11 + 3 * 14, "uav": 12 + 3 * 14, "bs": 10 + 2 * 18 + 14}
    assert sp.pl == {"vehicle": True, "uav": True, "bs": True}
    assert sp.load_index == {"uav": 7 + 2 * 13 + 1, "bs": 3 + 2 * 18 + 1}
    big = OffloadSpaces(load_scenario("offload-urban", ["uavs.count=16"]))  # N = 20: no path losses
    assert big.pl == {"vehicle": False, "uav": False, "bs": False}
    assert big.n_obs == {"vehicle": 11 + 2 * 20, "uav": 13 + 2 * 20, "bs": 10 + 24 + 20}
    assert big.load_index == {"uav": 7 + 19 + 1, "bs": 3 + 24 + 1}
    assert max(big.n_obs.values()) <= MAX_FEATURES
    with pytest.raises(ConfigError, match="vehicle observation needs 65 features > 64") as e:
        OffloadSpaces(load_scenario("offload-urban", ["uavs.count=23"]))  # N = 27: 11 + 2N
    assert "\n" not in str(e.value)


def test_config_of_the_dt_is_checked_in_one_line():
    for bad, msg in ((["offload.dt.predictor=peephole_lstm"], "needs a checkpoint"),
                     (["offload.dt.window=0"], "offload.dt.window"),
                     (["offload.dt.sync_delay_slots=-1"], "offload.dt.sync_delay_slots"),
                     (["offload.dt.predictor=lstm"], "offload.dt.predictor")):
        with pytest.raises(ConfigError, match=msg) as e:
            load_scenario("offload-urban", bad)
        assert "\n" not in str(e.value)


# ---------------------------------------------------------------------------- in the app


class Recording:
    """min-latency, keeping every epoch's observations."""

    name = "recording"

    def __init__(self, inner="min-latency"):
        self.inner = make_policy(inner, app="task_offloading")
        self.epochs, self.actions = [], []

    def reset(self, rng):
        self.inner.reset(rng)

    def act(self, obs):
        self.epochs.append(dict(obs))
        out = self.inner.act(obs)
        self.actions.append({a: np.asarray(x).copy() for a, x in out.items()})
        return out


def _run(tmp_path, name, *overrides, fidelity="packet", inner="min-latency"):
    sc = load_scenario("offload-urban", [*BASE, f"fidelity={fidelity}", *overrides])
    pol = Recording(inner)
    sim = Simulation(sc, pol, trace_path=str(tmp_path / name))
    sim.run()
    return sim, pol, h5py.File(tmp_path / name, "r")


def test_forecast_block_in_every_observation(tmp_path):
    sim, pol, f = _run(tmp_path, "p.h5", "offload.dt.predictor=persistence", inner="random")
    sp, N, B = sim.app.spaces_, sim.app.N, sim.app.B
    assert sim.app.dt_enabled and sim.app.twin.predictor_name == "persistence"
    loaded = 0
    for k, obs in enumerate(pol.epochs):
        blocks = {a: o.features[-N:] for a, o in obs.items()}
        block = next(iter(blocks.values()))
        for a, o in obs.items():
            assert o.features.shape == (sp.n_obs[o.kind],) and np.array_equal(blocks[a], block)
            if o.kind != "vehicle":  # persistence, no delay: every relay's previous rule, normalised
                prev = -1.0 if k == 0 else pol.actions[k - 1][a][0] / (o.nvec[0] - 1)
                assert block[o.index] == np.float32(prev)
        loaded += int((block > 0).any())
    assert loaded > 0  # some relay forwards: the block is not trivially zero
    pred = f["dt_predictions"][()]
    assert len(pred) == (len(pol.epochs) - 1) * N
    first = pred[pred["slot"] == 2]  # predicted at slot 1 for slot 2 = the load at slot 1
    assert (first["kind"][:B] == AGENT_KIND_CODE["bs"]).all() and (first["index"][B:] == np.arange(N - B)).all()
    _, pol0, f0 = _run(tmp_path, "n.h5")  # predictor none: zeros, no /dt_predictions
    assert all(not o.features[-N:].any() for obs in pol0.epochs for o in obs.values())
    assert "dt_predictions" not in f0


def test_the_view_is_sync_delay_slots_old(tmp_path):
    sim, pol, f = _run(tmp_path, "d.h5", "offload.dt.sync_delay_slots=2")
    ns = f["node_slots"][()]
    sp, f_max = sim.app.spaces_, sim.app.nodes.f_max
    for slot, obs in enumerate(pol.epochs):
        o = obs["uav_3"]
        want = ns["f_est"][ns["slot"] == slot - 2] if slot >= 2 else f_max
        np.testing.assert_array_equal(o.dt.f_est, want)
        assert o.features[sp.f_index["uav"]] == pytest.approx(want[o.index] / f_max[o.index], rel=1e-6)


def test_without_the_dt_agents_see_their_local_state(tmp_path):
    sim, pol, f = _run(tmp_path, "x.h5", "offload.dt.enabled=false", "offload.dt.predictor=persistence")
    assert not sim.app.dt_enabled and "dt_predictions" not in f
    ns = f["node_slots"][()]
    sp, N, f_max = sim.app.spaces_, sim.app.N, sim.app.nodes.f_max
    for slot, obs in enumerate(pol.epochs):
        f_cpu = ns["f_cpu"][ns["slot"] == slot]
        for o in obs.values():
            assert not o.features[-N:].any()
            if o.kind == "vehicle":
                assert (o.dt.f_est == f_max).all() and not o.dt.queue_cycles.any()
                assert set(o.dt.pending_bits) == {o.index}
                continue
            z = o.index
            assert o.features[sp.f_index[o.kind]] == pytest.approx(f_cpu[z] / f_max[z], rel=1e-6)
            assert o.dt.f_est[z] == f_cpu[z] and (np.delete(o.dt.f_est, z) == np.delete(f_max, z)).all()
            assert not np.delete(o.dt.queue_cycles, z).any()


def test_dt_states_one_row_per_agent_and_slot_and_deterministic(tmp_path):
    sim, pol, f = _run(tmp_path, "a.h5", fidelity="slot")
    d, steps = f["dt_states"][()], f["agent_steps"][()]
    sp, V, U, B = sim.app.spaces_, sim.app.V, sim.app.N - sim.app.B, sim.app.B
    slots = len(pol.epochs)
    assert len(d) == slots * (V + U + B)
    for code, kind, n in ((0, "vehicle", V), (1, "uav", U), (2, "bs", B)):
        rows = d[d["kind"] == code]
        assert len(rows) == slots * n and (rows["n"] == sp.n_state[kind]).all()
        assert not rows["state"][:, sp.n_state[kind]:].any()  # zero padding to 64
        for s in range(slots):
            assert sorted(rows["index"][rows["slot"] == s]) == list(range(n))
    assert (d["action"][d["slot"] == 0] == -1).all()
    # the action column is the previous slot's (decoded) action; relays store the rule code
    for r in steps:
        nxt = d[(d["slot"] == r["slot"] + 1) & (d["kind"] == AGENT_KIND_CODE[r["kind"].decode()])
                & (d["index"] == r["index"])]
        if len(nxt):
            tgt = r["target"] if r["kind"] == b"vehicle" else r["target"] + 1
            assert nxt["action"][0].tolist() == [tgt, r["level_a"], r["level_b"]]
    # idle vehicles are synced too, with empty task features; the state is the observation's
    task = 7 + 2 * sp.N  # head bits / D^max
    for s, obs in enumerate(pol.epochs):
        rows = d[(d["slot"] == s) & (d["kind"] == 0)]
        for v in range(V):
            st = rows["state"][rows["index"] == v][0]
            o = obs.get(f"vehicle_{v}")
            if o is None:
                assert st[task] == st[task + 2] == 0  # no task: size and wait 0 (C/100 stays)
            else:
                assert st[task] > 0
                np.testing.assert_array_equal(st[: sp.n_state["vehicle"]], o.features[: sp.n_state["vehicle"]])
    _, _, g = _run(tmp_path, "b.h5", fidelity="slot")
    assert g["dt_states"][()].tobytes() == d.tobytes()
    assert g["agent_steps"][()].tobytes() == steps.tobytes()


# ---------------------------------------------------------------------------- desim-iov dt train


def test_cli_dt_train_then_a_run_with_the_peephole_lstm(tmp_path, capsys):
    traces = []
    for seed in (0, 1):
        p = tmp_path / f"t{seed}.h5"
        assert main(["run", "--scenario", "offload-urban", "--duration", "1", "--seed", str(seed), "--quiet",
                     "--out", str(p), "--set", "fidelity=slot", "--set", "trace.sample_interval=1 s"]) == 0
        traces.append(str(p))
    out = tmp_path / "dt"
    assert main(["dt", "train", *traces, "--out", str(out), "--epochs", "2", "--window", "4", "--hidden", "16",
                 "--layers", "2", "--quiet"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert set(m["kinds"]) == {"vehicle", "uav", "bs"} and (out / "dt_loss_curves.png").stat().st_size > 0
    for k in m["kinds"].values():
        assert k["epochs_run"] == 2 and k["test"]["n"] > 0 and k["test"]["persistence_mse"] > 0
        assert np.isfinite([k["train_loss"], k["val_mse"], k["test"]["mse"], k["test"]["ratio"]]).all()
    from models.checkpoint_io import load_weights_only

    ck = load_weights_only(out / "dt_forecaster.pt", "checkpoint")
    assert ck["window"] == 4 and ck["counts"] == {"B": 4, "U": 10, "V": 8}
    capsys.readouterr()
    run = ["run", "--scenario", "offload-urban", "--duration", "0.2", "--quiet", "--set", "offload.dt.window=4",
           "--set", "offload.dt.predictor=peephole_lstm"]
    ok = tmp_path / "lstm.h5"
    assert main([*run, "--out", str(ok), "--set", f"offload.dt.checkpoint={out / 'dt_forecaster.pt'}"]) == 0
    with h5py.File(ok, "r") as f:
        assert len(f["dt_predictions"]) == 9 * 14 and np.isfinite(f["dt_predictions"]["predicted"]).all()
    (tmp_path / "junk.pt").write_bytes(b"junk")
    for extra, msg in (([f"offload.dt.checkpoint={tmp_path / 'none.pt'}"], "no such file"),
                       ([f"offload.dt.checkpoint={tmp_path / 'junk.pt'}"], "not a loadable"),
                       ([f"offload.dt.checkpoint={out / 'dt_forecaster.pt'}", "uavs.count=5"],
                        "trained for B = 4, U = 10, V = 8, this run has B = 4, U = 5"),
                       ([f"offload.dt.checkpoint={out / 'dt_forecaster.pt'}", "offload.dt.window=8"],
                        "windows of 4 slots")):
        args = [*run, "--out", str(tmp_path / "bad.h5")]
        for e in extra:
            args += ["--set", e]
        assert main(args) == 2
        err = capsys.readouterr().err
        assert msg in err and err.count("\n") == 1 and "Traceback" not in err
    assert main(["dt", "train", str(tmp_path / "missing.h5"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "no such trace file" in err and err.count("\n") == 1


def test_older_traces_open_and_say_they_have_no_dt_states(tmp_path):
    from traces.dt_states import read_dt_states
    from traces.reader import TraceError, open_trace

    _, _, f = _run(tmp_path, "o.h5", fidelity="slot")
    f.close()
    with h5py.File(tmp_path / "o.h5", "a") as g:  # as schema 1.4 wrote it
        del g["dt_states"]
        g.attrs["schema_version"] = "1.4"
    tr = open_trace(tmp_path / "o.h5")
    assert tr.attrs["schema_version"] == "1.4" and len(tr.df("agent_steps"))
    with pytest.raises(TraceError, match="no /dt_states .* this one is 1.4") as e:
        read_dt_states(tmp_path / "o.h5")
    assert "\n" not in str(e.value)
