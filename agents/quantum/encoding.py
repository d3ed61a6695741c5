"""Amplitude encoding of a classical state into an ``n``-qubit state (Sec. V-C, Eq. 75-78).

Eq. 75: ``|psi(t)> = E(s(t)) = sum_{i < 2**N} alpha_i(s(t)) |i>``.
Eq. 76/77: ``alpha_i = f_i(s) / sqrt(sum_j |f_j(s)|**2)``; Eq. 78: then ``sum_i |alpha_i|**2 = 1``.
Lemma 1: the state is well defined (and normalised) iff ``sum_j |f_j(s)|**2 > 0``.

The paper leaves the basis functions ``f_i`` open (spec A35). Here ``f_i`` is the i-th feature
for ``i < k``, a constant bias ``b`` in the last slot ``2**N - 1`` (on by default) and 0 in
between. Amplitude encoding divides by the norm, so the features' overall scale is lost; the
bias keeps it partly (``alpha_last = b / sqrt(b**2 + |f|**2)`` falls as the features grow) and
makes ``sum_j |f_j|**2 >= b**2 > 0``, so Lemma 1 holds for every input, the all-zero one
included. Without the bias an all-zero feature row violates Lemma 1 and is rejected.
"""

from __future__ import annotations

import torch

__all__ = ["amplitude_encode"]


def amplitude_encode(features: torch.Tensor, n_qubits: int = 6, bias: bool = True,
                     bias_value: float = 1.0) -> torch.Tensor:
    """Eq. 75-77: real features (..., k) -> real normalised amplitudes (..., 2**n_qubits).

    The features are padded with zeros to ``2**n_qubits``; with ``bias`` (default) the last
    slot holds ``bias_value`` (so at most ``2**n_qubits - 1`` features), then every row is
    divided by its L2 norm (Eq. 76). A row is accepted only if Lemma 1's condition
    ``sum_j f_j**2 > 0`` holds. Differentiable w.r.t. the features. One-line ``ValueError``
    on: non-finite features, more features than slots, an all-zero row (without bias), a
    non-positive or non-finite bias value.
    """
    if not isinstance(features, torch.Tensor):
        features = torch.as_tensor(features)
    if not features.is_floating_point():
        if features.is_complex():
            raise ValueError("amplitude encoding takes real features, got a complex tensor")
        features = features.to(torch.get_default_dtype())
    if features.dim() < 1:
        raise ValueError("features must have shape (..., k), got a scalar")
    if n_qubits < 1:
        raise ValueError(f"n_qubits must be >= 1, got {n_qubits}")
    dim, k = 2 ** n_qubits, features.shape[-1]
    slots = dim - 1 if bias else dim
    if k > slots:
        extra = " (one slot holds the bias; pass bias=False for all of them)" if bias else ""
        raise ValueError(f"{k} features do not fit {n_qubits} qubits: at most {slots}{extra}")
    if not bool(torch.isfinite(features).all()):
        raise ValueError("features have non-finite entries (NaN or inf)")
    if bias and not (bias_value > 0 and bias_value < float("inf")):
        raise ValueError(f"bias_value must be positive and finite, got {bias_value}")
    pad = [features, features.new_zeros(*features.shape[:-1], slots - k)]
    if bias:
        pad.append(features.new_full((*features.shape[:-1], 1), bias_value))
    f = torch.cat(pad, -1)
    norm = torch.linalg.vector_norm(f, dim=-1, keepdim=True)
    if not bool((norm > 0).all()):
        raise ValueError("all-zero feature row: Lemma 1 needs sum |f_i|^2 > 0 (use bias=True)")
    return f / norm
