"""Rubrics: validation, reviewed checks, one combined document, and how pack check marks a reviewed task."""

from __future__ import annotations

import shutil

import pytest

from engine import packs, review
from engine.checking import check_task
from engine.errors import PackError
from graders import GraderSet, validation_checks
from runners import images
from runners.fake import FakeRunner
from tests.conftest import CATALOGUE

WRITING = CATALOGUE / "professional-writing"


def _never(spec):
    raise AssertionError("a review task must not run anything")


def load(root=WRITING):
    return packs.load_pack(root, environments=images.environments(), task_checks=validation_checks())


def test_the_writing_pack_has_two_reviewed_tasks_with_reference_answers():
    pack = load()
    assert {t.id for t in pack.tasks} == {"incident-summary", "design-brief"}
    for task in pack.tasks:
        assert task.grader_kind == "review" and len(task.rubric) >= 2
        assert (task.root / packs.REVIEW_REFERENCE).is_file()


def test_pack_check_marks_the_reference_top_and_the_starter_bottom_without_running_anything():
    for task in load().tasks:
        report = check_task(task, runner=FakeRunner(_never), grader=GraderSet(FakeRunner(_never)).for_task(task))
        assert report.ok, report.problems
        assert [(r.verdict.value, r.score) for r in report.reference] == [("ready", 100.0)]
        assert [(r.verdict.value, r.score) for r in report.starter] == [("not_ready", 0.0)]


def test_validation_names_a_bad_rubric(tmp_path):
    root = tmp_path / "professional-writing"
    shutil.copytree(WRITING, root)
    (root / "design-brief" / packs.REVIEW_REFERENCE).unlink()
    yaml_path = root / "incident-summary" / "task.yaml"
    yaml_path.write_text(
        yaml_path.read_text().replace(
            "micro_skill: operations.incidents.root-cause", "micro_skill: operations.incidents.typo"
        )
    )
    with pytest.raises(PackError) as caught:
        load(root)
    text = str(caught.value)
    assert "design-brief/review/reference.md" in text
    assert "'operations.incidents.typo' is not one of the task's micro_skills" in text


def test_reviewed_checks_and_combine():
    task = load().task("design-brief")
    checks = review.reviewed_checks(task, {"audience": 4, "options": 0, "rollout": 3}, {"options": "none"})
    assert [(c.id, c.score, c.max_score, c.weight) for c in checks] == [
        ("review.audience", 4, 4, 1),
        ("review.options", 0, 4, 2),
        ("review.rollout", 3, 3, 1),
    ]
    automated = {"checks": [], "status": "completed", "score": 0, "verdict": "not_ready", "micro_skills": {}}
    combined = review.combine(task, automated, checks)
    assert combined["score"] == 50.0 and combined["verdict"] == "not_ready"
    assert combined["micro_skills"]["writing.briefings.stakeholder"] == {"score": 100.0, "verdict": "ready"}
