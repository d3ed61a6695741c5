"""Loading scenarios: YAML (PyYAML's safe loader made stricter, desim_iov/config/strict_yaml.py:
no aliases, dates, binary, sets or duplicate keys, bounded nesting) validated into
:class:`Scenario`. Presets ship
in ``desim_iov/scenarios/<name>.yaml``; a scenario file may say ``extends: <preset or file>``
and override any field; ``--set key.sub=value`` overrides any field from the command line.
Every error becomes one :class:`ConfigError` line naming the source, the field, the value and
what is allowed. ``data:REL`` paths resolve against the data directory.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from desim_iov.config import strict_yaml
from desim_iov.config.schema import ConfigError, Scenario


def data_root(s: Scenario) -> Path:
    from traces.pems import default_data_dir

    return Path(s.data_dir) if s.data_dir else default_data_dir()


def resolve_path(value: str, s: Scenario) -> Path:
    """``data:REL`` -> the data directory / REL; anything else as given."""
    if value.startswith("data:"):
        return data_root(s) / value[len("data:") :]
    return Path(value)


# ---------------------------------------------------------------------------------------------
# loading


def preset_names() -> list[str]:
    files = resources.files("desim_iov").joinpath("scenarios").iterdir()
    return sorted(f.name[:-5] for f in files if f.name.endswith(".yaml"))


def _read_yaml(text: str, source: str) -> dict[str, Any]:
    try:
        data = strict_yaml.load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        context = getattr(e, "context", None)
        raise ConfigError(f"{source}{where}: malformed YAML: {problem}{f' ({context})' if context else ''}") from None
    if data is None:
        raise ConfigError(f"{source}: the file is empty (a scenario needs at least 'extends: <preset>' or 'app:')")
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a scenario must be a YAML mapping, got {type(data).__name__}")
    return data


def _load_raw(ref: str, seen: tuple[str, ...] = ()) -> tuple[dict[str, Any], str]:
    """The raw mapping of a preset name or a file, with ``extends:`` resolved."""
    if ref in preset_names():
        source = f"preset {ref}"
        text = resources.files("desim_iov").joinpath("scenarios", f"{ref}.yaml").read_text()
    else:
        path = Path(ref)
        if not path.is_file():
            raise ConfigError(
                f"scenario {ref!r}: no such preset ({', '.join(preset_names())}) or file"
            )
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"{source}: cannot read: {e}") from None
    if ref in seen:
        raise ConfigError(f"{source}: 'extends' loops back to {ref!r}")
    data = _read_yaml(text, source)
    base_ref = data.pop("extends", None)
    if base_ref is not None:
        if not isinstance(base_ref, str):
            raise ConfigError(f"{source}: field 'extends': expected a preset name or file")
        base, _ = _load_raw(base_ref, (*seen, ref))
        data = _deep_merge(base, data)
    return data, source


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key.sub=value`` strings (value parsed as YAML) to a raw scenario mapping."""
    data = json.loads(json.dumps(data))  # deep copy of plain data
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected key=value, e.g. --set vehicles.count=8")
        try:
            parsed = strict_yaml.load(value) if value.strip() else ""
        except yaml.YAMLError:
            parsed = value  # taken as text (so an alias, a tag or a bad flow stays a string)
        node = data
        parts = key.strip().split(".")
        for p in parts[:-1]:
            nxt = node.get(p)
            if nxt is None:
                nxt = node[p] = {}
            elif isinstance(nxt, str) and p == "policy":
                nxt = node[p] = {"name": nxt}
            if not isinstance(nxt, dict):
                raise ConfigError(f"--set {item!r}: field '{p}' is not a section")
            node = nxt
        node[parts[-1]] = parsed
    return data


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    model: Any = Scenario
    for part in loc[:-1]:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        ann = getattr(field, "annotation", None)
        if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
            return []
        model = ann
    return sorted(model.model_fields)


def _format_validation_error(err: ValidationError, source: str) -> str:
    e = err.errors(include_url=False)[0]
    loc = tuple(x for x in e["loc"])
    field = ".".join(str(x) for x in loc) or "(scenario)"
    if e["type"] == "extra_forbidden":
        allowed = ", ".join(_allowed_keys(loc))
        msg = f"{source}: unknown key '{field}' (allowed here: {allowed})"
    else:
        text = e["msg"].removeprefix("Value error, ")
        value = e.get("input")
        shown = "" if isinstance(value, dict) else f" (got {value!r})"
        msg = f"{source}: field '{field}': {text}{shown}" if loc else f"{source}: {text}"
    more = len(err.errors()) - 1
    return msg + (f" [and {more} more problem{'s' if more > 1 else ''}]" if more > 0 else "")


def load_scenario(ref: str = "twin-city", overrides: list[str] | None = None) -> Scenario:
    """Load a preset name or YAML file, apply ``key=value`` overrides, validate.

    Raises :class:`ConfigError` (one line) on any problem."""
    data, source = _load_raw(ref)
    data = apply_overrides(data, overrides or [])
    if overrides:
        source += " (with overrides)"
    return scenario_from_dict(data, source)


def scenario_from_dict(data: dict[str, Any], source: str = "scenario") -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_format_validation_error(e, source)) from None
