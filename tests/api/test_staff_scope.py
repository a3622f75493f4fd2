"""A cohort's reviewer reads the work of the cohorts they staff, never another's: submissions, the
review queue, candidate profiles and the web readiness pages."""

from __future__ import annotations

import uuid

from sqlalchemy import insert

from api.tables import Review, Role, Run, RunState, Submission
from tests.api.cohort_helpers import assessment, attempt, cohort, member
from tests.api.helpers import work
from tests.api.test_reviews import BRIEF, _grade, writing_catalogue  # noqa: F401  (fixture reused)
from tests.web.conftest import sign_in

ROSTER_B = "subject,display_name,email\ncarol,Carol C,carol@example.org\n"


def _two_cohorts(api):
    """Cohort A (staff rita) with alice's graded attempt; cohort B (staff rex) with carol's."""
    olga, oscar = api.token(Role.AUTHOR, "olga"), api.token(Role.AUTHOR, "oscar")
    first, second = cohort(api, olga), cohort(api, oscar, roster=ROSTER_B, name="B")
    tests = {}
    for made, organiser, reviewer in ((first, olga, "rita"), (second, oscar, "rex")):
        assert (
            api.client.post(
                f"/v1/cohorts/{made['id']}/staff", headers=organiser, json={"subject": reviewer}
            ).status_code
            == 201
        )
        tests[made["id"]] = assessment(api, organiser, made["id"])
    alice = member(api, first["invitations"]["alice"])
    carol = member(api, second["invitations"]["carol"])
    mine = attempt(api, alice, tests[first["id"]]["id"]).json()
    theirs = attempt(api, carol, tests[second["id"]]["id"]).json()
    work(api, mine["run_id"])
    work(api, theirs["run_id"])
    return mine, theirs, api.token(Role.REVIEWER, "rita"), api.token(Role.REVIEWER, "rex")


def test_a_reviewer_lists_only_the_submissions_of_cohorts_they_staff(api):
    mine, theirs, rita, rex = _two_cohorts(api)
    listed = api.client.get("/v1/submissions", headers=rita).json()
    assert [s["id"] for s in listed["data"]] == [mine["id"]] and listed["count"] == 1
    assert [s["id"] for s in api.client.get("/v1/submissions", headers=rex).json()["data"]] == [theirs["id"]]
    admin = api.token(Role.ADMIN, "ada")
    assert api.client.get("/v1/submissions", headers=admin).json()["count"] == 2


def test_a_reviewer_reads_no_profile_evidence_from_another_cohort(api):
    mine, theirs, rita, rex = _two_cohorts(api)
    assert api.client.get("/v1/candidates/carol/profile", headers=rita).json()["skills"] == {}
    assert api.client.get("/v1/candidates/carol/profile", headers=rex).json()["skills"] != {}
    assert api.client.get("/v1/candidates/alice/profile", headers=rita).json()["skills"] != {}


def test_the_web_readiness_pages_keep_to_the_reviewers_cohorts(api):
    _two_cohorts(api)
    rita = sign_in(api, Role.REVIEWER, "rita")
    table = rita.get("/review/readiness").text
    assert "alice" in table and "carol" not in table
    assert "carol" not in rita.get("/review/readiness.csv").text
    assert "ready" not in rita.get("/review/candidates/carol").text.lower().replace("readiness", "")


def test_the_review_queue_is_filtered_in_the_query_not_after_its_limit(tmp_path, writing_catalogue):  # noqa: F811
    from tests.api.conftest import make_api

    for api in make_api(tmp_path / "data", catalogue_dirs=[writing_catalogue]):
        olga = api.token(Role.AUTHOR, "olga")
        made = cohort(api, olga)
        test = assessment(api, olga, made["id"], tasks=[{"task": BRIEF}])
        api.client.post(f"/v1/cohorts/{made['id']}/staff", headers=olga, json={"subject": "rita"})
        # 250 older reviews of another cohort's assessment, ahead of alice's in the queue
        rows = {"subs": [], "runs": [], "reviews": []}
        for _ in range(250):
            sid, rid = uuid.uuid4().hex, uuid.uuid4().hex
            rows["subs"].append(
                {
                    "id": sid,
                    "pack_id": "professional-writing",
                    "pack_version": "1.0.0",
                    "task_id": "design-brief",
                    "candidate": "zed",
                    "task_digest": "sha256:x",
                    "submission_digest": "sha256:x",
                    "archive": b"x",
                    "assessment_id": "elsewhere",
                    "late": False,
                }
            )
            rows["runs"].append({"id": rid, "submission_id": sid, "state": RunState.DONE, "attempts": 1})
            rows["reviews"].append(
                {
                    "id": uuid.uuid4().hex,
                    "run_id": rid,
                    "submission_id": sid,
                    "assessment_id": "elsewhere",
                    "pack_id": "professional-writing",
                    "pack_version": "1.0.0",
                    "task_id": "design-brief",
                    "automated": {},
                    "scores": {},
                    "comments": {},
                }
            )
        with api.service.engine.begin() as connection:
            for table, key in ((Submission, "subs"), (Run, "runs"), (Review, "reviews")):
                connection.execute(insert(table), rows[key])
        alice = member(api, made["invitations"]["alice"])
        accepted = api.client.post(
            "/v1/submissions",
            headers=alice,
            json={"task": BRIEF, "assessment": test["id"], "files": {"brief.md": "# Brief\n"}},
        ).json()
        _grade(api, accepted)
        queue = api.client.get("/v1/reviews", headers=api.token(Role.REVIEWER, "rita")).json()
        assert queue["count"] == 1 and queue["data"][0]["task"] == BRIEF
