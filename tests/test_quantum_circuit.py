"""The quantum policy network's circuit (agents/quantum): an independent numpy state-vector
reference, PennyLane default.qubit, the parameter-shift rule, fused vs gate-by-gate paths,
conventions (wire 0 = most significant bit, RX(pi) = -iX, Bell state) and input checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch

from agents.quantum import (
    VariationalCircuit,
    amplitude_encode,
    circuit_probabilities,
    circuit_unitary,
    layer_rotations,
    statevector,
)
from agents.quantum import statevector as sv

N, L = 6, 4
D = 2 ** N

# ---- an independent reference in plain numpy ----------------------------------------------

PAULI = {"X": np.array([[0, 1], [1, 0]], complex), "Y": np.array([[0, -1j], [1j, 0]]),
         "Z": np.array([[1, 0], [0, -1]], complex)}


def np_rotation(axis: str, angle: float) -> np.ndarray:
    """R_P(t) = exp(-i t P / 2) by the matrix exponential."""
    return scipy.linalg.expm(-0.5j * angle * PAULI[axis])


def np_on_wire(gate: np.ndarray, wire: int, n: int) -> np.ndarray:
    """The 2**n x 2**n matrix of a one-qubit gate on ``wire``; wire 0 is the leftmost factor."""
    out = np.eye(1)
    for q in range(n):
        out = np.kron(out, gate if q == wire else np.eye(2))
    return out


def np_cnot(control: int, target: int, n: int) -> np.ndarray:
    """CNOT from its definition: |b> -> |b with b_target ^= b_control>, b_q = bit n-1-q."""
    m = np.zeros((2 ** n, 2 ** n))
    for i in range(2 ** n):
        bits = [(i >> (n - 1 - q)) & 1 for q in range(n)]
        bits[target] ^= bits[control]
        m[int("".join(map(str, bits)), 2), i] = 1
    return m


def np_circuit_probabilities(theta: np.ndarray, amplitudes: np.ndarray) -> np.ndarray:
    """The circuit gate by gate, each gate a full 2**n x 2**n matrix acting on the rows."""
    layers, n, _ = theta.shape
    psi = amplitudes / np.linalg.norm(amplitudes, axis=1, keepdims=True) + 0j
    for layer in range(layers):
        for q in range(n):
            for k, axis in enumerate("XYZ"):
                psi = psi @ np_on_wire(np_rotation(axis, theta[layer, q, k]), q, n).T
        for q in range(n):
            psi = psi @ np_cnot(q, (q + 1) % n, n).T
    return np.abs(psi) ** 2


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny tensors: more threads only oversubscribe a shared CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def random_inputs(seed: int, batch: int = 5, sets: tuple[int, ...] = (),
                  dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    theta = torch.rand(*sets, L, N, 3, generator=g, dtype=dtype) * (2 * math.pi)
    amps = torch.randn(batch, D, generator=g, dtype=dtype)
    return theta, amps


def one_line_error(fn, *args, match: str, **kw) -> None:
    with pytest.raises(ValueError, match=match) as err:
        fn(*args, **kw)
    assert "\n" not in str(err.value)


# ---- agreement with references ----------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_independent_numpy_statevector(seed: int) -> None:
    theta, amps = random_inputs(seed)
    ref = np_circuit_probabilities(theta.numpy(), amps.numpy())
    for method in ("fused", "gates"):
        got = circuit_probabilities(theta, amps, method=method)
        assert got.dtype == torch.float64
        np.testing.assert_allclose(got.numpy(), ref, rtol=0, atol=1e-10)


def test_parameter_sets_match_one_at_a_time() -> None:
    theta, amps = random_inputs(3, sets=(3,))
    both = circuit_probabilities(theta, amps)
    assert both.shape == (3, 5, D)
    ref = np_circuit_probabilities(theta[1].numpy(), amps.numpy())
    np.testing.assert_allclose(both[1].numpy(), ref, rtol=0, atol=1e-10)
    per_set = torch.randn(3, 4, D, dtype=torch.float64)  # one batch per set
    got = circuit_probabilities(theta, per_set)
    for p in range(3):
        np.testing.assert_allclose(both[p].numpy(), circuit_probabilities(theta[p], amps).numpy(),
                                   rtol=0, atol=1e-12)
        np.testing.assert_allclose(got[p].numpy(), circuit_probabilities(theta[p], per_set[p]).numpy(),
                                   rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.numpy(), circuit_probabilities(theta, per_set, method="gates").numpy(),
                               rtol=0, atol=1e-12)


def test_matches_pennylane_default_qubit() -> None:
    qml = pytest.importorskip("pennylane")
    dev = qml.device("default.qubit", wires=N)

    @qml.qnode(dev)
    def probs(theta, amps):
        qml.StatePrep(amps, wires=range(N))
        for layer in range(L):
            for q in range(N):
                qml.RX(theta[layer, q, 0], wires=q)
                qml.RY(theta[layer, q, 1], wires=q)
                qml.RZ(theta[layer, q, 2], wires=q)
            for q in range(N):
                qml.CNOT(wires=[q, (q + 1) % N])
        return qml.probs(wires=range(N))

    for seed in range(4):
        theta, amps = random_inputs(10 + seed, batch=6)
        psi = (amps / amps.norm(dim=1, keepdim=True)).numpy()
        ref = np.asarray(probs(theta.numpy(), psi))
        assert ref.shape == (6, D)
        for method in ("fused", "gates"):
            got = circuit_probabilities(theta, amps, method=method).numpy()
            np.testing.assert_allclose(got, ref, rtol=0, atol=1e-6)
        got32 = circuit_probabilities(theta.float(), amps.float()).numpy()
        np.testing.assert_allclose(got32, ref, rtol=0, atol=1e-5)


# ---- gradients ---------------------------------------------------------------------------

def test_autograd_equals_parameter_shift_for_every_angle() -> None:
    theta, amps = random_inputs(4, batch=3)
    weights = torch.randn(3, D, generator=torch.Generator().manual_seed(5), dtype=torch.float64)

    def f(th: torch.Tensor) -> torch.Tensor:  # one scalar per parameter set
        return (circuit_probabilities(th, amps) * weights).sum((-2, -1))

    th = theta.clone().requires_grad_()
    f(th).backward()
    eye = torch.eye(theta.numel(), dtype=torch.float64).reshape(-1, *theta.shape) * (math.pi / 2)
    shift = (f(theta + eye) - f(theta - eye)) / 2                     # all 72 at once
    assert th.grad is not None and th.grad.abs().max() > 1e-3
    np.testing.assert_allclose(th.grad.reshape(-1).numpy(), shift.numpy(), rtol=0, atol=1e-10)


def test_gradients_fused_equal_gates_and_amplitude_gradcheck() -> None:
    theta, amps = random_inputs(6, batch=2)
    weights = torch.randn(2, D, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    grads = []
    for method in ("fused", "gates"):
        th, am = theta.clone().requires_grad_(), amps.clone().requires_grad_()
        (circuit_probabilities(th, am, method=method) * weights).sum().backward()
        grads.append((th.grad, am.grad))
    for a, b in zip(*grads, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=0, atol=1e-12)
    am = amps[:1].clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda x: circuit_probabilities(theta, x), (am,))


@pytest.mark.parametrize(("dtype", "atol"), [(torch.float32, 2e-6), (torch.float64, 1e-13)])
def test_fused_equals_gate_by_gate(dtype: torch.dtype, atol: float) -> None:
    theta, amps = random_inputs(8, batch=16, dtype=dtype)
    fused = circuit_probabilities(theta, amps, method="fused")
    gates = circuit_probabilities(theta, amps, method="gates")
    assert fused.dtype == gates.dtype == dtype
    assert circuit_unitary(theta).dtype == sv.complex_dtype(dtype)
    np.testing.assert_allclose(fused.numpy(), gates.numpy(), rtol=0, atol=atol)
    np.testing.assert_allclose(fused.sum(-1).numpy(), 1.0, rtol=0, atol=10 * atol)


# ---- properties and conventions ----------------------------------------------------------

def test_outputs_normalised_and_unitary() -> None:
    theta, amps = random_inputs(9, batch=32)
    probs = circuit_probabilities(theta, amps * 7.5)   # any scale: normalised inside (Eq. 76)
    assert probs.shape == (32, D) and bool((probs >= 0).all())
    np.testing.assert_allclose(probs.sum(-1).numpy(), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(probs.numpy(), circuit_probabilities(theta, amps).numpy(), atol=1e-14)
    u = circuit_unitary(theta)
    np.testing.assert_allclose((u @ u.mH).numpy(), np.eye(D), rtol=0, atol=1e-12)
    circ = VariationalCircuit(generator=torch.Generator().manual_seed(0))
    out = circ(amplitude_encode(torch.rand(10, 20)))
    assert out.shape == (10, D) and out.dtype == torch.float32
    np.testing.assert_allclose(out.sum(-1).detach().numpy(), 1.0, rtol=0, atol=1e-5)


def test_bell_state_from_hadamard_and_cnot() -> None:
    state = sv.basis_state(0, 2, dtype=torch.complex128)
    state = sv.apply_cnot(sv.apply_gate(state, sv.hadamard(torch.complex128), 0), 0, 1)
    r = 1 / math.sqrt(2)
    np.testing.assert_allclose(state.numpy(), [[r, 0, 0, r]], atol=1e-15)
    np.testing.assert_allclose(sv.probabilities(state).numpy(), [[0.5, 0, 0, 0.5]], atol=1e-15)


def test_gate_definitions() -> None:
    x = sv.pauli_x(torch.complex128)
    np.testing.assert_allclose(sv.rx(torch.tensor(math.pi, dtype=torch.float64)).numpy(),
                               (-1j * x).numpy(), atol=1e-15)              # RX(pi) = -iX
    angles = torch.tensor([[0.3, -1.2, 2.0], [4.0, 0.0, -0.7]], dtype=torch.float64)
    for fn, axis in ((sv.rx, "X"), (sv.ry, "Y"), (sv.rz, "Z")):
        got = fn(angles)
        assert got.shape == (2, 3, 2, 2)
        for i, j in np.ndindex(2, 3):
            np.testing.assert_allclose(got[i, j].numpy(), np_rotation(axis, float(angles[i, j])), atol=1e-14)
    theta = torch.randn(3, 3, dtype=torch.float64)
    composed = sv.rz(theta[:, 2]) @ sv.ry(theta[:, 1]) @ sv.rx(theta[:, 0])
    np.testing.assert_allclose(layer_rotations(theta).numpy(), composed.numpy(), atol=1e-14)
    for gate, ref in ((sv.pauli_y, PAULI["Y"]), (sv.pauli_z, PAULI["Z"])):
        np.testing.assert_array_equal(gate(torch.complex128).numpy(), ref)


@pytest.mark.parametrize("wire", range(N))
def test_x_on_wire_flips_bit_n_minus_1_minus_wire(wire: int) -> None:
    start = 0b101001
    state = sv.apply_gate(sv.basis_state(start, N), sv.pauli_x(), wire)
    flipped = start ^ (1 << (N - 1 - wire))
    assert int(sv.probabilities(state).argmax()) == flipped
    assert float(sv.probabilities(state)[0, flipped]) == 1.0
    # CNOT(wire -> next) flips the target's bit only where the control's bit is set
    tgt = (wire + 1) % N
    after = int(sv.probabilities(sv.apply_cnot(state, wire, tgt)).argmax())
    ctrl_set = (flipped >> (N - 1 - wire)) & 1
    assert after == (flipped ^ (1 << (N - 1 - tgt)) if ctrl_set else flipped)


def test_statevector_batched_gates_and_sampling() -> None:
    g = torch.Generator().manual_seed(11)
    angles = torch.rand(4, generator=g, dtype=torch.float64) * 6
    state = sv.basis_state(0, 3, batch=4, dtype=torch.complex128)
    out = sv.apply_gate(state, sv.ry(angles), 1)          # one angle per batch row
    expect = np.zeros((4, 8))
    expect[:, 0] = np.cos(angles.numpy() / 2) ** 2
    expect[:, 2] = np.sin(angles.numpy() / 2) ** 2        # wire 1 of 3 = bit 1
    np.testing.assert_allclose(sv.probabilities(out).numpy(), expect, atol=1e-14)
    shots = sv.sample(sv.probabilities(out), 4000, generator=g)
    assert shots.shape == (4, 4000) and set(shots.unique().tolist()) <= {0, 2}
    freq = (shots == 2).double().mean(1).numpy()
    np.testing.assert_allclose(freq, expect[:, 2], atol=0.04)
    one_line_error(sv.apply_gate, state, sv.pauli_x(), 3, match="wire 3 out of range")
    one_line_error(sv.apply_cnot, state, 1, 1, match="two different wires")


def test_variational_circuit_learns_a_target_outcome() -> None:
    torch.manual_seed(0)
    circ = VariationalCircuit(init="normal", generator=torch.Generator().manual_seed(1))
    assert sum(p.numel() for p in circ.parameters()) == 3 * N * L
    uni = VariationalCircuit(generator=torch.Generator().manual_seed(2)).theta.detach()
    assert float(uni.min()) >= 0 and float(uni.max()) < 2 * math.pi and float(uni.std()) > 1
    amps = amplitude_encode(torch.rand(1, 12))
    opt = torch.optim.Adam(circ.parameters(), lr=0.1)
    first = float(circ(amps)[:, 37].mean().detach())
    for _ in range(100):
        loss = -circ(amps)[:, 37].mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert first < 0.2 and -float(loss.detach()) > 0.9
    np.testing.assert_allclose(circ(amps, method="gates").detach().numpy(),
                               circ(amps).detach().numpy(), atol=2e-6)


# ---- amplitude encoding (Eq. 75-78, Lemma 1) ----------------------------------------------

def test_amplitude_encoding_eq76_with_bias() -> None:
    f = torch.tensor([[3.0, 0.0, 4.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
    a = amplitude_encode(f)
    assert a.shape == (2, D)
    np.testing.assert_allclose(a[0, :3].numpy(), np.array([3, 0, 4]) / math.sqrt(26), atol=1e-15)
    assert float(a[0, -1]) == pytest.approx(1 / math.sqrt(26))
    np.testing.assert_array_equal(a[1].numpy(), np.eye(D)[-1])          # bias only: |63>
    np.testing.assert_allclose(a.norm(dim=-1).numpy(), 1.0, atol=1e-15)  # Eq. 78
    plain = amplitude_encode(f[:1], bias=False)
    np.testing.assert_allclose(plain[0, :3].numpy(), [0.6, 0, 0.8], atol=1e-15)
    assert float(plain[0, 3:].abs().max()) == 0
    assert amplitude_encode(torch.ones(D), bias=False).shape == (D,)
    small = amplitude_encode(torch.tensor([[0.1]]))[0, -1]
    large = amplitude_encode(torch.tensor([[10.0]]))[0, -1]
    assert small > 0.99 and large < 0.1                                  # scale survives via the bias
    x = f[:1].clone().requires_grad_()
    amplitude_encode(x)[0, 0].backward()
    assert x.grad is not None and bool(torch.isfinite(x.grad).all())


def test_bad_inputs_raise_one_line_value_errors() -> None:
    one_line_error(amplitude_encode, torch.zeros(2, 5), bias=False, match="Lemma 1")
    one_line_error(amplitude_encode, torch.tensor([[1.0, float("nan")]]), match="non-finite")
    one_line_error(amplitude_encode, torch.tensor([[float("inf")]]), bias=False, match="non-finite")
    one_line_error(amplitude_encode, torch.ones(1, 65), bias=False, match="65 features")
    one_line_error(amplitude_encode, torch.ones(1, 64), match="bias")
    one_line_error(amplitude_encode, torch.ones(1, 3), bias_value=0.0, match="bias_value")
    theta, amps = random_inputs(12, batch=3)
    for shape in ((L, N, 2), (N, 3), (2, 2, L, N, 3), (L, 1, 3)):
        one_line_error(circuit_probabilities, torch.zeros(shape), amps, match="theta must have shape")
    one_line_error(circuit_probabilities, theta.long(), amps, match="theta must be")
    one_line_error(circuit_probabilities, theta * float("nan"), amps, match="theta has non-finite")
    bad = amps.clone()
    bad[1] = 0
    one_line_error(circuit_probabilities, theta, bad, match="Lemma 1")
    bad[1, 3] = float("nan")
    one_line_error(circuit_probabilities, theta, bad, match="non-finite")
    one_line_error(circuit_probabilities, theta, amps[:, :32], match=r"shape \(batch, 64\)")
    one_line_error(circuit_probabilities, theta, amps.to(torch.complex128), match="real")
    one_line_error(circuit_probabilities, theta, amps[None], match="3-D amplitudes")
    one_line_error(circuit_probabilities, theta, amps, method="tensor", match="method")
    one_line_error(VariationalCircuit, init="zeros", match="init")
    assert statevector.complex_dtype(torch.float32) == torch.complex64
