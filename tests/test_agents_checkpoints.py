"""Agent checkpoints round-trip through ``torch.load(..., weights_only=True)``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agents.blocks.checkpoints import load_checkpoint, save_checkpoint


def test_checkpoint_round_trip_with_weights_only(tmp_path):
    net = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(net.parameters())
    net(torch.ones(1, 3)).sum().backward()
    opt.step()
    rng = np.random.default_rng(7)
    p = save_checkpoint(tmp_path / "c.pt", {"agent": "x", "lr": 0.1},
                        {"net": net.state_dict(), "opt": opt.state_dict(), "rng": rng.bit_generator.state,
                         "gen": torch.Generator().manual_seed(3).get_state(), "n": 5})
    raw = torch.load(p, weights_only=True)
    assert raw["format"] == 1
    cfg, st = load_checkpoint(p)
    assert cfg == {"agent": "x", "lr": 0.1} and st["n"] == 5
    net2 = torch.nn.Linear(3, 2)
    net2.load_state_dict(st["net"])
    assert torch.equal(net2.weight, net.weight)
    rng2 = np.random.default_rng()
    rng2.bit_generator.state = st["rng"]
    assert rng2.random() == rng.random()
    torch.save({"something": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a desim_iov agent checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
