"""Skill mapping is proven: validation refuses rules that map nothing or name unknown skills,
and ``pack check`` requires the reference to be ready with 100 in every micro-skill."""

from __future__ import annotations

import json
from pathlib import Path

from engine import packs
from engine.checking import check_task
from graders import GraderSet
from graders.io_grader import IoGrader
from graders.script_grader import RESULTS, ScriptGrader
from runners.fake import FakeRunner
from tests import factories
from tests.engine.test_packs import has, load, problems_of

SKILLS = ["python.text.upper", "python.text.edge-cases"]


def io_pack(root: Path, checks: list[dict], skills: list[str] = SKILLS) -> Path:
    task = factories.io_task_yaml(
        micro_skills=skills, grader={"kind": "io", "command": ["python3", "main.py"], "checks": checks}
    )
    return factories.write_pack(root, {"sample": {"task": task, "files": factories.io_task_files()}})


def test_a_micro_skill_outside_the_tasks_list_is_refused_naming_the_rule(tmp_path: Path):
    root = io_pack(tmp_path / "p", [{"match": "one", "micro_skill": "python.text.uper"}])
    problems = problems_of(root)
    assert has(problems, "sample/task.yaml", "$.grader.checks[0].micro_skill", "'python.text.uper' is not one of")
    assert any("fix the spelling or add it to micro_skills" in p.message for p in problems)


def test_a_match_that_maps_no_check_is_refused_listing_the_checks(tmp_path: Path):
    root = io_pack(tmp_path / "p", [{"match": "three*", "micro_skill": SKILLS[0]}])
    problems = problems_of(root)
    assert has(problems, "sample/task.yaml", "$.grader.checks[0].match", "'three*' matches no check")
    assert any("one, two" in p.message for p in problems)


def test_a_rule_shadowed_by_an_earlier_one_is_refused(tmp_path: Path):
    root = io_pack(
        tmp_path / "p", [{"match": "*", "micro_skill": SKILLS[0]}, {"match": "one", "micro_skill": SKILLS[1]}]
    )
    assert has(problems_of(root), "sample/task.yaml", "$.grader.checks[1].match", "the first match wins")


def test_rules_that_each_map_a_check_validate(tmp_path: Path):
    root = io_pack(
        tmp_path / "p", [{"match": "one", "micro_skill": SKILLS[1]}, {"match": "*", "micro_skill": SKILLS[0]}]
    )
    assert load(root).task("sample").check_rules[0].micro_skill == SKILLS[1]


def pytest_pack(root: Path, tests: str, checks: list[dict]) -> Path:
    files = factories.pytest_task_files(**{"grader/test_sample.py": tests})
    task = factories.pytest_task_yaml(grader={"kind": "pytest", "checks": checks})
    return factories.write_pack(root, {"sample": {"task": task, "files": files}})


def test_pytest_ids_are_read_from_the_hidden_tests_without_running_them(tmp_path: Path):
    tests = (
        "import pytest\n\ndef test_small():\n    pass\n\nclass TestMore:\n    def test_big(self):\n        pass\n\n"
        "@pytest.mark.parametrize('x', [1, 2])\ndef test_many(x):\n    pass\n"
    )
    good = pytest_pack(
        tmp_path / "good",
        tests,
        [{"match": "*::TestMore::test_big"}, {"match": "*test_many*"}, {"match": "*test_many[2]"}, {"match": "*"}],
    )
    load(good)  # a pattern naming parameters waits for pack check
    bad = pytest_pack(tmp_path / "bad", tests, [{"match": "*::test_tiny"}])
    assert has(problems_of(bad), "sample/task.yaml", "$.grader.checks[0].match", "'*::test_tiny' matches no check")


def check(task, grader_cls, handler):
    runner = factories.harness_runner(handler)
    return check_task(task, runner=runner, grader=grader_cls(runner))


def test_pack_check_fails_a_reference_at_100_overall_that_is_not_ready_in_every_skill(tmp_path: Path):
    """Every check maps to one skill: the other skill is evidenced by nothing, so it stays at 0."""
    root = io_pack(tmp_path / "p", [{"match": "*", "micro_skill": SKILLS[0]}])
    task = load(root).task("sample")

    def answer(spec):
        return factories.outcome(*(factories.step(0, s.stdin.upper()) for s in spec.steps))

    report = check(task, IoGrader, answer)
    assert report.reference[0].score == 100
    assert report.skills() == {
        SKILLS[0]: {"score": 100.0, "verdict": "ready"},
        SKILLS[1]: {"score": 0.0, "verdict": "not_ready"},
    }
    assert any(
        "must be ready with 100 in every micro-skill; python.text.edge-cases 0 not_ready" in p for p in report.problems
    )
    assert report.to_document()["reference_skills"] == report.skills()


def test_pack_check_refuses_a_rule_matching_none_of_the_checks_the_reference_produced(tmp_path: Path):
    """A script grader's ids exist only at run time: pack check judges its rules with the real ones."""
    task_yaml = factories.script_task_yaml(
        micro_skills=["python.basics.sample"],
        grader={
            "kind": "script",
            "command": ["python3", "/grader/grade.py"],
            "checks": [{"match": "totals-*", "micro_skill": "python.basics.sample"}],
        },
    )
    files = {**factories.pytest_task_files(), "grader/grade.py": "pass\n"}
    root = factories.write_pack(tmp_path / "p", {"sample": {"task": task_yaml, "files": files}})
    task = load(root).task("sample")
    reference = packs.reference_submission(task)

    def answer(spec):
        passed = dict(spec.workspace) == reference
        tests = [{"name": "adds", "score": 1 if passed else 0, "max_score": 1}]
        return factories.outcome(collected={RESULTS: json.dumps({"tests": tests}).encode()})

    report = check(task, ScriptGrader, answer)
    assert any(
        "$.grader.checks[0].match: 'totals-*' matches no check of this task (its checks: adds)" in p
        for p in report.problems
    ), report.problems


def test_pack_check_reports_a_grader_fault_with_what_the_grader_printed(tmp_path: Path):
    files = {**factories.pytest_task_files(), "grader/grade.py": "pass\n"}
    root = factories.write_pack(tmp_path / "p", {"sample": {"task": factories.script_task_yaml(), "files": files}})
    task = load(root).task("sample")
    report = check(task, ScriptGrader, lambda spec: factories.outcome(factories.step(1, b"", b"NameError: oops")))
    assert not report.ok
    assert any("reference run 1: the task's grader failed" in p and "NameError: oops" in p for p in report.problems)


def test_validation_of_the_skill_mapping_runs_nothing(tmp_path: Path):
    root = io_pack(tmp_path / "p", [{"match": "one", "micro_skill": SKILLS[1]}, {"match": "*"}])
    never = FakeRunner(lambda spec: (_ for _ in ()).throw(AssertionError("ran")))
    assert GraderSet(never).problems(load(root).task("sample")) == []
