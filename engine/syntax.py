"""Syntax checks of a task's hidden files, without running any of them.

Python files are compiled (``compile()``, never imported); shell scripts are
parsed by ``bash -n``; JavaScript by ``node --check`` when ``node`` is on
this machine (``javascript_checked()`` says whether it is). Only ``grader/``
and ``solution/`` are checked: a starter or a counter-example may be broken
on purpose. Commands get argument lists and a time limit, never a shell.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from engine.errors import Problem

HIDDEN = ("grader", "solution")
PYTHON = (".py",)
SHELL = (".sh", ".bash")
JAVASCRIPT = (".js", ".cjs", ".mjs")
TIMEOUT_SECONDS = 10


def javascript_checked() -> bool:
    """Whether ``node`` is installed here, so JavaScript files get their syntax checked."""
    return shutil.which("node") is not None


def javascript_files(task_root: Path) -> list[Path]:
    return (
        [
            p
            for folder in HIDDEN
            for p in sorted((task_root / folder).rglob("*"))
            if p.suffix in JAVASCRIPT and p.is_file()
        ]
        if task_root.is_dir()
        else []
    )


def syntax_problems(task_root: Path, task_id: str) -> list[Problem]:
    """Every syntax error in the hidden files of the task at ``task_root``, each naming its file and line."""
    problems = []
    for folder in HIDDEN:
        base = task_root / folder
        if not base.is_dir():
            continue
        for path in sorted(p for p in base.rglob("*") if p.is_file() and not p.is_symlink()):
            label = f"{task_id}/{path.relative_to(task_root).as_posix()}"
            data = path.read_bytes()
            if path.suffix in PYTHON:
                problem = _python(data, label)
            elif path.suffix in SHELL:
                problem = _tool(("bash", "-n"), path.suffix, data, label, "shell")
            elif path.suffix in JAVASCRIPT and javascript_checked():
                problem = _tool(("node", "--check"), path.suffix, data, label, "JavaScript")
            else:
                continue
            if problem is not None:
                problems.append(problem)
    return problems


def _python(data: bytes, label: str) -> Problem | None:
    try:
        compile(data, label, "exec", dont_inherit=True)
    except SyntaxError as exc:
        where = f"line {exc.lineno}" if exc.lineno else ""
        return Problem(label, where, f"Python syntax error: {exc.msg}; fix it (nothing was run)")
    except ValueError as exc:  # e.g. a NUL byte
        return Problem(label, "", f"is not Python source: {exc}")
    return None


def _tool(argv: tuple[str, ...], suffix: str, data: bytes, label: str, language: str) -> Problem | None:
    message = _check_with(argv, suffix, hashlib.sha256(data).hexdigest(), data)
    if message is None:
        return None
    return Problem(label, "", f"{language} syntax error: {message}; fix it (nothing was run)")


@lru_cache(maxsize=4096)
def _check_with(argv: tuple[str, ...], suffix: str, digest: str, data: bytes) -> str | None:
    """Parse ``data`` with ``argv`` (cached by content: a pack store refresh re-checks nothing unchanged)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="tasktrial-syntax-") as folder:
        path = Path(folder) / f"file{suffix}"
        path.write_bytes(data)
        try:
            done = subprocess.run([*argv, str(path)], capture_output=True, timeout=TIMEOUT_SECONDS, check=False)
        except FileNotFoundError:
            return None  # the tool is not installed: nothing to say here (see javascript_checked)
        except subprocess.TimeoutExpired:
            return f"{argv[0]} took longer than {TIMEOUT_SECONDS} s to parse it"
    if done.returncode == 0:
        return None
    text = done.stderr.decode("utf-8", "replace").replace(str(path), "").strip()
    return " ".join(text.split())[:500] or f"{argv[0]} exited with {done.returncode}"
