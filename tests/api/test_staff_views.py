"""Staff views of an assessment: dashboard, readiness matrices with the scoring policy, CSV, hiring filter, plots."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET

import pytest

from api.tables import Role
from tests.api.cohort_helpers import attempt, member, setup
from tests.api.helpers import work


def _skills(api) -> list[str]:
    return list(api.service.pack_store.task("python-foundations", "retry-backoff").micro_skills)


@pytest.fixture
def graded(api):
    """Alice: ready then not ready; Bob: not ready; nobody else in the roster attempted."""
    made, test, organiser, alice = setup(api, scoring="best")
    bob = member(api, made["invitations"]["bob"])
    work(api, attempt(api, alice, test["id"]).json()["run_id"], passed=True)
    work(api, attempt(api, alice, test["id"]).json()["run_id"], passed=False)
    work(api, attempt(api, bob, test["id"]).json()["run_id"], passed=False)
    return {**test, "cohort_id": made["id"]}, organiser


def test_the_dashboard_counts_attempts_and_states(api, graded):
    test, organiser = graded
    board = api.client.get(f"/v1/assessments/{test['id']}/dashboard", headers=organiser).json()
    key = "python-foundations/retry-backoff"
    assert board["totals"][key] == {"started": 2, "submitted": 2, "graded": 2, "ready": 1}
    by_member = {m["subject"]: m["tasks"][key] for m in board["members"]}
    assert by_member["alice"]["attempts"] == 2 and by_member["alice"]["state"] == "ready"
    assert by_member["bob"]["state"] == "graded"


def test_the_matrix_applies_the_scoring_policy(api, graded):
    test, organiser = graded
    tasks = api.client.get(f"/v1/assessments/{test['id']}/matrix", headers=organiser, params={"by": "tasks"}).json()
    cells = {r["subject"]: r["cells"]["python-foundations/retry-backoff"] for r in tasks["rows"]}
    assert cells["alice"]["verdict"] == "ready" and cells["bob"]["verdict"] == "not_ready"
    skills = api.client.get(f"/v1/assessments/{test['id']}/matrix", headers=organiser).json()
    assert skills["columns"] == sorted(_skills(api))
    assert all(c["verdict"] == "ready" for c in skills["rows"][0]["cells"].values())


def test_the_last_attempt_policy_counts_the_last(api):
    made, test, organiser, alice = setup(api, scoring="last")
    work(api, attempt(api, alice, test["id"]).json()["run_id"], passed=True)
    work(api, attempt(api, alice, test["id"]).json()["run_id"], passed=False)
    tasks = api.client.get(f"/v1/assessments/{test['id']}/matrix", headers=organiser, params={"by": "tasks"}).json()
    assert tasks["rows"][0]["cells"]["python-foundations/retry-backoff"]["verdict"] == "not_ready"


def test_the_matrix_exports_as_csv(api, graded):
    test, organiser = graded
    response = api.client.get(
        f"/v1/assessments/{test['id']}/matrix", headers=organiser, params={"by": "tasks", "format": "csv"}
    )
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["subject"], r["python-foundations/retry-backoff:verdict"]) for r in rows] == [
        ("alice", "ready"),
        ("bob", "not_ready"),
    ]


def test_the_hiring_filter_keeps_members_ready_in_every_skill(api, graded):
    test, organiser = graded
    skills = _skills(api)
    found = api.client.get(f"/v1/assessments/{test['id']}/hiring", headers=organiser, params={"skill": skills}).json()
    assert [(r["rank"], r["subject"]) for r in found["data"]] == [(1, "alice")]
    none = api.client.get(
        f"/v1/assessments/{test['id']}/hiring", headers=organiser, params={"skill": [*skills, "no.such.skill"]}
    ).json()
    assert none["count"] == 0
    exported = api.client.get(
        f"/v1/assessments/{test['id']}/hiring", headers=organiser, params={"skill": skills, "format": "csv"}
    ).text
    assert exported.splitlines()[1].startswith("1,alice,Alice A,")


@pytest.mark.parametrize("kind", ["scores", "readiness"])
def test_plots_are_well_formed_svg(api, graded, kind):
    test, organiser = graded
    response = api.client.get(f"/v1/assessments/{test['id']}/plots/{kind}.svg", headers=organiser)
    assert response.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(response.text)
    rects = root.findall("{http://www.w3.org/2000/svg}rect")
    assert rects and any(float(r.get("width")) > 0 and float(r.get("height")) > 0 for r in rects)


def test_a_cohort_member_cannot_read_staff_views(api, graded):
    test, organiser = graded
    outsider = api.token(Role.REVIEWER, "nobody")
    assert api.client.get(f"/v1/assessments/{test['id']}/matrix", headers=outsider).status_code == 404


def test_the_dashboard_shows_work_submitted_before_it_is_graded(api):
    made, test, organiser, alice = setup(api)
    attempt(api, alice, test["id"])
    board = api.client.get(f"/v1/assessments/{test['id']}/dashboard", headers=organiser).json()
    alice_row = next(m for m in board["members"] if m["subject"] == "alice")
    assert alice_row["tasks"]["python-foundations/retry-backoff"] == {
        "attempts": 1,
        "state": "submitted",
        "score": None,
        "late": False,
    }
    assert board["totals"]["python-foundations/retry-backoff"]["graded"] == 0


def test_views_follow_every_change_though_they_are_reused_between_changes(api, graded):
    test, organiser = graded
    path = f"/v1/assessments/{test['id']}/matrix"
    first = api.client.get(path, headers=organiser, params={"by": "tasks"}).json()
    assert api.client.get(path, headers=organiser, params={"by": "tasks"}).json() == first
    cohort_id = test["cohort_id"]
    api.client.post(
        f"/v1/cohorts/{cohort_id}/members",
        headers={**organiser, "content-type": "text/csv"},
        content=b"subject,display_name,email\ncarol,Carol,carol@example.org\n",
    )
    after_import = api.client.get(path, headers=organiser, params={"by": "tasks"}).json()
    assert [r["subject"] for r in after_import["rows"]] == ["alice", "bob", "carol"]
    board = api.client.get(f"/v1/assessments/{test['id']}/dashboard", headers=organiser).json()
    assert board["count"] == 3


def test_the_dashboard_shows_time_left_in_timed_attempts(api):
    made, test, organiser, alice = setup(api, duration_seconds=600)
    api.client.post(f"/v1/assessments/{test['id']}/start", headers=alice)
    board = api.client.get(f"/v1/assessments/{test['id']}/dashboard", headers=organiser).json()
    clocks = {m["subject"]: m["time_left_seconds"] for m in board["members"]}
    assert clocks["bob"] is None and 590 <= clocks["alice"] <= 600
    assert board["totals"]["python-foundations/retry-backoff"]["started"] == 1


def test_views_kept_up_to_date_incrementally_equal_views_computed_afresh(api):
    """Each change re-renders only the members it touched; what comes out is what a fresh board computes."""
    from api import staff_views
    from api.cohort_storage import get_assessment

    made, test, organiser, alice = setup(api, duration_seconds=3600, attempt_limit=5)
    bob = member(api, made["invitations"]["bob"])

    def views() -> list:
        with api.service.session() as session:
            assessment = get_assessment(session=session, assessment_id=test["id"])
            assert assessment is not None
            found = [
                staff_views.matrix_json(session, assessment, "tasks"),
                staff_views.matrix_json(session, assessment, "skills"),
                staff_views.matrix_csv_text(session, assessment, "tasks"),
                staff_views.matrix_csv_text(session, assessment, "skills"),
                {k: v for k, v in staff_views.dashboard(session, assessment).items() if k != "members"},
                [
                    {k: v for k, v in m.items() if k != "time_left_seconds"}
                    for m in staff_views.dashboard(session, assessment)["members"]
                ],
            ]
        return found

    def check() -> list:
        kept = views()
        staff_views._BOARDS.clear()  # what a fresh process computes
        assert views() == kept
        return kept

    first = check()
    api.client.post(f"/v1/assessments/{test['id']}/start", headers=alice)
    started = check()
    assert started != first
    run = attempt(api, alice, test["id"]).json()["run_id"]
    submitted = check()
    work(api, run, passed=False)
    graded = check()
    assert graded[0] != submitted[0]  # the not-ready verdict reached the matrix
    api.client.post(f"/v1/assessments/{test['id']}/start", headers=bob)
    work(api, attempt(api, bob, test["id"]).json()["run_id"], passed=True)
    work(api, attempt(api, alice, test["id"]).json()["run_id"], passed=True)
    last = check()
    imported = api.client.post(
        f"/v1/cohorts/{made['id']}/members",
        headers={**organiser, "content-type": "text/csv"},
        content=b"subject,display_name,email\ncarl,Carl C,carl@example.org\n",
    )
    assert imported.status_code == 201, imported.text
    joined = check()
    assert "carl" in joined[2] and "carl" not in last[2]


def test_a_change_re_renders_only_the_member_it_touched(api):
    from api import staff_views
    from api.cohort_storage import get_assessment

    made, test, organiser, alice = setup(api)
    bob = member(api, made["invitations"]["bob"])
    work(api, attempt(api, bob, test["id"]).json()["run_id"], passed=True)

    def board():
        with api.service.session() as session:
            assessment = get_assessment(session=session, assessment_id=test["id"])
            staff_views.matrix_json(session, assessment, "tasks")
            return staff_views._board(session, assessment)

    before = dict(board().fragments["json:tasks"])
    work(api, attempt(api, alice, test["id"]).json()["run_id"], passed=True)
    after = board().fragments["json:tasks"]
    assert after["bob"] is before["bob"]  # kept, not rendered again
    assert after["alice"] != before["alice"] and '"ready"' in after["alice"]
