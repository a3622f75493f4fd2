"""Which credentials a candidate's evidence meets: skills, staleness, stacking, cycles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.credentials import CredentialDefinitionError, Criteria, SkillRecord, check_definitions, met

NOW = datetime(2026, 12, 1, tzinfo=UTC)
DEFINITIONS = {
    "retries": Criteria(skills=("py.retries",)),
    "deadlines": Criteria(skills=("py.deadlines",), within_days=30),
    "resilience": Criteria(skills=("py.idempotency",), credentials=("retries", "deadlines")),
}


def record(skill: str, verdict: str = "ready", days_ago: float = 1, result: str | None = None) -> SkillRecord:
    return SkillRecord(skill=skill, verdict=verdict, at=NOW - timedelta(days=days_ago), result_id=result or skill)


def test_stacked_credential_needs_every_part_and_carries_all_evidence():
    evidence = [record("py.retries"), record("py.deadlines"), record("py.idempotency")]
    assert met(DEFINITIONS, evidence, NOW) == {
        "retries": ["py.retries"],
        "deadlines": ["py.deadlines"],
        "resilience": ["py.idempotency", "py.retries", "py.deadlines"],
    }
    assert "resilience" not in met(DEFINITIONS, evidence[:2], NOW)


def test_the_latest_verdict_counts_and_stale_skills_do_not():
    regraded = [record("py.retries", days_ago=5), record("py.retries", "not_ready", days_ago=1)]
    assert met(DEFINITIONS, regraded, NOW) == {}
    assert met(DEFINITIONS, [record("py.deadlines", days_ago=31)], NOW) == {}
    assert met(DEFINITIONS, [record("py.deadlines", days_ago=29)], NOW) == {"deadlines": ["py.deadlines"]}


@pytest.mark.parametrize(
    ("definitions", "message"),
    [
        ({"a": Criteria(credentials=("b",)), "b": Criteria(credentials=("a",))}, "cycle: a -> b -> a"),
        ({"a": Criteria(credentials=("a",))}, "cycle: a -> a"),
        ({"a": Criteria(credentials=("nope",))}, "unknown credential 'nope'"),
        ({"a": Criteria()}, "requires nothing"),
        ({"a": Criteria(skills=("py.unknown",))}, "unknown micro-skill 'py.unknown'"),
    ],
)
def test_inconsistent_definitions_are_refused_naming_the_problem(definitions, message):
    with pytest.raises(CredentialDefinitionError, match=message):
        check_definitions(definitions, known_skills={"py.retries"})
