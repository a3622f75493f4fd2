"""The one way tasktrial reads YAML that someone else wrote (packs, tasks, http checks).

Plain ``yaml.safe_load`` builds no objects but still expands aliases: a
534-byte document with nested ``&a [*b, *b, ...]`` anchors grows by ten
for each level (a "billion laughs"), and silently keeps the last of two
equal keys. This loader refuses what an author never needs and an attacker
does: anchors and aliases, duplicate keys, nesting deeper than
``MAX_DEPTH``, documents over ``MAX_BYTES``. Every refusal names the line.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.events import AliasEvent, CollectionStartEvent, ScalarEvent
from yaml.nodes import MappingNode, Node

MAX_BYTES = 256 * 1024
MAX_DEPTH = 64


class YamlRefused(yaml.YAMLError):
    """The document is well-formed YAML but uses something this loader refuses."""


class _StrictLoader(yaml.SafeLoader):
    """``SafeLoader`` without anchors, aliases, duplicate keys or deep nesting."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event = self.peek_event()
        line = event.start_mark.line + 1
        if isinstance(event, AliasEvent):
            raise YamlRefused(f"line {line}: alias *{event.anchor} refused: anchors and aliases are not allowed")
        if isinstance(event, (ScalarEvent, CollectionStartEvent)) and event.anchor is not None:
            raise YamlRefused(f"line {line}: anchor &{event.anchor} refused: anchors and aliases are not allowed")
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise YamlRefused(f"line {line}: nested deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                earlier = first_line.get(key)
            except TypeError:
                continue  # an unhashable key: SafeConstructor reports it below
            line = key_node.start_mark.line + 1
            if earlier is not None:
                raise YamlRefused(f"line {line}: duplicate key {_short(key)!r} (first at line {earlier})")
            first_line[key] = line
        return super().construct_mapping(node, deep=deep)


def load(text: str) -> Any:
    """Parse one YAML document under the rules above.

    Raises:
        yaml.YAMLError: the text is not YAML, or ``YamlRefused`` (a subclass)
            for an alias, an anchor, a duplicate key, too deep a nesting or
            too long a document; the message names the line.
    """
    if len(text) > MAX_BYTES:
        raise YamlRefused(f"the document is longer than {MAX_BYTES} characters")
    loader = _StrictLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _short(value: Any, limit: int = 80) -> str:
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "..."
