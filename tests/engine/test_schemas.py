"""The JSON Schemas themselves, and result documents checked against them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from engine import packs, schemas
from engine.grading import grade_submission
from engine.models import RunSpec, Task
from engine.results import MESSAGE_CAP_CHARS, OUTPUT_CAP_CHARS
from graders import GraderSet, io_grader
from graders.script_grader import RESULTS
from runners import images
from tests import factories
from tests.conftest import CATALOGUE

SCHEMA_DIR = Path(schemas.__file__).parent / "schemas"
SCHEMA_FILES = sorted(SCHEMA_DIR.glob("*.json"))
FOUNDATIONS = packs.load_pack(CATALOGUE / "python-foundations", environments=images.environments())
FOUNDATION_TASKS = {task.id: task for task in FOUNDATIONS.tasks}


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_every_schema_file_is_a_valid_draft_2020_12_schema(path: Path):
    document = json.loads(path.read_text("utf-8"))
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(document)


def test_every_named_schema_loads():
    assert len(SCHEMA_FILES) >= len(schemas.SCHEMA_NAMES)
    for name in schemas.SCHEMA_NAMES:
        assert (SCHEMA_DIR / f"{name}.schema.json").is_file()
        assert schemas.schema(name)["$schema"].endswith("2020-12/schema")


def test_problems_name_the_json_path():
    found = schemas.problems("task", {**factories.pytest_task_yaml(), "limits": {"memory_mb": "lots"}})
    assert [where for where, _ in found] == ["$.limits.memory_mb"]


# -- result documents from real pack tasks ------------------------------------------------------


def plausible_run(task: Task):
    """A fake runner answering as a correct submission of ``task`` would."""
    if task.grader_kind == "pytest":
        return factories.pytest_runner(["tests/test_x.py::test_one", "tests/test_x.py::test_deadline"])
    if task.grader_kind == "io":
        expected = {case.stdin: case.expected for case in io_grader.cases(task)}

        def answer(spec: RunSpec):
            return factories.outcome(*(factories.step(0, expected[s.stdin]) for s in spec.steps))

        return factories.harness_runner(answer)
    document = {
        "tests": [
            {"name": "totals-basic", "score": 1, "max_score": 1, "status": "passed"},
            {"name": "rejects-basic", "score": 0, "max_score": 1, "output": "differs"},
        ]
    }
    return factories.harness_runner(lambda spec: factories.outcome(collected={RESULTS: json.dumps(document).encode()}))


@pytest.mark.parametrize("task_id", sorted(FOUNDATION_TASKS))
def test_a_graded_result_validates_against_the_result_schema(task_id: str, tmp_path: Path):
    task = FOUNDATION_TASKS[task_id]
    runner = plausible_run(task)
    result = grade_submission(
        task, packs.starter_files(task), runner=runner, grader=GraderSet(runner, cache_dir=tmp_path).for_task(task)
    )
    document = json.loads(json.dumps(result.to_document()))
    assert schemas.problems("result", document) == []
    assert document["checks"], "a real grading produces checks"
    assert set(document["micro_skills"]) >= set(task.micro_skills)


def test_output_that_is_not_utf8_and_huge_still_gives_a_small_valid_document():
    task = FOUNDATION_TASKS["word-frequency"]
    garbage = (b"\xff\xfe\xc3\x28" + bytes(range(256))) * 20_000  # ~5 MB, invalid UTF-8 throughout
    runner = factories.harness_runner(
        lambda spec: factories.outcome(
            *(factories.step(1, garbage, garbage, output_truncated=True) for _ in spec.steps)
        )
    )
    result = grade_submission(
        task, {"top_words.py": b"\xff" * 10}, runner=runner, grader=GraderSet(runner).for_task(task)
    )
    document = result.to_document()
    text = json.dumps(document)
    assert len(text.encode()) < 256 * 1024
    assert schemas.problems("result", json.loads(text)) == []
    assert len(document["output"]["stdout"]) <= OUTPUT_CAP_CHARS + 100
    assert "\ufffd" in document["output"]["stdout"]
    assert document["runner"]["output_truncated"] is True


def test_a_huge_check_message_is_capped():
    task = FOUNDATION_TASKS["csv-report"]
    document = {"tests": [{"name": "totals-basic", "score": 0, "max_score": 1, "output": "x" * 5_000_000}]}
    runner = factories.harness_runner(
        lambda spec: factories.outcome(collected={RESULTS: json.dumps(document).encode()})
    )
    result = grade_submission(task, {}, runner=runner, grader=GraderSet(runner).for_task(task))
    [check] = result.to_document()["checks"]
    assert len(check["message"]) <= MESSAGE_CAP_CHARS + 100
    assert len(json.dumps(result.to_document())) < 64 * 1024
