"""Task pack folders written from plain dicts, for tests and benchmarks."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

PACK_YAML = {
    "id": "demo",
    "version": "1.0.0",
    "title": "Demo",
    "description": "A demo pack",
    "authors": ["tests"],
    "license": "MIT",
}


def write_pack(root: Path, tasks: dict[str, dict[str, Any]], pack: dict[str, Any] | None = None) -> Path:
    """Write a pack folder. Each task maps to ``{"task": {...task.yaml}, "files": {relpath: text}}``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pack.yaml").write_text(yaml.safe_dump(pack if pack is not None else PACK_YAML))
    for task_id, spec in tasks.items():
        folder = root / task_id
        folder.mkdir()
        if spec.get("task") is not None:
            (folder / "task.yaml").write_text(yaml.safe_dump(spec["task"]))
        write_files(folder, spec.get("files", {}))
    return root


def write_files(root: Path, files: Mapping[str, bytes | str]) -> Path:
    """Write ``files`` (relative path -> bytes, or text as UTF-8) under ``root``, making folders; returns ``root``."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


def pytest_task_yaml(task_id: str = "sample", **overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": task_id,
        "title": "Sample",
        "summary": "Sample task",
        "micro_skills": ["python.basics.sample"],
        "difficulty": "intro",
        "environment": "python",
        "grader": {"kind": "pytest"},
        "scoring": {"pass_threshold": 80},
    }
    doc.update(overrides)
    return doc


def one_task_pack(catalogue_pack: Path, task_id: str, root: Path) -> Path:
    """A pack at ``root`` holding one task of a catalogue pack, as written there.

    The pack's credentials are left out: they require micro-skills of tasks not copied, which
    ``pack validate`` rightly refuses.
    """
    import shutil

    shutil.copytree(catalogue_pack / task_id, root / task_id)
    manifest = yaml.safe_load((catalogue_pack / "pack.yaml").read_text())
    manifest.pop("credentials", None)
    (root / "pack.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    return root


#: The one-task pack most service tests and benchmarks grade: ``value()`` must return 42.
VALUE_SOLUTION = "def value():\n    return 42\n"
VALUE_TEST = "from value import value\n\n\ndef test_value():\n    assert value() == 42\n"


def value_pack(
    catalogue: Path,
    pack_id: str,
    *,
    limits: dict[str, Any] | None = None,
    files: dict[str, str] | None = None,
) -> Path:
    """Write the pack ``pack_id`` (task ``value``, one pytest test of ``value() == 42``) under ``catalogue``.

    ``limits`` go into the task; ``files`` are more of the task's files (``starter/test_value_public.py``).
    """
    task = pytest_task_yaml("value", **({"limits": limits} if limits else {}))
    return write_pack(
        catalogue / pack_id,
        {
            "value": {
                "task": task,
                "files": {
                    "statement.md": "Return 42 from value().\n",
                    "starter/value.py": "def value():\n    raise NotImplementedError\n",
                    "solution/value.py": VALUE_SOLUTION,
                    "grader/test_value.py": VALUE_TEST,
                    **(files or {}),
                },
            }
        },
        pack={**PACK_YAML, "id": pack_id},
    )
