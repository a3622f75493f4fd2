"""docs/authoring.md is generated: the committed file must be exactly what the generator prints now."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from engine import schemas
from runners import images
from tests.conftest import REPO


def generator():
    spec = importlib.util.spec_from_file_location("authoring_docs", REPO / "scripts" / "authoring_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_reference_matches_the_generator():
    committed = (REPO / "docs" / "authoring.md").read_text("utf-8")
    assert committed == generator().render(), "docs/authoring.md is out of date: run python scripts/authoring_docs.py"


def test_every_schema_field_and_environment_is_documented():
    text = (REPO / "docs" / "authoring.md").read_text("utf-8")
    task = schemas.schema("task")
    for name in [
        *task["properties"],
        *schemas.schema("pack")["properties"],
        *task["properties"]["limits"]["properties"],
    ]:
        assert f"`{name}" in text or f".{name}" in text, name
    for branch in generator()._long(task["properties"]["grader"])["allOf"]:
        kind = branch["if"]["properties"]["kind"]["const"]
        for name, node in branch["then"]["properties"].items():
            if node is not True:
                assert f"`grader.{name} ({kind})`" in text, (kind, name)
    for environment in images.environments():
        assert f"| `{environment}` |" in text


def test_the_check_mode_fails_on_a_stale_file(tmp_path: Path, monkeypatch):
    module = generator()
    stale = tmp_path / "authoring.md"
    stale.write_text("old\n")
    monkeypatch.setattr(module, "TARGET", stale)
    assert module.main(["--check"]) == 1
    assert module.main([]) == 0 and module.main(["--check"]) == 0
