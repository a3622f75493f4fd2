"""A cohort's reviewer reads the work of the cohorts they staff, never another's: submissions, the
review queue, candidate profiles and the web readiness pages."""

from __future__ import annotations

from datetime import timedelta

import pytest

from api.tables import Role, utcnow
from tests.api.cohort_helpers import assessment, attempt, cohort, member, queued_reviews, reviewers_assessments
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
        queued_reviews(api, "elsewhere", [utcnow() - timedelta(hours=1)] * 250)
        alice = member(api, made["invitations"]["alice"])
        accepted = api.client.post(
            "/v1/submissions",
            headers=alice,
            json={"task": BRIEF, "assessment": test["id"], "files": {"brief.md": "# Brief\n"}},
        ).json()
        _grade(api, accepted)
        queue = api.client.get("/v1/reviews", headers=api.token(Role.REVIEWER, "rita")).json()
        assert queue["count"] == 1 and queue["data"][0]["task"] == BRIEF


def test_a_long_review_queue_pages_whole_within_the_reviewers_cohorts(tmp_path, writing_catalogue):  # noqa: F811
    """Pages of 7 over 23 of rita's reviews interleaved with 20 of rex's (some at equal times): every
    review of hers exactly once, oldest first, none of his, and the true count on each page."""
    from tests.api.conftest import make_api

    for api in make_api(tmp_path / "data", catalogue_dirs=[writing_catalogue]):
        tests = reviewers_assessments(api)
        start = utcnow() - timedelta(days=1)
        hers = queued_reviews(api, tests["rita"], [start + timedelta(minutes=i // 3) for i in range(23)])
        his = queued_reviews(api, tests["rex"], [start + timedelta(minutes=i // 2) for i in range(20)])
        rita, rex = api.token(Role.REVIEWER, "rita"), api.token(Role.REVIEWER, "rex")
        seen, times = [], []
        for offset in range(0, 28, 7):
            page = api.client.get("/v1/reviews", headers=rita, params={"limit": 7, "offset": offset}).json()
            assert page["count"] == 23 and len(page["data"]) == min(7, 23 - offset)
            assert {r["assessment_id"] for r in page["data"]} == {tests["rita"]}
            seen += [r["id"] for r in page["data"]]
            times += [r["created_at"] for r in page["data"]]
        assert sorted(seen) == sorted(hers) and len(seen) == len(set(seen)) and times == sorted(times)
        default = api.client.get("/v1/reviews", headers=rex).json()
        assert default["count"] == 20 and {r["id"] for r in default["data"]} == set(his)
        past = api.client.get("/v1/reviews", headers=rita, params={"offset": 23}).json()
        assert past == {"data": [], "count": 23}
        admin = api.token(Role.ADMIN, "ada")
        assert api.client.get("/v1/reviews", headers=admin, params={"limit": 1}).json()["count"] == 43
        one = api.client.get("/v1/reviews", headers=rita, params={"assessment": tests["rex"]}).json()
        assert one == {"data": [], "count": 0}


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 201}, {"limit": "x"}, {"offset": -1}, {"offset": 2**31}, {"offset": "x"}]
)
def test_a_bad_page_of_the_review_queue_is_422_naming_the_parameter(api, params):
    response = api.client.get("/v1/reviews", headers=api.token(Role.REVIEWER, "rita"), params=params)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", *params]
