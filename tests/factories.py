"""Plain factory functions for domain values and packs on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from engine.models import Check, CheckRule, CheckStatus, Difficulty, ResourceLimits, RunOutcome, StepOutcome, Task


def task(**overrides: Any) -> Task:
    values: dict[str, Any] = dict(
        pack_id="demo", pack_version="1.0.0", id="sample", title="Sample", summary="A sample task",
        micro_skills=("python.basics.sample",), difficulty=Difficulty.INTRO, environment="python",
        limits=ResourceLimits(), grader={"kind": "pytest"}, pass_threshold=80.0, check_rules=(),
        root=Path("/nonexistent"), digest="sha256:" + "0" * 64,
    )
    values.update(overrides)
    return Task(**values)


def check(status: CheckStatus = CheckStatus.PASS, **overrides: Any) -> Check:
    values: dict[str, Any] = dict(id="c", name="c", status=status, score=1.0 if status is CheckStatus.PASS else 0.0,
                                  max_score=1.0)
    values.update(overrides)
    return Check(**values)


def outcome(*steps: StepOutcome, collected: dict[str, bytes] | None = None, **overrides: Any) -> RunOutcome:
    values: dict[str, Any] = dict(backend="fake", image="sha256:fake", steps=steps or (StepOutcome(exit_code=0),),
                                  collected=collected or {})
    values.update(overrides)
    return RunOutcome(**values)


def rule(match: str, **overrides: Any) -> CheckRule:
    return CheckRule(match=match, **overrides)


PACK_YAML = {"id": "demo", "version": "1.0.0", "title": "Demo", "description": "A demo pack",
             "authors": ["tests"], "license": "MIT"}


def write_pack(root: Path, tasks: dict[str, dict[str, Any]], pack: dict[str, Any] | None = None) -> Path:
    """Write a pack folder. Each task maps to ``{"task": {...task.yaml}, "files": {relpath: text}}``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pack.yaml").write_text(yaml.safe_dump(pack if pack is not None else PACK_YAML))
    for task_id, spec in tasks.items():
        folder = root / task_id
        folder.mkdir()
        if spec.get("task") is not None:
            (folder / "task.yaml").write_text(yaml.safe_dump(spec["task"]))
        for rel, text in spec.get("files", {}).items():
            path = folder / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    return root


def pytest_task_yaml(task_id: str = "sample", **overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": task_id, "title": "Sample", "summary": "Sample task",
                           "micro_skills": ["python.basics.sample"], "difficulty": "intro", "environment": "python",
                           "grader": {"kind": "pytest"}, "scoring": {"pass_threshold": 80}}
    doc.update(overrides)
    return doc
