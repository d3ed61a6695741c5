"""DM-MAPPO: multi-agent PPO with the dynamic action mask (twin-migration Sec. VI-B, Alg. 2).

One shared actor pi_theta(a | o_v, id_v) for every vehicle (Eq. 19 observation plus a one-hot
agent identity), a centralised critic V_w(s, id_v) on the global state ``env.state()``, masked
logits (Eq. 23–24), GAE advantages, the clipped surrogate (Eq. 28–32), an MSE value loss
(Eq. 26), an entropy bonus, Adam (Eq. 27, 33) over minibatch epochs. ``use_mask=False`` is
plain MAPPO: the actor samples among all M servers, and an infeasible choice has the env's
consequences (failure flag xi in Eq. 22). Deviations from the paper: docs/AGENTS.md.

Reads top to bottom: hyperparameters, networks, the learner (rollout -> GAE -> PPO epochs).
The driver (checkpoints, CSV, resume, progress) is agents/train.py.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from agents.blocks.advantages import compute_gae
from agents.blocks.layout import Layout
from agents.blocks.networks import Actor, mlp
from agents.blocks.normalisers import Featuriser
from agents.blocks.rollout import (
    collect_episodes,
    episode_metrics,
    latency_cap_of,
    random_rollout_observations,
)


@dataclass
class Config:
    """Hyperparameters. The paper gives none for DM-MAPPO; defaults follow MAPPO (Yu et al.,
    "The Surprising Effectiveness of PPO in Cooperative Multi-Agent Games", 2022: lr 5e-4,
    clip 0.2, GAE lambda 0.95, gamma 0.99, entropy 0.01, grad-norm 10, 5–15 epochs) and
    CleanRL's PPO (orthogonal init, advantage normalisation per minibatch, 4 minibatches)."""

    use_mask: bool = True  # Eq. 24 (False: MAPPO without the dynamic mask module)
    episodes_per_update: int = 4  # rollout length: whole episodes (20 decisions each at 600 s)
    epochs: int = 5
    minibatches: int = 4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip: float = 0.2  # epsilon of Eq. 31
    lr_actor: float = 5e-4  # alpha_theta, Eq. 33
    lr_critic: float = 5e-4  # alpha_w, Eq. 27
    ent_coef: float = 0.01
    max_grad_norm: float = 10.0
    hidden: int = 64
    actor_arch: str = "server"  # "server": shared per-server scorer; "mlp": flat MLP actor
    norm_adv: bool = True


class Critic(nn.Module):
    """Centralised value V_w(s, id_v): the global state (every agent's observation) and the
    identity of the agent whose return is predicted (rewards are per agent, Eq. 22)."""

    def __init__(self, layout: Layout, hidden: int = 64) -> None:
        super().__init__()
        self.features = Featuriser(layout)
        self.net = mlp(layout.state_dim + layout.n_agents, 2 * hidden, 1, out_gain=1.0)

    def forward(self, state: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        return self.net(self.features.state(state, ids)).squeeze(-1)


class Learner:
    """State of one DM-MAPPO run; :meth:`update` does one Alg. 2 iteration."""

    def __init__(self, env: Any, cfg: Config, seed: int) -> None:
        self.env, self.cfg, self.seed = env, cfg, seed
        self.layout = Layout.of_env(env)
        torch.manual_seed(seed)
        self.actor = Actor(self.layout, cfg.hidden, cfg.actor_arch)
        self.critic = Critic(self.layout, cfg.hidden)
        self.opt_actor = torch.optim.Adam(self.actor.parameters(), lr=cfg.lr_actor, eps=1e-5)
        self.opt_critic = torch.optim.Adam(self.critic.parameters(), lr=cfg.lr_critic, eps=1e-5)
        self.gen = torch.Generator().manual_seed(seed)  # action sampling
        self.rng = np.random.default_rng(seed)  # minibatch shuffling
        self.episodes = 0  # episodes collected so far (the next episode's seed)
        self.env_steps = 0
        self.agent_steps = 0
        self.latency_cap = latency_cap_of(env)

    # -------------------------------------------------------------- helpers

    def episode_seed(self, k: int) -> int:
        """Training episodes use seeds 1e6 * (seed + 1) + k: never the small evaluation seeds."""
        return 1_000_000 * (self.seed + 1) + k

    def _warm_start_normalisers(self) -> None:
        """Input scales from one episode of uniformly random actions on the first training
        episode's seed, before the first rollout (whose actions and log-probs then already use
        normalised inputs). Reset observations alone would not do: caches start empty, so the
        workload entries have little or no variance (scaled up to ~1e4, then clipped). Its own
        generator: the actor's and the minibatches' streams are untouched."""
        x = random_rollout_observations(self.env, [self.episode_seed(0)], use_mask=self.cfg.use_mask,
                                        rng=np.random.default_rng([self.seed, 1]))
        for f in (self.actor.features, self.critic.features):
            f.update(x)

    @torch.no_grad()
    def _act(self, obs: np.ndarray, mask: np.ndarray, state: np.ndarray, ids: np.ndarray):
        o, i = torch.as_tensor(obs), torch.as_tensor(ids)
        dist = self.actor.dist(o, i, torch.as_tensor(mask) if self.cfg.use_mask else None)
        a = dist.sample(self.gen)
        st = torch.as_tensor(state)  # (S,) one episode's state, or (N, S) one row per agent
        v = self.critic(st.expand(len(ids), -1) if st.ndim == 1 else st, i)
        return a.numpy(), {"logp": dist.log_prob(a).numpy().astype(np.float32),
                           "value": v.numpy().astype(np.float32)}

    # -------------------------------------------------------------- one iteration

    def update(self) -> dict[str, float]:
        cfg = self.cfg
        t0 = time.perf_counter()
        if self.episodes == 0:  # first update of a fresh run (a resumed run has its scales)
            self._warm_start_normalisers()
        # 1. rollout with pi_theta_old (Alg. 2 lines 6–14)
        seeds = [self.episode_seed(self.episodes + k) for k in range(cfg.episodes_per_update)]
        batch = collect_episodes(self.env, self._act, seeds, self.latency_cap)
        self.episodes += len(seeds)
        self.env_steps += batch.steps
        t_roll = time.perf_counter() - t0

        # 2. advantages and value targets (GAE, in place of Eq. 29–30; see docs/AGENTS.md)
        adv, ret = compute_gae(batch.reward, batch.extras["value"], batch.done,
                               gamma=cfg.gamma, lam=cfg.gae_lambda, valid=batch.active)
        t_idx, v_idx = np.nonzero(batch.active)
        n = len(t_idx)
        self.agent_steps += n
        obs = torch.as_tensor(batch.obs[t_idx, v_idx])
        mask = torch.as_tensor(batch.mask[t_idx, v_idx]) if cfg.use_mask else None
        state = torch.as_tensor(batch.state[t_idx])
        ids = torch.as_tensor(v_idx)
        act = torch.as_tensor(batch.action[t_idx, v_idx])
        logp_old = torch.as_tensor(batch.extras["logp"][t_idx, v_idx])
        adv_t = torch.as_tensor(adv[t_idx, v_idx], dtype=torch.float32)
        ret_t = torch.as_tensor(ret[t_idx, v_idx], dtype=torch.float32)

        # 3. PPO epochs over shuffled minibatches (Alg. 2 lines 15–30)
        stats: dict[str, list[float]] = {k: [] for k in ("loss_actor", "loss_critic", "entropy",
                                                          "approx_kl", "clip_frac")}
        for _ in range(cfg.epochs):
            order = self.rng.permutation(n)
            # exactly `minibatches` near-equal parts (n // minibatches slices left a tiny extra
            # minibatch, of one decision with unnormalised advantages, when n did not divide)
            for part in np.array_split(order, min(cfg.minibatches, n)) if n else []:
                mb = torch.as_tensor(part)
                dist = self.actor.dist(obs[mb], ids[mb], None if mask is None else mask[mb])
                logp = dist.log_prob(act[mb])
                log_ratio = logp - logp_old[mb]
                ratio = log_ratio.exp()  # Eq. 28
                a = adv_t[mb]
                if cfg.norm_adv and len(mb) > 1:
                    a = (a - a.mean()) / (a.std() + 1e-8)
                surr = torch.min(ratio * a, ratio.clamp(1 - cfg.clip, 1 + cfg.clip) * a)  # Eq. 31–32
                entropy = dist.entropy().mean()
                loss_actor = -surr.mean() - cfg.ent_coef * entropy
                self.opt_actor.zero_grad()
                loss_actor.backward()
                nn.utils.clip_grad_norm_(self.actor.parameters(), cfg.max_grad_norm)
                self.opt_actor.step()

                v = self.critic(state[mb], ids[mb])
                loss_critic = 0.5 * ((v - ret_t[mb]) ** 2).mean()  # Eq. 26 on GAE targets
                self.opt_critic.zero_grad()
                loss_critic.backward()
                nn.utils.clip_grad_norm_(self.critic.parameters(), cfg.max_grad_norm)
                self.opt_critic.step()

                with torch.no_grad():
                    stats["loss_actor"].append(-surr.mean().item())
                    stats["loss_critic"].append(loss_critic.item())
                    stats["entropy"].append(entropy.item())
                    stats["approx_kl"].append(((ratio - 1) - log_ratio).mean().item())
                    stats["clip_frac"].append(((ratio - 1).abs() > cfg.clip).float().mean().item())

        # 4. input scales move only between iterations (the update used the rollout's scales)
        x = batch.obs[t_idx, v_idx]
        for f in (self.actor.features, self.critic.features):
            f.update(x)
        return {**episode_metrics(batch), **{k: float(np.mean(v)) for k, v in stats.items()},
                "rollout_s": t_roll, "update_s": time.perf_counter() - t0 - t_roll}

    # -------------------------------------------------------------- checkpoints

    def state_dict(self) -> dict[str, Any]:
        return {
            "actor": self.actor.state_dict(), "critic": self.critic.state_dict(),
            "opt_actor": self.opt_actor.state_dict(), "opt_critic": self.opt_critic.state_dict(),
            "gen": self.gen.get_state(), "rng": self.rng.bit_generator.state,
            "episodes": self.episodes, "env_steps": self.env_steps, "agent_steps": self.agent_steps,
        }

    def load_state_dict(self, st: dict[str, Any]) -> None:
        self.actor.load_state_dict(st["actor"])
        self.critic.load_state_dict(st["critic"])
        self.opt_actor.load_state_dict(st["opt_actor"])
        self.opt_critic.load_state_dict(st["opt_critic"])
        self.gen.set_state(st["gen"])
        self.rng.bit_generator.state = st["rng"]
        self.episodes, self.env_steps = int(st["episodes"]), int(st["env_steps"])
        self.agent_steps = int(st["agent_steps"])

    def config(self) -> dict[str, Any]:
        return asdict(self.cfg)

