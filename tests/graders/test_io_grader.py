"""The io grader with the fake runner: inputs go in, expected outputs never do."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import packs
from engine.errors import GraderError
from engine.models import CheckStatus, RunSpec
from graders.io_grader import IoGrader, cases
from runners.fake import FakeRunner
from tests import factories

SECRET_CASES = {"alpha": ("input-one\n", "EXPECTED-SECRET-ONE\n"), "beta": ("input-two\n", "EXPECTED-SECRET-TWO\n")}
SUBMISSION = {"main.py": b"print(input().upper())\n"}


def load_task(root: Path, cases_=None, **grader):
    task_yaml = factories.io_task_yaml(grader={"kind": "io", "command": ["python3", "main.py"], **grader})
    files = factories.io_task_files(cases_ or SECRET_CASES)
    if grader.get("comparator", {}).get("type") == "checker":
        files["grader/check.py"] = "import sys\n"
    pack = factories.write_pack(root, {"sample": {"task": task_yaml, "files": files}})
    return packs.load_pack(pack, environments=["python"]).task("sample")


@pytest.fixture
def task(tmp_path: Path):
    return load_task(
        tmp_path / "pack", cases=[{"name": "gamma", "stdin": "input-three", "expected": "EXPECTED-SECRET-THREE"}]
    )


def answer(*stdouts: bytes, **step_overrides):
    return FakeRunner(lambda spec: factories.outcome(*(factories.step(0, out, **step_overrides) for out in stdouts)))


def run(task, runner):
    grader = IoGrader(runner)
    return grader.grade(task, SUBMISSION, runner.run(grader.build_run(task, SUBMISSION)))


def every_byte_of(spec: RunSpec) -> list[bytes]:
    parts: list[bytes | str] = [
        *spec.workspace.values(),
        *spec.workspace.keys(),
        *spec.grader_files.values(),
        *spec.grader_files.keys(),
    ]
    for step in spec.steps:
        parts += [step.stdin, *(arg.encode() for arg in step.argv)]
    parts += [path.encode() for path in spec.collect]
    parts += [f"{k}={v}".encode() for k, v in spec.labels.items()]
    return [p if isinstance(p, bytes) else p.encode() for p in parts]


def test_the_run_contains_no_expected_output_anywhere(task):
    spec = IoGrader(answer()).build_run(task, SUBMISSION)
    blob = b"\n".join(every_byte_of(spec))
    assert b"EXPECTED-SECRET" not in blob
    assert dict(spec.grader_files) == {}
    assert dict(spec.workspace) == SUBMISSION
    assert spec.collect == ()


def test_each_case_is_a_step_fed_its_input_in_name_order(task):
    spec = IoGrader(answer()).build_run(task, SUBMISSION)
    assert [s.stdin for s in spec.steps] == [b"input-one\n", b"input-two\n", b"input-three"]
    assert all(s.argv == ("python3", "main.py") for s in spec.steps)
    assert [c.name for c in cases(task)] == ["alpha", "beta", "gamma"]


def test_matching_output_passes_and_mismatching_fails_with_a_reason(task):
    grading = run(task, answer(b"EXPECTED-SECRET-ONE\n", b"wrong\n", b"EXPECTED-SECRET-THREE"))
    assert [(c.id, c.status) for c in grading.checks] == [
        ("alpha", CheckStatus.PASS),
        ("beta", CheckStatus.FAIL),
        ("gamma", CheckStatus.PASS),
    ]
    assert "token 1" in grading.checks[1].message


@pytest.mark.parametrize(
    ("comparator", "verdicts"),
    [
        ({"type": "whitespace"}, [True, False, False]),
        ({"type": "exact"}, [False, False, False]),
        ({"type": "numeric", "abs_tol": 0.1}, [True, True, False]),
        ({"type": "regex"}, [False, False, True]),
    ],
)
def test_the_comparator_comes_from_the_task(tmp_path: Path, comparator, verdicts):
    expected = {"a": ("", "total  1.0\n"), "b": ("", "total 2.0\n"), "c": ("", "t.tal 3\n")}
    task = load_task(tmp_path / "pack", expected, comparator=comparator)
    grading = run(task, answer(b"total 1.0\n\n", b"total 2.05\n", b"total 3\n"))
    assert [c.status is CheckStatus.PASS for c in grading.checks] == verdicts


def test_the_default_comparator_is_whitespace(tmp_path: Path):
    task = load_task(tmp_path / "pack", {"a": ("", "1 2\n")})
    assert run(task, answer(b" 1\n2 ")).checks[0].status is CheckStatus.PASS


def test_a_nonzero_exit_fails_the_case_even_with_the_right_output(task):
    runner = FakeRunner(
        lambda spec: factories.outcome(
            factories.step(3, b"EXPECTED-SECRET-ONE\n", b"Traceback: boom\n"), factories.step(0), factories.step(0)
        )
    )
    check = run(task, runner).checks[0]
    assert check.status is CheckStatus.FAIL
    assert "exited with code 3" in check.message and "boom" in check.message


def test_a_timed_out_case_fails_with_a_clear_message(task):
    runner = FakeRunner(
        lambda spec: factories.outcome(
            factories.step(None, timed_out=True), factories.step(None), factories.step(0, b"EXPECTED-SECRET-THREE")
        )
    )
    first, second, third = run(task, runner).checks
    assert (first.status, first.message) == (CheckStatus.FAIL, "exceeded the time limit")
    assert (second.status, second.message) == (CheckStatus.FAIL, "did not run: the sandbox was stopped")
    assert third.status is CheckStatus.PASS


def test_the_check_records_the_case_duration(task):
    grading = run(task, answer(b"", b"", b"", wall_seconds=0.123456))
    assert grading.checks[0].duration_seconds == 0.1235


def test_a_runner_reporting_the_wrong_number_of_steps_is_a_grader_error(task):
    with pytest.raises(GraderError, match="expected 3 case runs"):
        run(task, answer(b"only one"))


# -- the checker comparator: the author's program, in a sandbox of its own -------------------------


def test_the_checker_runs_apart_from_the_candidate(tmp_path: Path):
    task = load_task(
        tmp_path / "pack",
        {"a": ("in-a", "EXPECTED-A"), "b": ("in-b", "EXPECTED-B")},
        comparator={"type": "checker", "command": ["python3", "/grader/check.py"]},
    )

    def handler(spec: RunSpec):
        if spec.workspace:  # the candidate's run
            return factories.outcome(factories.step(0, b"got-a"), factories.step(0, b"got-b"))
        return factories.outcome(factories.step(0, b"fine"), factories.step(1, b"b is wrong"))

    runner = FakeRunner(handler)
    grading = run(task, runner)
    candidate, checker = runner.specs
    assert b"EXPECTED" not in b"\n".join(every_byte_of(candidate))
    assert dict(checker.workspace) == {}
    assert (
        checker.grader_files[".cases/a/expected"] == b"EXPECTED-A"
        and checker.grader_files[".cases/b/actual"] == b"got-b"
    )
    assert checker.steps[0].argv == (
        "python3",
        "/grader/check.py",
        "/grader/.cases/a/input",
        "/grader/.cases/a/expected",
        "/grader/.cases/a/actual",
    )
    assert [(c.status, c.message) for c in grading.checks] == [
        (CheckStatus.PASS, "fine"),
        (CheckStatus.FAIL, "b is wrong"),
    ]


def test_a_checker_that_fails_itself_is_a_grader_error(tmp_path: Path):
    task = load_task(
        tmp_path / "pack", {"a": ("", "x")}, comparator={"type": "checker", "command": ["python3", "/grader/check.py"]}
    )
    runner = FakeRunner(lambda spec: factories.outcome(factories.step(0 if spec.workspace else 2, b"", b"checker bug")))
    with pytest.raises(GraderError, match="checker failed on case 'a'"):
        run(task, runner)


def test_the_checkers_run_is_reported_with_the_grading(tmp_path: Path):
    task = load_task(
        tmp_path / "pack",
        {"a": ("in-a", "EXPECTED-A")},
        comparator={"type": "checker", "command": ["python3", "/grader/check.py"]},
    )
    checker_run = factories.outcome(factories.step(0, b"fine"), wall_seconds=1.5, cpu_seconds=0.25)
    runner = FakeRunner(lambda spec: factories.outcome(factories.step(0, b"got-a")) if spec.workspace else checker_run)
    grading = run(task, runner)
    assert [(r.purpose, r.outcome) for r in grading.runs] == [("checker", checker_run)]


def test_a_failed_checkers_run_is_reported_with_its_grader_error(tmp_path: Path):
    task = load_task(
        tmp_path / "pack", {"a": ("", "x")}, comparator={"type": "checker", "command": ["python3", "/grader/check.py"]}
    )
    runner = FakeRunner(lambda spec: factories.outcome(factories.step(0 if spec.workspace else 2, b"", b"checker bug")))
    with pytest.raises(GraderError) as raised:
        run(task, runner)
    assert [(r.purpose, r.outcome.exit_code) for r in raised.value.runs] == [("checker", 2)]


def test_without_a_checker_the_grader_starts_no_run(task):
    grading = run(task, answer(b"EXPECTED-SECRET-ONE\n", b"EXPECTED-SECRET-TWO\n", b"EXPECTED-SECRET-THREE"))
    assert grading.runs == ()
