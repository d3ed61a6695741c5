"""Network pieces shared by the learners: CleanRL's layer init, tanh MLPs, the per-server
scorer and the shared actor pi_theta(a | o_v, id_v) (logits of twin-migration Eq. 24)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from agents.blocks.distributions import MaskedCategorical
from agents.blocks.layout import Layout
from agents.blocks.normalisers import Featuriser


def layer_init(layer: nn.Linear, gain: float = float(np.sqrt(2)), bias: float = 0.0) -> nn.Linear:
    """Orthogonal weights, constant bias (the PPO implementation details, CleanRL)."""
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.constant_(layer.bias, bias)
    return layer


def mlp(n_in: int, hidden: int, n_out: int, out_gain: float = 1.0, layers: int = 2) -> nn.Sequential:
    mods: list[nn.Module] = []
    d = n_in
    for _ in range(layers):
        mods += [layer_init(nn.Linear(d, hidden)), nn.Tanh()]
        d = hidden
    mods.append(layer_init(nn.Linear(d, n_out), out_gain))
    return nn.Sequential(*mods)


class ServerScorer(nn.Module):
    """One score per server: ``score_m = g([x_m, e_m, c])`` with ``x_m`` the server's own
    features (distance, satellite flag, workload), ``e_m`` a learned embedding of server m and
    ``c = f(context)`` a summary of everything else (the whole observation or global state,
    with the agent identity). ``g`` is shared by all servers, so "near and lightly loaded"
    is learned once rather than M times. Used as the actor's logits (Eq. 24) and as the
    per-action Q values of MASAC."""

    def __init__(self, n_context: int, n_servers: int, hidden: int = 64, embed: int = 8,
                 out_gain: float = 0.01) -> None:
        super().__init__()
        self.context = mlp(n_context, 2 * hidden, hidden, out_gain=float(np.sqrt(2)), layers=1)
        self.embed = nn.Parameter(torch.randn(n_servers, embed) * 0.1)
        self.score = mlp(3 + embed + hidden, hidden, 1, out_gain=out_gain)

    def forward(self, context: torch.Tensor, servers: torch.Tensor) -> torch.Tensor:
        c = torch.tanh(self.context(context))
        m = servers.shape[-2]
        x = torch.cat([servers, self.embed.expand(*servers.shape[:-2], m, -1),
                       c.unsqueeze(-2).expand(*c.shape[:-1], m, c.shape[-1])], dim=-1)
        return self.score(x).squeeze(-1)


class Actor(nn.Module):
    """The shared actor pi_theta(a | o_v, id_v) of every agent: logits over the M servers.
    ``arch="server"`` scores servers with a shared :class:`ServerScorer`; ``arch="mlp"`` is a
    plain MLP from the flat input to M logits (the textbook MAPPO actor)."""

    def __init__(self, layout: Layout, hidden: int = 64, arch: str = "server") -> None:
        super().__init__()
        if arch not in ("server", "mlp"):
            raise TypeError(f"actor arch must be 'server' or 'mlp', got {arch!r}")
        self.arch = arch
        self.features = Featuriser(layout)
        n_in = layout.obs_dim + layout.n_agents
        if arch == "server":
            self.net: nn.Module = ServerScorer(n_in, layout.n_servers, hidden)
        else:
            self.net = mlp(n_in, 2 * hidden, layout.n_servers, out_gain=0.01)

    def forward(self, obs: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        flat = self.features.flat(obs, ids)
        if self.arch == "server":
            return self.net(flat, self.features.servers(obs))
        return self.net(flat)

    def dist(self, obs: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor | None) -> MaskedCategorical:
        return MaskedCategorical(self(obs, ids), mask)
