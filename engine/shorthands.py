"""The shorthands authors may write in ``pack.yaml`` and ``task.yaml``, and their canonical forms.

The JSON Schemas accept both forms of each field (a ``oneOf``); ``canonical``
validates a document and rewrites every shorthand into its long form, once,
when a pack is loaded, so everything after (graders, the API, result
documents) meets one form only.

    authors: Alice                          ->  authors: [Alice]
    micro_skills: python.text               ->  micro_skills: [python.text]
    grader: pytest                          ->  grader: {kind: pytest}
    grader.checks: {match: "*", ...}        ->  grader.checks: [{match: "*", ...}]
    grader.cases: {name: a, expected: b}    ->  grader.cases: [{name: a, expected: b}]
    grader.command: python3 main.py         ->  grader.command: [python3, main.py]
    grader.start: python3 app.py            ->  grader.start: [python3, app.py]
    grader.comparator: exact                ->  grader.comparator: {type: exact}
    grader.comparator.command: ./check a    ->  grader.comparator.command: [./check, a]

A command string is split into words as a POSIX shell would (quotes,
escapes), but no shell runs it: no pipes, redirections, variables or globs.
"""

from __future__ import annotations

import copy
import shlex
from collections.abc import Callable
from typing import Any

from engine import schemas

FieldPath = tuple[str, ...]
Rewrite = Callable[[Any, str, list[tuple[str, str]]], Any]

#: Characters that, unquoted, make a shell pipe, redirect, chain or group, and no shell runs a command.
SHELL_OPERATOR_CHARS = frozenset("|&;<>()")


def one_item(value: Any, where: str, problems: list[tuple[str, str]]) -> Any:
    """A single item where a list is expected: the list of that one item."""
    return [value]


def named(key: str) -> Rewrite:
    """A bare name where a mapping with ``key`` is expected: ``{key: name}``."""

    def rewrite(value: Any, where: str, problems: list[tuple[str, str]]) -> Any:
        return {key: value}

    return rewrite


def words(value: Any, where: str, problems: list[tuple[str, str]]) -> Any:
    """A command line as one string: its words, split as a POSIX shell would, never run by one."""
    try:
        argv = shlex.split(value)
    except ValueError as exc:
        problems.append((where, f"{value!r} cannot be split into words ({exc}); write the command as a list"))
        return value
    operator = _unquoted_operator(value)
    if operator:
        problems.append(
            (
                where,
                (
                    f"{value!r} uses the shell operator {operator!r}, but no shell runs the "
                    "command; put that in a script and run the script"
                ),
            )
        )
    return argv


def _unquoted_operator(line: str) -> str:
    """The first shell operator of ``line`` outside quotes and escapes (POSIX rules), or ``""``."""
    quote, index = "", 0
    while index < len(line):
        char = line[index]
        if quote == "'":
            quote = "" if char == "'" else quote
        elif char == "\\":
            index += 1  # the next character is literal (in double quotes only \" matters here)
        elif quote == '"':
            quote = "" if char == '"' else quote
        elif char in "'\"":
            quote = char
        elif char in SHELL_OPERATOR_CHARS:
            end = index
            while end < len(line) and line[end] in SHELL_OPERATOR_CHARS:
                end += 1
            return line[index:end]
        index += 1
    return ""


#: Each shorthand: where it may appear, the Python type that marks it, and how it becomes canonical.
#: Parents come before children, so a child is found in its parent's canonical form.
SHORTHANDS: dict[str, tuple[tuple[FieldPath, type, Rewrite], ...]] = {
    "pack": ((("authors",), str, one_item),),
    "task": (
        (("micro_skills",), str, one_item),
        (("grader",), str, named("kind")),
        (("grader", "checks"), dict, one_item),
        (("grader", "cases"), dict, one_item),
        (("grader", "command"), str, words),
        (("grader", "start"), str, words),
        (("grader", "comparator"), str, named("type")),
        (("grader", "comparator", "command"), str, words),
    ),
}


def canonical(schema: str, document: Any) -> tuple[Any, list[tuple[str, str]]]:
    """Validate ``document`` against ``schema`` and rewrite every shorthand in it to the canonical form.

    Args:
        schema: a name of ``engine.schemas`` (only ``pack`` and ``task`` have shorthands).
        document: the parsed YAML; not modified.

    Returns:
        The canonical document, and every problem as ``(json path, message)``: the
        schema's, a command string that cannot be split or that needs a shell, and
        (when there is nothing else) anything the canonical form breaks in the schema,
        e.g. a command of only whitespace.
    """
    found = schemas.problems(schema, document)
    if not isinstance(document, dict):
        return document, found
    document = copy.deepcopy(document)
    rewriting: list[tuple[str, str]] = []
    for path, shorthand_type, rewrite in SHORTHANDS.get(schema, ()):
        parent = document
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if isinstance(parent, dict) and isinstance(parent.get(path[-1]), shorthand_type):
            parent[path[-1]] = rewrite(parent[path[-1]], "$." + ".".join(path), rewriting)
    if not found and not rewriting:
        found = schemas.problems(schema, document)
    return document, sorted(found + rewriting, key=lambda problem: problem[0])
