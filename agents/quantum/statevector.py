"""Batched state-vector simulator in torch (the quantum policy network's circuit, Sec. V-C).

A state of ``n`` qubits is a complex tensor of shape ``(..., 2**n)`` (leading dimensions are a
batch; complex64 or complex128). Gates act gate by gate: the state is viewed as
``(..., 2**q, 2, 2**(n-q-1))`` -- the ``(B, 2, ..., 2)`` tensor with the axes before and
after qubit ``q`` merged -- and the 2x2 matrix contracts the middle axis. CNOT is an index
permutation. Measurement in the computational basis gives the Born probabilities
``P(m) = <phi|P_m|phi> = |phi_m|**2`` (Eq. 85 with the projectors ``P_m = |m><m|``).

Conventions (PennyLane's):

- **Wire 0 is the most significant bit** of the basis index: basis state ``|b_0 b_1 ... b_{n-1}>``
  has index ``sum_q b_q 2**(n-1-q)``, so a gate on wire ``q`` flips bit ``n-1-q`` of the index,
  and a state is the Kronecker product ``psi_0 (x) psi_1 (x) ... (x) psi_{n-1}``.
- ``RX(t) = exp(-i t X / 2)``, ``RY(t) = exp(-i t Y / 2)``, ``RZ(t) = exp(-i t Z / 2)``;
  ``H = (X + Z) / sqrt(2)``; ``CNOT(c, t)`` flips wire ``t`` where wire ``c`` is 1.

Rotations are differentiable in their angle (autograd through complex tensors) and accept
batched angles: an angle tensor of shape ``S`` gives matrices of shape ``S + (2, 2)``.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch

__all__ = [
    "COMPLEX", "apply_cnot", "apply_gate", "basis_state", "cnot_permutation", "complex_dtype",
    "from_amplitudes", "hadamard", "pauli_x", "pauli_y", "pauli_z", "probabilities", "rx",
    "ry", "rz", "sample",
]

COMPLEX = {torch.float32: torch.complex64, torch.float64: torch.complex128}


def complex_dtype(dtype: torch.dtype) -> torch.dtype:
    """The complex dtype of a real one (float32 -> complex64, float64 -> complex128);
    a complex dtype is returned unchanged."""
    if dtype.is_complex:
        return dtype
    if dtype not in COMPLEX:
        raise ValueError(f"no complex dtype for {dtype}: use float32 or float64")
    return COMPLEX[dtype]


# ---- fixed gates ------------------------------------------------------------------------

def pauli_x(dtype: torch.dtype = torch.complex64) -> torch.Tensor:
    """Pauli X = [[0, 1], [1, 0]]."""
    return torch.tensor([[0, 1], [1, 0]], dtype=dtype)


def pauli_y(dtype: torch.dtype = torch.complex64) -> torch.Tensor:
    """Pauli Y = [[0, -i], [i, 0]]."""
    return torch.tensor([[0, -1j], [1j, 0]], dtype=dtype)


def pauli_z(dtype: torch.dtype = torch.complex64) -> torch.Tensor:
    """Pauli Z = [[1, 0], [0, -1]]."""
    return torch.tensor([[1, 0], [0, -1]], dtype=dtype)


def hadamard(dtype: torch.dtype = torch.complex64) -> torch.Tensor:
    """Hadamard H = [[1, 1], [1, -1]] / sqrt(2)."""
    r = 1 / math.sqrt(2)
    return torch.tensor([[r, r], [r, -r]], dtype=dtype)


# ---- parameterised rotations --------------------------------------------------------------

def _half(theta: torch.Tensor | float) -> tuple[torch.Tensor, torch.Tensor]:
    t = torch.as_tensor(theta)
    if not t.is_floating_point():
        t = t.to(torch.get_default_dtype())
    return torch.cos(t / 2), torch.sin(t / 2)


def rx(theta: torch.Tensor | float) -> torch.Tensor:
    """RX(t) = exp(-i t X/2) = [[cos t/2, -i sin t/2], [-i sin t/2, cos t/2]];
    shape ``theta.shape + (2, 2)``, complex of theta's precision."""
    c, s = _half(theta)
    z = torch.zeros_like(c)
    re = torch.stack([c, z, z, c], -1)
    im = torch.stack([z, -s, -s, z], -1)
    return torch.complex(re, im).unflatten(-1, (2, 2))


def ry(theta: torch.Tensor | float) -> torch.Tensor:
    """RY(t) = exp(-i t Y/2) = [[cos t/2, -sin t/2], [sin t/2, cos t/2]]."""
    c, s = _half(theta)
    re = torch.stack([c, -s, s, c], -1)
    return torch.complex(re, torch.zeros_like(re)).unflatten(-1, (2, 2))


def rz(theta: torch.Tensor | float) -> torch.Tensor:
    """RZ(t) = exp(-i t Z/2) = diag(exp(-i t/2), exp(i t/2))."""
    c, s = _half(theta)
    z = torch.zeros_like(c)
    re = torch.stack([c, z, z, c], -1)
    im = torch.stack([-s, z, z, s], -1)
    return torch.complex(re, im).unflatten(-1, (2, 2))


# ---- states -----------------------------------------------------------------------------

def basis_state(index: int, n_qubits: int, batch: int = 1,
                dtype: torch.dtype = torch.complex64) -> torch.Tensor:
    """``|index>`` (wire 0 = most significant bit), repeated ``batch`` times: (batch, 2**n)."""
    if not 0 <= index < 2 ** n_qubits:
        raise ValueError(f"basis index {index} out of range for {n_qubits} qubits")
    state = torch.zeros(batch, 2 ** n_qubits, dtype=dtype)
    state[:, index] = 1
    return state


def from_amplitudes(amplitudes: torch.Tensor) -> torch.Tensor:
    """Real or complex amplitudes (..., 2**n) as a complex state (no normalisation)."""
    if amplitudes.is_complex():
        return amplitudes
    return amplitudes.to(complex_dtype(amplitudes.dtype))


def _n_qubits(state: torch.Tensor) -> int:
    dim = state.shape[-1]
    n = dim.bit_length() - 1
    if dim < 2 or 2 ** n != dim:
        raise ValueError(f"state length {dim} is not a power of two >= 2")
    return n


def _check_wire(wire: int, n: int) -> None:
    if not 0 <= wire < n:
        raise ValueError(f"wire {wire} out of range for {n} qubits")


# ---- applying gates -----------------------------------------------------------------------

def apply_gate(state: torch.Tensor, gate: torch.Tensor, wire: int) -> torch.Tensor:
    """``gate`` (2x2, or ``(..., 2, 2)`` broadcasting against the state's batch dimensions)
    on ``wire`` of ``state`` (..., 2**n). Wire 0 is the most significant index bit."""
    n = _n_qubits(state)
    _check_wire(wire, n)
    if gate.shape[-2:] != (2, 2):
        raise ValueError(f"a single-qubit gate is 2x2, got shape {tuple(gate.shape)}")
    batch = state.shape[:-1]
    view = state.reshape(*batch, 2 ** wire, 2, 2 ** (n - 1 - wire))
    out = torch.einsum("...ij,...ljr->...lir", gate.to(state.dtype), view)
    return out.reshape(*out.shape[:-3], 2 ** n)


@lru_cache(maxsize=256)
def cnot_permutation(control: int, target: int, n_qubits: int) -> torch.Tensor:
    """Index permutation ``p`` of CNOT(control, target): ``(CNOT psi)[i] = psi[p[i]]`` with
    ``p[i] = i XOR 2**(n-1-target)`` where bit ``n-1-control`` of ``i`` is set, else ``i``."""
    _check_wire(control, n_qubits)
    _check_wire(target, n_qubits)
    if control == target:
        raise ValueError(f"CNOT needs two different wires, got {control} twice")
    idx = torch.arange(2 ** n_qubits)
    c_bit, t_bit = 1 << (n_qubits - 1 - control), 1 << (n_qubits - 1 - target)
    return torch.where(idx & c_bit != 0, idx ^ t_bit, idx)


def apply_cnot(state: torch.Tensor, control: int, target: int) -> torch.Tensor:
    """CNOT(control -> target) on ``state`` (..., 2**n), by index permutation."""
    return state[..., cnot_permutation(control, target, _n_qubits(state))]


# ---- measurement (Eq. 85) -----------------------------------------------------------------

def probabilities(state: torch.Tensor) -> torch.Tensor:
    """Born probabilities ``P(m) = |<m|phi>|**2`` of the computational-basis outcomes (Eq. 85),
    real, same shape as ``state``; differentiable (Re**2 + Im**2, smooth at 0)."""
    if not state.is_complex():
        return state * state
    return torch.view_as_real(state).square().sum(-1)


def sample(probs: torch.Tensor, shots: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Finite-shot measurement: ``shots`` outcomes per row of ``probs`` (..., 2**n), drawn with
    replacement; integer tensor (..., shots). Not differentiable."""
    if shots < 1:
        raise ValueError(f"shots must be >= 1, got {shots}")
    flat = probs.detach().reshape(-1, probs.shape[-1]).clamp_min(0)
    out = torch.multinomial(flat, shots, replacement=True, generator=generator)
    return out.reshape(*probs.shape[:-1], shots)
