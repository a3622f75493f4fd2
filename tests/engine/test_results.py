"""The result document: versioned, capped, and faithful to the checks and the run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from engine import schemas
from engine.digest import tree_digest
from engine.models import CheckStatus, RunStatus
from engine.ports import GraderRun
from engine.results import (
    SCHEMA_VERSION,
    TRUNCATION_MARK,
    Result,
    rfc3339,
    status_of,
    text,
)
from tests import factories

STARTED = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def result(checks=(), status=RunStatus.COMPLETED, outcome=None, **task_overrides) -> Result:
    return Result(
        task=factories.task(**task_overrides),
        submission_digest=tree_digest({}),
        status=status,
        checks=tuple(checks),
        started_at=STARTED,
        finished_at=STARTED + timedelta(seconds=2),
        outcome=outcome,
    )


def test_the_document_names_its_schema_version_task_and_submission():
    document = result([factories.check()]).to_document()
    assert document["schema_version"] == SCHEMA_VERSION == 1
    assert document["task"] == {
        "pack": "demo",
        "pack_version": "1.0.0",
        "id": "sample",
        "task_digest": "sha256:" + "0" * 64,
    }
    assert document["submission_digest"] == tree_digest({})
    assert document["started_at"] == "2024-05-01T12:00:00.000Z"
    assert document["finished_at"] == "2024-05-01T12:00:02.000Z"
    assert schemas.problems("result", document) == []


def test_score_verdict_and_checks_come_from_the_checks():
    checks = [
        factories.check(CheckStatus.PASS, id="a", weight=3, visible=True),
        factories.check(CheckStatus.FAIL, id="b", message="expected 3"),
    ]
    document = result(checks, pass_threshold=70).to_document()
    assert (document["score"], document["verdict"], document["status"]) == (75.0, "ready", "completed")
    assert [(c["id"], c["status"], c["visible"]) for c in document["checks"]] == [
        ("a", "pass", True),
        ("b", "fail", False),
    ]
    assert document["checks"][1]["message"] == "expected 3"


def test_an_engine_error_scores_nothing_whatever_the_checks_say():
    failed = result([factories.check(CheckStatus.PASS)], status=RunStatus.ENGINE_ERROR)
    assert failed.score == 0.0
    assert failed.to_document()["verdict"] == "error"


def test_the_runner_block_reports_the_run():
    outcome = factories.outcome(
        factories.step(0, b"one"),
        factories.step(3, b"two", b"err", output_truncated=True),
        wall_seconds=1.234567,
        cpu_seconds=0.51234,
        peak_memory_bytes=12345,
    )
    document = result(outcome=outcome).to_document()
    runner = document["runner"]
    assert runner["backend"] == "fake" and runner["image"] == "sha256:fake"
    assert runner["exit_code"] == 3  # the last step's
    assert (runner["wall_seconds"], runner["cpu_seconds"], runner["peak_memory_bytes"]) == (1.2346, 0.5123, 12345)
    assert (runner["timed_out"], runner["oom_killed"], runner["output_truncated"]) == (False, False, True)
    assert runner["limits"]["memory_mb"] == 256
    assert document["output"] == {"stdout": "onetwo", "stderr": "err"}
    assert schemas.problems("result", document) == []


def test_the_runner_block_lists_every_sandbox_of_the_graders_after_the_candidates():
    client = factories.outcome(factories.step(4), image="sha256:client", wall_seconds=0.5, cpu_seconds=0.25)
    outcome = factories.outcome(steps=(), wall_seconds=1.0, client=client)
    collection = factories.outcome(
        factories.step(0), wall_seconds=2.345678, cpu_seconds=None, peak_memory_bytes=99, oom_killed=True
    )
    document = Result(
        task=factories.task(),
        submission_digest=tree_digest({}),
        status=RunStatus.COMPLETED,
        checks=(),
        started_at=STARTED,
        finished_at=STARTED,
        outcome=outcome,
        grader_runs=(GraderRun("collection", collection),),
    ).to_document()
    assert document["runner"]["wall_seconds"] == 1.0  # the candidate's sandbox, as before
    assert document["runner"]["grader_runs"] == [
        {
            "purpose": "client",
            "image": "sha256:client",
            "wall_seconds": 0.5,
            "cpu_seconds": 0.25,
            "peak_memory_bytes": None,
            "exit_code": 4,
            "timed_out": False,
            "oom_killed": False,
        },
        {
            "purpose": "collection",
            "image": "sha256:fake",
            "wall_seconds": 2.3457,
            "cpu_seconds": None,
            "peak_memory_bytes": 99,
            "exit_code": 0,
            "timed_out": False,
            "oom_killed": True,
        },
    ]
    assert schemas.problems("result", document) == []


def test_without_an_outcome_the_runner_block_is_empty_but_valid():
    document = result(status=RunStatus.ENGINE_ERROR).to_document()
    assert document["runner"]["backend"] == "none" and document["runner"]["exit_code"] is None
    assert document["output"] == {"stdout": "", "stderr": ""}
    assert schemas.problems("result", document) == []


def test_each_result_has_its_own_id():
    assert result().id != result().id


@pytest.mark.parametrize(
    ("oom", "timed_out", "crashed", "expected"),
    [
        (False, False, False, RunStatus.COMPLETED),
        (False, False, True, RunStatus.CRASHED),
        (False, True, True, RunStatus.TIMEOUT),
        (True, True, True, RunStatus.MEMORY_LIMIT),
    ],
)
def test_status_of_ranks_memory_over_time_over_crash(oom, timed_out, crashed, expected):
    outcome = factories.outcome(factories.step(None if timed_out else 0, timed_out=timed_out), oom_killed=oom)
    assert status_of(outcome, crashed=crashed) is expected


def test_text_replaces_bad_bytes_and_marks_a_cut():
    assert text(b"ok\xff", 10) == "ok\ufffd"
    assert text("x" * 11, 10) == "x" * 10 + TRUNCATION_MARK
    assert text("x" * 10, 10) == "x" * 10


def test_rfc3339_is_utc_with_milliseconds():
    moment = datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=2)))
    assert rfc3339(moment) == "2024-01-02T01:04:05.678Z"
