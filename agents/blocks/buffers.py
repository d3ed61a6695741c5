"""Replay memory of the off-policy learners (MASAC)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from agents.blocks.layout import Layout
from agents.blocks.rollout import EpisodeBatch


class ReplayBuffer:
    """Fixed-size ring buffer of single-agent transitions (o, s, K, a, r, o', s', K', done, id)
    for off-policy learners (MASAC)."""

    def __init__(self, capacity: int, layout: Layout) -> None:
        d, s, m = layout.obs_dim, layout.state_dim, layout.n_servers
        self.capacity, self.pos, self.size = int(capacity), 0, 0
        self.data = {
            "obs": np.zeros((capacity, d), np.float32), "state": np.zeros((capacity, s), np.float32),
            "mask": np.zeros((capacity, m), bool), "action": np.zeros(capacity, np.int64),
            "reward": np.zeros(capacity, np.float32), "next_obs": np.zeros((capacity, d), np.float32),
            "next_state": np.zeros((capacity, s), np.float32), "next_mask": np.zeros((capacity, m), bool),
            "done": np.zeros(capacity, np.float32), "agent": np.zeros(capacity, np.int64),
        }

    def __len__(self) -> int:
        return self.size

    def add(self, **items: np.ndarray) -> None:
        n = len(items["action"])
        for i in range(0, n, self.capacity):  # more rows than capacity: keep the newest
            chunk = {k: np.asarray(v)[i : i + self.capacity] for k, v in items.items()}
            k_n = len(chunk["action"])
            idx = (self.pos + np.arange(k_n)) % self.capacity
            for k, v in chunk.items():
                self.data[k][idx] = v
            self.pos = int((self.pos + k_n) % self.capacity)
            self.size = min(self.size + k_n, self.capacity)

    def add_episodes(self, batch: EpisodeBatch, mask_key: str = "mask") -> None:
        """Every (t, v) an agent acted at, with its successor (t+1, v) unless done."""
        t_idx, v_idx = np.nonzero(batch.active)
        nxt = np.minimum(t_idx + 1, batch.steps - 1)
        done = batch.done[t_idx, v_idx]
        mask = getattr(batch, mask_key) if mask_key == "mask" else batch.extras[mask_key]
        self.add(
            obs=batch.obs[t_idx, v_idx], state=batch.state[t_idx], mask=mask[t_idx, v_idx],
            action=batch.action[t_idx, v_idx], reward=batch.reward[t_idx, v_idx],
            next_obs=batch.obs[nxt, v_idx], next_state=batch.state[nxt],
            next_mask=mask[nxt, v_idx], done=done.astype(np.float32), agent=v_idx,
        )

    def sample(self, n: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        idx = rng.integers(0, self.size, size=n)
        return {k: torch.as_tensor(v[idx]) for k, v in self.data.items()}

    def state_dict(self) -> dict[str, Any]:
        return {"pos": self.pos, "size": self.size,
                **{k: torch.as_tensor(v[: self.size]) for k, v in self.data.items()}}

    def load_state_dict(self, st: Mapping[str, Any]) -> None:
        self.size, self.pos = int(st["size"]), int(st["pos"])
        for k in self.data:
            self.data[k][: self.size] = st[k].numpy()
