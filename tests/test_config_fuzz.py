"""Hostile scenario input (issue 14 item 1): every preset of both apps mutated field by field,
every `--set` override given nonsense, and YAML that a configuration must refuse. Each example
ends in a valid Scenario or one ConfigError line; never another exception.

Hypothesis runs derandomised (the same examples on every machine) without an example database;
``DESIM_FUZZ_EXAMPLES`` scales the count (default: 1,200 examples per run in all).
"""

from __future__ import annotations

import math
import os

import pytest
import yaml

from desim_iov.config import ConfigError, Scenario, load_scenario, scenario_from_dict
from desim_iov.config.loading import preset_names

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SCALE = max(1, int(os.environ.get("DESIM_FUZZ_EXAMPLES", "1200"))) / 1200


def fuzz(examples: int):
    return settings(max_examples=max(1, int(examples * SCALE)), derandomize=True, database=None, deadline=None,
                    print_blob=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PRESETS = preset_names()
DUMPS = {n: load_scenario(n).model_dump(mode="json") for n in PRESETS}


def _paths(node, prefix=()):
    """Every key path of a dumped scenario (sections and leaves)."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield (*prefix, k)
            yield from _paths(v, (*prefix, k))


PATHS = {n: sorted(set(_paths(d)), key=str) for n, d in DUMPS.items()}

NONSENSE = st.sampled_from([
    0, -1, -1e-9, 1e-30, 1e36, 3e8, 10**30, -(10**30), float("nan"), float("inf"), float("-inf"),
    "", " ", "nan", "inf", "-3 s", "0 s", "1e36 Hz", "5 parsecs", "1 TW", "1e-30 m", "10 km/h", "3e8 m/s",
    "ünïcødé ✈", "1 kB/s", "-5 GHz", "1e308 W", "true", [], {}, [1, 2], {"x": 1}, None, True, False,
])
VALUES = st.one_of(NONSENSE, st.integers(-(10**12), 10**12), st.floats(), st.text(max_size=12),
                   st.lists(st.integers(-5, 5), max_size=3))


def _set(d, path, value):
    for p in path[:-1]:
        d = d[p]
    d[path[-1]] = value


def _delete(d, path):
    for p in path[:-1]:
        d = d[p]
    d.pop(path[-1], None)


def _copy(d):
    return yaml.safe_load(yaml.safe_dump(d))


def _check(build):
    """The example's outcome: a Scenario, or one ConfigError line (anything else fails)."""
    try:
        sc = build()
    except ConfigError as e:
        msg = str(e)
        assert msg and "\n" not in msg, repr(msg)
        assert "Traceback" not in msg
        return None
    assert isinstance(sc, Scenario)
    return sc


@fuzz(800)
@given(data=st.data())
def test_mutated_presets_end_in_a_scenario_or_one_line(data):
    name = data.draw(st.sampled_from(PRESETS), label="preset")
    d = _copy(DUMPS[name])
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        path = data.draw(st.sampled_from(PATHS[name]), label="path")
        op = data.draw(st.sampled_from(["set", "set", "set", "delete", "unknown"]), label="op")
        try:
            if op == "set":
                _set(d, path, data.draw(VALUES, label="value"))
            elif op == "delete":
                _delete(d, path)
            else:
                _set(d, (*path[:-1], "bogus_key"), 1)
        except (KeyError, TypeError):  # an earlier mutation replaced a section by a scalar
            pass
    sc = _check(lambda: scenario_from_dict(d, f"preset {name} (mutated)"))
    if sc is not None:  # accepted: what was accepted round-trips
        again = scenario_from_dict(sc.model_dump(mode="json"), "round trip")
        assert again.model_dump(mode="json") == sc.model_dump(mode="json")


@fuzz(400)
@given(data=st.data())
def test_nonsense_overrides_end_in_a_scenario_or_one_line(data):
    name = data.draw(st.sampled_from(PRESETS), label="preset")
    path = data.draw(st.sampled_from(PATHS[name]), label="path")
    raw = data.draw(st.one_of(VALUES.map(lambda v: yaml.safe_dump(v, default_flow_style=True).strip()
                                         .removesuffix("...").strip()),
                              st.text(max_size=16)), label="value text")
    override = f"{'.'.join(path)}={raw}"
    _check(lambda: load_scenario(name, [override]))


HOSTILE_YAML = {
    "alias bomb": "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                  "c: [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n",
    "deep list": "extends: twin-city\nname: " + "[" * 5000 + "]" * 5000 + "\n",
    "deep map": "extends: twin-city\n" + "".join("  " * i + f"k{i}:\n" for i in range(200)) + "  " * 200 + "v: 1\n",
    "date": "extends: twin-city\nseed: 2008-02-04\n",
    "timestamp": "extends: twin-city\nname: !!timestamp 2001-12-14 21:59:43.10 -5\n",
    "binary": "extends: twin-city\nname: !!binary aGVsbG8=\n",
    "set": "extends: twin-city\nname: !!set {a, b}\n",
    "omap": "extends: twin-city\nname: !!omap [a: 1]\n",
    "python tag": "extends: twin-city\nname: !!python/object/apply:os.system [echo hi]\n",
    "duplicate key": "extends: twin-city\nduration: 10\nseed: 1\nduration: 20\n",
    "empty": "",
    "only a comment": "# nothing here\n",
    "null document": "null\n",
    "a list": "- twin-city\n",
    "tabs": "extends: twin-city\n\tduration: 10\n",
    "not utf-8": b"extends: twin-city\nname: \xff\xfe\n",
}


@pytest.mark.parametrize("case", sorted(HOSTILE_YAML))
def test_hostile_yaml_is_refused_in_one_line(case, tmp_path):
    p = tmp_path / "s.yaml"
    text = HOSTILE_YAML[case]
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ConfigError) as e:
        load_scenario(str(p))
    msg = str(e.value)
    assert "\n" not in msg and str(p) in msg, msg


def test_refusals_name_what_and_where(tmp_path):
    def err(text):
        p = tmp_path / "s.yaml"
        p.write_text(text)
        with pytest.raises(ConfigError) as e:
            load_scenario(str(p))
        return str(e.value)

    assert "s.yaml:1: malformed YAML: anchors (&a) are not allowed" in err(HOSTILE_YAML["alias bomb"])
    assert "nested more than 32 levels" in err(HOSTILE_YAML["deep list"])
    assert "s.yaml:4: malformed YAML: duplicate key 'duration' (key 'duration' first given on line 2)" in err(
        HOSTILE_YAML["duplicate key"])
    assert "the file is empty" in err("")
    assert "binary data (!!binary) are not allowed" in err(HOSTILE_YAML["binary"])
    # a plain date is text, so the field says what it wants
    assert "field 'seed'" in err(HOSTILE_YAML["date"]) and "2008-02-04" in err(HOSTILE_YAML["date"])


def test_an_alias_in_an_override_is_text_not_an_expansion():
    sc = load_scenario("twin-city", ["name=*a"])
    assert sc.name == "*a"


def test_floats_in_presets_survive_the_strict_loader():
    """The strict loader changes nothing a preset says (dates aside, none uses what it refuses)."""
    from importlib import resources

    from desim_iov.config import strict_yaml

    for n in PRESETS:
        text = resources.files("desim_iov").joinpath("scenarios", f"{n}.yaml").read_text()
        a, b = strict_yaml.load(text), yaml.safe_load(text)
        assert a == b or (isinstance(a, float) and math.isnan(a)), n
