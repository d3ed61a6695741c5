"""The variational circuit of the quantum policy network (Sec. V-C, Eq. 79-85; Sec. VI:
6 qubits, 4 layers, RX/RY/RZ rotations, CNOT entanglers).

``|phi> = U(theta) |psi>`` (Eq. 80/81) with ``U = U_L ... U_2 U_1`` (Eq. 82), one factor per
layer. Layer ``l`` applies, on every qubit ``q``, ``RX(theta[l, q, 0])`` then
``RY(theta[l, q, 1])`` then ``RZ(theta[l, q, 2])``, then the CNOT ring
``CNOT(0->1), CNOT(1->2), ..., CNOT(n-2->n-1), CNOT(n-1->0)`` applied in that order. The
outcome probabilities are ``P(m) = |<m|phi>|**2`` (Eq. 85). Wire 0 is the most significant bit
of the outcome index (see :mod:`agents.quantum.statevector`).

Two paths compute the same thing:

- ``"gates"``: gate by gate on the state (:mod:`agents.quantum.statevector`); the reference.
- ``"fused"`` (default): ``U(theta)`` as one ``2**n x 2**n`` matrix per parameter set, built
  vectorised -- the closed-form entries of ``RZ RY RX`` for every (layer, qubit) at once (one
  small real matmul), each layer's Kronecker product as outer products of the flattened 2x2
  matrices (neighbouring qubits paired: 3 products for 6 qubits, all layers together), the CNOT
  ring and the reordering of those entries into a matrix as one fixed gather, the layers
  multiplied as a balanced tree -- then applied to the whole batch in one real matmul
  (``[Re U; Im U]``, the amplitudes being real). At 6 qubits a training step's cost is the
  number of autograd operations, not the arithmetic, so this path keeps it near 30.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
from torch import nn

from agents.quantum import statevector as sv

__all__ = ["METHODS", "VariationalCircuit", "circuit_probabilities", "circuit_unitary",
           "layer_rotations", "ring_permutation"]

METHODS = ("fused", "gates")


# ---- validation -----------------------------------------------------------------------

def _check_theta(theta: torch.Tensor) -> tuple[int, int]:
    """(layers, qubits) of ``theta`` (L, n, 3) or (P, L, n, 3); one-line ValueError otherwise."""
    if not isinstance(theta, torch.Tensor) or not theta.is_floating_point():
        raise ValueError("theta must be a real floating-point tensor of shape (layers, qubits, 3)")
    if theta.dim() not in (3, 4) or theta.shape[-1] != 3 or theta.shape[-2] < 2 or theta.shape[-3] < 1:
        raise ValueError(f"theta must have shape (layers, qubits>=2, 3) or (sets, layers, qubits, 3), "
                         f"got {tuple(theta.shape)}")
    if not bool(torch.isfinite(theta).all()):
        raise ValueError("theta has non-finite entries")
    return theta.shape[-3], theta.shape[-2]


def _normalised(amplitudes: torch.Tensor, theta: torch.Tensor, n: int) -> torch.Tensor:
    """Eq. 76: the amplitudes divided by their L2 norm, row by row; checked."""
    if not isinstance(amplitudes, torch.Tensor) or not amplitudes.is_floating_point():
        raise ValueError("amplitudes must be a real floating-point tensor of shape (batch, 2**qubits)")
    if amplitudes.dim() not in (2, 3) or amplitudes.shape[-1] != 2 ** n:
        raise ValueError(f"amplitudes must have shape (batch, {2 ** n}) for {n} qubits, "
                         f"got {tuple(amplitudes.shape)}")
    if amplitudes.dim() == 3 and (theta.dim() != 4 or amplitudes.shape[0] != theta.shape[0]):
        raise ValueError(f"3-D amplitudes {tuple(amplitudes.shape)} need theta of shape "
                         f"({amplitudes.shape[0]}, layers, qubits, 3), got {tuple(theta.shape)}")
    if not bool(torch.isfinite(amplitudes).all()):
        raise ValueError("amplitudes have non-finite entries")
    norm = torch.linalg.vector_norm(amplitudes, dim=-1, keepdim=True)
    if not bool((norm > 0).all()):
        raise ValueError("an all-zero amplitude row cannot be normalised (Lemma 1: sum |f_i|^2 > 0)")
    return amplitudes / norm


# ---- the fused unitary ------------------------------------------------------------------

@lru_cache(maxsize=4)
def _rotation_basis(dtype: torch.dtype) -> torch.Tensor:
    """Real (8, 8) map from the trig products to ``RZ RY RX``'s entries. With
    ``R_P(t) = cos(t/2) I - i sin(t/2) P`` (Pauli P), ``RZ(c) RY(b) RX(a) = sum_{ijk}
    T_i(a) T_j(b) T_k(c) G^Z_k G^Y_j G^X_i``, ``T_0 = cos(./2)``, ``T_1 = sin(./2)``,
    ``G^P_0 = I``, ``G^P_1 = -iP``. Row ``4i + 2j + k`` holds the flattened matrix
    ``G^Z_k G^Y_j G^X_i`` as (Re, Im) pairs of its four entries (row-major)."""
    eye = torch.eye(2, dtype=torch.complex128)
    gx, gy, gz = ((eye, -1j * p(torch.complex128)) for p in (sv.pauli_x, sv.pauli_y, sv.pauli_z))
    rows = [(gz[k] @ gy[j] @ gx[i]).reshape(4) for i in range(2) for j in range(2) for k in range(2)]
    return torch.view_as_real(torch.stack(rows)).reshape(8, 8).to(dtype)


def layer_rotations(theta: torch.Tensor) -> torch.Tensor:
    """``RZ(c) RY(b) RX(a)`` for every (layer, qubit) at once, ``(a, b, c) = theta[..., :]``:
    complex ``theta.shape[:-1] + (2, 2)``. Closed form: each entry is a fixed complex
    combination of the eight products ``T_i(a) T_j(b) T_k(c)`` of half-angle cosines and sines
    (:func:`_rotation_basis`); e.g. the (0, 0) entry is
    ``(cos a/2 cos b/2 + i sin a/2 sin b/2) exp(-i c/2)``. One real matmul for all of them."""
    half = theta * 0.5
    t = torch.stack([torch.cos(half), torch.sin(half)], -1)           # (..., 3, 2)
    ta, tb, tc = t.unbind(-2)
    trig = (ta[..., :, None, None] * tb[..., None, :, None] * tc[..., None, None, :]).flatten(-3)
    entries = (trig @ _rotation_basis(theta.dtype).to(theta.device)).unflatten(-1, (4, 2))
    return torch.view_as_complex(entries).unflatten(-1, (2, 2))


@lru_cache(maxsize=32)
def ring_permutation(n_qubits: int) -> torch.Tensor:
    """Index permutation ``p`` of the CNOT ring ``0->1, 1->2, ..., n-1->0`` applied in that
    order: ``(ring psi)[i] = psi[p[i]]``. Composing ``G_2 G_1``: ``p = p_1[p_2]``."""
    perm = torch.arange(2 ** n_qubits)
    for q in range(n_qubits):
        perm = perm[sv.cnot_permutation(q, (q + 1) % n_qubits, n_qubits)]
    return perm


@lru_cache(maxsize=32)
def _layer_gather(n_qubits: int) -> torch.Tensor:
    """Where entry (r, c) of ``ring @ kron`` sits in the interleaved Kronecker vector of
    :func:`_kron_entries`: ``kron[r, c]`` is at ``sum_q (2 r_q + c_q) 4**(n-1-q)`` (``r_q``,
    ``c_q`` wire q's bits), and the ring takes row ``r`` from row ``p[r]``."""
    d = 2 ** n_qubits
    rows = ring_permutation(n_qubits)[:, None].expand(d, d)
    cols = torch.arange(d)[None, :].expand(d, d)
    pos = torch.zeros(d, d, dtype=torch.long)
    for q in range(n_qubits):
        shift = n_qubits - 1 - q
        pos += (2 * ((rows >> shift) & 1) + ((cols >> shift) & 1)) * 4 ** shift
    return pos.reshape(-1)


def _outer(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Flattened outer product over the last axis: ``out[i * len(b) + j] = a[i] b[j]``."""
    return (a[..., :, None] * b[..., None, :]).flatten(-2)


def _kron_entries(mats: torch.Tensor) -> torch.Tensor:
    """The entries of ``M_0 (x) ... (x) M_{n-1}`` for ``mats`` (..., n, 2, 2) as a vector
    (..., 4**n) in interleaved order ``(r_0 c_0 r_1 c_1 ...)``: outer products of the flattened
    2x2 matrices, neighbours paired level by level (3 products for 6 qubits); an odd level's
    last vector (the rightmost wires) joins at the end."""
    vecs = mats.flatten(-2)                                           # (..., n, 4)
    right: list[torch.Tensor] = []
    while vecs.shape[-2] > 1:
        m = vecs.shape[-2]
        if m % 2:
            right.append(vecs[..., -1, :])
            vecs = vecs[..., :-1, :]
        vecs = _outer(vecs[..., 0::2, :], vecs[..., 1::2, :])
    out = vecs[..., 0, :]
    for r in reversed(right):
        out = _outer(out, r)
    return out


def _chain(mats: torch.Tensor) -> torch.Tensor:
    """``M_{L-1} ... M_1 M_0`` of ``mats`` (..., L, D, D) as a balanced tree of batched matmuls."""
    while mats.shape[-3] > 1:
        odd = mats[..., -1:, :, :] if mats.shape[-3] % 2 else None
        even = mats[..., : mats.shape[-3] // 2 * 2, :, :]
        mats = even[..., 1::2, :, :] @ even[..., 0::2, :, :]
        if odd is not None:
            mats = torch.cat([mats, odd], -3)
    return mats[..., 0, :, :]


def circuit_unitary(theta: torch.Tensor) -> torch.Tensor:
    """``U(theta)`` (Eq. 82) of the whole stack, complex (2**n, 2**n), or (P, 2**n, 2**n) for
    ``theta`` (P, L, n, 3); complex64 for float32 theta, complex128 for float64."""
    _, n = _check_theta(theta)
    return _unitary(theta, n)


def _unitary(theta: torch.Tensor, n: int) -> torch.Tensor:
    entries = _kron_entries(layer_rotations(theta))            # (..., L, 4**n) interleaved
    gather = _layer_gather(n).to(entries.device)
    layers = entries.index_select(-1, gather).unflatten(-1, (2 ** n, 2 ** n))  # ring @ kron
    return _chain(layers)


def _fused(theta: torch.Tensor, psi: torch.Tensor, n: int) -> torch.Tensor:
    u = torch.view_as_real(_unitary(theta, n))                 # (..., D, D, 2)
    d = 2 ** n
    w = u.movedim(-1, -3).reshape(*u.shape[:-3], 2 * d, d)     # [Re U; Im U]
    if psi.dim() == 2 and w.dim() == 3:
        psi = psi.expand(w.shape[0], *psi.shape)
    phi = psi @ w.mT                                           # (..., B, 2D): Re phi | Im phi
    return phi.square().unflatten(-1, (2, d)).sum(-2)


# ---- the gate-by-gate reference ---------------------------------------------------------

def _gates(theta: torch.Tensor, psi: torch.Tensor, n: int) -> torch.Tensor:
    state = sv.from_amplitudes(psi)
    if theta.dim() == 4 and state.dim() == 2:
        state = state.expand(theta.shape[0], *state.shape)
    rotations = (sv.rx, sv.ry, sv.rz)
    for layer in range(theta.shape[-3]):
        for q in range(n):
            for k, gate in enumerate(rotations):
                g = gate(theta[..., layer, q, k])                 # (2, 2) or (P, 2, 2)
                state = sv.apply_gate(state, g if g.dim() == 2 else g[:, None], q)
        for q in range(n):
            state = sv.apply_cnot(state, q, (q + 1) % n)
    return sv.probabilities(state)


# ---- public API -------------------------------------------------------------------------

def circuit_probabilities(theta: torch.Tensor, amplitudes: torch.Tensor,
                          method: str = "fused") -> torch.Tensor:
    """Outcome probabilities ``P(m) = |<m| U(theta) |psi>|**2`` (Eq. 80-85).

    ``theta``: (layers, qubits, 3), the RX, RY, RZ angles of every (layer, qubit); or
    (P, layers, qubits, 3), P parameter sets (e.g. one per agent type) evaluated together.
    ``amplitudes``: real (batch, 2**qubits), or (P, batch, 2**qubits) with one batch per set;
    **normalised here** row by row (Eq. 76), so any row with ``sum f_i**2 > 0`` is a valid
    state (Lemma 1); non-finite or all-zero rows raise ``ValueError``. Returns real
    probabilities (batch, 2**qubits), or (P, batch, 2**qubits); each row sums to 1. The
    computation runs in the promoted real dtype of the two inputs (float64 -> complex128
    amplitudes internally) and is differentiable w.r.t. ``theta`` and ``amplitudes``.
    ``method``: ``"fused"`` (one unitary per parameter set, the fast path) or ``"gates"``.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    _, n = _check_theta(theta)
    psi = _normalised(amplitudes, theta, n)
    dtype = torch.promote_types(theta.dtype, psi.dtype)
    theta, psi = theta.to(dtype), psi.to(dtype)
    return _fused(theta, psi, n) if method == "fused" else _gates(theta, psi, n)


class VariationalCircuit(nn.Module):
    """The quantum policy network's circuit ``Q`` (Eq. 80): ``n_qubits`` qubits, ``layers``
    variational layers (Sec. VI: 6 and 4; 3 n L = 72 angles), ``theta`` a Parameter of shape
    (layers, n_qubits, 3) in RX, RY, RZ order.

    Initialisation: ``init="uniform"`` (default) draws every angle uniformly in [0, 2 pi) --
    a generic point of the parameter space, so the initial policy is not tied to the encoded
    basis ordering; ``init="normal"`` draws N(0, ``std``**2) -- close to the identity rotations,
    so the initial output is the encoded ``|psi|**2`` permuted by the CNOT rings.
    """

    def __init__(self, n_qubits: int = 6, layers: int = 4, init: str = "uniform",
                 std: float = 0.1, dtype: torch.dtype = torch.float32,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        if n_qubits < 2 or layers < 1:
            raise ValueError(f"need n_qubits >= 2 and layers >= 1, got {n_qubits} and {layers}")
        shape = (layers, n_qubits, 3)
        if init == "uniform":
            theta = torch.rand(shape, dtype=dtype, generator=generator) * (2 * math.pi)
        elif init == "normal":
            theta = torch.randn(shape, dtype=dtype, generator=generator) * std
        else:
            raise ValueError(f"init must be 'uniform' or 'normal', got {init!r}")
        self.n_qubits, self.layers = n_qubits, layers
        self.theta = nn.Parameter(theta)

    def forward(self, amplitudes: torch.Tensor, method: str = "fused") -> torch.Tensor:
        """(batch, 2**n_qubits) real amplitudes -> (batch, 2**n_qubits) probabilities (Eq. 85)."""
        return circuit_probabilities(self.theta, amplitudes, method=method)

    def unitary(self) -> torch.Tensor:
        """The circuit's matrix ``U(theta)`` (Eq. 82), complex (2**n, 2**n)."""
        return circuit_unitary(self.theta)

    def extra_repr(self) -> str:
        return f"n_qubits={self.n_qubits}, layers={self.layers}"
