"""The candidate view of a result withholds every per-check side channel of hidden checks (issue 14, finding 4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine import schemas
from engine.digest import tree_digest
from engine.models import CheckStatus, RunStatus
from engine.ports import GraderRun
from engine.results import WITHHELD, Result, candidate_view
from tests import factories

STARTED = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def document(*checks, exit_code: int = 42) -> dict:
    outcome = factories.outcome(factories.step(exit_code=exit_code), cpu_seconds=0.25, peak_memory_bytes=7 * 2**20)
    return Result(
        task=factories.task(),
        submission_digest=tree_digest({}),
        status=RunStatus.COMPLETED,
        checks=tuple(checks),
        started_at=STARTED,
        finished_at=STARTED + timedelta(seconds=1),
        outcome=outcome,
    ).to_document()


def test_a_hidden_check_loses_its_message_and_its_duration():
    hidden = factories.check(CheckStatus.FAIL, id="hidden", message="secret input", duration_seconds=1.234)
    visible = factories.check(id="visible", message="you may read this", duration_seconds=0.5, visible=True)
    view = candidate_view(document(hidden, visible))
    by_id = {c["id"]: c for c in view["checks"]}
    assert (by_id["hidden"]["message"], by_id["hidden"]["duration_seconds"]) == (WITHHELD, None)
    assert (by_id["hidden"]["status"], by_id["hidden"]["score"]) == ("fail", 0.0)
    assert (by_id["visible"]["message"], by_id["visible"]["duration_seconds"]) == ("you may read this", 0.5)
    assert schemas.problems("result", view) == []


def test_with_a_hidden_check_the_runs_exit_code_cpu_and_memory_are_withheld():
    """A program can spell a hidden input through its exit code (the last case's) or what it allocates."""
    full = document(factories.check(id="hidden"), exit_code=42)
    view = candidate_view(full)
    assert full["runner"]["exit_code"] == 42 and full["runner"]["peak_memory_bytes"] == 7 * 2**20
    assert {key: view["runner"][key] for key in ("exit_code", "cpu_seconds", "peak_memory_bytes")} == dict.fromkeys(
        ("exit_code", "cpu_seconds", "peak_memory_bytes")
    )
    assert view["runner"]["limits"] == full["runner"]["limits"] and view["runner"]["timed_out"] is False
    assert schemas.problems("result", view) == []


def test_when_every_check_is_visible_the_run_figures_stay():
    view = candidate_view(document(factories.check(id="open", visible=True), exit_code=3))
    assert (view["runner"]["exit_code"], view["runner"]["cpu_seconds"]) == (3, 0.25)


def test_the_graders_own_runs_keep_only_that_they_ran_and_whether_they_hit_a_limit():
    """A variant's or a checker's run holds hidden material: its figures could spell it out."""
    variant = factories.outcome(
        factories.step(exit_code=17), wall_seconds=3.0, cpu_seconds=1.0, peak_memory_bytes=5, oom_killed=True
    )
    full = Result(
        task=factories.task(),
        submission_digest=tree_digest({}),
        status=RunStatus.COMPLETED,
        checks=(factories.check(id="open", visible=True),),
        started_at=STARTED,
        finished_at=STARTED,
        outcome=factories.outcome(),
        grader_runs=(GraderRun("variant swapped", variant),),
    ).to_document()
    [run] = candidate_view(full)["runner"]["grader_runs"]
    assert full["runner"]["grader_runs"][0]["exit_code"] == 17
    assert run == {
        "purpose": "variant swapped",
        "image": "sha256:fake",
        "wall_seconds": None,
        "cpu_seconds": None,
        "peak_memory_bytes": None,
        "exit_code": None,
        "timed_out": False,
        "oom_killed": True,
    }
    assert schemas.problems("result", candidate_view(full)) == []
