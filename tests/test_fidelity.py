"""fidelity: slot against fidelity: packet on the same scenario, seed and policy.

Both evaluate the paper's per-slot formulas (Eq. 6-14) at the same decision instants and
positions; they differ only in how the caches evolve between epochs (per-packet FIFO vs a
per-slot fluid) and in the background's random draws (per second vs per slot). Tolerance
(docs/MODEL.md): O_T and O_V within 5 %, migrations and O_D within 5 % (equal in practice)."""

from __future__ import annotations

import pytest
from conftest import tiny

from agents.base import make_policy
from analysis.summary import summarize
from desim_iov.fidelity import SlotFidelity
from desim_iov.sim import make_simulation
from traces.reader import open_trace


@pytest.mark.parametrize("scenario", ["twin-city", "twin-rural"])
@pytest.mark.parametrize("seed", [1, 2])
def test_slot_fidelity_agrees_with_packet_fidelity(tmp_path, scenario, seed):
    totals = {}
    for fid in ("packet", "slot"):
        sc = tiny(scenario, f"fidelity={fid}", f"seed={seed}", "duration=600")
        out = tmp_path / f"{fid}.h5"
        sim = make_simulation(sc, make_policy("greedy"), trace_path=str(out))
        assert (sim.fidelity is SlotFidelity) == (fid == "slot")
        sim.run()
        totals[fid] = summarize(out).total
    p, s = totals["packet"], totals["slot"]
    for key in ("O_T_formula_s", "O_V_formula_bit2"):
        assert s[key] == pytest.approx(p[key], rel=0.05), key
    assert s["migrations"] == pytest.approx(p["migrations"], rel=0.05)
    assert s["O_D_formula"] == pytest.approx(p["O_D_formula"], rel=0.05, abs=0.05)


def test_slot_fidelity_writes_the_same_schema_without_packets(tmp_path):
    out = tmp_path / "s.h5"
    make_simulation(tiny("twin-city", "fidelity=slot"), make_policy("random"), trace_path=str(out)).run()
    tr = open_trace(out)
    assert tr.complete and len(tr.df("packets")) == 0
    assert len(tr.df("slots")) == 3 * 5 and len(tr.df("decisions")) == 3 * 5
    assert set(tr.df("server_load").time) == {0.0, 30.0, 60.0}


def test_slot_fidelity_losses_reach_the_trace(tmp_path):
    """Slot data that reaches no cache is a /fluid_losses row (schema 1.3), summed in the root
    attribute fluid_lost_bits: small caches force overflows, the packet fidelity writes none."""
    small = ["rsus.cache=25 MB", "uavs.cache=25 MB", "satellite.cache=25 MB", "duration=300",
             "slot=10 s"]
    out = tmp_path / "slot.h5"
    sim = make_simulation(tiny("twin-city", "fidelity=slot", *small), make_policy("random"), trace_path=str(out))
    sim.run()
    tr = open_trace(out)
    lost = tr.df("fluid_losses")
    assert len(lost) > 0 and set(lost.reason) <= {0, 1}
    assert (lost.bits == sim.scenario.slot_bits).all()
    assert tr.attrs["fluid_lost_bits"] == pytest.approx(lost.bits.sum())
    assert sim.stats.fluid_lost_bits == pytest.approx(lost.bits.sum())
    slots = tr.df("slots")
    # every lost row is a vehicle that acted in that slot
    keys = set(zip(slots.slot, slots.vehicle, strict=True))
    assert all(k in keys for k in zip(lost.slot, lost.vehicle, strict=True))
    out_p = tmp_path / "packet.h5"
    make_simulation(tiny("twin-city", *small), make_policy("random"), trace_path=str(out_p)).run()
    tr_p = open_trace(out_p)
    assert len(tr_p.df("fluid_losses")) == 0 and tr_p.attrs["fluid_lost_bits"] == 0.0
