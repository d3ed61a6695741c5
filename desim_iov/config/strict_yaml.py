"""The YAML dialect of scenario and sweep files: PyYAML's safe loader, stricter.

``yaml.safe_load`` never runs code, but it still accepts input that a configuration should not:

- **aliases** (``*name``): a "billion laughs" document of nested aliases is a few hundred bytes
  and expands to gigabytes once the mapping is copied (overrides are applied to a JSON copy).
  Anchors and aliases are refused; write the value out.
- **deep nesting**: PyYAML composes nodes recursively, so a document nested a few thousand
  levels deep ends in ``RecursionError``. More than :data:`MAX_DEPTH` levels are refused.
- **typed scalars** a scenario never holds: ``!!timestamp`` (and plain dates such as
  ``2008-02-04``, which are read as text, so a field that wants a number or a string says so in
  its own words), ``!!binary``, ``!!set``, ``!!omap``, ``!!pairs``.
- **duplicate keys**: PyYAML keeps the last one silently; here they are an error naming both
  lines.

Every refusal is a :class:`yaml.MarkedYAMLError`, so callers that already turn YAML errors into
one line with the line number keep doing so.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.events import AliasEvent

MAX_DEPTH = 32  # nesting levels of a scenario or sweep file (the deepest preset uses 4)

_REFUSED_TAGS = {
    "tag:yaml.org,2002:binary": "binary data (!!binary)",
    "tag:yaml.org,2002:set": "sets (!!set)",
    "tag:yaml.org,2002:omap": "ordered maps (!!omap)",
    "tag:yaml.org,2002:pairs": "pairs (!!pairs)",
    "tag:yaml.org,2002:timestamp": "timestamps (!!timestamp; write the date as text)",
}


class StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` without aliases, dates-as-datetimes, binary, sets or duplicate keys,
    and with a nesting limit."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(AliasEvent):
            event = self.peek_event()
            raise ConstructorError(None, None, f"aliases (*{event.anchor}) are not allowed here; "
                                   "write the value out", event.start_mark)
        event = self.peek_event()
        if getattr(event, "anchor", None) is not None:
            raise ConstructorError(None, None, f"anchors (&{event.anchor}) are not allowed here; "
                                   "write the value out", event.start_mark)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise ConstructorError(None, None, f"nested more than {MAX_DEPTH} levels deep",
                                       event.start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise ConstructorError(None, None, "a mapping key must be a plain value",
                                       key_node.start_mark) from None
            if key in seen:
                raise ConstructorError(f"key {key!r} first given on line {seen[key].line + 1}", None,
                                       f"duplicate key {key!r}", key_node.start_mark)
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def _refuse(what: str) -> Any:
    def construct(loader: StrictLoader, node: Any) -> Any:
        raise ConstructorError(None, None, f"{what} are not allowed here", node.start_mark)

    return construct


for _tag, _what in _REFUSED_TAGS.items():
    StrictLoader.add_constructor(_tag, _refuse(_what))
# plain dates (2008-02-04) are text, as they are in JSON: drop the implicit timestamp resolver
StrictLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load(text: str) -> Any:
    """Parse ``text`` with :class:`StrictLoader`; ``yaml.YAMLError`` (marked with the line where
    it can be) on anything refused."""
    return yaml.load(text, Loader=StrictLoader)  # noqa: S506 - a SafeLoader subclass
