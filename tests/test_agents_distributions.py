"""The masked categorical distribution of the actors (twin-migration Eq. 23–24)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agents.blocks.distributions import MaskedCategorical

MASK = torch.tensor([[1, 0, 1, 0, 1], [0, 0, 0, 1, 0], [1, 1, 1, 1, 1]], dtype=torch.int8)


def _logits() -> torch.Tensor:
    # masked entries get the largest logits: a mask that leaked would show at once
    return torch.tensor([[0.1, 9.0, -0.3, 8.0, 0.2], [5.0, 4.0, 3.0, -2.0, 6.0], [0.0, 1.0, 2.0, 3.0, 4.0]])


def test_masked_actions_have_zero_probability():
    d = MaskedCategorical(_logits(), MASK)
    assert torch.all(d.probs[MASK == 0] == 0.0)
    assert torch.allclose(d.probs.sum(-1), torch.ones(3))
    assert torch.all(torch.isinf(d.log_probs[MASK == 0]))
    assert torch.all(torch.isfinite(d.log_prob(torch.tensor([0, 3, 4]))))


def test_masked_entropy_is_finite_and_matches_feasible_support():
    logits = _logits().requires_grad_(True)
    d = MaskedCategorical(logits, MASK)
    h = d.entropy()
    assert torch.all(torch.isfinite(h))
    assert h[1].item() == pytest.approx(0.0, abs=1e-6)  # one feasible action: no uncertainty
    u = MaskedCategorical(torch.zeros(1, 5), torch.tensor([[1, 1, 0, 1, 0]]))
    assert u.entropy().item() == pytest.approx(np.log(3), rel=1e-6)
    (h.sum() + d.log_prob(torch.tensor([2, 3, 0])).sum()).backward()
    assert torch.all(torch.isfinite(logits.grad))
    assert torch.all(logits.grad[MASK == 0] == 0.0)


def test_samples_and_argmax_never_pick_masked_actions():
    logits = _logits().repeat(4000, 1)
    mask = MASK.repeat(4000, 1)
    d = MaskedCategorical(logits, mask)
    a = d.sample(torch.Generator().manual_seed(0))
    assert torch.all(mask.gather(1, a[:, None]) == 1)
    # the feasible actions are drawn in the right shares (row 0: p = softmax; 20000 draws,
    # binomial sd < 0.0035, tolerance ~6 sd)
    row0 = MaskedCategorical(_logits()[:1].repeat(20000, 1), MASK[:1]).sample(torch.Generator().manual_seed(1))
    p = torch.softmax(torch.tensor([0.1, -0.3, 0.2]), 0)
    freq = torch.stack([(row0 == k).float().mean() for k in (0, 2, 4)])
    assert torch.allclose(freq, p, atol=0.02)
    assert d.mode()[:3].tolist() == [4, 3, 4]


def test_all_masked_row_falls_back_to_unmasked_distribution():
    d = MaskedCategorical(_logits()[:1], torch.zeros(1, 5, dtype=torch.int8))
    assert d.all_masked.tolist() == [True]
    assert torch.allclose(d.probs, torch.softmax(_logits()[:1], -1))
    assert torch.isfinite(d.entropy()).all()
    assert d.mode().item() == 1


def test_no_mask_means_every_action():
    d = MaskedCategorical(_logits(), None)
    assert torch.allclose(d.probs, torch.softmax(_logits(), -1))
