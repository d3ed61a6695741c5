"""Plausibility bounds (issue 14 item 2): every number of the schema has one, every preset lies
inside them, nonsense is refused in one line naming the field, and docs/USAGE.md shows the
table the code uses."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from desim_iov.config import ConfigError, Scenario, load_scenario
from desim_iov.config.bounds import BOUNDS, bound_for, markdown_table
from desim_iov.config.loading import preset_names

ROOT = Path(__file__).resolve().parents[1]


def _numeric_fields(model: type[BaseModel], prefix: str = ""):
    """Every field path of the schema that holds numbers (directly, in a list, tuple or dict)."""
    for name, f in model.model_fields.items():
        path = f"{prefix}{name}"
        if path in ("policy", "vehicles.trace_options"):
            continue
        nested = [a for a in _flat(f.annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
        for sub in nested:
            yield from _numeric_fields(sub, path + ".")
        if not nested and any(a in (int, float) for a in _flat(f.annotation)):
            yield path + (".h_x" if "dict" in str(f.annotation) else "")


def _flat(ann):
    out = [ann]
    for a in typing.get_args(ann):
        out += _flat(a)
    return out


def test_every_number_of_the_schema_has_a_bound():
    missing = [p for p in _numeric_fields(Scenario) if bound_for(p) is None]
    assert not missing, missing


def test_every_bound_is_used_and_well_formed():
    fields = list(_numeric_fields(Scenario)) + ["rsus.pathloss_params.exponent"]
    for b in BOUNDS:
        assert b.lo < b.hi and b.why, b
        assert any(bound_for(p) is b for p in fields), f"bound {b.pattern!r} matches no field first"


@pytest.mark.parametrize("name", preset_names())
def test_presets_are_plausible(name):
    assert isinstance(load_scenario(name), Scenario)


@pytest.mark.parametrize(("override", "field"), [
    ("vehicles.speed_max=3e8", "vehicles.speed_max"),
    ("rsus.tx_power=1e12", "rsus.tx_power"),
    ("vehicles.z_max=1e9", "vehicles.z_max"),
    ("area.width=1e-30", "area.width"),
    ("rsus.bandwidth_up=1e36", "rsus.bandwidth_up"),
    ("vehicles.max_ascent_deg=90", "vehicles.max_ascent_deg"),
    ("channel.carrier_frequency=1e20", "channel.carrier_frequency"),
    ("satellite.altitude=10", "satellite.altitude"),
])
def test_nonsense_is_refused_in_one_line_naming_field_value_and_range(override, field):
    with pytest.raises(ConfigError) as e:
        load_scenario("twin-city", [override])
    msg = str(e.value)
    assert "\n" not in msg and f"field '{field}'" in msg and "plausible range" in msg, msg


@pytest.mark.parametrize("override", [
    "offload.tasks.deadline=10 ms", "vehicles.z_max=20", "offload.energy.node_budget=33.2",
    "rsus.bandwidth_up=300 GHz", "uavs.altitude=20 km", "vehicles.speed_max=120 m/s",
])
def test_odd_but_meant_values_are_accepted(override):
    base = "offload-urban" if override.startswith(("offload", "vehicles.z")) else "twin-city"
    load_scenario(base, [override])


def test_usage_shows_the_bounds_table_the_code_uses():
    assert markdown_table() in (ROOT / "docs" / "USAGE.md").read_text()
