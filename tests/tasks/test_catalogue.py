"""Every task in the catalogue: its pack validates, and its grader proves itself in the real sandbox."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from engine import packs
from engine.checking import check_task
from engine.errors import PackError
from engine.models import Pack
from graders import GraderSet
from runners import images
from runners.fake import FakeRunner
from tests.conftest import CATALOGUE

TASK_FOLDERS = sorted(path.parent for path in CATALOGUE.glob("*/*/task.yaml"))


def never_runs(spec):
    raise AssertionError("validation must not run anything")


@cache
def load(pack_root: Path) -> Pack:
    checker = GraderSet(FakeRunner(never_runs))
    return packs.load_pack(pack_root, environments=images.environments(), task_checks=checker.problems)


def task_of(folder: Path):
    try:
        pack = load(folder.parent)
    except PackError as exc:
        mine = [str(p) for p in exc.problems if p.file.split("/")[0] in (folder.name, "pack.yaml")]
        pytest.fail(f"{folder.parent.name} does not validate:\n" + "\n".join(mine or map(str, exc.problems)))
    return pack.task(folder.name)


def test_the_catalogue_is_not_empty():
    assert len(TASK_FOLDERS) >= 4
    assert {"retry-backoff", "word-frequency", "log-errors", "csv-report"} <= {f.name for f in TASK_FOLDERS}


@pytest.mark.parametrize("folder", TASK_FOLDERS, ids=lambda f: f"{f.parent.name}/{f.name}")
def test_the_task_validates(folder: Path):
    task = task_of(folder)
    assert task.id == folder.name
    assert task.environment in images.environments()
    assert (folder / "statement.md").read_text("utf-8").strip(), "the statement is empty"


@pytest.mark.docker
@pytest.mark.parametrize("folder", TASK_FOLDERS, ids=lambda f: f"{f.parent.name}/{f.name}")
def test_the_grader_proves_itself(folder: Path, docker_runner, graders):
    task = task_of(folder)
    report = check_task(task, runner=docker_runner, grader=graders.for_task(task), repeat=3)
    assert report.ok, "\n".join(report.problems)
    assert [(r.verdict.value, r.score) for r in report.reference] == [("ready", 100.0)] * 3
    assert all(r.verdict.value == "not_ready" for r in report.starter)
    for example in task.counter_examples:
        assert [r.verdict for r in report.wrong[example.name]] == [example.verdict] * 3


def test_some_tasks_prove_their_grader_against_counter_examples():
    with_examples = [f for f in TASK_FOLDERS if task_of(f).counter_examples]
    assert len(with_examples) >= 3, with_examples
