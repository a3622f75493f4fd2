"""The JSON Schemas of tasktrial's documents, loaded from ``engine/schemas/``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # jsonschema is imported when a document is validated: naming a schema stays cheap
    from jsonschema import Draft202012Validator, ValidationError

SCHEMA_NAMES = ("pack", "task", "result", "script-results")


@cache
def schema(name: str) -> dict[str, Any]:
    """The schema document called ``name`` (one of ``SCHEMA_NAMES``)."""
    text = resources.files("engine").joinpath("schemas", f"{name}.schema.json").read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


@cache
def validator(name: str) -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema(name), format_checker=Draft202012Validator.FORMAT_CHECKER)


def problems(name: str, document: Any) -> list[tuple[str, str]]:
    """Every violation of schema ``name`` as ``(json path, message)``, in document order.

    A value that fits none of a ``oneOf`` (a shorthand or its long form) is
    explained by the form whose type it has, so an author reads what is wrong
    with what they wrote rather than "is not valid under any of the given schemas".
    """
    errors = [leaf for error in validator(name).iter_errors(document) for leaf in _explained(error)]
    errors.sort(key=lambda found: list(map(str, found[0])))
    return [(_path(where), message) for where, message in errors]


def _explained(error: ValidationError) -> list[tuple[Sequence[Any], str]]:
    """The leaf problems of ``error``: a ``oneOf``/``anyOf`` is replaced by the errors of its fitting branch."""
    where = list(error.absolute_path)
    if error.validator not in ("oneOf", "anyOf") or not error.context:
        return [(where, error.message)]
    branches: dict[int, list[ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
    wrong_type = {
        index
        for index, subs in branches.items()
        if any(s.validator == "type" and list(s.absolute_path) == where for s in subs)
    }
    fitting = [index for index in sorted(branches) if index not in wrong_type]
    if not fitting:
        types = [
            t
            for index in sorted(branches)
            for s in branches[index]
            if s.validator == "type" and list(s.absolute_path) == where
            for t in (s.validator_value if isinstance(s.validator_value, list) else [s.validator_value])
        ]
        return [(where, f"{error.instance!r} is not of type {' or '.join(map(repr, dict.fromkeys(types)))}")]
    index = fitting[0]
    branch = error.validator_value[index] if isinstance(error.validator_value, list) else None
    hint = branch.get("description") if isinstance(branch, dict) else None
    found = []
    for sub in branches[index]:
        for leaf_where, message in _explained(sub):
            found.append((leaf_where, f"{message} ({hint})" if hint and list(leaf_where) == where else message))
    return found


def _path(parts: Any) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out
