"""A trained actor as a kernel :class:`~agents.base.Policy` (greedy, twin-migration Eq. 20/24)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import torch

from agents.blocks.networks import Actor
from desim_iov.apps.twin_spaces import Observation
from desim_iov.kinds import vehicle_of


class ActorPolicy:
    """A trained actor as a kernel Policy (agents/base.py): greedy, deterministic
    (twin-migration Eq. 20, or Eq. 24 with ``use_mask``). ``encode`` turns a kernel
    :class:`Observation` into the env's observation vector (the env's own encoder, so training
    and evaluation see identical inputs). With the mask and no feasible server, the twin stays
    where it is (the kernel records the failure), as the heuristics do."""

    def __init__(self, name: str, actor: Actor, encode: Callable[[Observation], np.ndarray],
                 use_mask: bool) -> None:
        self.name = name
        self.actor = actor.eval()  # safe: torch's inference mode, not Python's eval
        self.encode = encode
        self.use_mask = use_mask

    def reset(self, rng: np.random.Generator) -> None:
        pass  # deterministic: no exploration stream needed

    @torch.no_grad()
    def act(self, observations: Mapping[str, Observation]) -> dict[str, int]:
        if not observations:
            return {}
        keys = list(observations)
        n_agents = self.actor.features.layout.n_agents
        ids = [vehicle_of(a) for a in keys]
        if max(ids) >= n_agents:
            raise ValueError(f"{self.name}: trained for {n_agents} vehicles, asked about vehicle {max(ids)}")
        obs = torch.as_tensor(np.stack([self.encode(observations[a]) for a in keys]))
        masks = np.stack([np.asarray(observations[a].mask, bool) for a in keys])
        d = self.actor.dist(obs, torch.as_tensor(ids), torch.as_tensor(masks) if self.use_mask else None)
        acts = d.mode().numpy()
        out = {}
        for a, x, m in zip(keys, acts, masks, strict=True):
            out[a] = int(observations[a].current) if self.use_mask and not m.any() else int(x)
        return out
