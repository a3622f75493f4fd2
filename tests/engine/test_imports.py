"""The engine is the domain: it must not import web, queue, storage or Docker libraries."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parents[2] / "engine"
FORBIDDEN = frozenset(
    {"fastapi", "starlette", "celery", "redis", "docker", "sqlalchemy", "sqlmodel", "httpx", "uvicorn", "kombu"}
)
SOURCES = sorted(ENGINE.rglob("*.py"))


def forbidden_imports(source: str, filename: str) -> list[str]:
    """``line: module`` for every import of a forbidden top-level package, wherever it appears (also inside functions)."""
    found = []
    for node in ast.walk(ast.parse(source, filename=filename)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [f"{node.lineno}: {name}" for name in names if name.split(".")[0] in FORBIDDEN]
    return found


def test_the_engine_has_sources():
    assert len(SOURCES) >= 10, SOURCES


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ENGINE)))
def test_engine_module_imports_no_adapter_library(path: Path):
    assert forbidden_imports(path.read_text("utf-8"), str(path)) == []


@pytest.mark.parametrize(
    "source",
    [
        "import docker",
        "import docker.errors",
        "from celery import Celery",
        "def f():\n    from redis import Redis\n",
        "import os, sqlmodel as sm",
        "from starlette.requests import Request",
    ],
)
def test_the_checker_catches_every_import_form(source: str):
    assert forbidden_imports(source, "<test>")


@pytest.mark.parametrize(
    "source", ["import dockerfile_parser", "from engine import docker_names", "from . import redis"]
)
def test_the_checker_allows_lookalikes_and_relative_imports(source: str):
    assert forbidden_imports(source, "<test>") == []
