"""Every name a scenario may use is a key of the registry that implements it: the config's
choices and the registries are the same lists (one definition each)."""

from __future__ import annotations

import typing

import pytest

from desim_iov.apps import APPS, app_class
from desim_iov.build import RSU_LAYOUTS, UAV_MOBILITY, VEHICLE_MOBILITY
from desim_iov.config.schema import Background, Channel, RSUs, Scenario, Traffic, UAVs, Vehicles
from desim_iov.fidelity import FIDELITIES
from desim_iov.radio import RATE_MODELS
from desim_iov.servers import BACKGROUNDS
from desim_iov.traffic import ARRIVALS


def choices(model, field: str) -> set[str]:
    return set(typing.get_args(model.model_fields[field].annotation))


@pytest.mark.parametrize(("model", "field", "registry"), [
    (Scenario, "app", APPS),
    (Scenario, "fidelity", FIDELITIES),
    (Channel, "rate", RATE_MODELS),
    (Background, "model", BACKGROUNDS),
    (Traffic, "arrivals", ARRIVALS),
    (RSUs, "layout", RSU_LAYOUTS),
    (UAVs, "mobility", UAV_MOBILITY),
    (Vehicles, "mobility", VEHICLE_MOBILITY),
])
def test_config_choices_are_the_registry(model, field, registry):
    assert choices(model, field) == set(registry)


def test_every_app_loads_and_names_itself():
    for name in APPS:
        assert app_class(name).name == name
    with pytest.raises(KeyError, match="unknown app 'nope'"):
        app_class("nope")


def test_listing_policies_imports_no_policy_module():
    """The declarative registry: names and help without importing torch or scipy."""
    import subprocess
    import sys

    code = ("import sys; from agents.base import policy_names; assert 'dm-mappo' in policy_names(); "
            "print(sorted(m for m in ('torch', 'scipy', 'agents.heuristics') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
