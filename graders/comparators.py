"""Output comparators for the ``io`` kind: pure functions, ``(actual, expected) -> (ok, why)``.

- ``exact``: byte-for-byte after decoding, except a single trailing newline.
- ``whitespace``: equal as sequences of whitespace-separated tokens.
- ``numeric``: equal token by token; numbers within ``abs_tol`` or ``rel_tol``.
- ``regex``: the expected text is a regular expression the whole output must match.
(``checker`` runs an author's program instead and lives in the io grader.)
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

Comparison = tuple[bool, str]
#: The ``numeric`` comparator's tolerances when a task names none (``docs/authoring.md`` reads these).
DEFAULT_ABS_TOL = 1e-9
DEFAULT_REL_TOL = 1e-9
DEFAULT_TYPE = "whitespace"
Comparator = Callable[[str, str], Comparison]


def exact(actual: str, expected: str) -> Comparison:
    a, e = _one_newline(actual), _one_newline(expected)
    if a == e:
        return True, ""
    return False, _first_difference(a.split("\n"), e.split("\n"), "line")


def whitespace(actual: str, expected: str) -> Comparison:
    a, e = actual.split(), expected.split()
    if a == e:
        return True, ""
    return False, _first_difference(a, e, "token")


def numeric(abs_tol: float = DEFAULT_ABS_TOL, rel_tol: float = DEFAULT_REL_TOL) -> Comparator:
    def compare(actual: str, expected: str) -> Comparison:
        a, e = actual.split(), expected.split()
        if len(a) != len(e):
            return False, f"expected {len(e)} tokens, got {len(a)}"
        for index, (got, want) in enumerate(zip(a, e, strict=True), start=1):
            want_number, got_number = _number(want), _number(got)
            if want_number is None:
                if got != want:
                    return False, f"token {index}: expected {want!r}, got {got!r}"
            elif got_number is None or not math.isclose(got_number, want_number, rel_tol=rel_tol, abs_tol=abs_tol):
                return False, f"token {index}: expected {want} (±{abs_tol:g} or {rel_tol:g} relative), got {got!r}"
        return True, ""

    return compare


def regex(actual: str, expected: str) -> Comparison:
    try:
        pattern = re.compile(expected.rstrip("\n"), re.DOTALL)
    except re.error as exc:
        return False, f"the expected pattern is not a valid regular expression: {exc}"
    if pattern.fullmatch(_one_newline(actual)):
        return True, ""
    return False, "the output does not match the expected pattern"


def from_config(config: Mapping[str, Any] | None) -> Comparator:
    """The comparator a task's ``grader.comparator`` block names (``whitespace`` by default)."""
    config = dict(config or {"type": DEFAULT_TYPE})
    kind = config.get("type", DEFAULT_TYPE)
    if kind == "exact":
        return exact
    if kind == "whitespace":
        return whitespace
    if kind == "numeric":
        return numeric(
            abs_tol=float(config.get("abs_tol", DEFAULT_ABS_TOL)), rel_tol=float(config.get("rel_tol", DEFAULT_REL_TOL))
        )
    if kind == "regex":
        return regex
    raise ValueError(f"comparator {kind!r} is not a pure comparator")


def _one_newline(text: str) -> str:
    text = text.replace("\r\n", "\n")
    return text.removesuffix("\n")


def _number(token: str) -> float | None:
    try:
        value = float(token)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _first_difference(actual: list[str], expected: list[str], unit: str) -> str:
    for index, (got, want) in enumerate(zip(actual, expected, strict=False), start=1):
        if got != want:
            return f"{unit} {index}: expected {want[:200]!r}, got {got[:200]!r}"
    if len(actual) < len(expected):
        return f"output ends early: expected {len(expected)} {unit}s, got {len(actual)}"
    return f"unexpected extra output after {len(expected)} {unit}s: {actual[len(expected)][:200]!r}"
