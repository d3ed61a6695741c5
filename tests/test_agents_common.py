"""Agents' building blocks: masked categorical (twin-migration Eq. 23–24), GAE (Eq. 25–27
style), running normaliser, featurisation, replay buffer, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agents.common import (
    Featuriser,
    Layout,
    MaskedCategorical,
    ReplayBuffer,
    RunningMeanStd,
    compute_gae,
    load_checkpoint,
    save_checkpoint,
    seed_everything,
)

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


def test_gae_against_hand_computed_example():
    r = np.array([[1.0], [2.0], [3.0]])
    v = np.array([[0.5], [1.0], [1.5]])
    done = np.array([[0], [0], [1]])
    adv, ret = compute_gae(r, v, done, gamma=0.9, lam=0.8)
    # delta2 = 3 - 1.5; delta1 = 2 + .9*1.5 - 1; delta0 = 1 + .9*1 - .5; A_t = delta_t + .72 A_t+1
    assert adv[:, 0] == pytest.approx([1.4 + 0.72 * (2.35 + 0.72 * 1.5), 2.35 + 0.72 * 1.5, 1.5])
    assert ret[:, 0] == pytest.approx(adv[:, 0] + v[:, 0])
    # lam = 1: returns are the discounted reward sums (Eq. 25)
    _, ret1 = compute_gae(r, v, done, gamma=0.9, lam=1.0)
    assert ret1[:, 0] == pytest.approx([1 + 0.9 * 2 + 0.81 * 3, 2 + 0.9 * 3, 3])


def test_gae_cuts_at_done_bootstraps_and_skips_inactive_steps():
    r = np.array([[1.0, 0.0], [1.0, 2.0], [1.0, 2.0]])
    v = np.array([[0.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    done = np.array([[1, 0], [0, 0], [0, 0]])  # column 0: a trajectory ends after step 0
    valid = np.array([[1, 0], [1, 1], [1, 1]], bool)  # column 1 joins at step 1
    adv, _ = compute_gae(r, v, done, gamma=0.5, lam=1.0, valid=valid, last_values=np.array([4.0, 8.0]))
    assert adv[0, 0] == pytest.approx(1.0)  # no bootstrap across the done
    assert adv[2, 0] == pytest.approx(1.0 + 0.5 * 4.0)
    assert adv[0, 1] == 0.0  # not an agent step
    assert adv[2, 1] == pytest.approx(2.0 + 0.5 * 8.0 - 1.0)
    assert adv[1, 1] == pytest.approx(2.0 + 0.5 * (2.0 + 0.5 * 8.0) - 1.0)


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


def test_replay_buffer_ring_keeps_newest():
    lay = Layout(n_agents=1, n_servers=2, kinds=(0, 2))
    buf = ReplayBuffer(4, lay)
    for k in range(3):
        n = 2
        buf.add(obs=np.zeros((n, 3)), state=np.zeros((n, 3)), mask=np.ones((n, 2), bool),
                action=np.full(n, k), reward=np.arange(n) + 10 * k, next_obs=np.zeros((n, 3)),
                next_state=np.zeros((n, 3)), next_mask=np.ones((n, 2), bool), done=np.zeros(n),
                agent=np.zeros(n))
    assert len(buf) == 4
    assert sorted(buf.data["reward"].tolist()) == [10, 11, 20, 21]
    b = buf.sample(8, np.random.default_rng(0))
    assert b["obs"].shape == (8, 3) and b["action"].dtype == torch.int64


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
