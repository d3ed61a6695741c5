"""Quantum policy network pieces (Sec. V-C, Eq. 75-89): a batched torch state-vector
simulator (:mod:`.statevector`), the 6-qubit, 4-layer variational circuit with a fused
single-unitary fast path (:mod:`.circuit`) and amplitude encoding (:mod:`.encoding`).

Wire 0 is the most significant bit of a basis index (PennyLane's convention)."""

from __future__ import annotations

from agents.quantum import statevector
from agents.quantum.circuit import (
    VariationalCircuit,
    circuit_probabilities,
    circuit_unitary,
    layer_rotations,
    ring_permutation,
)
from agents.quantum.encoding import amplitude_encode
from agents.quantum.statevector import (
    apply_cnot,
    apply_gate,
    basis_state,
    hadamard,
    pauli_x,
    pauli_y,
    pauli_z,
    probabilities,
    rx,
    ry,
    rz,
)

__all__ = [
    "VariationalCircuit", "amplitude_encode", "apply_cnot", "apply_gate", "basis_state",
    "circuit_probabilities", "circuit_unitary", "hadamard", "layer_rotations", "pauli_x",
    "pauli_y", "pauli_z", "probabilities", "ring_permutation", "rx", "ry", "rz", "statevector",
]
