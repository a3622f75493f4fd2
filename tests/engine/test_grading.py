"""One grading through the engine, with the fake runner: outcomes become statuses, never exceptions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import packs, schemas
from engine.digest import tree_digest
from engine.errors import GraderError, RunnerError
from engine.grading import engine_error_result, grade_submission
from engine.models import CheckStatus, RunStatus, Verdict
from engine.ports import Grading
from engine.results import candidate_view, now
from graders import GraderSet
from graders.io_grader import IoGrader
from graders.pytest_grader import REPORT, PytestGrader
from runners.fake import FakeRunner
from tests import factories

LIMITS = {"time_seconds": 5, "memory_mb": 64}
TESTS = ["test_sample.py::test_small", "test_sample.py::test_negative"]
SUBMISSION = {"main.py": b"print('hi')\n"}


def load_task(root: Path, task_yaml: dict, files: dict):
    pack = factories.write_pack(root, {"sample": {"task": task_yaml, "files": files}})
    return packs.load_pack(pack, environments=["python"]).task("sample")


@pytest.fixture
def io_task(tmp_path: Path):
    return load_task(tmp_path / "pack", factories.io_task_yaml(limits=LIMITS), factories.io_task_files())


@pytest.fixture
def pytest_task(tmp_path: Path):
    return load_task(tmp_path / "pack", factories.pytest_task_yaml(limits=LIMITS), factories.pytest_task_files())


def answering(*steps, **overrides) -> FakeRunner:
    return factories.harness_runner(lambda spec: factories.outcome(*steps, **overrides))


def test_a_correct_submission_is_ready(io_task):
    runner = answering(factories.step(0, b"ABC\n"), factories.step(0, b"X Y\n"))
    result = grade_submission(io_task, SUBMISSION, runner=runner, grader=IoGrader(runner))
    assert (result.status, result.score, result.verdict, result.reason) == (
        RunStatus.COMPLETED,
        100.0,
        Verdict.READY,
        "",
    )
    assert result.submission_digest == tree_digest(SUBMISSION)
    assert result.to_document()["task"]["task_digest"] == io_task.digest


def test_a_timeout_is_a_status_with_a_reason_naming_the_limit(io_task):
    runner = answering(factories.step(0, b"ABC\n"), factories.step(None, timed_out=True))
    result = grade_submission(io_task, SUBMISSION, runner=runner, grader=IoGrader(runner))
    assert result.status is RunStatus.TIMEOUT
    assert result.verdict is Verdict.NOT_READY
    assert "5 s time limit" in result.reason
    assert result.score == 50.0  # the case that finished still counts


def test_a_timeout_is_not_ready_even_when_every_check_passed(pytest_task):
    runner = factories.pytest_runner(
        TESTS,
        run=lambda spec: factories.outcome(
            factories.step(None, timed_out=True),
            collected={"/grader/.tasktrial/report.json": factories.pytest_report(TESTS, dict.fromkeys(TESTS, "pass"))},
        ),
    )
    result = grade_submission(pytest_task, SUBMISSION, runner=runner, grader=PytestGrader(runner))
    assert (result.score, result.status, result.verdict) == (100.0, RunStatus.TIMEOUT, Verdict.NOT_READY)


def test_an_oom_kill_is_a_memory_limit_status(io_task):
    runner = answering(factories.step(137), factories.step(137), oom_killed=True)
    result = grade_submission(io_task, SUBMISSION, runner=runner, grader=IoGrader(runner))
    assert result.status is RunStatus.MEMORY_LIMIT
    assert result.verdict is Verdict.NOT_READY
    assert "64 MB memory limit" in result.reason
    assert result.score == 0.0


def test_an_oom_kill_wins_over_a_timeout(io_task):
    runner = answering(factories.step(None, timed_out=True), factories.step(None), oom_killed=True)
    result = grade_submission(io_task, SUBMISSION, runner=runner, grader=IoGrader(runner))
    assert result.status is RunStatus.MEMORY_LIMIT


def test_a_missing_pytest_report_is_a_crash_scoring_nothing(pytest_task):
    runner = factories.pytest_runner(TESTS, run=lambda spec: factories.outcome(factories.step(0, b"2 passed\n")))
    result = grade_submission(pytest_task, SUBMISSION, runner=runner, grader=PytestGrader(runner))
    assert result.status is RunStatus.CRASHED
    assert result.verdict is Verdict.NOT_READY
    assert result.score == 0.0
    assert "before reporting" in result.reason and "exit 0" in result.reason
    assert [c.status for c in result.checks] == [CheckStatus.FAIL, CheckStatus.FAIL]


def test_a_garbled_pytest_report_is_a_crash(pytest_task):
    runner = factories.pytest_runner(
        TESTS, run=lambda spec: factories.outcome(collected={"/grader/.tasktrial/report.json": b"{not json"})
    )
    result = grade_submission(pytest_task, SUBMISSION, runner=runner, grader=PytestGrader(runner))
    assert result.status is RunStatus.CRASHED and result.score == 0.0


class BrokenGrader(IoGrader):
    def grade(self, task, submission, outcome) -> Grading:
        raise GraderError("the grader's own file is corrupt")


def test_a_grader_error_is_a_grader_error_result_never_the_candidates_outcome(io_task):
    runner = answering(factories.step(0), factories.step(0))
    result = grade_submission(io_task, SUBMISSION, runner=runner, grader=BrokenGrader(runner))
    assert (result.status, result.verdict, result.score, result.checks) == (
        RunStatus.GRADER_ERROR,
        Verdict.ERROR,
        0.0,
        (),
    )
    document = result.to_document()
    assert schemas.problems("result", document) == []
    assert "corrupt" in document["grader_error"]["message"]
    assert all(v["verdict"] == "error" for v in document["micro_skills"].values())


def test_a_failed_reference_collection_is_a_grader_error_whose_details_candidates_never_see(pytest_task):
    source = 'File "/grader/tests/test_duration.py", line 56\n    def test_bad(:'
    runner = factories.pytest_runner(
        TESTS,
        collect_report=factories.pytest_report([], mode="collect", collect_errors={"tests/test_duration.py": source}),
    )
    result = grade_submission(pytest_task, SUBMISSION, runner=runner, grader=PytestGrader(runner))
    document = result.to_document()
    assert result.status is RunStatus.GRADER_ERROR and "collecting the hidden tests" in result.reason
    assert "def test_bad(:" in document["grader_error"]["message"]  # staff see what broke
    view = candidate_view(document)
    assert view["reason"] == "the grader failed; this attempt does not count"
    assert "grader_error" not in view and view["checks"] == []
    assert "/grader/" not in json.dumps(view) and "test_bad" not in json.dumps(view)


def test_a_runner_error_propagates(io_task):
    def broken(spec):
        raise RunnerError("the engine went away")

    runner = factories.harness_runner(broken)
    with pytest.raises(RunnerError, match="went away"):
        grade_submission(io_task, SUBMISSION, runner=runner, grader=IoGrader(runner))


def test_the_grader_receives_the_submission_in_its_run(io_task):
    runner = answering(factories.step(0), factories.step(0))
    grade_submission(io_task, SUBMISSION, runner=runner, grader=IoGrader(runner))
    [spec] = runner.specs
    assert dict(spec.workspace) == SUBMISSION
    assert spec.limits == io_task.limits and spec.environment == "python"


def test_an_engine_error_result_is_an_error_verdict_never_a_zero_score(io_task):
    result = engine_error_result(io_task, tree_digest(SUBMISSION), "the Docker engine is down", started_at=now())
    assert result.verdict is Verdict.ERROR
    document = result.to_document()
    assert document["verdict"] == "error" and document["status"] == "engine_error"
    assert document["reason"] == "the Docker engine is down"
    assert schemas.problems("result", document) == []


# -- whatever the candidate's program does, grading yields a valid result --------------------------

step_outcomes = st.builds(
    factories.step,
    exit_code=st.one_of(st.none(), st.integers(min_value=-255, max_value=255)),
    stdout=st.binary(max_size=300),
    stderr=st.binary(max_size=300),
    timed_out=st.booleans(),
    output_truncated=st.booleans(),
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    steps=st.lists(step_outcomes, min_size=2, max_size=2),
    oom=st.booleans(),
    collected=st.dictionaries(st.sampled_from(["/grader/results.json", "/workspace/x"]), st.binary(max_size=64)),
)
def test_a_candidate_failure_never_raises(io_task, steps, oom, collected):
    runner = answering(*steps, oom_killed=oom, collected=collected)
    result = grade_submission(io_task, SUBMISSION, runner=runner, grader=IoGrader(runner))
    assert result.verdict is not Verdict.ERROR
    assert schemas.problems("result", result.to_document()) == []


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    step=step_outcomes,
    oom=st.booleans(),
    report=st.one_of(
        st.none(),
        st.binary(max_size=64),
        st.builds(
            lambda outcomes: factories.pytest_report(TESTS, dict(zip(TESTS, outcomes, strict=False))),
            st.lists(st.sampled_from(["pass", "fail", "error", "skipped", "bogus"]), max_size=2),
        ),
    ),
)
def test_a_candidate_failure_never_raises_with_the_pytest_grader(pytest_task, step, oom, report):
    collected = {} if report is None else {"/grader/.tasktrial/report.json": report}
    runner = factories.pytest_runner(
        TESTS, run=lambda spec: factories.outcome(step, oom_killed=oom, collected=collected)
    )
    result = grade_submission(pytest_task, SUBMISSION, runner=runner, grader=GraderSet(runner).for_task(pytest_task))
    assert result.verdict is not Verdict.ERROR
    assert len(result.checks) == len(TESTS)
    assert schemas.problems("result", result.to_document()) == []


# -- runs the grader starts itself are in the result's runner statistics ----------------------------


def collecting_runner(*, collected: list[str] = TESTS):
    """The pytest harness's part, with figures of its own for the collection run (the reference's)."""

    def handler(spec):
        if spec.steps[0].argv[3] == "collect":
            return factories.outcome(
                factories.step(0),
                wall_seconds=2.5,
                cpu_seconds=1.25,
                peak_memory_bytes=4096,
                collected={REPORT: factories.pytest_report(collected, mode="collect")},
            )
        return factories.outcome(
            factories.step(1),
            wall_seconds=0.75,
            cpu_seconds=0.5,
            peak_memory_bytes=2048,
            collected={REPORT: factories.pytest_report(TESTS, dict.fromkeys(TESTS, "fail"))},
        )

    return factories.harness_runner(handler)


def test_the_collection_and_the_grader_sandbox_are_in_the_runner_statistics(pytest_task):
    runner = collecting_runner()
    grader = PytestGrader(runner)
    first = grade_submission(pytest_task, SUBMISSION, runner=runner, grader=grader).to_document()
    assert [
        (run["purpose"], run["wall_seconds"], run["cpu_seconds"], run["peak_memory_bytes"], run["exit_code"])
        for run in first["runner"]["grader_runs"]
    ] == [("client", 0.75, 0.5, 2048, 1), ("collection", 2.5, 1.25, 4096, 0)]
    assert schemas.problems("result", first) == []
    again = grade_submission(pytest_task, SUBMISSION, runner=runner, grader=grader).to_document()
    assert [run["purpose"] for run in again["runner"]["grader_runs"]] == ["client"]  # the list was known: no collection


def test_a_failed_collection_is_in_the_grader_error_results_runner_statistics(pytest_task):
    runner = collecting_runner(collected=[])
    result = grade_submission(pytest_task, SUBMISSION, runner=runner, grader=PytestGrader(runner))
    document = result.to_document()
    assert result.status is RunStatus.GRADER_ERROR
    assert [(run["purpose"], run["wall_seconds"]) for run in document["runner"]["grader_runs"]] == [
        ("client", 0.75),
        ("collection", 2.5),
    ]
    assert schemas.problems("result", document) == []
