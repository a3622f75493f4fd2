"""Human review through the API: results wait awaiting_review, a reviewer scores blind, one signed result."""

from __future__ import annotations

import shutil

import pytest

from api.tables import Role
from engine import signing
from engine.grading import grade_submission
from graders import ReviewGrader
from tests.api.cohort_helpers import assessment, cohort, member
from tests.api.conftest import make_api
from tests.conftest import CATALOGUE

BRIEF = "professional-writing/design-brief"
TOP = {"audience": 4, "options": 4, "rollout": 3}


@pytest.fixture(scope="session")
def writing_catalogue(tmp_path_factory):
    root = tmp_path_factory.mktemp("writing")
    for pack in ("python-foundations", "professional-writing"):
        shutil.copytree(CATALOGUE / pack, root / pack)
    return root


@pytest.fixture
def api(tmp_path, writing_catalogue):
    yield from make_api(tmp_path / "data", catalogue_dirs=[writing_catalogue])


def _grade(api, accepted: dict) -> dict:
    """The worker's part: a review task runs nothing and posts a result without checks."""
    worker = api.token(Role.WORKER, "w")
    job = api.client.post(f"/v1/runs/{accepted['run_id']}/claim", headers=worker, json={"worker": "w1"}).json()
    task = api.service.pack_store.task(job["pack_id"], job["task_id"], job["pack_version"])
    import base64

    from engine import archives

    files = archives.extract(base64.b64decode(job["archive"]))
    graded = grade_submission(task, files, runner=None, grader=ReviewGrader())  # type: ignore[arg-type]  # runs nothing
    document = graded.to_document()
    posted = api.client.post(f"/v1/runs/{accepted['run_id']}/result", headers=worker, json=document)
    assert posted.status_code == 201, posted.text
    return document


@pytest.fixture
def held(api):
    organiser = api.token(Role.AUTHOR, "olga")
    made = cohort(api, organiser)
    test = assessment(api, organiser, made["id"], tasks=[{"task": BRIEF}])
    api.client.post(f"/v1/cohorts/{made['id']}/staff", headers=organiser, json={"subject": "rita"})
    alice = member(api, made["invitations"]["alice"])
    accepted = api.client.post(
        "/v1/submissions",
        headers=alice,
        json={"task": BRIEF, "assessment": test["id"], "files": {"brief.md": "# Rate limits\nAlice's brief.\n"}},
    ).json()
    _grade(api, accepted)
    return accepted, alice, api.token(Role.REVIEWER, "rita"), test


def test_a_reviewed_task_waits_for_its_reviewer(api, held):
    accepted, alice, rita, _ = held
    submission = api.client.get(f"/v1/submissions/{accepted['id']}", headers=alice).json()
    assert submission["review"] == "awaiting_review" and submission["result_id"] is None
    missing = api.client.get(f"/v1/submissions/{accepted['id']}/result", headers=alice)
    assert missing.status_code == 404 and "awaiting_review" in missing.text


def test_a_reviewer_scores_blind_and_one_signed_result_follows(api, held):
    accepted, alice, rita, _ = held
    queue = api.client.get("/v1/reviews", headers=rita).json()
    assert queue["count"] == 1
    detail = api.client.get(f"/v1/reviews/{queue['data'][0]['id']}", headers=rita)
    assert detail.status_code == 200
    text = detail.text
    body = detail.json()
    assert "alice" not in {k: v for k, v in body.items() if k != "files"}.__repr__().lower()
    assert accepted["id"] not in text  # not even the submission id, which would lead to the candidate
    assert "Notes for reviewers" in body["reference_answer"]
    assert [c["name"] for c in body["rubric"]] == ["audience", "options", "rollout"]
    scored = api.client.post(
        f"/v1/reviews/{body['id']}",
        headers=rita,
        json={"scores": {"audience": 4, "options": 2, "rollout": 3}, "comments": {"options": "list, no trade-offs"}},
    )
    assert scored.status_code == 200, scored.text
    result = api.client.get(f"/v1/submissions/{accepted['id']}/result", headers=alice).json()
    assert signing.verify(result, api.service.jwks()).problems == []
    checks = {c["id"]: c for c in result["checks"]}
    assert checks["review.options"]["score"] == 2 and "list, no trade-offs" in checks["review.options"]["message"]
    assert result["score"] == pytest.approx(100 * (1 + 2 * 0.5 + 1) / 4)
    assert result["micro_skills"]["design.apis.trade-offs"]["verdict"] == "not_ready"
    again = api.client.post(f"/v1/reviews/{body['id']}", headers=rita, json={"scores": TOP})
    assert again.status_code == 409


def test_an_incomplete_review_is_422_naming_each_problem_and_stores_nothing(api, held):
    accepted, alice, rita, _ = held
    review_id = api.client.get("/v1/reviews", headers=rita).json()["data"][0]["id"]
    response = api.client.post(
        f"/v1/reviews/{review_id}", headers=rita, json={"scores": {"audience": 3, "options": 4, "tone": 1}}
    )
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "'tone' is not in the rubric" in detail and "'rollout' has no score" in detail
    assert "3 is not one of its levels" in detail
    assert api.client.get(f"/v1/reviews/{review_id}", headers=rita).json()["state"] == "awaiting_review"


def test_staff_of_another_cohort_cannot_see_the_review(api, held):
    accepted, alice, rita, _ = held
    review_id = api.client.get("/v1/reviews", headers=rita).json()["data"][0]["id"]
    rex = api.token(Role.REVIEWER, "rex")
    assert api.client.get("/v1/reviews", headers=rex).json()["count"] == 0
    assert api.client.get(f"/v1/reviews/{review_id}", headers=rex).status_code == 404
    assert api.client.post(f"/v1/reviews/{review_id}", headers=rex, json={"scores": TOP}).status_code == 404
    assert api.client.get(f"/v1/reviews/{review_id}", headers=alice).status_code == 404


def test_a_completed_review_is_announced_by_webhook(api, held):
    import json

    from tests.api.test_webhooks import Receiver
    from tests.services import free_port

    accepted, alice, rita, test = held
    receiver = Receiver(free_port())
    try:
        organiser = api.token(Role.AUTHOR, "olga")
        cohort_id = test["cohort_id"]
        api.client.post(
            f"/v1/cohorts/{cohort_id}/webhooks",
            headers=organiser,
            json={"url": receiver.url, "events": ["review.completed", "result.created"]},
        )
        review_id = api.client.get("/v1/reviews", headers=rita).json()["data"][0]["id"]
        api.client.post(f"/v1/reviews/{review_id}", headers=rita, json={"scores": TOP})
        api.service.webhooks.deliver_due()
        types = sorted(json.loads(body)["type"] for _, body in receiver.received)
        assert types == ["result.created", "review.completed"]
    finally:
        receiver.close()
