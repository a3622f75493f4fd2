"""Benchmarks stand on their own: nothing in bench/ imports the test suite (shared helpers live in testkit/)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def imports_of_tests(source: str) -> list[str]:
    """``line: module`` for every import of the ``tests`` package, wherever it appears."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [f"{node.lineno}: {name}" for name in names if name.split(".")[0] == "tests"]
    return found


@pytest.mark.parametrize("path", sorted(BENCH.glob("*.py")), ids=lambda p: p.name)
def test_a_benchmark_imports_nothing_from_tests(path: Path):
    assert imports_of_tests(path.read_text("utf-8")) == []


def test_the_check_sees_every_form_of_importing_tests():
    source = "import sys\nfrom tests.factories import write_pack\ndef f():\n    import tests.services as s\n"
    assert imports_of_tests(source) == ["2: tests.factories", "4: tests.services"]
    assert imports_of_tests("from testkit.packs import write_pack\nimport testing\n") == []
