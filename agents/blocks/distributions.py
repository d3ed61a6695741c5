"""The masked categorical distribution of the learners' actors (twin-migration Eq. 23–24)."""

from __future__ import annotations

import torch


class MaskedCategorical:
    """Categorical distribution over M actions whose masked entries have logit -inf, so
    probability exactly 0 (the dynamic mask of twin-migration Eq. 23–24: P_v K_v).

    ``mask`` (..., M) bool/int, 1 = allowed; None = every action allowed. A row with no allowed
    action falls back to the *unmasked* logits (a proper distribution over all M actions, finite
    entropy and gradients); callers that know a safer action (the Policy: stay on the current
    host, as the heuristics do) handle that row themselves. ``all_masked`` flags those rows.
    """

    def __init__(self, logits: torch.Tensor, mask: torch.Tensor | None = None) -> None:
        if mask is None:
            valid = torch.ones_like(logits, dtype=torch.bool)
        else:
            valid = mask.to(torch.bool).expand_as(logits)
        self.all_masked = ~valid.any(dim=-1)
        valid = valid | self.all_masked.unsqueeze(-1)  # fallback: the row is unmasked
        self.valid = valid
        self.logits = torch.where(valid, logits, torch.full_like(logits, float("-inf")))
        self.log_probs = torch.log_softmax(self.logits, dim=-1)  # -inf where masked
        self.probs = self.log_probs.exp()  # exactly 0 where masked

    @property
    def log_probs_safe(self) -> torch.Tensor:
        """log-probabilities with masked entries set to 0 (for p * log p sums: no 0 * -inf,
        no NaN gradients)."""
        return torch.where(self.valid, self.log_probs, torch.zeros_like(self.log_probs))

    def entropy(self) -> torch.Tensor:
        return -(self.probs * self.log_probs_safe).sum(-1)

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        return self.log_probs.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """One draw per row (Gumbel-max on the masked logits: masked actions are never drawn)."""
        u = torch.rand(self.logits.shape, generator=generator, dtype=self.logits.dtype)
        e = (-torch.log(u.clamp_min(1e-20))).clamp_min(1e-20)  # Exp(1) draws
        gumbel = -torch.log(e)
        return torch.argmax(self.logits + gumbel, dim=-1)

    def mode(self) -> torch.Tensor:
        """Greedy action (twin-migration Eq. 20/24: argmax of P_v K_v)."""
        return torch.argmax(self.logits, dim=-1)
