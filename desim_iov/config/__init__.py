"""Scenario configuration: the typed schema (:mod:`.schema`), YAML loading, presets and
``--set`` overrides (:mod:`.loading`), human units (:mod:`.units`). The public names are
re-exported here: ``from desim_iov.config import Scenario, load_scenario``."""

from desim_iov.config.loading import (
    apply_overrides,
    data_root,
    load_scenario,
    preset_names,
    resolve_path,
    scenario_from_dict,
)
from desim_iov.config.schema import PREDICTORS, ConfigError, Scenario

__all__ = [
    "PREDICTORS", "ConfigError", "Scenario", "apply_overrides", "data_root",
    "load_scenario", "preset_names", "resolve_path", "scenario_from_dict",
]
