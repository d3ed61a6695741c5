"""MASAC: discrete multi-agent soft actor-critic, the twin-migration paper's learning baseline
(Sec. VII-A, Figs. 6–9), with and without the dynamic action mask (Eq. 23–24).

One shared actor pi(a | o_v, id_v) (the same network as DM-MAPPO's), twin critics
Q_i(s, id_v, .) giving one soft Q value per server from the global state, the agent's identity
and its own per-server features, Polyak-averaged target critics, and automatic entropy
temperature for discrete actions (Christodoulou, "Soft Actor-Critic for Discrete Action
Settings", 2019; CleanRL's sac_atari). With the mask, every expectation over actions runs
over the feasible servers only, and the target entropy scales with their number. The paper
gives no MASAC details; the choices are listed in docs/AGENTS.md.

Reads top to bottom: hyperparameters, critic network, the learner (collect -> replay ->
gradient steps). The driver (checkpoints, CSV, resume, progress) is agents/train.py.
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from agents.blocks.buffers import ReplayBuffer
from agents.blocks.layout import Layout
from agents.blocks.networks import Actor, ServerScorer
from agents.blocks.normalisers import Featuriser
from agents.blocks.rollout import (
    collect_episodes,
    episode_metrics,
    latency_cap_of,
    random_rollout_observations,
)


@dataclass
class Config:
    """Hyperparameters: SAC defaults (Haarnoja et al. 2018: lr 3e-4, tau 0.005, batch 256,
    gamma 0.99) with discrete-SAC's target entropy 0.89 * log|A| (CleanRL sac_atari), here
    log of the number of *feasible* actions per state when masked."""

    use_mask: bool = True
    episodes_per_update: int = 1
    gradient_steps: int = 25  # per update (one episode of 5 agents x 20 decisions = 100 transitions)
    batch_size: int = 256
    buffer_size: int = 50_000
    learning_starts: int = 500  # transitions in the buffer before the first gradient step
    gamma: float = 0.99
    tau: float = 0.005
    lr_actor: float = 3e-4
    lr_critic: float = 3e-4
    lr_alpha: float = 3e-4
    target_entropy_ratio: float = 0.89
    max_grad_norm: float = 10.0
    hidden: int = 64
    actor_arch: str = "server"


class QNet(nn.Module):
    """Q(s, id_v, .): one value per server, from the global state with the agent's identity
    (context) and the agent's own per-server features."""

    def __init__(self, layout: Layout, hidden: int = 64) -> None:
        super().__init__()
        self.features = Featuriser(layout)
        self.net = ServerScorer(layout.state_dim + layout.n_agents, layout.n_servers, hidden, out_gain=1.0)

    def forward(self, state: torch.Tensor, obs: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        return self.net(self.features.state(state, ids), self.features.servers(obs))


class Learner:
    """State of one MASAC run; :meth:`update` collects episodes then takes gradient steps."""

    def __init__(self, env: Any, cfg: Config, seed: int) -> None:
        self.env, self.cfg, self.seed = env, cfg, seed
        self.layout = Layout.of_env(env)
        torch.manual_seed(seed)
        self.actor = Actor(self.layout, cfg.hidden, cfg.actor_arch)
        self.q1, self.q2 = QNet(self.layout, cfg.hidden), QNet(self.layout, cfg.hidden)
        self.q1_targ, self.q2_targ = copy.deepcopy(self.q1), copy.deepcopy(self.q2)
        for p in (*self.q1_targ.parameters(), *self.q2_targ.parameters()):
            p.requires_grad_(False)
        self.log_alpha = torch.zeros(1, requires_grad=True)
        self.opt_actor = torch.optim.Adam(self.actor.parameters(), lr=cfg.lr_actor, eps=1e-5)
        self.opt_critic = torch.optim.Adam([*self.q1.parameters(), *self.q2.parameters()],
                                           lr=cfg.lr_critic, eps=1e-5)
        self.opt_alpha = torch.optim.Adam([self.log_alpha], lr=cfg.lr_alpha, eps=1e-5)
        self.buffer = ReplayBuffer(cfg.buffer_size, self.layout)
        self.gen = torch.Generator().manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        self.episodes = self.env_steps = self.agent_steps = 0
        self.latency_cap = latency_cap_of(env)

    def episode_seed(self, k: int) -> int:
        """Training episodes use seeds 1e6 * (seed + 1) + k: never the small evaluation seeds."""
        return 1_000_000 * (self.seed + 1) + k

    def _nets_with_features(self) -> list[nn.Module]:
        return [self.actor, self.q1, self.q2, self.q1_targ, self.q2_targ]

    def _warm_start_normalisers(self) -> None:
        """Input scales from one episode of uniformly random actions before the first
        collection (as DM-MAPPO's: reset observations have near-constant workloads)."""
        x = random_rollout_observations(self.env, [self.episode_seed(0)], use_mask=self.cfg.use_mask,
                                        rng=np.random.default_rng([self.seed, 1]))
        for net in self._nets_with_features():
            net.features.update(x)

    @torch.no_grad()
    def _act(self, obs: np.ndarray, mask: np.ndarray, state: np.ndarray, ids: np.ndarray):
        dist = self.actor.dist(torch.as_tensor(obs), torch.as_tensor(ids),
                               torch.as_tensor(mask) if self.cfg.use_mask else None)
        return dist.sample(self.gen).numpy(), {}

    def _mask(self, m: torch.Tensor) -> torch.Tensor | None:
        return m if self.cfg.use_mask else None

    # -------------------------------------------------------------- one iteration

    def update(self) -> dict[str, float]:
        cfg = self.cfg
        t0 = time.perf_counter()
        if self.episodes == 0:  # first update of a fresh run (a resumed run has its scales)
            self._warm_start_normalisers()
        # 1. collect episodes with the stochastic actor, store them
        seeds = [self.episode_seed(self.episodes + k) for k in range(cfg.episodes_per_update)]
        batch = collect_episodes(self.env, self._act, seeds, self.latency_cap)
        self.episodes += len(seeds)
        self.env_steps += batch.steps
        self.agent_steps += int(batch.active.sum())
        self.buffer.add_episodes(batch)
        t_roll = time.perf_counter() - t0

        stats: dict[str, list[float]] = {k: [] for k in ("loss_actor", "loss_critic", "entropy", "alpha")}
        steps = cfg.gradient_steps if len(self.buffer) >= cfg.learning_starts else 0
        for _ in range(steps):
            b = self.buffer.sample(cfg.batch_size, self.rng)
            ids = b["agent"]
            alpha = self.log_alpha.exp().detach()

            # 2. soft Bellman target: E_{a'~pi}[min Q_targ(s', a') - alpha log pi(a'|o')]
            with torch.no_grad():
                nd = self.actor.dist(b["next_obs"], ids, self._mask(b["next_mask"]))
                q_next = torch.min(self.q1_targ(b["next_state"], b["next_obs"], ids),
                                   self.q2_targ(b["next_state"], b["next_obs"], ids))
                v_next = (nd.probs * (q_next - alpha * nd.log_probs_safe)).sum(-1)
                y = b["reward"] + cfg.gamma * (1.0 - b["done"]) * v_next
            a = b["action"].unsqueeze(-1)
            q1 = self.q1(b["state"], b["obs"], ids).gather(-1, a).squeeze(-1)
            q2 = self.q2(b["state"], b["obs"], ids).gather(-1, a).squeeze(-1)
            loss_critic = 0.5 * (((q1 - y) ** 2).mean() + ((q2 - y) ** 2).mean())
            self.opt_critic.zero_grad()
            loss_critic.backward()
            nn.utils.clip_grad_norm_([*self.q1.parameters(), *self.q2.parameters()], cfg.max_grad_norm)
            self.opt_critic.step()

            # 3. actor: minimise E_{a~pi}[alpha log pi(a|o) - min Q(s, a)] (exact expectation)
            d = self.actor.dist(b["obs"], ids, self._mask(b["mask"]))
            with torch.no_grad():
                q = torch.min(self.q1(b["state"], b["obs"], ids), self.q2(b["state"], b["obs"], ids))
                q = torch.where(d.valid, q, torch.zeros_like(q))
            loss_actor = (d.probs * (alpha * d.log_probs_safe - q)).sum(-1).mean()
            self.opt_actor.zero_grad()
            loss_actor.backward()
            nn.utils.clip_grad_norm_(self.actor.parameters(), cfg.max_grad_norm)
            self.opt_actor.step()

            # 4. temperature: keep the entropy near ratio * log(#feasible actions)
            with torch.no_grad():
                n_valid = d.valid.sum(-1).float()
                target = cfg.target_entropy_ratio * torch.log(n_valid)
                entropy = d.entropy()
            loss_alpha = (self.log_alpha.exp() * (entropy - target)).mean()
            self.opt_alpha.zero_grad()
            loss_alpha.backward()
            self.opt_alpha.step()

            # 5. Polyak-averaged target critics
            with torch.no_grad():
                for net, targ in ((self.q1, self.q1_targ), (self.q2, self.q2_targ)):
                    for p, pt in zip(net.parameters(), targ.parameters(), strict=True):
                        pt.lerp_(p, cfg.tau)

            stats["loss_actor"].append(loss_actor.item())
            stats["loss_critic"].append(loss_critic.item())
            stats["entropy"].append(entropy.mean().item())
            stats["alpha"].append(alpha.item())

        # 6. input scales move only between iterations; targets follow the online critics
        x = batch.obs[batch.active]
        for net in self._nets_with_features():
            net.features.update(x)
        out = {k: float(np.mean(v)) if v else float("nan") for k, v in stats.items()}
        return {**episode_metrics(batch), **out, "rollout_s": t_roll,
                "update_s": time.perf_counter() - t0 - t_roll}

    # -------------------------------------------------------------- checkpoints

    def state_dict(self) -> dict[str, Any]:
        """Networks, optimisers, temperature, RNG streams, counters. The replay buffer is left
        out (tens to hundreds of MB): a resumed run refills it (``learning_starts`` again)."""
        return {
            "actor": self.actor.state_dict(), "q1": self.q1.state_dict(), "q2": self.q2.state_dict(),
            "q1_targ": self.q1_targ.state_dict(), "q2_targ": self.q2_targ.state_dict(),
            "log_alpha": self.log_alpha.detach().clone(),
            "opt_actor": self.opt_actor.state_dict(), "opt_critic": self.opt_critic.state_dict(),
            "opt_alpha": self.opt_alpha.state_dict(),
            "gen": self.gen.get_state(), "rng": self.rng.bit_generator.state,
            "episodes": self.episodes, "env_steps": self.env_steps, "agent_steps": self.agent_steps,
        }

    def load_state_dict(self, st: dict[str, Any]) -> None:
        for k in ("actor", "q1", "q2", "q1_targ", "q2_targ"):
            getattr(self, k).load_state_dict(st[k])
        with torch.no_grad():
            self.log_alpha.copy_(st["log_alpha"])
        for k in ("opt_actor", "opt_critic", "opt_alpha"):
            getattr(self, k).load_state_dict(st[k])
        self.gen.set_state(st["gen"])
        self.rng.bit_generator.state = st["rng"]
        self.episodes, self.env_steps = int(st["episodes"]), int(st["env_steps"])
        self.agent_steps = int(st["agent_steps"])

    def config(self) -> dict[str, Any]:
        return asdict(self.cfg)
