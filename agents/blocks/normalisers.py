"""Input normalisation of the learners' networks: a running mean/variance kept in the
``state_dict``, and the :class:`Featuriser` that turns Eq. 19 observations (and the global
state) into normalised network inputs with a one-hot agent identity."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from agents.blocks.layout import Layout


class RunningMeanStd(nn.Module):
    """Running mean and variance (parallel Welford/Chan update) kept as buffers, so they
    travel in the module's ``state_dict``."""

    def __init__(self, shape: tuple[int, ...] = (), eps: float = 1e-4) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(shape, dtype=torch.float64))
        self.register_buffer("var", torch.ones(shape, dtype=torch.float64))
        self.register_buffer("count", torch.tensor(eps, dtype=torch.float64))

    @torch.no_grad()
    def update(self, x: torch.Tensor | np.ndarray) -> None:
        x = torch.as_tensor(np.asarray(x), dtype=torch.float64)
        x = x.reshape(-1, *self.mean.shape)
        if x.shape[0] == 0:
            return
        b_mean, b_var, b_n = x.mean(0), x.var(0, unbiased=False), x.shape[0]
        delta = b_mean - self.mean
        tot = self.count + b_n
        self.mean += delta * b_n / tot
        m2 = self.var * self.count + b_var * b_n + delta**2 * self.count * b_n / tot
        self.var.copy_(m2 / tot)
        self.count.fill_(tot.item())

    def normalise(self, x: torch.Tensor, clip: float = 10.0) -> torch.Tensor:
        z = (x - self.mean.to(x.dtype)) / torch.sqrt(self.var.to(x.dtype) + 1e-8)
        return z.clamp(-clip, clip)


class Featuriser(nn.Module):
    """Network inputs from Eq. 19 observations.

    Two scalar running normalisers, one over every distance entry and one over every workload
    entry (one scale per feature *type*, so servers stay comparable to each other), give

    - ``flat(obs, ids)``: the normalised observation with the one-hot agent identity appended
      (D + V), the input of the shared actor's context;
    - ``servers(obs)``: per-server features (.., M, 3): [normalised distance (0 for the
      satellite), is-satellite flag, normalised workload];
    - ``state(state, ids)``: the normalised global state (every agent's observation block)
      with the one-hot identity of the agent whose value is asked for (S + V).
    """

    def __init__(self, layout: Layout) -> None:
        super().__init__()
        self.layout = layout
        m, d = layout.n_servers, layout.obs_dim
        self.n_dist = d - m
        self.dist_rms = RunningMeanStd(())
        self.load_rms = RunningMeanStd(())
        idx = torch.full((m,), -1, dtype=torch.long)
        idx[layout.terrestrial] = torch.arange(self.n_dist)
        self.register_buffer("dist_index", idx, persistent=False)
        self.register_buffer("is_sat", (idx < 0).float(), persistent=False)

    def update(self, obs: np.ndarray) -> None:
        obs = np.asarray(obs).reshape(-1, self.layout.obs_dim)
        self.dist_rms.update(obs[:, : self.n_dist].ravel())
        self.load_rms.update(obs[:, self.n_dist :].ravel())

    def _norm(self, obs: torch.Tensor) -> torch.Tensor:
        d = self.dist_rms.normalise(obs[..., : self.n_dist])
        s = self.load_rms.normalise(obs[..., self.n_dist :])
        return torch.cat([d, s], dim=-1)

    def _onehot(self, ids: torch.Tensor) -> torch.Tensor:
        return nn.functional.one_hot(ids.long(), self.layout.n_agents).float()

    def flat(self, obs: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        return torch.cat([self._norm(obs), self._onehot(ids)], dim=-1)

    def servers(self, obs: torch.Tensor) -> torch.Tensor:
        z = self._norm(obs)
        dist = z[..., : self.n_dist]
        d = torch.where(self.dist_index >= 0, dist[..., self.dist_index.clamp_min(0)], 0.0)
        sat = self.is_sat.expand_as(d)
        return torch.stack([d, sat, z[..., self.n_dist :]], dim=-1)

    def state(self, state: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        blocks = state.reshape(*state.shape[:-1], self.layout.n_agents, self.layout.obs_dim)
        z = self._norm(blocks).flatten(-2)
        return torch.cat([z, self._onehot(ids)], dim=-1)
