"""The JSON Schemas of tasktrial's documents, loaded from ``engine/schemas/``."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator

SCHEMA_NAMES = ("pack", "task", "result", "script-results")


@cache
def schema(name: str) -> dict[str, Any]:
    """The schema document called ``name`` (one of ``SCHEMA_NAMES``)."""
    text = resources.files("engine").joinpath("schemas", f"{name}.schema.json").read_text("utf-8")
    return json.loads(text)


@cache
def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(schema(name), format_checker=Draft202012Validator.FORMAT_CHECKER)


def problems(name: str, document: Any) -> list[tuple[str, str]]:
    """Every violation of schema ``name`` as ``(json path, message)``, in document order."""
    errors = sorted(validator(name).iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    return [(_path(e.absolute_path), e.message) for e in errors]


def _path(parts: Any) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out
