"""The quantum actor Pi_theta_x of one agent type (quantum-DRL Sec. V-C, Eq. 75–88, Alg. 2).

An agent's features (Eq. 57/59/61, scaled by the env) and an agent-index feature are amplitude
encoded (Eq. 75–78, :func:`agents.quantum.encoding.amplitude_encode`, a constant bias keeps
Lemma 1 for every input), evolved by the 6-qubit x 4-layer circuit U(theta) (Eq. 79–82) and
measured (Eq. 85): P(m), m in 0..63. The action is read from the outcome's bits (Eq. 88,
reading A35): each code group of :class:`agents.offload_blocks.ActionCodec` (at most 6 bits)
has its own circuit; a group of g bits takes the g most significant bits of the outcome
(wire 0 = most significant), i.e. the marginal of the first g qubits. Codes that name no
action or that the kernel's mask forbids are removed and the rest renormalised ("masked
outcomes removed and renormalised"). ``beta`` (inverse temperature, fixed 1 = raw Born
probabilities) sharpens p^beta when set above 1 (A35: Born probabilities cannot become
deterministic on their own).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from agents.offload_blocks import N_OUTCOMES, N_QUBITS, ActionCodec
from agents.quantum.circuit import circuit_probabilities
from agents.quantum.encoding import amplitude_encode

FLOOR = 1e-8  # added to every allowed code before renormalising (no 0/0 when the Born mass on
# the allowed codes vanishes)


def masked_code_probs(outcome_probs: torch.Tensor, size: int, allowed: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
    """(B, 64) outcome probabilities -> (B, size) probabilities of a group's codes: the
    marginal of the code's leading bits, masked codes set to exactly 0, renormalised."""
    p = outcome_probs.reshape(outcome_probs.shape[0], size, N_OUTCOMES // size).sum(-1)
    if beta != 1.0:
        p = p.clamp_min(1e-30) ** beta
    p = torch.where(allowed, p + FLOOR, torch.zeros_like(p))
    return p / p.sum(-1, keepdim=True)


class QuantumActor(nn.Module):
    """One agent type's actor: a circuit (theta (layers, 6, 3)) per code group of ``codec``."""

    def __init__(self, codec: ActionCodec, layers: int = 4, beta: float = 1.0,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.codec, self.beta = codec, float(beta)
        self.theta = nn.Parameter(torch.rand((len(codec.groups), layers, N_QUBITS, 3), generator=generator)
                                  * (2 * np.pi))

    @staticmethod
    def amplitudes(x: torch.Tensor, index_feature: torch.Tensor | None) -> torch.Tensor:
        """Features (+ the agent-index feature where there is room) -> (B, 64) amplitudes."""
        if index_feature is not None and x.shape[1] + 1 < N_OUTCOMES:
            x = torch.cat([x, index_feature.reshape(-1, 1).to(x.dtype)], 1)
        return amplitude_encode(x, N_QUBITS, bias=True)

    def probs(self, x: torch.Tensor, index_feature: torch.Tensor | None, masks: list[torch.Tensor]) -> list[torch.Tensor]:
        """Per group, (B, size) masked, renormalised code probabilities; group g's circuit is
        theta[g] (a shared actor serves kinds with fewer groups with its first circuits)."""
        amp = self.amplitudes(x, index_feature)
        g = len(masks)  # every group's circuit in one call (one unitary per parameter set)
        p = circuit_probabilities(self.theta[:g], amp.unsqueeze(0).expand(g, *amp.shape))
        return [masked_code_probs(p[i], m.shape[1], m, self.beta) for i, m in enumerate(masks)]

    @staticmethod
    def joint(probs: list[torch.Tensor]) -> torch.Tensor:
        """The joint (B, n_joint) probability of independent groups (row-major codes)."""
        out = probs[0]
        for p in probs[1:]:
            out = (out.unsqueeze(-1) * p.unsqueeze(1)).reshape(out.shape[0], -1)
        return out


def code_masks_t(codec: ActionCodec, flat_masks: np.ndarray) -> list[torch.Tensor]:
    return [torch.as_tensor(m) for m in codec.code_masks(flat_masks)]


def sample_codes(probs: list[torch.Tensor], masks: list[torch.Tensor], eps: float,
                 rng: np.random.Generator, greedy: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Per row, one code per group: argmax (``greedy``), else with probability ``eps`` uniform
    among the allowed codes (epsilon-greedy, Sec. VI), otherwise drawn from the policy.
    Returns (codes (B, groups), explored (B,) bool)."""
    b = probs[0].shape[0]
    explore = (rng.random(b) < eps) if not greedy else np.zeros(b, bool)
    codes = np.zeros((b, len(probs)), np.int64)
    for g, (p, m) in enumerate(zip(probs, masks, strict=True)):
        pn = p.detach().double().numpy()
        mn = m.numpy()
        if greedy:
            codes[:, g] = pn.argmax(1)
            continue
        u = rng.random((b, 1))
        drawn = (np.cumsum(pn, 1) < u * pn.sum(1, keepdims=True)).sum(1)
        drawn = np.minimum(drawn, pn.shape[1] - 1)
        keys = np.where(mn, rng.random(mn.shape), -1.0)
        codes[:, g] = np.where(explore, keys.argmax(1), drawn)
        bad = ~mn[np.arange(b), codes[:, g]]  # rounding at the cumsum's edge: stay allowed
        if bad.any():
            codes[bad, g] = pn[bad].argmax(1)
    return codes, explore
