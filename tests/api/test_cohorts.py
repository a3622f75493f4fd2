"""Cohorts, members, invitations and assessments through the API: rules, 409s naming them, 404s across cohorts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import select

from api.tables import AssessmentStart, Role, Submission
from tests.api.cohort_helpers import ROSTER, assessment, attempt, cohort, member, setup, when
from tests.api.helpers import SECRET_MESSAGE, work


def _full(document: dict) -> bool:
    """The full document: the hidden check's message is there."""
    return any(c["message"] == SECRET_MESSAGE for c in document.get("checks", []))


def _submissions(api) -> int:
    with api.service.session() as session:
        return len(session.exec(select(Submission)).all())


def test_a_csv_with_bad_rows_names_each_line_and_imports_nothing(api):
    organiser = api.token(Role.AUTHOR, "olga")
    made = api.client.post("/v1/cohorts", headers=organiser, json={"name": "x"}).json()
    roster = (
        "subject,display_name,email\nalice,Alice,alice@example.org\nbad subject,Bee,bee@example.org\n"
        "carol,Carol,not-an-email\nalice,Again,again@example.org\ndan,Dan,dan@example.org\n"
    )
    response = api.client.post(
        f"/v1/cohorts/{made['id']}/members", headers={**organiser, "content-type": "text/csv"}, content=roster.encode()
    )
    assert response.status_code == 422, response.text
    problems = response.json()["problems"]
    assert [p.split(":")[0] for p in problems] == ["line 3", "line 4", "line 5"]
    assert "already on line 2" in problems[2]
    members = api.client.get(f"/v1/cohorts/{made['id']}/members", headers=organiser).json()
    assert members["count"] == 0


def test_an_import_naming_an_existing_member_imports_nothing(api):
    organiser = api.token(Role.AUTHOR, "olga")
    made = cohort(api, organiser)
    again = "subject,display_name,email\nzed,Zed,zed@example.org\nbob,Bob,bob2@example.org\n"
    response = api.client.post(
        f"/v1/cohorts/{made['id']}/members", headers={**organiser, "content-type": "text/csv"}, content=again.encode()
    )
    assert response.status_code == 422
    assert response.json()["problems"] == ["line 3: 'bob' is already a member"]
    assert api.client.get(f"/v1/cohorts/{made['id']}/members", headers=organiser).json()["count"] == 2


def test_an_invitation_works_once_and_becomes_the_members_token(api):
    organiser = api.token(Role.AUTHOR, "olga")
    made = cohort(api, organiser)
    secret = made["invitations"]["alice"]
    first = api.client.post("/invitations/redeem", json={"invitation": secret})
    assert first.status_code == 200 and first.json()["subject"] == "alice"
    assert api.client.post("/invitations/redeem", json={"invitation": secret}).status_code == 404
    alice = {"Authorization": f"Bearer {first.json()['token']}"}
    mine = api.client.get("/v1/cohorts", headers=alice).json()
    assert [(c["id"], c["standing"]) for c in mine["data"]] == [(made["id"], "member")]


def test_a_candidate_sees_only_their_cohorts_assessments_and_another_cohort_answers_404(api):
    made, test, organiser, alice = setup(api)
    other_organiser = api.token(Role.AUTHOR, "oscar")
    other = cohort(api, other_organiser, "subject,display_name,email\nzoe,Zoe,zoe@example.org\n", name="Other")
    other_test = assessment(api, other_organiser, other["id"])
    zoe = member(api, other["invitations"]["zoe"])
    assert [a["id"] for a in api.client.get("/v1/assessments", headers=alice).json()["data"]] == [test["id"]]
    assert [a["id"] for a in api.client.get("/v1/assessments", headers=zoe).json()["data"]] == [other_test["id"]]
    for path in (f"/v1/assessments/{other_test['id']}", f"/v1/cohorts/{other['id']}"):
        assert api.client.get(path, headers=alice).status_code == 404
    assert api.client.get(f"/v1/cohorts/{other['id']}/members", headers=organiser).status_code == 404
    assert attempt(api, alice, other_test["id"]).status_code == 404
    assert _submissions(api) == 0


def test_a_window_that_closes_before_it_opens_is_422(api):
    organiser = api.token(Role.AUTHOR, "olga")
    made = cohort(api, organiser)
    response = api.client.post(
        f"/v1/cohorts/{made['id']}/assessments",
        headers=organiser,
        json={
            "title": "t",
            "tasks": [{"task": "python-foundations/retry-backoff"}],
            "opens_at": when(hours=2),
            "closes_at": when(hours=1),
        },
    )
    assert response.status_code == 422
    assert "closes_at" in response.text and "after opens_at" in response.text


def test_tasks_are_pinned_with_their_digest(api):
    made, test, organiser, alice = setup(api)
    task = api.service.pack_store.task("python-foundations", "retry-backoff")
    assert test["tasks"] == [
        {
            "pack_id": "python-foundations",
            "pack_version": task.pack_version,
            "task_id": "retry-backoff",
            "task_digest": task.digest,
        }
    ]


@pytest.mark.parametrize(("opens", "closes", "rule"), [(2, 3, "window_not_open"), (-3, -2, "window_closed")])
def test_outside_the_window_is_409_naming_the_rule_and_nothing_is_stored(api, opens, closes, rule):
    made, test, organiser, alice = setup(api, opens_at=when(hours=opens), closes_at=when(hours=closes))
    response = attempt(api, alice, test["id"])
    assert response.status_code == 409
    assert response.json()["detail"].startswith(rule)
    assert _submissions(api) == 0


def test_late_work_is_accepted_and_marked_when_the_policy_says_so(api):
    made, test, organiser, alice = setup(
        api, opens_at=when(hours=-3), closes_at=when(hours=-2), late="accept-and-mark-late"
    )
    response = attempt(api, alice, test["id"])
    assert response.status_code == 202, response.text
    assert api.client.get(f"/v1/submissions/{response.json()['id']}", headers=alice).json()["late"] is True


def test_the_attempt_limit_is_409_and_a_faulted_attempt_does_not_count(api):
    made, test, organiser, alice = setup(api, attempt_limit=2)
    first = attempt(api, alice, test["id"]).json()
    api.service.fail_run(run_id=first["run_id"], reason="the engine broke")  # an error verdict: does not count
    assert attempt(api, alice, test["id"]).status_code == 202
    assert attempt(api, alice, test["id"]).status_code == 202
    refused = attempt(api, alice, test["id"])
    assert refused.status_code == 409 and refused.json()["detail"].startswith("attempt_limit")
    assert _submissions(api) == 3


def test_a_timed_assessment_needs_a_start_and_stops_at_its_end(api):
    made, test, organiser, alice = setup(api, duration_seconds=600)
    assert attempt(api, alice, test["id"]).json()["detail"].startswith("not_started")
    started = api.client.post(f"/v1/assessments/{test['id']}/start", headers=alice)
    assert started.status_code == 200
    assert 590 <= started.json()["time_left_seconds"] <= 600
    assert attempt(api, alice, test["id"]).status_code == 202
    with api.service.session() as session:  # the clock moves on: the attempt started 11 minutes ago
        row = session.exec(select(AssessmentStart)).one()
        session.exec(
            update(AssessmentStart)
            .where(AssessmentStart.id == row.id)
            .values(started_at=row.started_at - timedelta(minutes=11))
        )
        session.commit()
    assert api.client.get(f"/v1/assessments/{test['id']}", headers=alice).json()["time_left_seconds"] == 0
    refused = attempt(api, alice, test["id"])
    assert refused.status_code == 409 and refused.json()["detail"].startswith("time_limit")
    assert _submissions(api) == 1


def test_starting_an_untimed_assessment_is_409(api):
    made, test, organiser, alice = setup(api)
    response = api.client.post(f"/v1/assessments/{test['id']}/start", headers=alice)
    assert response.status_code == 409 and response.json()["detail"].startswith("untimed")


def test_a_result_withheld_until_the_close_is_404_to_the_member_but_staff_read_it(api):
    made, test, organiser, alice = setup(api, result_visibility="after_close")
    accepted = attempt(api, alice, test["id"]).json()
    work(api, accepted["run_id"])
    withheld = api.client.get(f"/v1/submissions/{accepted['id']}/result", headers=alice)
    assert withheld.status_code == 404 and "withheld until the assessment closes" in withheld.text
    assert api.client.get("/v1/profile", headers=alice).json()["skills"] == {}
    assert _full(api.client.get(f"/v1/submissions/{accepted['id']}/result", headers=organiser).json())


def test_check_visibility_cuts_the_signed_candidate_view(api):
    made, test, organiser, alice = setup(api, check_visibility="after_close", check_overrides={"visible-*": "always"})
    accepted = attempt(api, alice, test["id"]).json()
    work(api, accepted["run_id"])
    view = api.client.get(f"/v1/submissions/{accepted['id']}/result", headers=alice).json()
    assert [c["id"] for c in view["checks"]] == ["visible-check"]
    from engine import signing

    assert signing.verify(view, api.service.jwks()).problems == []


def test_staff_of_one_cohort_do_not_see_another_cohorts_work(api):
    made, test, organiser, alice = setup(api)
    reviewer, outsider = api.token(Role.REVIEWER, "rita"), api.token(Role.REVIEWER, "rex")
    assert (
        api.client.post(f"/v1/cohorts/{made['id']}/staff", headers=organiser, json={"subject": "rita"}).status_code
        == 201
    )
    accepted = attempt(api, alice, test["id"]).json()
    work(api, accepted["run_id"])
    assert _full(api.client.get(f"/v1/submissions/{accepted['id']}/result", headers=reviewer).json())
    assert api.client.get(f"/v1/submissions/{accepted['id']}/result", headers=outsider).status_code == 404
    assert api.client.get(f"/v1/cohorts/{made['id']}/members", headers=reviewer).json()["count"] == 2
    assert api.client.get(f"/v1/cohorts/{made['id']}/members", headers=outsider).status_code == 404


def test_roster_constant_is_two_members():
    assert ROSTER.count("\n") == 3
