"""Multi-agent quantum actor-critic with the Nash-equilibrium adjustment (quantum-DRL paper
Alg. 2 and Alg. 3; readings A35–A37, docs/AGENTS.md "Quantum-DRL").

Per agent type x (vehicle, UAV, BS; parameters shared within a type, an agent-index feature in
the encoding): a quantum actor Pi_theta_x (agents/quantum/actor.py: amplitude encoding
Eq. 75–78, 6 qubits x 4 layers Eq. 79–82, measurement Eq. 85, bit-group decoding Eq. 88,
masked and renormalised), a classical critic Q_phi_x(s_x, .) over the type's joint action
codes with a target copy Q_phi'_x (Polyak), and a replay memory D_x. Per env step (Alg. 2
lines 6–15): encode every acting agent's state, sample actions (epsilon-greedy over the masked
set, Sec. VI), run Alg. 3 (agents/nash.py: iterated best response on the digital twin's
one-slot model, then R_adj = R + I - P, which the env's reward already is), execute, store, and
take one minibatch step per type:

- critic (Alg. 2 line 14, reading A36): TD target y = r + gamma sum_a' pi(a'|s') Q_phi'(s', a')
  with the expected next value under the current actor (a state-value critic V = sum pi Q
  recovers line 14's C_phi(s));
- actor (line 15, the discrete analogue of grad_a Q grad_theta Pi): maximise
  sum_a pi_theta(a|s) Q_phi(s, a), exact over the masked codes, plus an entropy bonus and the
  distillation term -beta_NE log pi_theta(a*|s) toward the equilibrium action a* ("update
  Pi_theta_x based on a*", Alg. 3 line 15).

Variants by configuration (agents/registry.py): ``shared`` = one actor and one critic for every
decision, rewarded by the sum of all agents' rewards, no Alg. 3 (a single player has no game):
the single-agent baseline ``qdrl-sa``; ``nash = False`` with the scenario's DT disabled:
``qdrl-nodt``; the scenario's forecaster off: ``qdrl-nolstm``.

The driver (checkpoints, CSV, resume, progress) is agents/train.py.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from agents.nash import allowed_actions, iterated_best_response
from agents.offload_blocks import (
    Budget,
    EpisodeLog,
    KindReplay,
    KindStep,
    OffloadLayout,
    Step,
    play_episode,
)
from agents.quantum.actor import QuantumActor, code_masks_t, sample_codes


@dataclass
class Config:
    """Hyperparameters. Paper (Sec. VI): 6 qubits, 4 layers, gamma 0.99, epsilon-greedy; the
    rest is not given (A36): replay 1e5, batch 64, lr 1e-2 (circuit) / 1e-3 (critic), Polyak
    0.005, epsilon 1 -> 0.05 over the first 60 % of the planned episodes (Fig. 3's exploration
    phase), Alg. 3 with 3 rounds and distillation weight 0.1."""

    use_mask: bool = True
    episodes_per_update: int = 1  # one learning-curve row per episode (Fig. 3)
    gamma: float = 0.99
    lr_actor: float = 1e-2
    lr_critic: float = 1e-3
    tau: float = 0.005
    buffer: int = 100_000
    batch: int = 64
    warmup: int = 256  # transitions of a type before its first update
    hidden: int = 128
    layers: int = 4
    beta: float = 1.0  # inverse temperature of the Born probabilities (1: raw, A35)
    ent_coef: float = 0.01
    eps_start: float = 1.0
    eps_end: float = 0.05
    eps_fraction: float = 0.6  # of the planned episodes
    eps_episodes: int = 0  # > 0: decay over this many episodes instead
    nash: bool = True
    nash_rounds: int = 3
    nash_beta: float = 0.1
    shared: bool = False  # qdrl-sa: one actor/critic for all decisions, team reward, no Alg. 3
    max_grad_norm: float = 10.0
    reward_scale: float = 0.01  # the rewards are O(10-100) per step (L/rho with L ~ 0.1-1 s): as the baselines


class Critic(nn.Module):
    """Q_phi(s, .) over the joint codes: MLP(features + one-hot agent) with 2 x hidden ReLU."""

    def __init__(self, n_in: int, n_out: int, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Learner(Budget):
    """State of one quantum-DRL run; :meth:`update` plays ``episodes_per_update`` episodes,
    learning at every env step (Alg. 2)."""

    def __init__(self, env: Any, cfg: Config, seed: int) -> None:
        self.env, self.cfg, self.seed = env, cfg, seed
        self.layout = OffloadLayout.of_env(env)
        kinds = self.layout.kinds
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        self.total_agents = sum(kl.n for kl in kinds.values())
        self.offset, off = {}, 0
        for k, kl in kinds.items():
            self.offset[k], off = off, off + kl.n
        self.n_obs_max = max(kl.n_obs for kl in kinds.values())
        if cfg.shared:
            codec = max((kl.codec for kl in kinds.values()), key=lambda c: len(c.groups))
            actor = QuantumActor(codec, cfg.layers, cfg.beta, gen)
            n_out = max(kl.codec.n_joint for kl in kinds.values())
            critic = Critic(self.n_obs_max + self.total_agents, n_out, cfg.hidden)
            self.actors = dict.fromkeys(kinds, actor)
            self.critics = dict.fromkeys(kinds, critic)
        else:
            self.actors = {k: QuantumActor(kl.codec, cfg.layers, cfg.beta, gen) for k, kl in kinds.items()}
            self.critics = {k: Critic(kl.n_in, kl.codec.n_joint, cfg.hidden) for k, kl in kinds.items()}
        self.targets = {k: _copy(c) for k, c in self.critics.items()}
        if cfg.shared:  # one target for the one critic
            first = next(iter(self.targets.values()))
            self.targets = dict.fromkeys(kinds, first)
        self.opt_actor = {id(a): torch.optim.Adam(a.parameters(), lr=cfg.lr_actor) for a in self.actors.values()}
        self.opt_critic = {id(c): torch.optim.Adam(c.parameters(), lr=cfg.lr_critic) for c in self.critics.values()}
        self.buffers = {k: KindReplay(cfg.buffer, kl) for k, kl in kinds.items()}
        self.rng = np.random.default_rng(seed)
        self.episodes = self.env_steps = self.agent_steps = 0
        self.planned_episodes = 1000
        self.log = EpisodeLog()
        self._stats: dict[str, list[float]] = {}
        app = getattr(getattr(env, "unwrapped", env), "scenario", None)
        self.dt_enabled = bool(getattr(getattr(getattr(app, "offload", None), "dt", None), "enabled", True))
        self.use_nash = cfg.nash and not cfg.shared and self.dt_enabled


    # -------------------------------------------------------------- inputs

    def _ids(self, kind: str, rows: np.ndarray) -> np.ndarray:
        return rows + (self.offset[kind] if self.cfg.shared else 0)

    def _index_feature(self, kind: str, rows: np.ndarray) -> torch.Tensor:
        n = self.total_agents if self.cfg.shared else self.layout.kinds[kind].n
        return torch.as_tensor(self._ids(kind, rows) / max(n - 1, 1), dtype=torch.float32)

    def _critic_in(self, kind: str, obs: np.ndarray, rows: np.ndarray) -> torch.Tensor:
        n = self.total_agents if self.cfg.shared else self.layout.kinds[kind].n
        x = obs
        if self.cfg.shared and obs.shape[1] < self.n_obs_max:
            x = np.pad(obs, ((0, 0), (0, self.n_obs_max - obs.shape[1])))
        return torch.as_tensor(np.concatenate([x, np.eye(n, dtype=np.float32)[self._ids(kind, rows)]], 1))

    def _probs(self, kind: str, obs: np.ndarray, rows: np.ndarray, masks: list[torch.Tensor]) -> list[torch.Tensor]:
        return self.actors[kind].probs(torch.as_tensor(obs), self._index_feature(kind, rows), masks)

    # -------------------------------------------------------------- acting

    def _masks(self, codec: Any, flat_masks: np.ndarray) -> list[torch.Tensor]:
        """The codes the actor may pick: the kernel's mask (``use_mask``), else every code that
        names an action (the kernel then refuses a masked target)."""
        if not self.cfg.use_mask:
            flat_masks = np.ones_like(flat_masks, dtype=bool)
        return code_masks_t(codec, flat_masks)

    def act_kind(self, kind: str, obs: np.ndarray, flat_masks: np.ndarray, rows: np.ndarray,
                 eps: float = 0.0, greedy: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(components (n, 3), explored (n,)) for the kind's agents ``rows``."""
        codec = self.layout.kinds[kind].codec
        masks = self._masks(codec, flat_masks)
        with torch.no_grad():
            probs = self._probs(kind, obs, rows, masks)
        codes, explored = sample_codes(probs, masks, eps, self.rng, greedy=greedy)
        return codec.decode(codes), explored

    def _act(self, kinds: dict[str, KindStep]) -> dict[str, np.ndarray]:
        eps = self.epsilon()
        actions, explored = {}, set()
        for kind, st in kinds.items():
            rows = np.flatnonzero(st.acting)
            if not rows.size:
                continue
            acts, exp = self.act_kind(kind, st.obs[rows], st.mask[rows], rows, eps, greedy=False)
            agents = self.layout.kinds[kind].agents
            for j, i in enumerate(rows):
                actions[agents[i]] = acts[j]
                if exp[j]:
                    explored.add(agents[i])
        self._nash_changed: set[str] = set()
        if self.use_nash and actions:
            actions = self._nash(kinds, actions, explored)
        return actions

    def _nash(self, kinds: dict[str, KindStep], actions: dict[str, np.ndarray], explored: set[str]) -> dict[str, np.ndarray]:
        """Alg. 3 on the DT's one-slot model; explored agents keep their sampled action."""
        from desim_iov.apps.offload_model import EpochModel

        app = self.env.unwrapped.sim.app if hasattr(self.env, "unwrapped") else self.env.sim.app
        model = EpochModel(app)
        cands = {}
        for kind, st in kinds.items():
            kl = self.layout.kinds[kind]
            for i in np.flatnonzero(st.acting):
                a = kl.agents[i]
                cands[a] = actions[a][None, :] if a in explored else allowed_actions(kl.codec, st.mask[i])
        res = iterated_best_response(model, actions, cands, self.cfg.nash_rounds)
        self._stats.setdefault("nash_rounds", []).append(res.rounds)
        self._stats.setdefault("nash_changed", []).append(res.changed / max(len(actions), 1))
        self._nash_changed = {a for a in actions if not np.array_equal(actions[a], res.actions[a])}
        return res.actions

    # -------------------------------------------------------------- learning

    def _store(self, step: Step) -> None:
        self.log.step(step.rewards, step.infos)
        self.env_steps += 1
        for kind in self.layout.kinds:
            tr = step.transitions(self.layout, kind, team=self.cfg.shared)
            if not tr["agent"].size:
                continue
            agents = self.layout.kinds[kind].agents
            tr["reward"] = tr["reward"] * np.float32(self.cfg.reward_scale)
            tr["flag"] = np.array([agents[i] in self._nash_changed for i in tr["agent"]], np.float32)
            self.buffers[kind].add(**tr)
            self.agent_steps += tr["agent"].size
        for kind, buf in self.buffers.items():
            if len(buf) >= max(self.cfg.warmup, self.cfg.batch):
                self._learn(kind, buf.sample(self.cfg.batch, self.rng))

    def _learn(self, kind: str, b: dict[str, np.ndarray]) -> None:
        cfg, kl = self.cfg, self.layout.kinds[kind]
        codec, actor, critic, target = kl.codec, self.actors[kind], self.critics[kind], self.targets[kind]
        rows = b["agent"]
        masks, next_masks = self._masks(codec, b["mask"]), self._masks(codec, b["next_mask"])
        n_joint = codec.n_joint
        with torch.no_grad():  # TD target with the expected next value (reading A36)
            p_next = QuantumActor.joint(self._probs(kind, b["next_obs"], rows, next_masks))
            q_next = target(self._critic_in(kind, b["next_obs"], rows))[:, :n_joint]
            v_next = (p_next * q_next).sum(-1)
            y = torch.as_tensor(b["reward"]) + cfg.gamma * (1.0 - torch.as_tensor(b["done"])) * v_next
        x = self._critic_in(kind, b["obs"], rows)
        joint_idx = torch.as_tensor(codec.joint_index(codec.encode(b["action"])))
        q_all = critic(x)[:, :n_joint]
        q = q_all.gather(1, joint_idx[:, None]).squeeze(1)
        loss_c = 0.5 * ((q - y) ** 2).mean()
        opt_c = self.opt_critic[id(critic)]
        opt_c.zero_grad()
        loss_c.backward()
        nn.utils.clip_grad_norm_(critic.parameters(), cfg.max_grad_norm)
        opt_c.step()

        probs = self._probs(kind, b["obs"], rows, masks)
        pi = QuantumActor.joint(probs)
        q_d = q_all.detach()
        logp = torch.log(pi.clamp_min(1e-12))
        entropy = -(pi * logp).sum(-1)
        loss_a = -(pi * q_d).sum(-1).mean() - cfg.ent_coef * entropy.mean()
        flag = torch.as_tensor(b["flag"])
        if cfg.nash_beta and bool(flag.any()):
            loss_a = loss_a + cfg.nash_beta * -(logp.gather(1, joint_idx[:, None]).squeeze(1) * flag).sum() / flag.sum()
        opt_a = self.opt_actor[id(actor)]
        opt_a.zero_grad()
        loss_a.backward()
        nn.utils.clip_grad_norm_(actor.parameters(), cfg.max_grad_norm)
        opt_a.step()
        with torch.no_grad():
            for p, tp in zip(critic.parameters(), target.parameters(), strict=True):
                tp.mul_(1 - cfg.tau).add_(cfg.tau * p)
        for k, v in (("loss_critic", loss_c.item()), ("loss_actor", loss_a.item()), ("entropy", entropy.mean().item())):
            self._stats.setdefault(k, []).append(v)

    def update(self) -> dict[str, float]:
        t0 = time.perf_counter()
        self._stats = {}
        eps_used = self.epsilon()  # the exploration rate of this update's (first) episode
        for _ in range(self.cfg.episodes_per_update):
            play_episode(self.env, self.layout, self.episode_seed(self.episodes), self._act, self._store)
            self.episodes += 1
            self.log.end()
        out = self.log.metrics(self.cfg.episodes_per_update)
        out.update({k: float(np.mean(v)) for k, v in self._stats.items()})
        out.update(alpha=eps_used, rollout_s=time.perf_counter() - t0, update_s=0.0)
        return out

    # -------------------------------------------------------------- checkpoints

    def _unique(self, d: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in d.items() if not self.cfg.shared or k == next(iter(d))}

    def state_dict(self) -> dict[str, Any]:
        return {
            "actors": {k: a.state_dict() for k, a in self._unique(self.actors).items()},
            "critics": {k: c.state_dict() for k, c in self._unique(self.critics).items()},
            "targets": {k: c.state_dict() for k, c in self._unique(self.targets).items()},
            "opt_actor": {k: self.opt_actor[id(a)].state_dict() for k, a in self._unique(self.actors).items()},
            "opt_critic": {k: self.opt_critic[id(c)].state_dict() for k, c in self._unique(self.critics).items()},
            "buffers": {k: b.state_dict() for k, b in self.buffers.items()},
            "rng": self.rng.bit_generator.state,
            "episodes": self.episodes, "env_steps": self.env_steps, "agent_steps": self.agent_steps,
            "planned_episodes": self.planned_episodes,
        }

    def load_state_dict(self, st: dict[str, Any]) -> None:
        for k, sd in st["actors"].items():
            self.actors[k].load_state_dict(sd)
            self.opt_actor[id(self.actors[k])].load_state_dict(st["opt_actor"][k])
        for k, sd in st["critics"].items():
            self.critics[k].load_state_dict(sd)
            self.targets[k].load_state_dict(st["targets"][k])
            self.opt_critic[id(self.critics[k])].load_state_dict(st["opt_critic"][k])
        for k, b in self.buffers.items():
            b.load_state_dict(st["buffers"][k])
        self.rng.bit_generator.state = st["rng"]
        self.episodes, self.env_steps = int(st["episodes"]), int(st["env_steps"])
        self.agent_steps, self.planned_episodes = int(st["agent_steps"]), int(st["planned_episodes"])

    def policy_act(self, kind: str, obs: np.ndarray, flat_masks: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Greedy actions (evaluation)."""
        return self.act_kind(kind, obs, flat_masks, rows)[0]


def _copy(m: nn.Module) -> nn.Module:
    import copy

    t = copy.deepcopy(m)
    for p in t.parameters():
        p.requires_grad_(False)
    return t
