"""Building cohorts and assessments through the HTTP API, for the cohort tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from api.tables import Review, Role, Run, RunState, Submission
from tests.api.conftest import Api
from tests.api.helpers import RETRY

ROSTER = "subject,display_name,email\nalice,Alice A,alice@example.org\nbob,Bob B,bob@example.org\n"


#: The review task of the professional-writing pack.
DESIGN_BRIEF = "professional-writing/design-brief"


def when(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


def cohort(api: Api, organiser: dict[str, str], roster: str = ROSTER, name: str = "Spring") -> dict:
    """A cohort with the roster's members imported; returns it with ``invitations`` by subject."""
    made = api.client.post("/v1/cohorts", headers=organiser, json={"name": name})
    assert made.status_code == 201, made.text
    body = made.json()
    imported = api.client.post(
        f"/v1/cohorts/{body['id']}/members", headers={**organiser, "content-type": "text/csv"}, content=roster.encode()
    )
    assert imported.status_code == 201, imported.text
    body["invitations"] = {i["subject"]: i["invitation"] for i in imported.json()["invitations"]}
    return body


def assessment(api: Api, organiser: dict[str, str], cohort_id: str, **settings) -> dict:
    body = {"title": "Week 1", "tasks": [{"task": RETRY}], "opens_at": when(hours=-1), "closes_at": when(hours=1)}
    body.update(settings)
    made = api.client.post(f"/v1/cohorts/{cohort_id}/assessments", headers=organiser, json=body)
    assert made.status_code == 201, made.text
    return made.json()


def member(api: Api, invitation: str) -> dict[str, str]:
    redeemed = api.client.post("/invitations/redeem", json={"invitation": invitation})
    assert redeemed.status_code == 200, redeemed.text
    return {"Authorization": f"Bearer {redeemed.json()['token']}"}


def attempt(api: Api, headers: dict[str, str], assessment_id: str, files: dict[str, str] | None = None):
    return api.client.post(
        "/v1/submissions",
        headers=headers,
        json={"task": RETRY, "assessment": assessment_id, "files": files or {"retry.py": "print('hi')\n"}},
    )


def setup(api: Api, **settings) -> tuple[dict, dict, dict[str, str], dict[str, str]]:
    """An organiser's cohort of alice and bob with one assessment; returns (cohort, assessment, organiser, alice)."""
    organiser = api.token(Role.AUTHOR, "olga")
    made = cohort(api, organiser)
    test = assessment(api, organiser, made["id"], **settings)
    return made, test, organiser, member(api, made["invitations"]["alice"])


def reviewers_assessments(api: Api) -> dict[str, str]:
    """Two cohorts, olga's staffed by reviewer rita and oscar's by rex, each with an assessment of the
    design brief; the assessment's id by reviewer."""
    olga, oscar = api.token(Role.AUTHOR, "olga"), api.token(Role.AUTHOR, "oscar")
    tests = {}
    for organiser, reviewer in ((olga, "rita"), (oscar, "rex")):
        made = cohort(api, organiser, name=reviewer)
        api.client.post(f"/v1/cohorts/{made['id']}/staff", headers=organiser, json={"subject": reviewer})
        tests[reviewer] = assessment(api, organiser, made["id"], tasks=[{"task": DESIGN_BRIEF}])["id"]
    return tests


def queued_reviews(api: Api, assessment_id: str, times: list[datetime]) -> list[str]:
    """Reviews awaiting scoring of design briefs in ``assessment_id``, created at ``times``, written
    straight to the tables (a long queue without grading each); their ids, in ``times`` order."""
    rows: dict[type, list[dict]] = {Submission: [], Run: [], Review: []}
    for at in times:
        sid, rid = uuid.uuid4().hex, uuid.uuid4().hex
        work = {"pack_id": "professional-writing", "pack_version": "1.0.0", "task_id": "design-brief"}
        rows[Submission].append(
            {
                "id": sid,
                **work,
                "candidate": "zed",
                "task_digest": "sha256:x",
                "submission_digest": "sha256:x",
                "archive": b"x",
                "assessment_id": assessment_id,
                "late": False,
            }
        )
        rows[Run].append({"id": rid, "submission_id": sid, "state": RunState.DONE, "attempts": 1})
        rows[Review].append(
            {
                "id": uuid.uuid4().hex,
                "run_id": rid,
                "submission_id": sid,
                "assessment_id": assessment_id,
                **work,
                "automated": {},
                "scores": {},
                "comments": {},
                "created_at": at,
            }
        )
    with api.service.engine.begin() as connection:
        for table in (Submission, Run, Review):
            connection.execute(insert(table), rows[table])
    return [r["id"] for r in rows[Review]]
