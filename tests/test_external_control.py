"""Driving the kernel from outside (advance/act), as the RL environments do."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from conftest import tiny

from agents.base import make_policy
from desim_iov.decisions import PolicyError
from desim_iov.sim import Simulation


def test_stepping_with_a_policys_actions_reproduces_its_run(tmp_path):
    sc = tiny("twin-city", "duration=150")
    Simulation(sc, make_policy("greedy"), trace_path=str(tmp_path / "a.h5")).run()
    sim = Simulation(sc, None, trace_path=str(tmp_path / "b.h5"))
    pol = make_policy("greedy")
    pol.reset(sim.streams.get("policy"))  # the same stream the kernel would hand it
    epochs = 0
    obs = sim.advance()
    while obs is not None:
        rows = sim.act(pol.act(obs))
        assert len(rows) == len(obs) and np.isfinite(rows["t_sum"]).all()
        epochs += 1
        obs = sim.advance()
    assert epochs == 5  # t = 0, 30, 60, 90, 120
    with h5py.File(tmp_path / "a.h5") as a, h5py.File(tmp_path / "b.h5") as b:
        assert int(b.attrs["complete"]) == 1
        for name in a:
            assert a[name][()].tobytes() == b[name][()].tobytes(), name


def test_misuse_is_refused():
    sim = Simulation(tiny("twin-city"), None)
    with pytest.raises(PolicyError, match="no decision pending"):
        sim.act({})
    obs = sim.advance()
    with pytest.raises(PolicyError, match="call act"):
        sim.advance()
    with pytest.raises(PolicyError, match="expected"):
        sim.act({"vehicle_99": 0})
    with pytest.raises(PolicyError, match="needs a policy"):
        Simulation(tiny("twin-city"), None).run()
    assert obs
