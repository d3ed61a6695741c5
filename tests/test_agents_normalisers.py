"""Running normaliser (seeded by ``seed_everything``) and featurisation of Eq. 19 observations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agents.blocks.layout import Layout
from agents.blocks.normalisers import Featuriser, RunningMeanStd
from agents.blocks.seeding import seed_everything


def test_running_mean_std_matches_numpy():
    rng = seed_everything(1)
    x = rng.normal(3.0, 2.0, size=(1000, 2))
    rms = RunningMeanStd((2,))
    for chunk in np.array_split(x, 7):
        rms.update(chunk)
    assert rms.mean.numpy() == pytest.approx(x.mean(0), rel=1e-3)
    assert rms.var.numpy() == pytest.approx(x.var(0), rel=1e-3)
    z = rms.normalise(torch.as_tensor(x))
    assert z.mean().item() == pytest.approx(0.0, abs=1e-2)


def test_featuriser_appends_one_hot_identity_and_places_satellite():
    lay = Layout(n_agents=3, n_servers=4, kinds=(0, 0, 1, 2))  # server 3 is the satellite
    f = Featuriser(lay)
    obs = torch.tensor([[1.0, 2.0, 3.0, 0.1, 0.2, 0.3, 0.4]])
    flat = f.flat(obs, torch.tensor([2]))
    assert flat.shape == (1, 7 + 3) and flat[0, -3:].tolist() == [0.0, 0.0, 1.0]
    srv = f.servers(obs)
    assert srv.shape == (1, 4, 3)
    assert srv[0, :, 0].tolist() == [1.0, 2.0, 3.0, 0.0]  # identity scaling before any update
    assert srv[0, :, 1].tolist() == [0.0, 0.0, 0.0, 1.0]
    assert torch.allclose(srv[0, :, 2], torch.tensor([0.1, 0.2, 0.3, 0.4]))
    st = f.state(obs.repeat(1, 3), torch.tensor([0]))
    assert st.shape == (1, 21 + 3)
