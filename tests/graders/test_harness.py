"""The grader harness's shared plumbing (``graders/_harness.py``) and the registry's one factory signature."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.models import GRADER_DIR
from graders import KINDS, GraderSet
from graders._harness import (
    HARNESS_DIR,
    HTTP,
    PYTEST,
    REPORT,
    ReportKeys,
    harness_files,
    harness_path,
    new_key,
    read_report,
    sign_report,
)
from graders.http_grader import HttpGrader
from graders.mutation_grader import MutationGrader
from runners.fake import FakeRunner
from tests import factories
from tests.graders.test_mutation_grader import SUBMISSION, mutation_task

NEVER = FakeRunner(lambda spec: pytest.fail("building a grader runs nothing"))


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_is_made_with_the_one_factory_signature(kind: str, tmp_path: Path):
    grader = KINDS[kind](NEVER, cache_dir=tmp_path / "cache")
    assert grader.kind == kind
    assert GraderSet(NEVER, cache_dir=tmp_path / "cache").for_task(factories.task(grader={"kind": kind})).kind == kind


def test_kinds_that_start_no_run_of_their_own_keep_no_runner():
    for kind, factory in KINDS.items():
        if kind not in ("pytest", "io", "mutation"):
            assert "_runner" not in vars(factory(NEVER)), kind


def test_the_harness_lands_in_the_grader_mount_and_every_kind_runs_it_from_there(tmp_path: Path):
    assert set(harness_files(PYTEST)) == {f"{HARNESS_DIR}/{name}" for name in PYTEST}
    assert harness_path("pytest_harness.py") == f"{GRADER_DIR}/{HARNESS_DIR}/pytest_harness.py"
    assert REPORT.startswith(f"{GRADER_DIR}/{HARNESS_DIR}/")
    mutation = MutationGrader(NEVER).build_run(mutation_task(tmp_path), SUBMISSION)
    assert mutation.steps[0].argv[2] == harness_path("pytest_harness.py") and mutation.collect == (REPORT,)
    assert dict(mutation.grader_files) == harness_files(PYTEST)
    http_task = factories.task(
        grader={"kind": "http", "start": ["python3", "app.py"], "port": 8000}, root=tmp_path / "http"
    )
    (tmp_path / "http" / "grader").mkdir(parents=True)
    (tmp_path / "http" / "grader" / "checks.yaml").write_text(
        "- name: root\n  request: {method: GET, path: /}\n  expect: {status: 200}\n"
    )
    client = HttpGrader().build_run(http_task, {}).client
    assert client is not None and client.steps[0].argv[2] == harness_path("http_harness.py")
    assert harness_files(HTTP).items() <= dict(client.grader_files).items() and client.collect == (REPORT,)


def test_report_keys_differ_per_grader_submission_and_purpose():
    task, keys = factories.task(), ReportKeys()
    one = keys.derive(task, {"a.py": b"1"})
    assert one == keys.derive(task, {"a.py": b"1"}) and len(one) == 64
    assert one != keys.derive(task, {"a.py": b"2"})
    assert one != keys.derive(task, {"a.py": b"1"}, purpose="reference")
    assert one != ReportKeys().derive(task, {"a.py": b"1"})


def test_a_signed_report_reads_back_only_under_its_key():
    key, body = new_key(), factories.pytest_report(["t::a"], {"t::a": "pass"})
    signed = factories.outcome(collected={REPORT: sign_report(key, body)})
    assert read_report(signed, key)["results"] == {"t::a": {"outcome": "pass", "message": "", "duration": 0.01}}
    assert read_report(signed, new_key()) is None
    assert read_report(factories.outcome(collected={REPORT: body}), key) is None
