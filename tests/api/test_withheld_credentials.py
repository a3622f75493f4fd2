"""A result an assessment withholds from its member never shows through a credential: "after_close"
results count from the close (the reaper's release pass awards then), "never" results never count."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlmodel import col

from api.tables import Assessment, Role, utcnow
from tests.api.cohort_helpers import attempt, setup
from tests.api.helpers import work
from tests.api.test_credentials import define, skills_of


def _close(api, assessment_id: str) -> None:
    with api.service.engine.begin() as connection:
        connection.execute(
            update(Assessment)
            .where(col(Assessment.id) == assessment_id)
            .values(closes_at=utcnow() - timedelta(minutes=1))
        )


def _awards(api, headers) -> list[str]:
    return [a["definition_id"] for a in api.client.get("/v1/credentials", headers=headers).json()["data"]]


def test_a_result_withheld_until_the_close_is_awarded_from_the_close(api):
    skills = skills_of(api, api.token(Role.CANDIDATE, "probe"))
    define(api, api.token(Role.AUTHOR, "carol"), id="retries", name="Retries", skills=skills[:1])
    made, test, organiser, alice = setup(api, result_visibility="after_close")
    work(api, attempt(api, alice, test["id"]).json()["run_id"])
    assert _awards(api, alice) == []
    assert api.service.release_closed() == 0  # still open: nothing to release
    assert _awards(api, alice) == []

    _close(api, test["id"])
    assert api.service.release_closed() == 1
    assert _awards(api, alice) == ["retries"]
    assert api.service.release_closed() == 0  # released once


def test_a_result_never_shown_never_counts_for_a_credential(api):
    skills = skills_of(api, api.token(Role.CANDIDATE, "probe"))
    define(api, api.token(Role.AUTHOR, "carol"), id="retries", name="Retries", skills=skills[:1])
    made, test, organiser, alice = setup(api, result_visibility="never")
    work(api, attempt(api, alice, test["id"]).json()["run_id"])
    _close(api, test["id"])
    api.service.release_closed()
    assert _awards(api, alice) == []
    assert api.client.get("/v1/profile", headers=alice).json()["skills"] == {}


def test_a_result_shown_always_is_awarded_at_once(api):
    skills = skills_of(api, api.token(Role.CANDIDATE, "probe"))
    define(api, api.token(Role.AUTHOR, "carol"), id="retries", name="Retries", skills=skills[:1])
    made, test, organiser, alice = setup(api)
    work(api, attempt(api, alice, test["id"]).json()["run_id"])
    assert _awards(api, alice) == ["retries"]
