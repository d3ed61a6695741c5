"""MA-PPO on the task-offloading env: the quantum-DRL paper's MA-PPO baseline [13] (Fig. 3
convergence, Fig. 4 latency; spec Sec. 4.10 ``ppo-offload``).

The paper names the baseline only ("MA-PPO [13] ... with LSTM", Fig. 3): "with LSTM" means it
gets exactly the observation of the quantum learner (apps/offload_spaces.py, which already
holds the digital twin's forecast block), nothing else. Every other choice is left open; here:

- per agent type x (vehicle, UAV, BS) one actor shared by the type's agents, input = the
  agent's features + one-hot agent index within the type (the quantum learner's sharing,
  Alg. 2 "for each agent type"); an MLP 2 x 64 tanh emitting logits for each of the 3 action
  components, a factorised categorical with each component masked by its part of the kernel's
  flat mask (:class:`agents.offload_blocks.ComponentCategorical`; ``use_mask=False``: unmasked,
  a masked target is refused by the env);
- a centralised critic per type V(s, one-hot agent) with s = ``env.state()`` (every agent's
  observation, zeros when idle; MAPPO's choice, as DM-MAPPO) built from the step's stacked
  observations; ``central_critic=False``: the agent's own features instead;
- rollouts of whole episodes (``episodes_per_update``; from the batched slot env N at a time,
  agents/offload_rollout.py), GAE over each agent's acting steps:
  idle steps are no decisions and are masked out with ``compute_gae``'s ``valid``, which also
  cuts the agent's trajectory there (a vehicle's next decision, after an idle gap, is about a
  new task; its own decision's reward is earned in its slot). UAVs and BSs act every slot;
- the clipped surrogate, an MSE value loss on the GAE returns, an entropy bonus (summed over
  the components), Adam over minibatch epochs, per type;
- DM-MAPPO's hyperparameters (agents/dm_mappo.py Config, after MAPPO/CleanRL);
- rewards scaled by ``reward_scale`` = 0.01: the offloading rewards are O(10-100) per agent
  and step (latency terms L / rho with L in hundreds of ms, Eq. 63-68), which would put the
  returns of a 50-step episode in the thousands.

Reads top to bottom: hyperparameters, networks, the learner (rollout -> GAE -> PPO epochs).
The driver (checkpoints, CSV, resume) is agents/train.py.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from agents.blocks.advantages import compute_gae
from agents.blocks.networks import mlp
from agents.offload_blocks import (
    Budget,
    ComponentCategorical,
    EpisodeLog,
    KindLayout,
    KindStep,
    OffloadLayout,
    Step,
    play_episode,
)
from agents.offload_rollout import is_batched, play_batched


@dataclass
class Config:
    """Hyperparameters: DM-MAPPO's (MAPPO, Yu et al. 2022; CleanRL's PPO) where they apply;
    two episodes of 50 steps per update (the paper gives nothing)."""

    use_mask: bool = True
    episodes_per_update: int = 2
    epochs: int = 5
    minibatches: int = 4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip: float = 0.2
    lr_actor: float = 5e-4
    lr_critic: float = 5e-4
    ent_coef: float = 0.01
    max_grad_norm: float = 10.0
    hidden: int = 64  # actor 2 x hidden, critic 2 x (2 hidden), as DM-MAPPO
    norm_adv: bool = True
    central_critic: bool = True  # V(env.state(), agent); False: V(own features, agent)
    reward_scale: float = 0.01  # rewards are O(10-100) per step (module docstring)


class Actor(nn.Module):
    """pi_theta_x(a | o, id): logits of every component, factorised masked categorical."""

    def __init__(self, kl: KindLayout, hidden: int) -> None:
        super().__init__()
        self.nvec = kl.nvec
        self.net = mlp(kl.n_in, hidden, sum(kl.nvec), out_gain=0.01)

    def dist(self, x: torch.Tensor, mask: torch.Tensor | None) -> ComponentCategorical:
        return ComponentCategorical(self.net(x), mask, self.nvec)


class Critic(nn.Module):
    """V_w_x(s, id): the global state (or own features) and the agent's one-hot index."""

    def __init__(self, n_in: int, hidden: int) -> None:
        super().__init__()
        self.net = mlp(n_in, 2 * hidden, 1, out_gain=1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)


class Learner(Budget):
    """State of one MA-PPO run; :meth:`update` = rollout of ``episodes_per_update`` episodes,
    then PPO epochs for every agent type."""

    def __init__(self, env: Any, cfg: Config, seed: int) -> None:
        self.env, self.cfg, self.seed = env, cfg, seed
        self.layout = OffloadLayout.of_env(env)
        kinds = self.layout.kinds
        self.n_state = sum(kl.n * kl.n_obs for kl in kinds.values())  # env.state()'s size
        torch.manual_seed(seed)
        self.actors = {k: Actor(kl, cfg.hidden) for k, kl in kinds.items()}
        self.critics = {k: Critic((self.n_state if cfg.central_critic else kl.n_obs) + kl.n, cfg.hidden)
                        for k, kl in kinds.items()}
        self.opt_actor = {k: torch.optim.Adam(a.parameters(), lr=cfg.lr_actor, eps=1e-5) for k, a in self.actors.items()}
        self.opt_critic = {k: torch.optim.Adam(c.parameters(), lr=cfg.lr_critic, eps=1e-5) for k, c in self.critics.items()}
        self.gen = torch.Generator().manual_seed(seed)  # action sampling
        self.rng = np.random.default_rng(seed)  # minibatch shuffling
        self.episodes = self.env_steps = self.agent_steps = 0
        self.planned_episodes = 1000
        self.log = EpisodeLog()



    # -------------------------------------------------------------- inputs

    def _actor_in(self, kind: str, obs: np.ndarray, rows: np.ndarray) -> torch.Tensor:
        n = self.layout.kinds[kind].n
        return torch.as_tensor(np.concatenate([obs, np.eye(n, dtype=np.float32)[rows]], 1))

    def _critic_in(self, kind: str, state: np.ndarray, obs: np.ndarray, rows: np.ndarray) -> torch.Tensor:
        """``state`` (B, n_state) and ``obs`` (B, n_obs) of agents ``rows`` (B,)."""
        return self._actor_in(kind, state if self.cfg.central_critic else obs, rows)

    def _mask(self, m: np.ndarray) -> torch.Tensor | None:
        return torch.as_tensor(m) if self.cfg.use_mask else None

    # -------------------------------------------------------------- rollout

    @torch.no_grad()
    def _act(self, kinds: dict[str, KindStep]) -> dict[str, np.ndarray]:
        """Sample every agent of every type (idle rows too: cheap, and their actions are
        dropped); keep log-probs and values for the update."""
        state = np.concatenate([st.obs.reshape(-1) for st in kinds.values()])  # == env.state()
        actions, self._pending = {}, {}
        for kind, st in kinds.items():
            kl = self.layout.kinds[kind]
            rows = np.arange(kl.n)
            dist = self.actors[kind].dist(self._actor_in(kind, st.obs, rows), self._mask(st.mask))
            a = dist.sample(self.gen)
            v = self.critics[kind](self._critic_in(kind, np.broadcast_to(state, (kl.n, state.size)), st.obs, rows))
            self._pending[kind] = {"obs": st.obs, "mask": st.mask, "acting": st.acting, "state": state,
                                   "action": a.numpy(), "logp": dist.log_prob(a).numpy(), "value": v.numpy()}
            actions.update({kl.agents[i]: a[i].numpy() for i in np.flatnonzero(st.acting)})
        return actions

    def _end_episode(self) -> None:
        self.episodes += 1
        self.log.end()

    def _on_step(self, step: Step) -> None:
        self.log.step(step.rewards, step.infos)
        self.env_steps += 1
        for kind, p in self._pending.items():
            agents = self.layout.kinds[kind].agents
            p["reward"] = self.cfg.reward_scale * np.array([step.rewards.get(a, 0.0) for a in agents], np.float32)
            p["done"] = np.full(len(agents), step.done)
            self._rollout[kind].append(p)

    # -------------------------------------------------------------- one iteration

    def update(self) -> dict[str, float]:
        cfg = self.cfg
        t0 = time.perf_counter()
        self._rollout: dict[str, list[dict[str, np.ndarray]]] = {k: [] for k in self.layout.kinds}
        if is_batched(self.env):  # N episodes in lock-step (desim_iov/vector), handed over in order
            play_batched(self.env, self.layout, [self.episode_seed(self.episodes + i)
                                                 for i in range(cfg.episodes_per_update)],
                         self._act, self._on_step, self._end_episode,
                         saved=(lambda: self._pending, lambda p: setattr(self, "_pending", p)))
        for _ in range(0 if is_batched(self.env) else cfg.episodes_per_update):
            play_episode(self.env, self.layout, self.episode_seed(self.episodes), self._act, self._on_step)
            self._end_episode()
        t_roll = time.perf_counter() - t0
        stats: dict[str, list[float]] = {k: [] for k in ("loss_actor", "loss_critic", "entropy", "approx_kl", "clip_frac")}
        for kind, steps in self._rollout.items():
            self._learn(kind, {k: np.stack([s[k] for s in steps]) for k in steps[0]}, stats)
        self._rollout = {}
        out = self.log.metrics(cfg.episodes_per_update)
        out.update({k: float(np.mean(v)) if v else float("nan") for k, v in stats.items()})
        out.update(rollout_s=t_roll, update_s=time.perf_counter() - t0 - t_roll)
        return out

    def _learn(self, kind: str, b: dict[str, np.ndarray], stats: dict[str, list[float]]) -> None:
        """GAE over the (T, n) rollout of one type, then PPO epochs on its acting steps."""
        cfg = self.cfg
        adv, ret = compute_gae(b["reward"], b["value"], b["done"], gamma=cfg.gamma, lam=cfg.gae_lambda,
                               valid=b["acting"])
        t_idx, rows = np.nonzero(b["acting"])
        n = len(t_idx)
        self.agent_steps += n
        if not n:
            return
        x = self._actor_in(kind, b["obs"][t_idx, rows], rows)
        xc = self._critic_in(kind, b["state"][t_idx], b["obs"][t_idx, rows], rows)
        mask = self._mask(b["mask"][t_idx, rows])
        act = torch.as_tensor(b["action"][t_idx, rows])
        logp_old = torch.as_tensor(b["logp"][t_idx, rows])
        adv_t = torch.as_tensor(adv[t_idx, rows], dtype=torch.float32)
        ret_t = torch.as_tensor(ret[t_idx, rows], dtype=torch.float32)
        actor, critic = self.actors[kind], self.critics[kind]
        for _ in range(cfg.epochs):
            for part in np.array_split(self.rng.permutation(n), min(cfg.minibatches, n)):
                mb = torch.as_tensor(part)
                dist = actor.dist(x[mb], None if mask is None else mask[mb])
                log_ratio = dist.log_prob(act[mb]) - logp_old[mb]
                ratio = log_ratio.exp()
                a = adv_t[mb]
                if cfg.norm_adv and len(mb) > 1:
                    a = (a - a.mean()) / (a.std() + 1e-8)
                surr = torch.min(ratio * a, ratio.clamp(1 - cfg.clip, 1 + cfg.clip) * a)
                entropy = dist.entropy().mean()
                loss_actor = -surr.mean() - cfg.ent_coef * entropy
                _step(self.opt_actor[kind], actor, loss_actor, cfg.max_grad_norm)
                loss_critic = 0.5 * ((critic(xc[mb]) - ret_t[mb]) ** 2).mean()
                _step(self.opt_critic[kind], critic, loss_critic, cfg.max_grad_norm)
                with torch.no_grad():
                    stats["loss_actor"].append(-surr.mean().item())
                    stats["loss_critic"].append(loss_critic.item())
                    stats["entropy"].append(entropy.item())
                    stats["approx_kl"].append(((ratio - 1) - log_ratio).mean().item())
                    stats["clip_frac"].append(((ratio - 1).abs() > cfg.clip).float().mean().item())

    # -------------------------------------------------------------- checkpoints, evaluation

    def state_dict(self) -> dict[str, Any]:
        return {
            "layout": self.layout.as_dict(),
            "actors": {k: a.state_dict() for k, a in self.actors.items()},
            "critics": {k: c.state_dict() for k, c in self.critics.items()},
            "opt_actor": {k: o.state_dict() for k, o in self.opt_actor.items()},
            "opt_critic": {k: o.state_dict() for k, o in self.opt_critic.items()},
            "gen": self.gen.get_state(), "rng": self.rng.bit_generator.state,
            "episodes": self.episodes, "env_steps": self.env_steps, "agent_steps": self.agent_steps,
            "planned_episodes": self.planned_episodes,
        }

    def load_state_dict(self, st: dict[str, Any]) -> None:
        self.layout.check(st["layout"], "ppo-offload checkpoint")
        for k in self.layout.kinds:
            self.actors[k].load_state_dict(st["actors"][k])
            self.critics[k].load_state_dict(st["critics"][k])
            self.opt_actor[k].load_state_dict(st["opt_actor"][k])
            self.opt_critic[k].load_state_dict(st["opt_critic"][k])
        self.gen.set_state(st["gen"])
        self.rng.bit_generator.state = st["rng"]
        self.episodes, self.env_steps = int(st["episodes"]), int(st["env_steps"])
        self.agent_steps, self.planned_episodes = int(st["agent_steps"]), int(st["planned_episodes"])

    @torch.no_grad()
    def policy_act(self, kind: str, obs: np.ndarray, flat_masks: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Greedy actions (evaluation): the argmax of every component under its mask, (n, 3)."""
        rows = np.asarray(rows)
        dist = self.actors[kind].dist(self._actor_in(kind, np.asarray(obs, np.float32), rows),
                                      self._mask(np.asarray(flat_masks, bool)))
        return dist.mode().numpy()


def _step(opt: torch.optim.Optimizer, net: nn.Module, loss: torch.Tensor, max_norm: float) -> None:
    opt.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(net.parameters(), max_norm)
    opt.step()
