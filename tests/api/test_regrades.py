"""Regrade against a pack's new version: runs through the queue, old results superseded but verifiable,
new ones signed, a report of every changed verdict, members and staff views see the new verdict."""

from __future__ import annotations

import shutil

import pytest

from api.tables import Role
from engine import signing
from tests.api.cohort_helpers import assessment, attempt, cohort, member
from tests.api.conftest import make_api
from tests.api.helpers import work
from tests.conftest import CATALOGUE

RETRY = "python-foundations/retry-backoff"


@pytest.fixture(scope="session")
def two_versions(tmp_path_factory):
    """python-foundations at 1.0.0 and at 1.1.0 (the "grader fix")."""
    first, second = tmp_path_factory.mktemp("v1"), tmp_path_factory.mktemp("v2")
    shutil.copytree(CATALOGUE / "python-foundations", first / "python-foundations")
    shutil.copytree(CATALOGUE / "python-foundations", second / "python-foundations")
    meta = second / "python-foundations" / "pack.yaml"
    meta.write_text(meta.read_text().replace("version: 1.0.0", "version: 1.1.0"))
    return [first, second]


@pytest.fixture
def api(tmp_path, two_versions):
    yield from make_api(tmp_path / "data", catalogue_dirs=two_versions)


def test_a_regrade_changes_one_verdict_and_reports_it(api):
    organiser = api.token(Role.AUTHOR, "olga")
    made = cohort(api, organiser)
    test = assessment(api, organiser, made["id"], tasks=[{"task": RETRY, "version": "1.0.0"}])
    alice, bob = member(api, made["invitations"]["alice"]), member(api, made["invitations"]["bob"])
    mine, theirs = attempt(api, alice, test["id"]).json(), attempt(api, bob, test["id"]).json()
    work(api, mine["run_id"], passed=True)
    work(api, theirs["run_id"], passed=False)
    old_id = api.client.get(f"/v1/submissions/{mine['id']}", headers=alice).json()["result_id"]
    before = len(api.queue.run_ids)

    started = api.client.post(f"/v1/assessments/{test['id']}/regrade", headers=organiser, json={})
    assert started.status_code == 202, started.text
    regrade = started.json()
    assert regrade["total"] == 2 and regrade["versions"] == {RETRY: "1.1.0"}
    queued = api.queue.run_ids[before:]
    assert len(queued) == 2  # each through the queue, for any worker to take
    progress = api.client.get(f"/v1/regrades/{regrade['id']}", headers=organiser).json()
    assert (progress["done"], progress["finished"]) == (0, False)

    by_submission = {}
    peeker = api.token(Role.WORKER, "w")  # one token: a claim is bound to the token that made it
    for run_id in queued:
        claimed = api.client.post(f"/v1/runs/{run_id}/claim", headers=peeker, json={"worker": "w2"}).json()
        assert claimed["pack_version"] == "1.1.0"
        by_submission[claimed["submission_id"]] = run_id
        released = api.client.post(f"/v1/runs/{run_id}/release", headers=peeker, json={"worker": "w2"})
        assert released.status_code == 200, released.text
    work(api, by_submission[mine["id"]], passed=False)  # the fixed grader fails alice's work
    work(api, by_submission[theirs["id"]], passed=False)  # bob's stays not_ready

    report = api.client.get(f"/v1/regrades/{regrade['id']}", headers=organiser).json()
    assert (report["done"], report["finished"]) == (2, True)
    assert [(c["candidate"], c["old"]["verdict"], c["new"]["verdict"]) for c in report["changed"]] == [
        ("alice", "ready", "not_ready")
    ]
    # the member sees the new result; the old one stays stored, verifiable, marked superseded
    current = api.client.get(f"/v1/submissions/{mine['id']}/result", headers=alice).json()
    assert current["verdict"] == "not_ready" and current["task"]["pack_version"] == "1.1.0"
    old = api.client.get(f"/v1/results/{old_id}", headers=alice).json()
    assert old["verdict"] == "ready" and signing.verify(old, api.service.jwks()).problems == []
    with api.service.session() as session:
        from api import storage

        assert storage.get_result(session=session, result_id=old_id).superseded_by == current["id"]
    matrix = api.client.get(f"/v1/assessments/{test['id']}/matrix", headers=organiser, params={"by": "tasks"}).json()
    assert {r["subject"]: r["cells"][RETRY]["verdict"] for r in matrix["rows"]} == {
        "alice": "not_ready",
        "bob": "not_ready",
    }
    pinned = api.client.get(f"/v1/assessments/{test['id']}", headers=organiser).json()["tasks"][0]
    assert pinned["pack_version"] == "1.1.0"


def test_a_regrade_the_engine_could_not_finish_leaves_the_old_verdict(api):
    organiser = api.token(Role.AUTHOR, "olga")
    made = cohort(api, organiser)
    test = assessment(api, organiser, made["id"], tasks=[{"task": RETRY, "version": "1.0.0"}])
    alice = member(api, made["invitations"]["alice"])
    mine = attempt(api, alice, test["id"]).json()
    work(api, mine["run_id"], passed=True)
    regrade = api.client.post(f"/v1/assessments/{test['id']}/regrade", headers=organiser, json={"task": RETRY}).json()
    api.service.fail_run(run_id=api.queue.run_ids[-1], reason="docker went away")
    assert api.client.get(f"/v1/submissions/{mine['id']}/result", headers=alice).json()["verdict"] == "ready"
    report = api.client.get(f"/v1/regrades/{regrade['id']}", headers=organiser).json()
    assert [(c["old"]["verdict"], c["new"]["verdict"]) for c in report["changed"]] == [("ready", "error")]


def test_only_the_organiser_regrades_and_only_staff_read_the_report(api):
    organiser = api.token(Role.AUTHOR, "olga")
    made = cohort(api, organiser)
    test = assessment(api, organiser, made["id"], tasks=[{"task": RETRY, "version": "1.0.0"}])
    other = api.token(Role.AUTHOR, "oscar")
    assert api.client.post(f"/v1/assessments/{test['id']}/regrade", headers=other, json={}).status_code == 404
    regrade = api.client.post(f"/v1/assessments/{test['id']}/regrade", headers=organiser, json={}).json()
    assert api.client.get(f"/v1/regrades/{regrade['id']}", headers=other).status_code == 404
    alice = member(api, made["invitations"]["alice"])
    assert api.client.get(f"/v1/regrades/{regrade['id']}", headers=alice).status_code == 404


def test_a_superseded_result_no_longer_counts_in_profiles(api):
    organiser = api.token(Role.AUTHOR, "olga")
    made = cohort(api, organiser)
    test = assessment(api, organiser, made["id"], tasks=[{"task": RETRY, "version": "1.0.0"}])
    alice = member(api, made["invitations"]["alice"])
    mine = attempt(api, alice, test["id"]).json()
    work(api, mine["run_id"], passed=True)
    old_id = api.client.get(f"/v1/submissions/{mine['id']}", headers=alice).json()["result_id"]
    api.client.post(f"/v1/assessments/{test['id']}/regrade", headers=organiser, json={})
    work(api, api.queue.run_ids[-1], passed=False)
    new = api.client.get(f"/v1/submissions/{mine['id']}/result", headers=alice).json()
    api.client.post(f"/v1/cohorts/{made['id']}/staff", headers=organiser, json={"subject": "rita"})
    rita = api.token(Role.REVIEWER, "rita")
    for headers, path in ((alice, "/v1/profile"), (rita, "/v1/candidates/alice/profile")):
        skills = api.client.get(path, headers=headers).json()["skills"]
        assert skills, path
        for skill in skills.values():
            assert old_id not in skill["results"] and skill["results"] == [new["id"]]
            assert skill["best"]["result_id"] == new["id"] and skill["best"]["verdict"] == "not_ready"


def test_members_see_their_new_result_after_a_regrade(api):
    """The member's own views after a regrade changed their verdict: the submission's result, the submission
    itself, their assessment page (web) and their profile all show the new result; the old one counts nowhere."""
    from tests.web.conftest import sign_in

    organiser = api.token(Role.AUTHOR, "olga")
    made = cohort(api, organiser)
    test = assessment(api, organiser, made["id"], tasks=[{"task": RETRY, "version": "1.0.0"}])
    alice = member(api, made["invitations"]["alice"])
    mine = attempt(api, alice, test["id"]).json()
    work(api, mine["run_id"], passed=True)
    old_id = api.client.get(f"/v1/submissions/{mine['id']}", headers=alice).json()["result_id"]
    browser = sign_in(api, Role.CANDIDATE, "alice")
    before = browser.get(f"/assessments/{test['id']}")
    assert before.status_code == 200 and f"/results/{old_id}" in before.text and "verdict-ready" in before.text

    regrade = api.client.post(f"/v1/assessments/{test['id']}/regrade", headers=organiser, json={}).json()
    work(api, api.queue.run_ids[-1], passed=False)  # the fixed grader fails alice's work
    assert [
        c["new"]["verdict"]
        for c in api.client.get(f"/v1/regrades/{regrade['id']}", headers=organiser).json()["changed"]
    ] == ["not_ready"]

    new = api.client.get(f"/v1/submissions/{mine['id']}/result", headers=alice).json()
    assert new["id"] != old_id and new["verdict"] == "not_ready" and new["task"]["pack_version"] == "1.1.0"
    assert api.client.get(f"/v1/submissions/{mine['id']}", headers=alice).json()["result_id"] == new["id"]
    page = browser.get(f"/assessments/{test['id']}")
    assert page.status_code == 200
    assert f"/results/{new['id']}" in page.text and "verdict-not_ready" in page.text
    assert f"/results/{old_id}" not in page.text and "verdict-ready" not in page.text
    assert browser.get(f"/results/{new['id']}").status_code == 200
    skills = api.client.get("/v1/profile", headers=alice).json()["skills"]
    assert skills and all(s["results"] == [new["id"]] and s["best"]["verdict"] == "not_ready" for s in skills.values())
