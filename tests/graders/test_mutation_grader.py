"""The mutation kind: the gate, one fresh sandbox per variant, what leaks, validation, the example task."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from engine import schemas, scoring
from engine.models import CheckStatus, RunSpec, StepOutcome
from graders.mutation_grader import GATE, NOT_JUDGED, MutationGrader
from graders.pytest_grader import REPORT
from tests import factories
from tests.conftest import CATALOGUE

REFERENCE = b"def add(a, b):\n    return a + b  # reference\n"
VARIANTS = {
    "off-by-one": b"def add(a, b):\n    return a + b + 1  # off-by-one\n",
    "swapped": b"def add(a, b):\n    return a - b  # swapped\n",
}
SUBMISSION = {
    "calc.py": b"def add(a, b):\n    return 0  # the candidate's own copy\n",
    "test_calc.py": b"from calc import add\n\ndef test_add():\n    assert add(2, 3) == 5\n",
}


def mutation_task(tmp_path: Path, variants=VARIANTS, **overrides):
    root = tmp_path / "task"
    (root / "grader" / "reference").mkdir(parents=True)
    (root / "grader" / "reference" / "calc.py").write_bytes(REFERENCE)
    (root / "grader" / "reference" / "README.txt").write_bytes(b"not code")
    for name, code in variants.items():
        (root / "grader" / "variants" / name).mkdir(parents=True)
        (root / "grader" / "variants" / name / "calc.py").write_bytes(code)
    return factories.task(root=root, grader={"kind": "mutation"}, **overrides)


def report(results: dict[str, str], exitstatus: int | None = None, **extra) -> bytes:
    if exitstatus is None:
        exitstatus = 0 if all(v == "pass" for v in results.values()) and results else 1
    return json.dumps(
        {
            "mode": "run",
            "collected": list(results),
            "exitstatus": exitstatus,
            "collect_errors": {},
            "results": {k: {"outcome": v, "message": f"{k} said {v}", "duration": 0.01} for k, v in results.items()},
            **extra,
        }
    ).encode()


def implementation(spec: RunSpec) -> str:
    """Which implementation a spec carries, read from its marker comment."""
    code = spec.workspace["calc.py"].decode()
    return code.split("# ", 1)[1].split("\n", 1)[0]


def runner_where(results_by_impl: dict[str, dict[str, str]], **outcome_overrides):
    def handle(spec: RunSpec):
        results = results_by_impl[implementation(spec)]
        return factories.outcome(collected={REPORT: report(results)}, **outcome_overrides.get(implementation(spec), {}))

    return factories.harness_runner(handle)


def graded(task, runner, submission=SUBMISSION):
    grader = MutationGrader(runner)
    spec = grader.build_run(task, submission)
    return grader.grade(task, submission, runner.run(spec)), runner.specs


def by_id(grading):
    return {check.id: check for check in grading.checks}


# -- the runs ------------------------------------------------------------------


def test_the_reference_run_holds_the_submission_and_the_reference_only(tmp_path):
    task = mutation_task(tmp_path)
    spec = MutationGrader(factories.harness_runner(lambda s: None)).build_run(task, SUBMISSION)

    assert spec.workspace["test_calc.py"] == SUBMISSION["test_calc.py"]
    assert spec.workspace["calc.py"].startswith(REFERENCE), "the reference replaces the candidate's copy"
    assert spec.workspace["README.txt"] == b"not code", "only .py files are salted"
    assert spec.collect == (REPORT,)
    everything = b"".join([*spec.workspace.values(), *spec.grader_files.values()])
    assert not any(code in everything for code in VARIANTS.values()), "no variant enters the reference run"


def test_python_files_get_a_random_trailing_comment_per_run(tmp_path):
    task = mutation_task(tmp_path)
    grader = MutationGrader(factories.harness_runner(lambda s: None))
    first, second = (grader.build_run(task, SUBMISSION).workspace["calc.py"] for _ in range(2))
    assert first != second
    assert first.startswith(REFERENCE) and second.startswith(REFERENCE)


def test_every_variant_runs_in_its_own_sandbox_that_looks_like_the_reference_run(tmp_path):
    task = mutation_task(tmp_path)
    runner = runner_where(
        {
            "reference": {"t::a": "pass", "t::b": "pass"},
            "off-by-one": {"t::a": "fail", "t::b": "pass"},
            "swapped": {"t::a": "pass", "t::b": "pass"},
        }
    )
    grading, specs = graded(task, runner)

    assert [implementation(s) for s in specs] == ["reference", "off-by-one", "swapped"]
    assert len({tuple(step.argv for step in s.steps) for s in specs}) == 1, "same command in every run"
    keys = [s.steps[0].stdin.strip() for s in specs]
    assert len(set(keys)) == len(keys) and all(len(k) == 64 for k in keys), "a fresh report key per run"
    assert len({tuple(sorted(s.workspace)) for s in specs}) == 1, "same paths in every run"
    for spec in specs:
        others = [code for name, code in VARIANTS.items() if name != implementation(spec)]
        assert not any(code in b"".join(spec.workspace.values()) for code in others)
        assert spec.workspace["test_calc.py"] == SUBMISSION["test_calc.py"]
    checks = by_id(grading)
    assert checks["caught-off-by-one"].status is CheckStatus.PASS
    assert checks["caught-off-by-one"].message == "caught: 1 of 2 of your tests failed"
    assert checks["caught-swapped"].status is CheckStatus.FAIL
    assert checks["caught-swapped"].message == "not caught: all 2 of your tests passed"
    assert checks[GATE].status is CheckStatus.PASS
    assert scoring.weighted_score(grading.checks) == 50


def test_every_variants_run_is_reported_with_the_grading_and_none_when_the_gate_fails(tmp_path):
    task = mutation_task(tmp_path)
    runner = runner_where(
        {"reference": {"t::a": "pass"}, "off-by-one": {"t::a": "fail"}, "swapped": {"t::a": "pass"}},
        **{"off-by-one": {"wall_seconds": 1.5}, "swapped": {"wall_seconds": 2.5}},
    )
    grading, _ = graded(task, runner)
    assert [(run.purpose, run.outcome.wall_seconds) for run in grading.runs] == [
        ("variant off-by-one", 1.5),
        ("variant swapped", 2.5),
    ]
    gated, _ = graded(task, runner_where({"reference": {"t::a": "fail"}}))
    assert gated.runs == ()


def test_a_variant_message_never_carries_test_ids_or_failure_text(tmp_path):
    task = mutation_task(tmp_path)
    leaky = "t::test[def add(a, b): return a + b + 1]"
    runner = runner_where({"reference": {leaky: "pass"}, "off-by-one": {leaky: "fail"}, "swapped": {leaky: "fail"}})
    grading, _ = graded(task, runner)
    for check in grading.checks:
        if check.id != GATE:
            assert "def add" not in check.message and "said" not in check.message


def test_a_failing_reference_gates_every_variant_and_scores_zero(tmp_path):
    task = mutation_task(tmp_path)
    runner = runner_where({"reference": {"test_calc.py::test_add": "fail", "test_calc.py::test_ok": "pass"}})
    grading, specs = graded(task, runner)

    assert len(specs) == 1, "no variant runs when the gate fails"
    checks = by_id(grading)
    assert checks[GATE].status is CheckStatus.FAIL
    assert "1 of your tests fail on the reference implementation" in checks[GATE].message
    assert "test_calc.py::test_add" in checks[GATE].message and "said fail" in checks[GATE].message
    assert [(c.status, c.message) for c in grading.checks if c.id != GATE] == [(CheckStatus.FAIL, NOT_JUDGED)] * 2
    assert scoring.weighted_score(grading.checks) == 0


def test_the_gate_is_worth_nothing_by_itself(tmp_path):
    task = mutation_task(tmp_path, check_rules=(factories.rule("*", weight=2),))
    runner = runner_where({"reference": {"t::a": "pass"}, "off-by-one": {"t::a": "pass"}, "swapped": {"t::a": "pass"}})
    grading, _ = graded(task, runner)
    checks = by_id(grading)
    assert checks[GATE].status is CheckStatus.PASS and checks[GATE].weight == 0
    assert checks["caught-swapped"].weight == 2
    assert scoring.weighted_score(grading.checks) == 0


@pytest.mark.parametrize(
    ("results", "message"),
    [
        ({}, "no tests were found"),
        ({"t::a": "skipped"}, "none of your tests passed"),
    ],
)
def test_a_suite_that_proves_nothing_fails_the_gate(tmp_path, results, message):
    task = mutation_task(tmp_path)
    document = report(results, exitstatus=0 if results else 5)
    runner = factories.harness_runner(lambda spec: factories.outcome(collected={REPORT: document}))
    grading, specs = graded(task, runner)
    assert len(specs) == 1
    assert by_id(grading)[GATE].status is CheckStatus.FAIL
    assert message in by_id(grading)[GATE].message


def test_timeouts_fail_the_gate_on_the_reference_and_catch_a_variant(tmp_path):
    task = mutation_task(tmp_path)
    timed_out = StepOutcome(exit_code=None, timed_out=True)
    slow_reference = factories.harness_runner(lambda spec: factories.outcome(timed_out))
    grading, _ = graded(task, slow_reference)
    assert "did not finish within 10 s on the reference" in by_id(grading)[GATE].message

    def slow_variant(spec):
        if implementation(spec) == "swapped":
            return factories.outcome(timed_out)
        return factories.outcome(collected={REPORT: report({"t::a": "pass"})})

    grading, _ = graded(task, factories.harness_runner(slow_variant))
    checks = by_id(grading)
    assert checks["caught-swapped"].status is CheckStatus.PASS
    assert "did not finish" in checks["caught-swapped"].message
    assert checks["caught-off-by-one"].status is CheckStatus.FAIL


def test_a_reference_run_that_never_reported_is_a_crash(tmp_path):
    task = mutation_task(tmp_path)
    grading, _ = graded(task, factories.harness_runner(lambda spec: factories.outcome(StepOutcome(exit_code=0))))
    assert by_id(grading)[GATE].status is CheckStatus.FAIL
    assert grading.crashed == "the test run ended (exit 0) before reporting any result"


def test_a_variant_run_that_never_reported_counts_as_caught(tmp_path):
    task = mutation_task(tmp_path)

    def handle(spec):
        if implementation(spec) == "reference":
            return factories.outcome(collected={REPORT: report({"t::a": "pass"})})
        return factories.outcome(StepOutcome(exit_code=0))

    grading, _ = graded(task, factories.harness_runner(handle))
    assert by_id(grading)["caught-swapped"].status is CheckStatus.PASS
    assert grading.crashed == ""


# -- validation --------------------------------------------------------------


def test_a_valid_task_has_no_problems(tmp_path):
    assert MutationGrader(factories.harness_runner(lambda s: None)).problems(mutation_task(tmp_path)) == []


def test_variant_problems_are_named(tmp_path):
    task = mutation_task(tmp_path, variants={"same": REFERENCE, "Bad_Name": VARIANTS["swapped"]})
    (task.root / "grader" / "variants" / "extra").mkdir()
    (task.root / "grader" / "variants" / "extra" / "other.py").write_text("x = 1\n")
    problems = {
        p.file.rsplit("/", 1)[-1]: p.message
        for p in MutationGrader(factories.harness_runner(lambda s: None)).problems(task)
    }
    assert "does not differ" in problems["same"]
    assert "lower-case words" in problems["Bad_Name"]
    assert "other.py not in grader/reference" in problems["extra"]


def test_missing_reference_or_variants_are_problems(tmp_path):
    grader = MutationGrader(factories.harness_runner(lambda s: None))
    task = mutation_task(tmp_path, variants={})
    assert "holds no variant folder" in grader.problems(task)[0].message
    shutil.rmtree(task.root / "grader" / "reference")
    assert "reference implementation" in grader.problems(task)[0].message


def test_the_task_schema_takes_no_other_fields():
    doc = factories.pytest_task_yaml(grader={"kind": "mutation", "checks": [{"match": "caught-*", "weight": 2}]})
    assert schemas.problems("task", doc) == []
    doc["grader"]["tests"] = "tests"
    assert schemas.problems("task", doc)


# -- the example task, in the real sandbox -----------------------------------


@pytest.mark.docker
def test_test_the_parser_reference_is_ready_and_starter_is_not(tmp_path, docker_runner, graders):
    from engine import packs
    from engine.checking import check_task
    from runners import images

    pack_root = tmp_path / "pack"
    factories.one_task_pack(CATALOGUE / "backend-services", "test-the-parser", pack_root)
    pack = packs.load_pack(pack_root, environments=images.environments(), task_checks=graders.problems)
    task = pack.task("test-the-parser")

    report = check_task(task, runner=docker_runner, grader=graders.for_task(task), repeat=3)

    assert report.problems == []
    assert [(r.verdict.value, r.score) for r in report.reference] == [("ready", 100.0)] * 3
    starter = report.starter[0]
    assert starter.verdict.value == "not_ready"
    gate = next(c for c in starter.checks if c.id == GATE)
    assert gate.status is CheckStatus.PASS, "the starter's examples pass on the reference"
    assert 0 < starter.score < task.pass_threshold
    variants = sorted(p.name for p in (task.root / "grader" / "variants").iterdir() if p.is_dir())
    runs = starter.to_document()["runner"]["grader_runs"]
    assert [run["purpose"] for run in runs] == [f"variant {name}" for name in variants]
    assert all(run["wall_seconds"] > 0 and run["cpu_seconds"] is not None for run in runs)


@pytest.mark.docker
def test_a_suite_that_hashes_the_module_fails_the_gate(tmp_path, docker_runner, graders):
    """The trivial way to 'catch' every variant: compare the module's bytes with the reference's."""
    from engine import packs
    from engine.grading import grade_submission
    from runners import images

    pack_root = tmp_path / "pack"
    factories.one_task_pack(CATALOGUE / "backend-services", "test-the-parser", pack_root)
    task = packs.load_pack(pack_root, environments=images.environments()).task("test-the-parser")
    starter = packs.starter_files(task)
    digest = hashlib.sha256(starter["durations.py"]).hexdigest()
    gaming = (
        b"import hashlib, durations\n\ndef test_is_the_reference():\n"
        b"    data = open(durations.__file__, 'rb').read()\n"
        b"    assert hashlib.sha256(data).hexdigest() == '" + digest.encode() + b"'\n"
    )

    result = grade_submission(
        task, {**starter, "test_durations.py": gaming}, runner=docker_runner, grader=graders.for_task(task)
    )

    assert result.score == 0
    assert next(c for c in result.checks if c.id == GATE).status is CheckStatus.FAIL
