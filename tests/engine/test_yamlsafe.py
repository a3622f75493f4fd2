"""The one YAML loader for documents others wrote: no aliases, no duplicate keys, bounded depth and size."""

from __future__ import annotations

import pytest
import yaml

from engine import yamlsafe
from engine.yamlsafe import YamlRefused


def alias_bomb(levels: int) -> str:
    """The "billion laughs" of YAML: each level lists the previous one ten times, through an alias."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_plain_documents_load_as_with_safe_load():
    text = "id: demo\nlist: [1, two, 3.5]\nnested: {a: {b: [true, null]}}\nmerge:\n  <<: {x: 1}\n  y: 2\n"
    assert yamlsafe.load(text) == yaml.safe_load(text)


def test_an_alias_bomb_is_refused_at_its_first_anchor():
    with pytest.raises(YamlRefused, match=r"line 1: anchor &a0 refused"):
        yamlsafe.load(alias_bomb(9))


@pytest.mark.parametrize("text, line", [("a: &x 1\nb: *x\n", 1), ("a: 1\nb: !!str &x 2\n", 2), ("a: [*x]\n", 1)])
def test_every_anchor_and_alias_is_refused_with_its_line(text, line):
    with pytest.raises(YamlRefused, match=rf"^line {line}: (anchor|alias) "):
        yamlsafe.load(text)


def test_a_duplicate_key_is_refused_naming_the_key_and_both_lines():
    with pytest.raises(YamlRefused, match=r"line 4: duplicate key 'id' \(first at line 1\)"):
        yamlsafe.load("id: one\ntitle: t\nnested: {id: fine-here}\nid: two\n")


def test_a_duplicate_key_in_a_nested_mapping_is_refused_too():
    with pytest.raises(YamlRefused, match=r"line 3: duplicate key 'kind'"):
        yamlsafe.load("grader:\n  kind: io\n  kind: pytest\n")


def test_nesting_deeper_than_the_cap_is_refused_not_a_recursion_error():
    depth = yamlsafe.MAX_DEPTH + 1
    with pytest.raises(YamlRefused, match="nested deeper"):
        yamlsafe.load("[" * depth + "]" * depth)
    with pytest.raises(YamlRefused):
        yamlsafe.load("[" * 100_000)


def test_a_document_over_the_size_cap_is_refused_before_parsing():
    with pytest.raises(YamlRefused, match="longer than"):
        yamlsafe.load("x: " + "a" * yamlsafe.MAX_BYTES)


def test_refusals_are_yaml_errors_so_every_caller_reports_them_as_invalid_yaml():
    assert issubclass(YamlRefused, yaml.YAMLError)
