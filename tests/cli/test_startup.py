"""Every command starts light: the command line imports no web, database, HTTP or Docker library until a
command needs it, and no command module imports ``cli.main`` back (it registers them; they need nothing of it)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

CLI = Path(__file__).resolve().parents[2] / "cli"
#: Loaded by the commands that need them, never by ``import cli.main`` (so never by ``tasktrial --help``).
HEAVY = (
    "sqlmodel",
    "sqlalchemy",
    "httpx",
    "docker",
    "fastapi",
    "celery",
    "redis",
    "jsonschema",
    "joserfc",
    "cairosvg",
    "cairocffi",
)


def loaded_after(statement: str) -> list[str]:
    """Which of ``HEAVY`` a fresh interpreter holds after running ``statement``."""
    probe = f"import sys\n{statement}\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return done.stdout.split()


def test_importing_the_command_line_loads_no_heavy_library():
    assert loaded_after("import cli.main") == []


def test_the_probe_sees_a_heavy_library_once_loaded():
    assert loaded_after("import cli.main, httpx") == ["httpx"]


def test_help_lists_the_commands_without_loading_them():
    probe = (
        "from typer.testing import CliRunner\nfrom cli.main import app\n"
        "result = CliRunner().invoke(app, ['--help'])\nassert result.exit_code == 0, result.output\n"
        "assert 'submit' in result.output and 'pack' in result.output, result.output"
    )
    assert loaded_after(probe) == []


@pytest.mark.parametrize("path", sorted(CLI.glob("*.py")), ids=lambda p: p.name)
def test_no_command_module_imports_the_main_module(path: Path):
    tree = ast.parse(path.read_text("utf-8"))
    imported = (
        [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
        + [
            f"{node.module}.{alias.name}"
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom)
            for alias in node.names
        ]
        + [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    )
    assert "cli.main" not in imported
