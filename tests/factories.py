"""Plain factory functions for domain values and packs on disk."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.models import Check, CheckRule, CheckStatus, Difficulty, ResourceLimits, RunOutcome, StepOutcome, Task
from testkit.packs import (  # noqa: F401  (factories of packs on disk)
    PACK_YAML,
    VALUE_SOLUTION,
    VALUE_TEST,
    one_task_pack,
    pytest_task_yaml,
    value_pack,
    write_files,
    write_pack,
)


def task(**overrides: Any) -> Task:
    values: dict[str, Any] = {
        "pack_id": "demo",
        "pack_version": "1.0.0",
        "id": "sample",
        "title": "Sample",
        "summary": "A sample task",
        "micro_skills": ("python.basics.sample",),
        "difficulty": Difficulty.INTRO,
        "environment": "python",
        "limits": ResourceLimits(),
        "grader": {"kind": "pytest"},
        "pass_threshold": 80.0,
        "check_rules": (),
        "root": Path("/nonexistent"),
        "digest": "sha256:" + "0" * 64,
    }
    values.update(overrides)
    return Task(**values)


def check(status: CheckStatus = CheckStatus.PASS, **overrides: Any) -> Check:
    values: dict[str, Any] = {
        "id": "c",
        "name": "c",
        "status": status,
        "score": 1.0 if status is CheckStatus.PASS else 0.0,
        "max_score": 1.0,
    }
    values.update(overrides)
    return Check(**values)


def outcome(*steps: StepOutcome, collected: dict[str, bytes] | None = None, **overrides: Any) -> RunOutcome:
    values: dict[str, Any] = {
        "backend": "fake",
        "image": "sha256:fake",
        "steps": steps or (StepOutcome(exit_code=0),),
        "collected": collected or {},
    }
    values.update(overrides)
    return RunOutcome(**values)


def rule(match: str, **overrides: Any) -> CheckRule:
    return CheckRule(match=match, **overrides)


# -- engine-core suite helpers (appended) --------------------------------------


def step(exit_code: int | None = 0, stdout: bytes = b"", stderr: bytes = b"", **overrides: Any) -> StepOutcome:
    return StepOutcome(exit_code=exit_code, stdout=stdout, stderr=stderr, **overrides)


def io_task_yaml(task_id: str = "sample", **overrides: Any) -> dict[str, Any]:
    doc = pytest_task_yaml(task_id, grader={"kind": "io", "command": ["python3", "main.py"]})
    doc.update(overrides)
    return doc


def script_task_yaml(task_id: str = "sample", **overrides: Any) -> dict[str, Any]:
    doc = pytest_task_yaml(task_id, grader={"kind": "script", "command": ["python3", "/grader/grade.py"]})
    doc.update(overrides)
    return doc


def pytest_task_files(**overrides: str) -> dict[str, str]:
    """The files of a small valid pytest task: hidden tests, a solution that passes them, a starter that does not."""
    files = {
        "statement.md": "# Add\n\nWrite `add(a, b)` in `sample.py`.\n",
        "starter/sample.py": "def add(a, b):\n    raise NotImplementedError\n",
        "solution/sample.py": "def add(a, b):\n    return a + b\n",
        "grader/test_sample.py": (
            "from sample import add\n\n\n"
            "def test_small():\n    assert add(1, 2) == 3\n\n\n"
            "def test_negative():\n    assert add(-1, -2) == -3\n"
        ),
    }
    files.update(overrides)
    return files


def io_task_files(cases: dict[str, tuple[str, str]] | None = None, /, **overrides: str) -> dict[str, str]:
    """The files of a small valid io task; ``cases`` maps a name to ``(stdin, expected stdout)``."""
    files = {
        "statement.md": "# Upper\n\nPrint stdin in upper case.\n",
        "starter/main.py": "import sys\nsys.stdout.write(sys.stdin.read())\n",
        "solution/main.py": "import sys\nsys.stdout.write(sys.stdin.read().upper())\n",
    }
    for name, (given, expected) in (cases or {"one": ("abc\n", "ABC\n"), "two": ("x y\n", "X Y\n")}).items():
        files[f"grader/cases/{name}.in"] = given
        files[f"grader/cases/{name}.out"] = expected
    files.update(overrides)
    return files


def valid_pack(root: Path, **tasks: dict[str, Any]) -> Path:
    """A pack with one valid pytest task ``sample`` (or the given tasks) written at ``root``."""
    return write_pack(root, tasks or {"sample": {"task": pytest_task_yaml("sample"), "files": pytest_task_files()}})


def pytest_report(collected: list[str], results: dict[str, str] | None = None, **extra: Any) -> bytes:
    """The JSON report the pytest harness writes; ``results`` maps a node id to an outcome."""
    import json

    document = {
        "mode": "run",
        "collected": collected,
        "results": {
            nodeid: {"outcome": outcome, "message": "", "duration": 0.01} for nodeid, outcome in (results or {}).items()
        },
        "collect_errors": {},
        "exitstatus": 0,
    }
    document.update(extra)
    return json.dumps(document).encode()


def harness_runner(handler):
    """A ``FakeRunner`` playing the in-sandbox pytest harness's part: plain JSON reports it returns get signed.

    The harness signs its report with the key the grader sends on stdin; tests write plain
    documents and this signs them. Anything that is not a plain report (garbage, an already
    signed or deliberately forged file) passes through untouched.
    """
    import json

    from graders._harness import REPORT, sign_report
    from runners.fake import FakeRunner

    def signing(spec):
        # A separate-sandbox run: the handler plays the grader's sandbox (the client); the candidate's serves.
        tests = spec.client if spec.client is not None else spec
        result = handler(tests)
        raw = result.collected.get(REPORT)
        try:
            document = json.loads(raw) if raw is not None else None
        except ValueError:
            document = None
        if isinstance(document, dict) and "mac" not in document:
            key = tests.steps[0].stdin.strip()
            result = replace(result, collected={**result.collected, REPORT: sign_report(key, raw)})
        if spec.client is not None:
            from engine.models import ServiceOutcome

            result = outcome(steps=(), service=ServiceOutcome(ready=True), client=result, oom_killed=result.oom_killed)
        return result

    return FakeRunner(signing)


def pytest_runner(collected: list[str], run: Any = None, *, collect_report: bytes | None = None):
    """A ``FakeRunner`` answering the pytest grader: ``collect`` runs report ``collected``; ``run`` runs call ``run(spec)``.

    ``run`` defaults to every collected test passing, reported through the harness's report file.
    """
    from graders.pytest_grader import REPORT

    def handler(spec):
        mode = spec.steps[0].argv[3]
        if mode == "collect":
            report = collect_report if collect_report is not None else pytest_report(collected, mode="collect")
            return outcome(collected={REPORT: report})
        if run is None:
            return outcome(collected={REPORT: pytest_report(collected, dict.fromkeys(collected, "pass"))})
        return run(spec)

    return harness_runner(handler)
