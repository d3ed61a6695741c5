"""The quantum policy network's circuit (6 qubits x 4 layers, amplitude-encoded input, Sec. V-C):
circuits/s of our torch simulator and of PennyLane, side by side in one run.

Measured, per batch size (``--batches``, default 64 and 1024), on one torch thread
(``torch.set_num_threads(1)``, ``OMP_NUM_THREADS=1`` unless set):

- a training step, ``fwd+bwd``: the batch's outcome probabilities, loss = the summed
  probability of the outcomes 0-7 (wires 0-2 all 0), backward to the 72 angles;
- ``fwd``: the probabilities alone, under ``torch.no_grad()``.

Backends: ours (``agents.quantum.circuit_probabilities``, the fused path in complex64 and
complex128, and the gate-by-gate path in complex128); PennyLane ``default.qubit`` (torch
interface, ``diff_method="backprop"``, the batch as one broadcast ``StatePrep``; complex64 for
float32 inputs, complex128 for float64); ``lightning.qubit`` when it imports (complex128,
``diff_method="adjoint"``, which cannot differentiate ``qml.probs``: its training step returns
the same loss as ``qml.expval(qml.Projector([0, 0, 0], wires=[0, 1, 2]))``; broadcasting is
split into one tape per input, so its circuits/s do not grow with the batch and it runs at
``--lightning-batches`` only, default 64). Each cell is the median of ``--repeats`` timed
repeats (each at least ``--min-time`` s of whole steps), the backends in alternation.

Usage: ``python benchmarks/bench_quantum.py [--repeats 5] [--batches 64 1024] [--quick]
[--json OUT]``. The last line is ``speedup=<ours fused complex128 / default.qubit complex128,
fwd+bwd circuits/s at batch 64>`` (same precision on both sides).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch

from agents.quantum import amplitude_encode, circuit_probabilities

N_QUBITS, LAYERS, LOSS_OUTCOMES = 6, 4, 8
Step = Callable[[], torch.Tensor]


def inputs(batch: int, dtype: torch.dtype, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(theta (layers, qubits, 3), normalised amplitudes (batch, 64)) from 40 random features."""
    g = torch.Generator().manual_seed(seed)
    theta = torch.rand(LAYERS, N_QUBITS, 3, generator=g, dtype=torch.float64) * (2 * torch.pi)
    amps = amplitude_encode(torch.rand(batch, 40, generator=g, dtype=torch.float64) * 4 - 2)
    return theta.to(dtype), amps.to(dtype)


def ours(method: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    return lambda theta, amps: circuit_probabilities(theta, amps, method=method)


def pennylane_circuits(qml: Any, device: str, diff_method: str | None,
                       measure: str = "probs") -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The same circuit as a PennyLane QNode: StatePrep, per layer RX, RY, RZ on every wire then
    the CNOT ring 0->1, ..., 5->0; ``qml.probs`` or the loss's projector expectation."""
    dev = qml.device(device, wires=N_QUBITS)

    @qml.qnode(dev, interface="torch", diff_method=diff_method)
    def circuit(theta: torch.Tensor, amps: torch.Tensor) -> Any:
        qml.StatePrep(amps, wires=range(N_QUBITS))
        for layer in range(LAYERS):
            for q in range(N_QUBITS):
                qml.RX(theta[layer, q, 0], wires=q)
                qml.RY(theta[layer, q, 1], wires=q)
                qml.RZ(theta[layer, q, 2], wires=q)
            for q in range(N_QUBITS):
                qml.CNOT(wires=[q, (q + 1) % N_QUBITS])
        if measure == "probs":
            return qml.probs(wires=range(N_QUBITS))
        return qml.expval(qml.Projector([0, 0, 0], wires=[0, 1, 2]))

    return circuit


def train_step(fn: Callable, theta: torch.Tensor, amps: torch.Tensor, loss_is_output: bool = False) -> Step:
    """One forward + backward; returns the loss per input (detached)."""
    th = theta.clone().requires_grad_()

    def step() -> torch.Tensor:
        th.grad = None
        out = fn(th, amps)
        per_input = out if loss_is_output else out[..., :LOSS_OUTCOMES].sum(-1)
        per_input.sum().backward()
        assert th.grad is not None
        return per_input.detach()

    return step


def forward_step(fn: Callable, theta: torch.Tensor, amps: torch.Tensor) -> Step:
    def step() -> torch.Tensor:
        with torch.no_grad():
            return fn(theta, amps)

    return step


def steps_for(step: Step, min_time: float) -> int:
    """Whole steps making up at least ``min_time`` s (one warm-up call timed)."""
    step()
    t0 = time.perf_counter()
    step()
    return max(1, round(min_time / max(time.perf_counter() - t0, 1e-9)))


def timed(step: Step, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - t0) / n


def backends(args: argparse.Namespace) -> tuple[dict[str, tuple], list[str]]:
    """name -> (dtype, train fn, loss_is_output, forward fn, batches or None); notes."""
    table: dict[str, tuple] = {
        "ours fused complex64": (torch.float32, ours("fused"), False, ours("fused"), None),
        "ours fused complex128": (torch.float64, ours("fused"), False, ours("fused"), None),
        "ours gate-by-gate complex128": (torch.float64, ours("gates"), False, ours("gates"), None),
    }
    notes: list[str] = []
    try:
        import pennylane as qml
    except ImportError as err:
        raise SystemExit(f"PennyLane is needed for the comparison (pip install -e '.[quantum]'): {err}") from err
    notes.append(f"PennyLane {qml.__version__}, torch {torch.__version__}, {platform.processor() or platform.machine()}, "
                 f"{os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}")
    dq = pennylane_circuits(qml, "default.qubit", "backprop")
    table["default.qubit complex64"] = (torch.float32, dq, False, dq, None)
    table["default.qubit complex128"] = (torch.float64, dq, False, dq, None)
    if args.no_lightning:
        notes.append("lightning.qubit: skipped (--no-lightning)")
        return table, notes
    try:
        import pennylane_lightning  # noqa: F401

        lq_train = pennylane_circuits(qml, "lightning.qubit", "adjoint", measure="projector")
        lq_fwd = pennylane_circuits(qml, "lightning.qubit", None)
        lq_train(*inputs(2, torch.float64))
    except Exception as err:  # any failure (import, device, run) means: not usable here
        notes.append(f"lightning.qubit: skipped, not usable here ({type(err).__name__}: {str(err).splitlines()[0][:120]})")
        return table, notes
    table["lightning.qubit complex128 (adjoint)"] = (torch.float64, lq_train, True, lq_fwd, args.lightning_batches)
    notes.append("lightning.qubit: adjoint differentiation of expval(Projector(000 on wires 0-2)) = the same loss; "
                 "qml.probs is not adjoint-differentiable")
    return table, notes


def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    torch.set_num_threads(1)
    table, notes = backends(args)
    res: dict[str, Any] = {"qubits": N_QUBITS, "layers": LAYERS, "repeats": args.repeats, "notes": notes,
                           "cells": {}, "max_abs_diff": {}, "loss_diff": {}}
    for batch in args.batches:
        steps: dict[tuple[str, str], tuple[Step, int]] = {}
        for name, (dtype, train_fn, loss_out, fwd_fn, only) in table.items():
            if only is not None and batch not in only:
                continue
            theta, amps = inputs(batch, dtype)
            for kind, step in (("fwd+bwd", train_step(train_fn, theta, amps, loss_out)),
                               ("fwd", forward_step(fwd_fn, theta, amps))):
                steps[name, kind] = (step, steps_for(step, args.min_time))
        walls: dict[tuple[str, str], list[float]] = {k: [] for k in steps}
        for r in range(args.repeats):  # in alternation
            for key, (step, n) in steps.items():
                walls[key].append(timed(step, n))
            print(f"batch {batch}, repeat {r + 1}/{args.repeats} done", flush=True)
        for (name, kind), w in walls.items():
            med = statistics.median(w)
            res["cells"].setdefault(name, {})[f"{kind} {batch}"] = {
                "circuits_per_s": batch / med, "ms_per_call": med * 1e3, "steps_per_repeat": steps[name, kind][1]}
        ref = steps["default.qubit complex128", "fwd"][0]()
        ref_loss = ref[:, :LOSS_OUTCOMES].sum(-1)
        for name in table:
            if (name, "fwd") in steps:
                got = steps[name, "fwd"][0]()
                res["max_abs_diff"].setdefault(name, {})[str(batch)] = float((got.double() - ref).abs().max())
                loss = steps[name, "fwd+bwd"][0]()
                res["loss_diff"].setdefault(name, {})[str(batch)] = float((loss.double() - ref_loss).abs().max())
    base = res["cells"]["default.qubit complex128"]["fwd+bwd 64"]["circuits_per_s"] if 64 in args.batches else None
    mine = res["cells"]["ours fused complex128"].get("fwd+bwd 64", {}).get("circuits_per_s")
    res["speedup"] = mine / base if base else None
    return res


def lines(res: dict[str, Any], batches: list[int]) -> list[str]:
    cols = [f"{k} {b}" for b in batches for k in ("fwd+bwd", "fwd")]
    head = ["backend (circuits/s)"] + cols + [f"vs dq128 fwd+bwd {b}" for b in batches]
    ref = res["cells"]["default.qubit complex128"]
    rows = []
    for name, cells in res["cells"].items():
        row = [name] + [f"{cells[c]['circuits_per_s']:,.0f}" if c in cells else "-" for c in cols]
        for b in batches:
            c = f"fwd+bwd {b}"
            row.append(f"{cells[c]['circuits_per_s'] / ref[c]['circuits_per_s']:.1f}x" if c in cells else "-")
        rows.append(row)
    w = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    out = [f"{res['qubits']} qubits x {res['layers']} layers, amplitude-encoded input; median of {res['repeats']} "
           f"repeats; loss = sum of P(0..7), backward to the {3 * res['qubits'] * res['layers']} angles"]
    out += res["notes"]
    out += ["  ".join(h.ljust(w[0]) if i == 0 else h.rjust(w[i]) for i, h in enumerate(r)) for r in [head, *rows]]
    for name, diffs in res["max_abs_diff"].items():
        if name != "default.qubit complex128":
            text = ", ".join(f"batch {b}: {d:.1e}" for b, d in diffs.items())
            loss = ", ".join(f"{d:.1e}" for d in res["loss_diff"][name].values())
            out.append(f"max |P - P_default.qubit(complex128)| {name}: {text} (loss {loss})")
    if res["speedup"] is None:
        raise SystemExit("speedup needs batch 64 in --batches")
    out.append(f"speedup={res['speedup']:.1f}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, nargs="+", default=[64, 1024])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=0.3, help="seconds of whole steps per timed repeat")
    ap.add_argument("--lightning-batches", type=int, nargs="+", default=[64])
    ap.add_argument("--no-lightning", action="store_true")
    ap.add_argument("--quick", action="store_true", help="one repeat of ~0.02 s per cell (smoke)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    if args.quick:
        args.repeats, args.min_time = 1, 0.02
    res = benchmark(args)
    for line in lines(res, args.batches):
        print(line)
    if args.json:
        args.json.write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
