"""MA-DDPG on the task-offloading env: the quantum-DRL paper's MA-DDPG baseline [12] (Fig. 3
convergence, Fig. 4 latency; spec Sec. 4.10 ``ddpg-offload``).

The paper names the baseline only ("MA-DDPG [12] ... with LSTM", Fig. 3): "with LSTM" means it
gets exactly the observation of the quantum learner (apps/offload_spaces.py, which already
holds the digital twin's forecast block), nothing else. Every other choice is left open; here:

- per agent type x (vehicle, UAV, BS), shared by the type's agents, input = the agent's
  features + one-hot agent index within the type: an actor mu_theta_x, MLP 2 x 64 tanh
  emitting logits for each of the 3 action components, and a critic Q_phi_x(s, a), MLP
  2 x 128 ReLU (the quantum learner's critic size) on (features, one-hot agent, the action's
  one-hot components). DDPG's critic is the agent's own (s, a), as the quantum learner's;
- discrete actions through the Gumbel-softmax straight-through estimator per component
  (Lowe et al.'s MADDPG for discrete actions): masked logits (-inf outside the kernel's mask),
  a hard one-hot forward, the relaxed softmax's gradient backward, so grad_a Q grad_theta mu
  flows through the discrete action; temperature 1, and MADDPG's small penalty on the logits;
- the deterministic policy is the argmax of each component under its mask (acting greedily,
  target actions, evaluation); exploration is epsilon-greedy over the masked set (each
  component uniform among its allowed values), epsilon decaying as the quantum learner's
  (1 -> 0.05 over the first 60 % of the planned episodes);
- replay per type (KindReplay), target actor and critic (Polyak 0.005), one minibatch step per
  type per env step once the type has ``warmup`` transitions (as the quantum learner, Alg. 2);
- the TD target bootstraps only into the agent's next decision: a transition whose agent is
  idle in the next slot (a vehicle with no task) ends its trajectory, as the PPO baseline's
  GAE does (the next decision, after the gap, is about a new task);
- rewards scaled by ``reward_scale`` = 0.01: the offloading rewards are O(10-100) per agent
  and step (latency terms L / rho with L in hundreds of ms, Eq. 63-68).

Reads top to bottom: hyperparameters, networks, the learner. The driver is agents/train.py.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from agents.blocks.networks import mlp
from agents.offload_blocks import (
    Budget,
    ComponentCategorical,
    EpisodeLog,
    KindLayout,
    KindReplay,
    KindStep,
    OffloadLayout,
    Step,
    play_episode,
)


@dataclass
class Config:
    """Hyperparameters (the paper gives only gamma and epsilon-greedy): replay, batch, Polyak
    rate and the epsilon schedule as the quantum learner (agents/qdrl.py); lr 1e-3 for both
    networks (DDPG's usual critic rate)."""

    use_mask: bool = True
    episodes_per_update: int = 1  # one learning-curve row per episode (Fig. 3)
    gamma: float = 0.99
    lr_actor: float = 1e-3
    lr_critic: float = 1e-3
    tau: float = 0.005
    buffer: int = 100_000
    batch: int = 64
    warmup: int = 256  # transitions of a type before its first update
    hidden: int = 64  # actor 2 x hidden tanh
    critic_hidden: int = 128  # critic 2 x critic_hidden ReLU
    gumbel_tau: float = 1.0
    logit_reg: float = 1e-3  # MADDPG's penalty on the actor's squared logits
    eps_start: float = 1.0
    eps_end: float = 0.05
    eps_fraction: float = 0.6  # of the planned episodes
    eps_episodes: int = 0  # > 0: decay over this many episodes instead
    max_grad_norm: float = 10.0
    reward_scale: float = 0.01  # rewards are O(10-100) per step (module docstring)


def one_hot(actions: torch.Tensor, nvec: tuple[int, ...]) -> torch.Tensor:
    """(B, components) action values -> (B, sum nvec) concatenated one-hots."""
    return torch.cat([nn.functional.one_hot(actions[:, c].long(), n).float() for c, n in enumerate(nvec)], 1)


def gumbel_straight_through(masked_logits: torch.Tensor, nvec: tuple[int, ...], tau: float,
                            gen: torch.Generator) -> torch.Tensor:
    """Per component: hard one-hot of argmax(logits + Gumbel) forward, the gradient of
    softmax((logits + Gumbel) / tau) backward; -inf logits (masked) get probability 0."""
    u = torch.rand(masked_logits.shape, generator=gen).clamp(1e-20, 1.0 - 1e-7)
    y = masked_logits - torch.log(-torch.log(u))
    out, lo = [], 0
    for n in nvec:
        soft = torch.softmax(y[:, lo : lo + n] / tau, -1)
        hard = nn.functional.one_hot(soft.argmax(-1), n).to(soft.dtype)
        out.append(hard - soft.detach() + soft)
        lo += n
    return torch.cat(out, 1)


class Actor(nn.Module):
    """mu_theta_x(o, id): logits of every component (argmax under the mask = the action)."""

    def __init__(self, kl: KindLayout, hidden: int) -> None:
        super().__init__()
        self.nvec = kl.nvec
        self.net = mlp(kl.n_in, hidden, sum(kl.nvec), out_gain=0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def dist(self, x: torch.Tensor, mask: torch.Tensor | None) -> ComponentCategorical:
        return ComponentCategorical(self(x), mask, self.nvec)


class Critic(nn.Module):
    """Q_phi_x(o, id, a) with ``a`` the concatenated one-hot components."""

    def __init__(self, kl: KindLayout, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(kl.n_in + sum(kl.nvec), hidden), nn.ReLU(),
                                 nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x, a], 1)).squeeze(-1)


class Learner(Budget):
    """State of one MA-DDPG run; :meth:`update` plays ``episodes_per_update`` episodes,
    learning at every env step."""

    def __init__(self, env: Any, cfg: Config, seed: int) -> None:
        self.env, self.cfg, self.seed = env, cfg, seed
        self.layout = OffloadLayout.of_env(env)
        kinds = self.layout.kinds
        torch.manual_seed(seed)
        self.actors = {k: Actor(kl, cfg.hidden) for k, kl in kinds.items()}
        self.critics = {k: Critic(kl, cfg.critic_hidden) for k, kl in kinds.items()}
        self.target_actors = {k: _frozen(a) for k, a in self.actors.items()}
        self.target_critics = {k: _frozen(c) for k, c in self.critics.items()}
        self.opt_actor = {k: torch.optim.Adam(a.parameters(), lr=cfg.lr_actor) for k, a in self.actors.items()}
        self.opt_critic = {k: torch.optim.Adam(c.parameters(), lr=cfg.lr_critic) for k, c in self.critics.items()}
        self.buffers = {k: KindReplay(cfg.buffer, kl) for k, kl in kinds.items()}
        self.gen = torch.Generator().manual_seed(seed)  # Gumbel noise
        self.rng = np.random.default_rng(seed)  # exploration, minibatches
        self.episodes = self.env_steps = self.agent_steps = 0
        self.planned_episodes = 1000
        self.log = EpisodeLog()
        self._stats: dict[str, list[float]] = {}
        self._eps = cfg.eps_start  # the current episode's epsilon (set by update)


    # -------------------------------------------------------------- acting

    def _in(self, kind: str, obs: np.ndarray, rows: np.ndarray) -> torch.Tensor:
        n = self.layout.kinds[kind].n
        return torch.as_tensor(np.concatenate([np.asarray(obs, np.float32), np.eye(n, dtype=np.float32)[rows]], 1))

    def _mask(self, m: np.ndarray) -> torch.Tensor | None:
        return torch.as_tensor(np.asarray(m, bool)) if self.cfg.use_mask else None

    @torch.no_grad()
    def policy_act(self, kind: str, obs: np.ndarray, flat_masks: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Greedy actions (evaluation): the argmax of every component under its mask, (n, 3)."""
        rows = np.asarray(rows)
        return self.actors[kind].dist(self._in(kind, obs, rows), self._mask(flat_masks)).mode().numpy()

    def _act(self, kinds: dict[str, KindStep]) -> dict[str, np.ndarray]:
        actions = {}
        for kind, st in kinds.items():
            rows = np.flatnonzero(st.acting)
            if not rows.size:
                continue
            kl = self.layout.kinds[kind]
            acts = self.policy_act(kind, st.obs[rows], st.mask[rows], rows)
            explore = self.rng.random(rows.size) < self._eps
            for c, m in enumerate(kl.codec.component_masks(st.mask[rows])):
                allowed = m if self.cfg.use_mask else np.ones_like(m)
                uniform = np.where(allowed, self.rng.random(m.shape), -1.0).argmax(1)
                acts[:, c] = np.where(explore, uniform, acts[:, c])
            actions.update({kl.agents[i]: acts[j] for j, i in enumerate(rows)})
        return actions

    # -------------------------------------------------------------- learning

    def _store(self, step: Step) -> None:
        self.log.step(step.rewards, step.infos)
        self.env_steps += 1
        for kind in self.layout.kinds:
            tr = step.transitions(self.layout, kind)
            if not tr["agent"].size:
                continue
            idle_next = ~step.after[kind].acting[tr["agent"]]  # no next decision to bootstrap on
            tr["done"] = np.maximum(tr["done"], idle_next.astype(np.float32))
            tr["reward"] = tr["reward"] * np.float32(self.cfg.reward_scale)
            tr["flag"] = np.zeros(tr["agent"].size, np.float32)
            self.buffers[kind].add(**tr)
            self.agent_steps += tr["agent"].size
        for kind, buf in self.buffers.items():
            if len(buf) >= max(self.cfg.warmup, self.cfg.batch):
                self._learn(kind, buf.sample(self.cfg.batch, self.rng))

    def _learn(self, kind: str, b: dict[str, np.ndarray]) -> None:
        cfg, nvec = self.cfg, self.layout.kinds[kind].nvec
        actor, critic = self.actors[kind], self.critics[kind]
        x, x_next = self._in(kind, b["obs"], b["agent"]), self._in(kind, b["next_obs"], b["agent"])
        with torch.no_grad():  # y = r + gamma Q'(s', mu'(s'))
            a_next = one_hot(self.target_actors[kind].dist(x_next, self._mask(b["next_mask"])).mode(), nvec)
            q_next = self.target_critics[kind](x_next, a_next)
            y = torch.as_tensor(b["reward"]) + cfg.gamma * (1.0 - torch.as_tensor(b["done"])) * q_next
        loss_c = 0.5 * ((critic(x, one_hot(torch.as_tensor(b["action"]), nvec)) - y) ** 2).mean()
        _step(self.opt_critic[kind], critic, loss_c, cfg.max_grad_norm)

        logits = actor(x)  # grad_a Q grad_theta mu through the Gumbel-softmax straight-through
        dist = ComponentCategorical(logits, self._mask(b["mask"]), nvec)
        q_pi = critic(x, gumbel_straight_through(dist.masked_logits, nvec, cfg.gumbel_tau, self.gen)).mean()
        loss_a = -q_pi + cfg.logit_reg * (logits**2).mean()
        _step(self.opt_actor[kind], actor, loss_a, cfg.max_grad_norm)
        with torch.no_grad():
            for net, tgt in ((actor, self.target_actors[kind]), (critic, self.target_critics[kind])):
                for p, tp in zip(net.parameters(), tgt.parameters(), strict=True):
                    tp.mul_(1 - cfg.tau).add_(cfg.tau * p)
            for k, v in (("loss_critic", loss_c), ("loss_actor", -q_pi), ("entropy", dist.entropy().mean())):
                self._stats.setdefault(k, []).append(v.item())

    def update(self) -> dict[str, float]:
        t0 = time.perf_counter()
        self._stats, eps = {}, []
        for _ in range(self.cfg.episodes_per_update):
            self._eps = self.epsilon()
            eps.append(self._eps)
            play_episode(self.env, self.layout, self.episode_seed(self.episodes), self._act, self._store)
            self.episodes += 1
            self.log.end()
        out = self.log.metrics(self.cfg.episodes_per_update)
        out.update({k: float(np.mean(self._stats[k])) if k in self._stats else float("nan")
                    for k in ("loss_actor", "loss_critic", "entropy")})
        out.update(alpha=float(np.mean(eps)), rollout_s=time.perf_counter() - t0, update_s=0.0)
        return out

    # -------------------------------------------------------------- checkpoints

    def state_dict(self) -> dict[str, Any]:
        nets = {name: {k: m.state_dict() for k, m in d.items()} for name, d in self._nets().items()}
        return {"layout": self.layout.as_dict(), **nets,
                "buffers": {k: b.state_dict() for k, b in self.buffers.items()},
                "gen": self.gen.get_state(), "rng": self.rng.bit_generator.state,
                "episodes": self.episodes, "env_steps": self.env_steps, "agent_steps": self.agent_steps,
                "planned_episodes": self.planned_episodes}

    def load_state_dict(self, st: dict[str, Any]) -> None:
        self.layout.check(st["layout"], "ddpg-offload checkpoint")
        for name, d in self._nets().items():
            for k, m in d.items():
                m.load_state_dict(st[name][k])
        for k, b in self.buffers.items():
            b.load_state_dict(st["buffers"][k])
        self.gen.set_state(st["gen"])
        self.rng.bit_generator.state = st["rng"]
        self.episodes, self.env_steps = int(st["episodes"]), int(st["env_steps"])
        self.agent_steps, self.planned_episodes = int(st["agent_steps"]), int(st["planned_episodes"])

    def _nets(self) -> dict[str, dict[str, Any]]:
        """Everything with a state_dict but the buffers: networks, targets, optimisers."""
        return {"actors": self.actors, "critics": self.critics, "target_actors": self.target_actors,
                "target_critics": self.target_critics, "opt_actor": self.opt_actor, "opt_critic": self.opt_critic}


def _frozen(m: nn.Module) -> nn.Module:
    t = copy.deepcopy(m)
    for p in t.parameters():
        p.requires_grad_(False)
    return t


def _step(opt: torch.optim.Optimizer, net: nn.Module, loss: torch.Tensor, max_norm: float) -> None:
    opt.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(net.parameters(), max_norm)
    opt.step()
