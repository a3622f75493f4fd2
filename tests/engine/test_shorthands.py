"""Authors' shorthands in pack.yaml and task.yaml: accepted, made canonical once, and graded alike.

``tests/packs/shorthand/`` uses every shorthand; ``tests/packs/shorthand-canonical/``
holds the same pack.yaml and task.yaml files written out in full, by hand.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from engine import packs, schemas, shorthands
from engine.errors import PackError
from engine.grading import grade_submission
from engine.models import Pack
from graders import validation_checks
from runners import images
from tests import factories
from tests.conftest import REPO

SHORTHAND = REPO / "tests" / "packs" / "shorthand"
CANONICAL_FILES = REPO / "tests" / "packs" / "shorthand-canonical"
TASK_IDS = sorted(p.name for p in SHORTHAND.iterdir() if p.is_dir())


def load(root: Path) -> Pack:
    return packs.load_pack(root, environments=images.environments(), task_checks=validation_checks())


@pytest.fixture(scope="module")
def both(tmp_path_factory) -> tuple[Pack, Pack]:
    """The shorthand pack, and a copy of it with the hand-written canonical YAML files laid over."""
    root = tmp_path_factory.mktemp("canonical") / "shorthand"
    shutil.copytree(SHORTHAND, root)
    for source in CANONICAL_FILES.rglob("*.yaml"):
        shutil.copy2(source, root / source.relative_to(CANONICAL_FILES))
    return load(SHORTHAND), load(root)


# -- the schemas and the normaliser agree -----------------------------------------------------------


def one_of_paths(schema: dict[str, Any]) -> set[tuple[str, ...]]:
    """The field paths at which ``schema`` offers a choice of forms (a ``oneOf``)."""
    found: set[tuple[str, ...]] = set()

    def walk(node: Any, path: tuple[str, ...]) -> None:
        if not isinstance(node, dict):
            return
        if "$ref" in node:
            walk(schema["$defs"][node["$ref"].removeprefix("#/$defs/")], path)
        if "oneOf" in node:
            found.add(path)
        for branch in node.get("oneOf", []) + node.get("allOf", []):
            walk(branch, path)
        walk(node.get("then"), path)
        for key, child in node.get("properties", {}).items():
            walk(child, (*path, key))

    walk(schema, ())
    return found


@pytest.mark.parametrize("name", ["pack", "task"])
def test_every_choice_the_schema_offers_is_made_canonical(name: str):
    """A ``oneOf`` in pack/task schemas means "a shorthand or the long form": each has its rewrite."""
    assert one_of_paths(schemas.schema(name)) == {path for path, _, _ in shorthands.SHORTHANDS[name]}


# -- what the shorthands become ----------------------------------------------------------------------


def test_the_shorthand_pack_loads_as_its_canonical_twin(both):
    short, canonical = both
    assert short.authors == canonical.authors == ("Shorthand Tester",)
    assert [t.id for t in short.tasks] == [t.id for t in canonical.tasks] == TASK_IDS
    for a, b in zip(short.tasks, canonical.tasks, strict=True):
        for field in fields(a):
            if field.name not in ("root", "digest"):
                assert getattr(a, field.name) == getattr(b, field.name), (a.id, field.name)


def test_the_loaded_task_holds_only_the_canonical_forms(both):
    short, _ = both
    checker = short.task("words-checker").grader["comparator"]
    assert checker == {"type": "checker", "command": ["python3", "/grader/check.py", "--label", "word count"]}
    assert short.task("words-io").grader["comparator"] == {"type": "exact"}
    assert short.task("words-http").grader["start"] == ["python3", "server.py", "8080"]
    assert short.task("words-pytest").grader == {"kind": "pytest"}
    assert short.task("words-io").micro_skills == ("python.text.splitting",)
    assert short.task("words-io").grader["cases"] == [{"name": "empty", "stdin": "", "expected": "0\n"}]
    assert [rule.match for rule in short.task("words-io").check_rules] == ["*"]


@pytest.mark.parametrize(
    ("written", "argv"),
    [
        ("python3 main.py", ["python3", "main.py"]),
        ("  python3   main.py  ", ["python3", "main.py"]),
        ("python3 -c 'print(1 + 1)'", ["python3", "-c", "print(1 + 1)"]),
        ('grep -c "a b" data.txt', ["grep", "-c", "a b", "data.txt"]),
        (r"echo a\ b", ["echo", "a b"]),
        ("tr '|' ,", ["tr", "|", ","]),
        (r'echo a\"b "c\"|d" e\;f', ["echo", 'a"b', 'c"|d', "e;f"]),
        ("python3 -c 'import sys; print(sys.argv)'", ["python3", "-c", "import sys; print(sys.argv)"]),
        ("node --test '*.test.js'", ["node", "--test", "*.test.js"]),
    ],
)
def test_a_command_string_is_split_as_a_shell_would(written: str, argv: list[str]):
    document = factories.io_task_yaml(grader={"kind": "io", "command": written})
    assert schemas.problems("task", document) == []
    canonical, problems = shorthands.canonical("task", document)
    assert problems == []
    assert canonical["grader"]["command"] == argv
    assert document["grader"]["command"] == written  # the parsed YAML is left alone


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("python3 'main.py", "cannot be split into words (No closing quotation); write the command as a list"),
        ("python3 main.py | sort", "uses the shell operator '|', but no shell runs the command"),
        ("python3 main.py > out.txt", "uses the shell operator '>'"),
        ("make && ./run", "uses the shell operator '&&'"),
        ("./run 2>&1", "uses the shell operator '>&'"),
        ("a;b", "uses the shell operator ';'"),
        ("   ", "[] should be non-empty"),
        ("python3 ''", "'' should be non-empty"),
    ],
)
def test_a_command_string_that_needs_a_shell_or_cannot_be_split_is_a_problem(written: str, message: str):
    _, problems = shorthands.canonical("task", factories.io_task_yaml(grader={"kind": "io", "command": written}))
    assert len(problems) == 1
    where, said = problems[0]
    assert where.startswith("$.grader.command")
    assert message in said


def test_pack_validate_still_names_every_real_problem(tmp_path: Path):
    """Mistakes in shorthand form: each is named with its file, field and what is wrong."""
    io_files = factories.io_task_files()
    root = factories.write_pack(
        tmp_path / "pack",
        {
            "alpha": {
                "task": factories.io_task_yaml(
                    "alpha", micro_skills="Python Text", grader={"kind": "io", "command": "python3 'main.py"}
                ),
                "files": io_files,
            },
            "beta": {
                "task": factories.io_task_yaml(
                    "beta", grader={"kind": "io", "command": "python3 main.py", "comparator": "checker"}
                ),
                "files": io_files,
            },
            "gamma": {"task": factories.pytest_task_yaml("gamma", grader="io"), "files": factories.pytest_task_files()},
            "delta": {
                "task": factories.io_task_yaml(
                    "delta", grader={"kind": "io", "command": 42, "checks": {"match": "*", "weight": 0}}
                ),
                "files": io_files,
            },
        },
        pack={**factories.PACK_YAML, "authors": ""},
    )
    with pytest.raises(PackError) as caught:
        load(root)
    found: dict[tuple[str, str], str] = {}
    for p in caught.value.problems:  # a field may have more than one problem: keep them all
        found[(p.file, p.location)] = " | ".join(filter(None, [found.get((p.file, p.location)), p.message]))
    assert found.keys() == {
        ("pack.yaml", "$.authors"),
        ("alpha/task.yaml", "$.micro_skills"),
        ("alpha/task.yaml", "$.grader.command"),
        ("beta/task.yaml", "$.grader.comparator"),
        ("gamma/task.yaml", "$.grader"),
        ("delta/task.yaml", "$.grader.command"),
        ("delta/task.yaml", "$.grader.checks.weight"),
    }, caught.value.problems
    assert found[("pack.yaml", "$.authors")] == "'' should be non-empty"
    assert "'Python Text' does not match" in found[("alpha/task.yaml", "$.micro_skills")]
    assert "No closing quotation" in found[("alpha/task.yaml", "$.grader.command")]
    assert "checker needs {type: checker, command: ...}" in found[("beta/task.yaml", "$.grader.comparator")]
    assert "io, script and http need a mapping" in found[("gamma/task.yaml", "$.grader")]
    assert found[("delta/task.yaml", "$.grader.command")] == "42 is not of type 'string' or 'array'"


# -- against the real sandbox -------------------------------------------------------------------------


@pytest.mark.docker
def test_pack_check_passes_on_the_shorthand_pack():
    from cli.main import app

    result = CliRunner().invoke(app, ["pack", "check", str(SHORTHAND), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert sorted(t["task"] for t in report["tasks"]) == TASK_IDS
    for task in report["tasks"]:
        assert [r["verdict"] for r in task["reference"]] == ["ready"], task
        assert [r["verdict"] for r in task["starter"]] == ["not_ready"], task


def comparable(document: dict[str, Any]) -> dict[str, Any]:
    """What must not depend on how the task.yaml was written: checks, scores, verdicts."""
    return {
        "score": document["score"],
        "verdict": document["verdict"],
        "status": document["status"],
        "reason": document["reason"],
        "micro_skills": document["micro_skills"],
        "checks": [{k: v for k, v in check.items() if k != "duration_seconds"} for check in document["checks"]],
    }


@pytest.mark.docker
@pytest.mark.parametrize("task_id", TASK_IDS)
def test_shorthand_and_canonical_forms_grade_alike(both, task_id: str, docker_runner, graders):
    results = {}
    for form, pack in zip(("shorthand", "canonical"), both, strict=True):
        task = pack.task(task_id)
        for submission, files in (
            ("reference", packs.reference_submission(task)),
            ("starter", packs.starter_files(task)),
        ):
            result = grade_submission(task, files, runner=docker_runner, grader=graders.for_task(task))
            results[form, submission] = comparable(result.to_document())
    assert results["shorthand", "reference"]["verdict"] == "ready"
    assert results["shorthand", "starter"]["verdict"] == "not_ready"
    assert results["shorthand", "reference"]["checks"]  # something was checked
    for submission in ("reference", "starter"):
        assert results["shorthand", submission] == results["canonical", submission]
