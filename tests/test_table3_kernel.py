"""Table III of the quantum-DRL paper through the packet kernel: each cell as a task-offloading
run (one vehicle standing at a fixed 3-D distance from one BS, or from one UAV hovering over a
BS; one task; no fading; the reading's path loss, carrier, powers, noise and rate), whose
access hop's airtime (/hops end - start, /subtasks t_tx) must equal the closed form of
``analysis/quantum_drl_table3.py`` for the same reading to 1e-9 relative.

Table III has no processing term (its rows are linear in the task size): the scenario gives
the subtask a near-zero load (``cycles_per_bit`` 1e-6) and the test compares the transmission
only (the processing time is also subtracted from the latency and checked).

What the kernel cannot express, and why (``kernel_cell`` raises ValueError; tested below):

- the Rayleigh-averaged 4-antenna MRC gain (``array_gain="rayleigh4"``): the script takes the
  mean of D/R over Gamma(4, 1) fading by quadrature; the kernel draws one fading realisation
  per link and mobility step, so a run yields one sample of D/R and never its mean (only a
  Monte Carlo estimate over many runs, which cannot meet 1e-9);
- the literal Eq. 11 sign (``gain_sign="eq11"``, gain 10^(+PL/10)): the kernel converts every
  loss with 10^(-PL/10); it could only be imitated by a ``channel.gain_coefficient`` computed
  from the expected answer, which would test nothing.

Everything else in the script's grid is expressible. The unit slips are expressed plainly:
"Okumura with f in GHz" sets the scenario's carrier to f / 1000 Hz (Hata's formula then sees the
same number the script feeds it; the carrier is scenario-wide, harmless with a single link) and
"Okumura with d in m" places the vehicle 1000 times further away.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis import quantum_drl_table3 as t3
from desim_iov.sim import Simulation
from desim_iov.topology import VB, VU
from traces.reader import open_trace
from traces.schema import SUBTASK_CODE, TASK_CODE

REL = 1e-9
CELLS = [(col, row) for col in range(4) for row in range(3)]


@pytest.fixture(scope="module")
def fitted():
    """The script's fitted readings, best first (about 3 s)."""
    return t3.evaluate_readings()


def _run(cell: t3.KernelCell, path) -> tuple:
    """Run the cell under external control: the vehicle offloads its one task to the cell's
    node at full power without splitting, relays process. Without a link to that node it holds
    the task (no link at all) or sends it to the other node (the BS of a vehicle->UAV cell).
    Returns (hops, subtasks, tasks, the topology at t = 0, the vehicle's mask)."""
    sim = Simulation(cell.scenario, None, trace_path=str(path), vehicle_trajectories=[cell.trajectory])
    obs = sim.advance()
    topo = sim.app.topo
    mask = obs["vehicle_0"].mask.copy()
    target = cell.target
    if not mask[target]:
        target = topo.N if mask[topo.N] else int(np.flatnonzero(mask[: topo.N])[0])  # N: hold
    sim.act({a: [target if a == "vehicle_0" else 0, 0, 0] for a in obs})
    assert sim.advance() is None and sim.finished
    tr = open_trace(path)
    return tr.df("hops"), tr.df("subtasks"), tr.df("tasks"), topo, mask


def _check_finite(cell: t3.KernelCell, path) -> None:
    hops, subs, _, topo, _ = _run(cell, path)
    assert math.isfinite(cell.expected_s)
    assert topo.access_distance[0, cell.target] == pytest.approx(cell.distance_m, rel=1e-12)
    assert len(hops) == 1 and len(subs) == 1
    hop, sub = hops.iloc[0], subs.iloc[0]
    assert (hop.hop, hop.dst, hop.src) == (0, cell.target, topo.N)  # vehicle -> the cell's node
    assert hop.link_type == (VB if cell.target == 0 else VU)
    assert hop.bits == cell.bits and sub.bits == cell.bits
    assert hop.end - hop.start == pytest.approx(cell.expected_s, rel=REL)
    assert hop.rate == pytest.approx(cell.bits / cell.expected_s, rel=REL)
    assert sub.t_tx == pytest.approx(cell.expected_s, rel=REL)
    # latency = transmission + (zero) queueing + the negligible processing, which is subtracted
    assert sub.hops == 0 and sub.proc_node == cell.target and sub.t_queue == 0.0
    assert sub.outcome in (SUBTASK_CODE["processed_in_time"], SUBTASK_CODE["processed_late"])
    assert 0.0 < sub.t_proc < 1e-6 * cell.expected_s
    assert sub.latency - sub.t_proc == pytest.approx(cell.expected_s, rel=REL)


def _check_no_link(cell: t3.KernelCell, path) -> None:
    """A zero rate (FBL below its SNR threshold): the closed form's latency is inf, the kernel
    has no edge to the cell's node and nothing goes there; in a vehicle->BS cell (the BS is
    the only node) the vehicle holds its task to the end and nothing is transmitted."""
    hops, subs, tasks, topo, mask = _run(cell, path)
    assert math.isinf(cell.expected_s)
    assert topo.access_rate[0, cell.target] == 0.0 and not mask[cell.target]
    assert not (hops.dst == cell.target).any()
    if topo.N == 1:
        assert len(hops) == 0 and len(subs) == 0
        assert tasks.status.tolist() == [TASK_CODE["held_at_end"]]


@pytest.mark.parametrize(("col", "row"), CELLS)
@pytest.mark.parametrize("which", ["best", "best fbl1000"])
def test_table3_fitted_reading_cell_through_the_kernel(fitted, which, col, row, tmp_path):
    """The script's best reading (sizes as bits, decimal prefixes, P_v = -30 dBW, sigma^2 = -90
    dBm, 3.5 GHz, Shannon; vehicle->BS Okumura fed f in GHz and UMa LOS with d'_BP = 100 m, no
    array gain, 175.7 m; vehicle->UAV Friis and Eq. 27 at 48.5 m) and the best with Sec. VI's
    finite block length n = 1000, every cell: the kernel's airtime equals the table the script
    prints (``evaluate_readings``'s fitted latencies) to 1e-9."""
    results = fitted if which == "best" else [x for x in fitted if x[1].rate == "fbl1000"]
    _, reading, bs, uav = results[0]
    assert reading.gain_sign == "standard" and reading.bits_per_byte_unit in (1.0, 8.0)
    fit = bs if col < 2 else uav  # (error, pair, array gain, distance, latencies (3, 2))
    cell = t3.kernel_cell(reading, col, row, fit[1], fit[2], fit[3])
    assert cell.expected_s == pytest.approx(fit[4][row, col % 2], rel=1e-12)  # the printed table
    _check_finite(cell, tmp_path / "cell.h5")


SWEEP = t3.Reading(8.0, False, "dBW", "dBm", 2e9, "standard", "fbl100")
"""A second reading for the sub-reading sweep: sizes in bytes, 2 GHz, FBL n = 100."""
_OK0, _UMA0 = next(iter(t3.OKUMURA)), next(iter(t3.UMA))
_FREE0, _AIR0 = next(iter(t3.FREE)), next(iter(t3.AIR))
CURVES = (
    [(0, f"{k}; {_UMA0}", 4.0, 60.0) for k in t3.OKUMURA]
    + [(1, f"{_OK0}; {k}", 4.0, 60.0) for k in t3.UMA]
    + [(2, f"{k}; {_AIR0}", 1.0, 120.0) for k in t3.FREE]
    + [(3, f"{_FREE0}; {k}", 1.0, 120.0) for k in t3.AIR]
)


@pytest.mark.parametrize(("col", "pair", "gain", "dist"), CURVES, ids=[c[1].split("; ")[c[0] % 2] for c in CURVES])
def test_table3_every_path_loss_sub_reading_through_the_kernel(col, pair, gain, dist, tmp_path):
    """Each of the script's path-loss curves (3 Okumura unit readings, UMa LOS/NLOS, Friis and
    Eq. 26 with alpha = 2.25/2.5/2.75, Eq. 27 and the LoS-weighted Eq. 27-29 twice) with the
    BS's M = 4 array gain, FBL n = 100 and 1 MB in bytes: the kernel's airtime is the closed
    form's to 1e-9, and where the FBL rate is 0 (Okumura fed metres: 60 km; alpha = 2.75 at
    120 m) both say so (inf / no link)."""
    cell = t3.kernel_cell(SWEEP, col, 1, pair, gain, dist)
    if math.isfinite(cell.expected_s):
        _check_finite(cell, tmp_path / "cell.h5")
    else:
        _check_no_link(cell, tmp_path / "cell.h5")


def test_table3_sweep_covers_links_and_no_links():
    finite = [math.isfinite(t3.kernel_cell(SWEEP, c, 1, p, g, d).expected_s) for c, p, g, d in CURVES]
    assert len(CURVES) == 12 and 0 < sum(finite) < len(finite)


@pytest.mark.parametrize(("col", "pair", "dist"), [
    (1, "Okumura f[MHz], d[km] (standard); UMa NLOS (Eq. 19-20)", 1000.0),
    (2, "Friis (alpha = 2); UMa-AV LOS (Eq. 27)", 100.0),
])
def test_table3_literal_reading_has_no_link_in_the_kernel(col, pair, dist, tmp_path):
    """The literal reading (bytes, dBW, 33.3 GHz, FBL n = 1000, 1 km to the BS with M = 4,
    100 m to the UAV): the script's latency is inf in every cell, the kernel has no link."""
    reading, lat = t3.literal_reading()
    assert np.isinf(lat).all()
    cell = t3.kernel_cell(reading, col, 2, pair, 4.0 if col < 2 else 1.0, dist)
    _check_no_link(cell, tmp_path / "cell.h5")


def test_table3_readings_the_kernel_cannot_express():
    """See the module docstring: the Rayleigh-averaged MRC gain and the Eq. 11 sign."""
    best = t3.Reading(1.0, False, "dBW", "dBm", 3.5e9, "standard", "shannon")
    pair = next(iter(t3.BS_PAIRS))
    with pytest.raises(ValueError, match="mean of D/R over fading"):
        t3.kernel_cell(best, 0, 0, pair, "rayleigh4", 200.0)
    eq11 = t3.Reading(1.0, False, "dBW", "dBm", 3.5e9, "eq11", "shannon")
    with pytest.raises(ValueError, match=r"10\^\(-PL/10\)"):
        t3.kernel_cell(eq11, 0, 0, pair, 1.0, 200.0)
    with pytest.raises(ValueError, match="SISO"):
        t3.kernel_cell(best, 2, 0, next(iter(t3.UAV_PAIRS)), 4.0, 100.0)
