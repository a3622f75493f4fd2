"""The script grader with the fake runner: the results file is the only channel."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine import packs, scoring
from engine.errors import GraderError
from engine.models import CheckStatus
from graders.script_grader import RESULTS, ScriptGrader
from runners.fake import FakeRunner
from tests import factories

SUBMISSION = {"report.py": b"print('{}')\n"}


@pytest.fixture
def task(tmp_path: Path):
    files = {**factories.pytest_task_files(), "grader/grade.py": "import json\n", "grader/data/basic.csv": "a,b\n"}
    task_yaml = factories.script_task_yaml(
        grader={
            "kind": "script",
            "command": ["python3", "/grader/grade.py"],
            "checks": [{"match": "totals-*", "weight": 2, "micro_skill": "python.data.aggregation", "visible": True}],
        }
    )
    pack = factories.write_pack(tmp_path / "pack", {"sample": {"task": task_yaml, "files": files}})
    return packs.load_pack(pack, environments=["python"]).task("sample")


def grade_with(task, results: bytes | None, *, exit_code: int = 0, stdout: bytes = b"", stderr: bytes = b""):
    collected = {} if results is None else {RESULTS: results}
    runner = FakeRunner(lambda spec: factories.outcome(factories.step(exit_code, stdout, stderr), collected=collected))
    grader = ScriptGrader(runner)
    return grader.grade(task, SUBMISSION, runner.run(grader.build_run(task, SUBMISSION)))


def results(*tests: dict) -> bytes:
    return json.dumps({"tests": list(tests)}).encode()


def test_the_run_holds_the_grader_files_and_collects_the_results_file(task):
    spec = ScriptGrader(FakeRunner(lambda s: factories.outcome())).build_run(task, SUBMISSION)
    assert spec.steps[0].argv == ("python3", "/grader/grade.py")
    assert spec.collect == (RESULTS,)
    assert set(spec.grader_files) >= {"grade.py", "data/basic.csv"}
    assert dict(spec.workspace) == SUBMISSION


def test_a_missing_results_file_is_the_graders_fault(task):
    with pytest.raises(GraderError, match=f"the grader wrote no {RESULTS} \\(exit 0\\)"):
        grade_with(task, None, exit_code=0)


def test_results_of_a_grader_that_did_not_exit_cleanly_are_void(task):
    """A leftover process of the candidate's may have killed the grader after forging the file."""
    forged = results({"name": "all", "score": 1, "max_score": 1, "status": "passed"})
    with pytest.raises(GraderError, match="exit -9") as caught:
        grade_with(task, forged, exit_code=-9, stderr=b"Traceback: /grader/grade.py line 3")
    assert "/grader/grade.py line 3" in caught.value.output  # for staff: what the grader printed


def test_a_grader_stopped_at_a_limit_is_the_runs_status_not_a_fault(task):
    runner = FakeRunner(lambda spec: factories.outcome(factories.step(None, timed_out=True)))
    grader = ScriptGrader(runner)
    grading = grader.grade(task, SUBMISSION, runner.run(grader.build_run(task, SUBMISSION)))
    assert grading.checks == () and "at a limit" in grading.crashed


def test_results_printed_on_stdout_are_not_results(task):
    forged = results({"name": "totals-basic", "score": 1, "max_score": 1})
    with pytest.raises(GraderError, match="wrote no"):
        grade_with(task, None, stdout=forged)


def test_a_results_file_that_is_not_json_is_the_graders_fault(task):
    with pytest.raises(GraderError, match="is not valid JSON"):
        grade_with(task, b'{"tests": [')


@pytest.mark.parametrize(
    ("document", "where"),
    [
        ({"tests": [{"name": "x", "score": 1}]}, "$.tests[0]"),
        ({"tests": [{"name": "x", "score": 1, "max_score": 0}]}, "$.tests[0].max_score"),
        ({"tests": [{"name": "x", "score": -1, "max_score": 1}]}, "$.tests[0].score"),
        ({"tests": [{"name": "x", "score": 1, "max_score": 1, "status": "sort of"}]}, "$.tests[0].status"),
        ({"no_tests": []}, "$"),
        ([1, 2], "$"),
    ],
)
def test_a_schema_invalid_results_file_is_the_graders_fault_naming_the_field(task, document, where):
    with pytest.raises(GraderError) as caught:
        grade_with(task, json.dumps(document).encode())
    assert f"does not follow the results schema at {where}:" in str(caught.value)


def test_each_test_becomes_a_check_with_the_authors_rules(task):
    grading = grade_with(
        task,
        results(
            {"name": "totals-basic", "score": 1, "max_score": 1, "status": "passed"},
            {"name": "rejects-basic", "score": 0, "max_score": 1, "output": "line 4 was kept"},
        ),
    )
    totals, rejects = grading.checks
    assert (totals.id, totals.status, totals.weight, totals.micro_skill, totals.visible) == (
        "totals-basic",
        CheckStatus.PASS,
        2,
        "python.data.aggregation",
        True,
    )
    assert (rejects.status, rejects.message, rejects.weight, rejects.visible) == (
        CheckStatus.FAIL,
        "line 4 was kept",
        1.0,
        False,
    )
    assert grading.crashed == ""


@pytest.mark.parametrize(
    ("visibility", "visible"),
    [("visible", True), ("hidden", False), ("after_due_date", False), ("after_published", False)],
)
def test_visibility_overrides_the_rule(task, visibility, visible):
    [check] = grade_with(
        task, results({"name": "totals-x", "score": 1, "max_score": 1, "visibility": visibility})
    ).checks
    assert check.visible is visible


def test_without_visibility_the_rule_decides(task):
    shown, hidden = grade_with(
        task, results({"name": "totals-x", "score": 1, "max_score": 1}, {"name": "other", "score": 1, "max_score": 1})
    ).checks
    assert (shown.visible, hidden.visible) == (True, False)


def test_partial_scores_are_kept_and_scored(task):
    grading = grade_with(
        task, results({"name": "a", "score": 1, "max_score": 4}, {"name": "b", "score": 3, "max_score": 3})
    )
    partial, full = grading.checks
    assert (partial.score, partial.max_score, partial.status) == (1.0, 4.0, CheckStatus.FAIL)
    assert full.status is CheckStatus.PASS
    assert scoring.weighted_score(grading.checks) == 62.5


def test_a_score_above_the_maximum_is_capped(task):
    [check] = grade_with(task, results({"name": "a", "score": 10, "max_score": 2})).checks
    assert (check.score, check.status) == (2.0, CheckStatus.PASS)


def test_an_explicit_status_wins_over_the_score(task):
    failed, passed = grade_with(
        task,
        results(
            {"name": "a", "score": 1, "max_score": 1, "status": "failed"},
            {"name": "b", "score": 0.5, "max_score": 1, "status": "passed"},
        ),
    ).checks
    assert (failed.status, passed.status) == (CheckStatus.FAIL, CheckStatus.PASS)
    assert passed.score == 0.5


def test_a_test_number_is_its_id(task):
    [check] = grade_with(task, results({"name": "Totals", "number": "1.2", "score": 1, "max_score": 1})).checks
    assert (check.id, check.name) == ("1.2", "Totals")
