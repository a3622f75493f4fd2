"""The pytest grader with the fake runner: results come only from the harness's report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine import packs
from engine.errors import GraderError
from engine.models import CheckStatus
from graders.pytest_grader import BRIDGE_PORT, REPORT, PytestGrader, grader_digest, tamper_warnings
from runners.fake import FakeRunner
from tests import factories

SMALL, NEGATIVE = "test_sample.py::test_small", "test_sample.py::test_negative"
TESTS = [SMALL, NEGATIVE]
SUBMISSION = {"sample.py": b"def add(a, b):\n    return a + b\n"}


def load_task(root: Path, files: dict[str, str] | None = None, **task_overrides):
    pack = factories.write_pack(
        root,
        {
            "sample": {
                "task": factories.pytest_task_yaml(**task_overrides),
                "files": factories.pytest_task_files(**(files or {})),
            }
        },
    )
    return packs.load_pack(pack, environments=["python"]).task("sample")


@pytest.fixture
def task(tmp_path: Path):
    return load_task(tmp_path / "pack")


def reporting(results: dict[str, str], **extra):
    return factories.pytest_runner(
        TESTS, run=lambda spec: factories.outcome(collected={REPORT: factories.pytest_report(TESTS, results, **extra)})
    )


def grade(task, runner, submission=SUBMISSION, grader=None):
    grader = grader or PytestGrader(runner)
    return grader.grade(task, submission, runner.run(grader.build_run(task, submission)))


def test_every_expected_test_becomes_a_check(task):
    grading = grade(task, reporting({SMALL: "pass", NEGATIVE: "fail"}))
    assert [(c.id, c.name, c.status) for c in grading.checks] == [
        (SMALL, "test_small", CheckStatus.PASS),
        (NEGATIVE, "test_negative", CheckStatus.FAIL),
    ]
    assert grading.crashed == ""


def test_an_expected_test_that_did_not_report_counts_as_failed(task):
    grading = grade(task, reporting({SMALL: "pass"}))
    missing = grading.checks[1]
    assert (missing.id, missing.status, missing.score) == (NEGATIVE, CheckStatus.FAIL, 0.0)
    assert "did not report" in missing.message


def test_results_for_tests_not_in_the_expected_list_are_ignored(task):
    forged = {SMALL: "fail", NEGATIVE: "fail", "test_sample.py::test_bonus": "pass", "conftest.py::x": "pass"}
    grading = grade(task, reporting(forged))
    assert [c.id for c in grading.checks] == TESTS
    assert all(c.status is CheckStatus.FAIL for c in grading.checks)


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        ("pass", CheckStatus.PASS),
        ("fail", CheckStatus.FAIL),
        ("error", CheckStatus.ERROR),
        ("skipped", CheckStatus.SKIPPED),
        ("something-else", CheckStatus.ERROR),
    ],
)
def test_harness_outcomes_map_to_check_statuses(task, outcome, status):
    grading = grade(task, reporting({SMALL: outcome, NEGATIVE: "pass"}))
    assert grading.checks[0].status is status


def test_a_timed_out_run_says_so_for_each_test_that_did_not_report(task):
    runner = factories.pytest_runner(TESTS, run=lambda spec: factories.outcome(factories.step(None, timed_out=True)))
    grading = grade(task, runner)
    assert all("time limit" in c.message for c in grading.checks)
    assert grading.crashed == ""  # the status says timeout; it is not a crash


def test_an_oom_killed_run_says_so(task):
    runner = factories.pytest_runner(TESTS, run=lambda spec: factories.outcome(factories.step(137), oom_killed=True))
    grading = grade(task, runner)
    assert all("too much memory" in c.message for c in grading.checks)


def test_a_run_without_a_report_is_a_crash(task):
    runner = factories.pytest_runner(
        TESTS, run=lambda spec: factories.outcome(factories.step(0, b"test_sample.py::test_small PASSED\n"))
    )
    grading = grade(task, runner)
    assert grading.crashed and "exit 0" in grading.crashed
    assert all(c.status is CheckStatus.FAIL for c in grading.checks)


def test_a_collection_error_in_the_candidates_run_is_explained(task):
    report = factories.pytest_report(TESTS, {}, collect_errors={"test_sample.py": "ImportError: cannot import add"})
    runner = factories.pytest_runner(TESTS, run=lambda spec: factories.outcome(collected={REPORT: report}))
    grading = grade(task, runner)
    assert all("could not be collected" in c.message and "ImportError" in c.message for c in grading.checks)


def test_author_rules_set_weight_skill_and_visibility(tmp_path: Path):
    task = load_task(
        tmp_path / "pack",
        grader={
            "kind": "pytest",
            "checks": [{"match": "*negative*", "weight": 3, "micro_skill": "python.basics.signs", "visible": True}],
        },
    )
    small, negative = grade(task, reporting({SMALL: "pass", NEGATIVE: "pass"})).checks
    assert (negative.weight, negative.micro_skill, negative.visible) == (3, "python.basics.signs", True)
    assert (small.weight, small.micro_skill, small.visible) == (1.0, None, False)


# -- the expected list ----------------------------------------------------------------------------


def modes(runner: FakeRunner) -> list[str]:
    return [(spec.client or spec).steps[0].argv[3] for spec in runner.specs]


STARTER = {"sample.py": b"def add(a, b):\n    raise NotImplementedError\n"}


def test_the_expected_list_is_collected_once_per_grader_digest(task, tmp_path: Path):
    runner = reporting({SMALL: "pass", NEGATIVE: "pass"})
    grader = PytestGrader(runner)
    for _ in range(3):
        grade(task, runner, STARTER, grader=grader)
    assert modes(runner) == ["run", "collect", "run", "run"]

    reworded = load_task(tmp_path / "reworded", summary="A changed summary")
    assert reworded.digest != task.digest and grader_digest(reworded) == grader_digest(task)
    grade(reworded, runner, STARTER, grader=grader)
    assert modes(runner).count("collect") == 1  # only the statement changed: the list stands

    regraded = load_task(tmp_path / "regraded", files={"grader/test_sample.py": "def test_small():\n    pass\n"})
    assert grader_digest(regraded) != grader_digest(task)
    grade(regraded, runner, STARTER, grader=grader)
    assert modes(runner).count("collect") == 2  # a changed grader re-collects


def test_the_grader_digest_covers_the_reference_and_the_tests_folder_but_not_the_rest(tmp_path: Path):
    base = grader_digest(load_task(tmp_path / "base"))
    other_reference = load_task(tmp_path / "ref", files={"solution/sample.py": "def add(a, b):\n    return b + a\n"})
    assert grader_digest(other_reference) != base  # the tests are collected with the reference
    moved = load_task(
        tmp_path / "moved",
        files={"grader/tests/test_sample.py": "def test_small():\n    pass\n"},
        grader={"kind": "pytest", "tests": "tests"},
    )
    assert grader_digest(moved) != base
    cosmetic = load_task(
        tmp_path / "cosmetic",
        files={"statement.md": "# Add\n\nReworded.\n"},
        title="Renamed",
        scoring={"pass_threshold": 50},
    )
    assert grader_digest(cosmetic) == base


def test_the_references_own_run_supplies_the_list_without_a_collection_sandbox(task, tmp_path: Path):
    runner = reporting({SMALL: "pass", NEGATIVE: "pass"})
    grader = PytestGrader(runner, cache_dir=tmp_path / "cache")
    assert packs.reference_submission(task) == SUBMISSION
    assert [c.status for c in grade(task, runner, SUBMISSION, grader=grader).checks] == [CheckStatus.PASS] * 2
    grade(task, runner, STARTER, grader=grader)
    assert modes(runner) == ["run", "run"]
    stored = tmp_path / "cache" / f"pytest-{grader_digest(task).removeprefix('sha256:')}.json"
    assert json.loads(stored.read_text()) == TESTS


def test_a_reference_run_that_did_not_collect_falls_back_to_a_collection(task):
    report = factories.pytest_report([], {}, collect_errors={"test_sample.py": "ImportError: boom"})
    runner = factories.pytest_runner(TESTS, run=lambda spec: factories.outcome(collected={REPORT: report}))
    grader = PytestGrader(runner)
    grade(task, runner, SUBMISSION, grader=grader)
    assert modes(runner) == ["run", "collect"]  # the collection (with the reference) decides, as before


def test_collection_runs_the_reference_solution_against_the_hidden_tests(task):
    runner = reporting({})
    PytestGrader(runner).expected_tests(task)
    [spec] = runner.specs
    assert dict(spec.workspace) == packs.reference_submission(task)
    assert spec.steps[0].argv[3:] == ("collect", REPORT, "/grader")
    assert "test_sample.py" in spec.grader_files


def test_the_expected_list_is_cached_on_disk(task, tmp_path: Path):
    cache = tmp_path / "cache"
    first = reporting({})
    assert PytestGrader(first, cache_dir=cache).expected_tests(task) == tuple(TESTS)
    stored = cache / f"pytest-{grader_digest(task).removeprefix('sha256:')}.json"
    assert json.loads(stored.read_text()) == TESTS

    second = reporting({})
    assert PytestGrader(second, cache_dir=cache).expected_tests(task) == tuple(TESTS)
    assert second.specs == []  # answered from the cache, nothing ran


def test_without_a_cache_dir_nothing_is_written(task, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    PytestGrader(reporting({})).expected_tests(task)
    assert list(tmp_path.rglob("pytest-*.json")) == []


@pytest.mark.parametrize(
    "report",
    [
        factories.pytest_report([], collect_errors={"test_sample.py": "SyntaxError"}),
        factories.pytest_report([]),
        b"not json",
        None,
    ],
)
def test_a_failed_reference_collection_is_a_grader_error(task, report, tmp_path: Path):
    def collect(spec):
        if report is None:
            return factories.outcome(factories.step(1, b"", b"Traceback: harness crashed"))
        return factories.outcome(collected={REPORT: report})

    grader = PytestGrader(factories.harness_runner(collect), cache_dir=tmp_path / "cache")
    with pytest.raises(GraderError, match=r"'sample'.*collecting the hidden tests"):
        grader.expected_tests(task)
    assert not (tmp_path / "cache").exists() or list((tmp_path / "cache").iterdir()) == []


def test_a_failed_collection_names_the_error(task):
    report = factories.pytest_report([], collect_errors={"test_sample.py": "SyntaxError: bad hidden test"})
    grader = PytestGrader(factories.harness_runner(lambda spec: factories.outcome(collected={REPORT: report})))
    with pytest.raises(GraderError, match="bad hidden test"):
        grader.expected_tests(task)


# -- the run ---------------------------------------------------------------------------------------


def test_the_run_isolates_python_and_reads_only_the_report(tmp_path: Path):
    task = load_task(tmp_path / "pack", grader={"kind": "pytest", "isolation": "shared-process"})
    spec = PytestGrader(reporting({})).build_run(task, SUBMISSION)
    [step] = spec.steps
    assert step.argv[:3] == ("python3", "-I", "/grader/.tasktrial/pytest_harness.py")
    assert step.argv[3:] == ("run", REPORT, "/grader")
    assert spec.collect == (REPORT,)
    assert dict(spec.workspace) == SUBMISSION
    assert {".tasktrial/pytest_harness.py", ".tasktrial/pytest.ini", "test_sample.py"} <= set(spec.grader_files)
    assert spec.limits == task.limits
    assert spec.service is None and spec.client is None


def test_by_default_the_tests_run_in_a_sandbox_of_their_own(task):
    """separate-sandbox: the hidden tests and the report's key go to the grader's sandbox only;
    the candidate's sandbox serves the submission's modules and holds nothing hidden."""
    spec = PytestGrader(reporting({})).build_run(task, SUBMISSION)
    tests = spec.client
    [step] = tests.steps
    assert step.argv[:3] == ("python3", "-I", "/grader/.tasktrial/pytest_harness.py")
    assert step.argv[3:] == ("run", REPORT, "/grader", f"candidate:{BRIDGE_PORT}")
    assert tests.collect == (REPORT,) and spec.collect == ()
    assert dict(tests.workspace) == SUBMISSION == dict(spec.workspace)
    assert {".tasktrial/pytest_harness.py", ".tasktrial/pytest_bridge.py", "test_sample.py"} <= set(tests.grader_files)
    assert set(spec.grader_files) == {".tasktrial/pytest_bridge.py"}
    assert spec.steps == () and spec.service.port == BRIDGE_PORT
    assert spec.service.argv[-3:] == ("serve", str(BRIDGE_PORT), "/workspace")
    assert tests.limits == spec.limits == task.limits


def test_only_shared_process_tasks_carry_a_tamper_warning(task, tmp_path: Path):
    shared = load_task(tmp_path / "shared", grader={"kind": "pytest", "isolation": "shared-process"})
    assert tamper_warnings(task) == []
    [warning] = tamper_warnings(shared)
    assert "shared-process" in warning and "not tamper-proof" in warning


def test_a_tests_folder_is_passed_to_the_harness(tmp_path: Path):
    files = factories.pytest_task_files()
    files["grader/tests/test_sample.py"] = files.pop("grader/test_sample.py")
    pack = factories.write_pack(
        tmp_path / "pack",
        {"sample": {"task": factories.pytest_task_yaml(grader={"kind": "pytest", "tests": "tests"}), "files": files}},
    )
    task = packs.load_pack(pack, environments=["python"]).task("sample")
    spec = PytestGrader(reporting({})).build_run(task, SUBMISSION)
    assert spec.client is not None
    assert spec.client.steps[0].argv[-2] == "/grader/tests"


def test_a_report_signed_with_another_key_counts_as_no_report(task):
    """A submission that writes its own report file (or rewrites ours) cannot know the run's key."""
    from graders._harness import sign_report

    forged = sign_report(b"0" * 64, factories.pytest_report(TESTS, dict.fromkeys(TESTS, "pass")))
    runner = factories.pytest_runner(TESTS, run=lambda spec: factories.outcome(collected={REPORT: forged}))
    grading = grade(task, runner)
    assert grading.crashed
    assert all(check.status is CheckStatus.FAIL for check in grading.checks)
