"""The pytest kind's expected-test list against the real Docker engine: collected once per grader digest."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import packs
from engine.grading import grade_submission
from engine.models import CheckStatus
from graders.pytest_grader import PytestGrader

pytestmark = pytest.mark.docker

STARTER = {"sample.py": b"def add(a, b):\n    raise NotImplementedError\n"}
THIRD = "\n\ndef test_third():\n    assert add(2, 2) == 4\n"


class Recording:
    """The real Docker runner, noting the harness mode (``run`` or ``collect``) of every run."""

    def __init__(self, runner):
        self._runner = runner
        self.name = runner.name
        self.modes: list[str] = []

    def run(self, spec):
        harness = spec.client if spec.client is not None else spec  # isolated: the harness runs in the client
        self.modes.append(harness.steps[0].argv[3])
        return self._runner.run(spec)


def version(root: Path, *, statement: str = "Add two numbers.", grader_extra: str = ""):
    from tests import factories

    files = factories.pytest_task_files(**{"statement.md": f"# Add\n\n{statement}\n"})
    files["grader/test_sample.py"] += grader_extra
    pack = factories.write_pack(root, {"sample": {"task": factories.pytest_task_yaml(), "files": files}})
    return packs.load_pack(pack, environments=["python"]).task("sample")


def grade(task, files, runner, cache: Path):
    return grade_submission(task, files, runner=runner, grader=PytestGrader(runner, cache_dir=cache))


def test_a_changed_grader_re_collects_and_nothing_else_does(tmp_path: Path, docker_runner):
    runner, cache = Recording(docker_runner), tmp_path / "cache"
    first = version(tmp_path / "v1")
    result = grade(first, STARTER, runner, cache)
    assert runner.modes == ["run", "collect"]
    assert [c.id for c in result.checks] == ["test_sample.py::test_small", "test_sample.py::test_negative"]

    reworded = version(tmp_path / "v2", statement="Add two integers, please.")
    assert reworded.digest != first.digest
    grade(reworded, STARTER, runner, cache)  # a new grader instance: the list comes from the cache on disk
    assert runner.modes == ["run", "collect", "run"]

    regraded = version(tmp_path / "v3", grader_extra=THIRD)
    result = grade(regraded, STARTER, runner, cache)
    assert runner.modes == ["run", "collect", "run", "run", "collect"]
    assert [c.id for c in result.checks][-1] == "test_sample.py::test_third"
    assert all(c.status is CheckStatus.FAIL for c in result.checks)


def test_the_references_own_run_is_the_collection(tmp_path: Path, docker_runner):
    runner, cache = Recording(docker_runner), tmp_path / "cache"
    task = version(tmp_path / "v1", grader_extra=THIRD)
    grader = PytestGrader(runner, cache_dir=cache)
    reference = grade_submission(task, packs.reference_submission(task), runner=runner, grader=grader)
    starter = grade_submission(task, STARTER, runner=runner, grader=grader)
    assert runner.modes == ["run", "run"]  # no collection sandbox
    assert (reference.score, starter.score) == (100, 0)
    assert (
        [c.id for c in starter.checks]
        == [c.id for c in reference.checks]
        == ["test_sample.py::test_small", "test_sample.py::test_negative", "test_sample.py::test_third"]
    )
