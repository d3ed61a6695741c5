"""Scenario configuration: units, presets (twin-migration Table I), overrides, clear errors."""

from __future__ import annotations

import json

import pytest

from desim_iov.config import ConfigError, Scenario, load_scenario, preset_names
from desim_iov.config.units import UnitError, parse_quantity


@pytest.mark.parametrize(
    ("text", "dim", "si"),
    [
        ("60 MB", "bit", 480e6),
        ("300 MB", "bit", 2.4e9),
        ("1 MiB", "bit", 8 * 2**20),
        ("100 kB", "bit", 800e3),
        ("12000 bit", "bit", 12e3),
        ("300 MHz", "Hz", 300e6),
        ("32 GHz", "Hz", 32e9),
        ("30 s", "s", 30.0),
        ("10 min", "s", 600.0),
        ("1200 m", "m", 1200.0),
        ("1.5 km", "m", 1500.0),
        ("3.7 m/s", "m/s", 3.7),
        ("36 km/h", "m/s", 10.0),
        ("2 MB/s", "bit/s", 16e6),
        ("100 Mbit/s", "bit/s", 100e6),
        ("30 dBm", "W", 1.0),
        ("0 dBW", "W", 1.0),
        ("200 mW", "W", 0.2),
        (42, "s", 42.0),
    ],
)
def test_units_convert_human_values_to_si(text, dim, si):
    assert parse_quantity(text, dim) == pytest.approx(si)


@pytest.mark.parametrize(("text", "dim"), [("3 m", "Hz"), ("fast", "s"), ("5 parsecs", "m"), (True, "s")])
def test_units_reject_wrong_dimension_or_garbage(text, dim):
    with pytest.raises(UnitError):
        parse_quantity(text, dim)


def test_presets_carry_table_one():
    assert {"twin-city", "twin-rural"} <= set(preset_names())
    for name in ("twin-city", "twin-rural"):
        s = load_scenario(name)
        assert s.vehicles.count == 5
        assert s.uavs.count == 10
        assert 68 <= s.rsus.count <= 84
        assert s.satellite.enabled
        assert s.vehicles.twin_size == 60e6 * 8
        assert s.rsus.cpu == 32e9 and s.uavs.cpu == 32e9
        assert s.satellite.cpu == 80e9
        assert s.rsus.cache == 300e6 * 8
        assert s.rsus.bandwidth_up == s.rsus.bandwidth_down == 300e6
        assert s.rsus.range == 1200.0 and s.uavs.range == 1500.0
        assert s.uavs.altitude == 50.0 and s.uavs.speed == pytest.approx(3.7)
        assert s.vehicles.cycles_per_bit == 1000
        assert s.slot == 30.0
    city, rural = load_scenario("twin-city"), load_scenario("twin-rural")
    assert city.rsus.layout == "grid" and rural.rsus.layout == "scattered"
    assert rural.area.width * rural.area.height > city.area.width * city.area.height


def test_set_overrides_any_field_and_policy_shorthand():
    s = load_scenario("twin-city", ["vehicles.count=7", "policy=random", "rsus.cpu=10 GHz"])
    assert s.vehicles.count == 7
    assert s.policy.name == "random"
    assert s.rsus.cpu == 10e9


def test_extends_merges_a_file_over_a_preset(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text("extends: twin-rural\nname: mine\nvehicles:\n  count: 3\n")
    s = load_scenario(str(f))
    assert (s.name, s.vehicles.count, s.rsus.layout) == ("mine", 3, "scattered")


def test_scenario_json_round_trips():
    s = load_scenario("twin-rural")
    assert Scenario.model_validate(json.loads(s.to_json())) == s


@pytest.mark.parametrize(
    ("overrides", "expect"),
    [
        (["bogus=1"], "unknown key 'bogus'"),
        (["vehicles.colour=red"], "unknown key 'vehicles.colour'"),
        (["vehicles.count=many"], "field 'vehicles.count'"),
        (["vehicles.twin_size=-60 MB"], "field 'vehicles.twin_size': must be > 0"),
        (["rsus.bandwidth_up=0 MHz"], "field 'rsus.bandwidth_up': must be > 0"),
        (["rsus.cpu=3 m"], "not a Hz unit"),
        (["vehicles.speed_min=30", "vehicles.speed_max=10"], "speed_min"),
        (["slot=7 s", "mobility_step=2 s"], "whole multiple"),
        (["rsus.count=0", "uavs.count=0", "satellite.enabled=false"], "no edge server"),
        (["fidelity=fluid"], "field 'fidelity'"),
        (["duration"], "expected key=value"),
        (["rsus.bandwidth_up=.inf"], "field 'rsus.bandwidth_up': Input should be a finite number"),
        (["vehicles.traffic.data_rate=.inf"], "field 'vehicles.traffic.data_rate'"),
        (["vehicles.twin_size=inf MB"], "field 'vehicles.twin_size'"),
        (["channel.noise_figure=.nan"], "field 'channel.noise_figure'"),
        (["vehicles.count=true"], "field 'vehicles.count': Input should be a valid integer"),
        (["vehicles.count=2.5"], "field 'vehicles.count'"),
        (["satellite.enabled=1"], "field 'satellite.enabled': Input should be a valid boolean"),
    ],
)
def test_bad_values_give_one_line_naming_field_and_value(overrides, expect):
    with pytest.raises(ConfigError) as e:
        load_scenario("twin-city", overrides)
    msg = str(e.value)
    assert expect in msg
    assert "\n" not in msg


def test_unknown_preset_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="no such preset"):
        load_scenario("no-such-thing")
    bad = tmp_path / "bad.yaml"
    bad.write_text("vehicles:\n  count: [1, 2\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:\d+: malformed YAML"):
        load_scenario(str(bad))
    lst = tmp_path / "list.yaml"
    lst.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must be a YAML mapping"):
        load_scenario(str(lst))


def test_offload_urban_is_the_task_offloading_preset():
    """The twin-migration preset on the quantum-DRL radio is twin-urban-fbl; offload-urban is
    the task-offloading app's."""
    assert {"twin-urban-fbl", "offload-urban"} <= set(preset_names())
    assert load_scenario("twin-urban-fbl").app == "twin_migration"
    assert load_scenario("offload-urban").app == "task_offloading"
