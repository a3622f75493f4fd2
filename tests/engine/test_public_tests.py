"""Public example tests: which starter files they are, what runs, and that no grader file goes in."""

from __future__ import annotations

import pytest

from engine import packs, public_tests
from runners.fake import FakeRunner
from tests import factories
from tests.conftest import CATALOGUE


def load(pack: str, task: str):
    from graders import validation_checks
    from runners import images

    return packs.load_pack(CATALOGUE / pack, environments=images.environments(), task_checks=validation_checks()).task(
        task
    )


def test_starter_test_files_are_the_public_tests_and_the_task_copy_wins():
    task = load("python-foundations", "retry-backoff")
    assert set(public_tests.public_test_files(task)) == {"test_retry_public.py"}
    runner = FakeRunner(lambda spec: factories.outcome(factories.step(1, stdout=b"1 failed")))
    ran = public_tests.run_public_tests(task, {"retry.py": b"x = 1\n", "test_retry_public.py": b"# emptied\n"}, runner)
    spec = runner.specs[0]
    assert spec.steps[0].argv[:3] == ("python3", "-m", "pytest") and "test_retry_public.py" in spec.steps[0].argv
    assert spec.workspace["test_retry_public.py"] != b"# emptied\n"  # the task's own tests run
    assert not spec.grader_files and spec.limits == task.limits and spec.environment == task.environment
    assert ran.passed is False and ran.stdout == "1 failed" and ran.to_document()["signed"] is False


@pytest.mark.parametrize(("exit_code", "timed_out", "passed"), [(0, False, True), (0, True, False), (2, False, False)])
def test_passing_needs_exit_zero_within_the_limits(exit_code, timed_out, passed):
    task = load("python-foundations", "retry-backoff")
    runner = FakeRunner(lambda spec: factories.outcome(factories.step(exit_code, timed_out=timed_out)))
    ran = public_tests.run_public_tests(task, {"retry.py": b""}, runner)
    assert ran.passed is passed and ran.timed_out is timed_out


def test_a_task_without_public_tests_runs_nothing():
    task = load("python-foundations", "word-frequency")
    runner = FakeRunner(lambda spec: pytest.fail("nothing should run"))
    assert public_tests.public_test_files(task) == {}
    assert public_tests.run_public_tests(task, {"top_words.py": b""}, runner) is None
