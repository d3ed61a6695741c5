"""Replay buffer of the off-policy learners."""

from __future__ import annotations

import numpy as np
import torch

from agents.blocks.buffers import ReplayBuffer
from agents.blocks.layout import Layout


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
