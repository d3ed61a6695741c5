"""The cost of a run before it starts (issue 14 item 2): announced when long, refused beyond
the limit unless --force."""

from __future__ import annotations

import pytest

from desim_iov.config import load_scenario
from desim_iov.estimate import REFUSE_EVENTS, SAY_EVENTS, check_cost, estimate


def test_the_estimate_counts_packets_mobility_and_slots():
    sc = load_scenario("twin-city", ["duration=100", "vehicles.count=2", "uavs.count=0",
                                     "vehicles.traffic.data_rate=8 Mbit/s", "vehicles.traffic.packet_size=1 MB"])
    e = estimate(sc)
    assert e.packets == pytest.approx(2 * 1.0 * 100)  # 2 vehicles x 1 packet/s x 100 s
    assert e.mobility == pytest.approx(2 * 100 / sc.mobility_step)
    assert e.slots == pytest.approx(100 / sc.slot)
    assert e.events == pytest.approx(6 * e.packets + e.mobility + e.slots)
    slot = estimate(load_scenario("twin-city", ["duration=100", "fidelity=slot"]))
    assert slot.packets == 0


def test_presets_run_without_a_word_and_tiny_packets_are_refused_unless_forced():
    for name in ("twin-city", "offload-urban"):
        assert check_cost(load_scenario(name), force=False) is None
    tiny = load_scenario("twin-city", ["duration=1 h", "vehicles.traffic.packet_size=1 B"])
    assert estimate(tiny).events > REFUSE_EVENTS
    with pytest.raises(ValueError, match=r"refused \(limit 3e\+09 events\).*--force") as e:
        check_cost(tiny, force=False)
    assert "\n" not in str(e.value) and "days of wall time" in str(e.value)
    assert "kernel events" in check_cost(tiny, force=True)
    long = load_scenario("twin-city", ["duration=1 h", "vehicles.traffic.packet_size=2 kB"])
    assert SAY_EVENTS <= estimate(long).events < REFUSE_EVENTS
    assert check_cost(long, force=False).startswith("expected ~")


def test_the_cli_refuses_in_one_line_before_building_anything(tmp_path, capsys):
    from desim_iov.cli import main

    out = tmp_path / "t.h5"
    rc = main(["run", "--set", "duration=1 h", "--set", "vehicles.traffic.packet_size=1 B", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "--force" in err and not out.exists()
