"""Results through the HTTP API: who reads which view, signatures, one write per run, events, profiles."""

from __future__ import annotations

import copy
import json

import pytest

from api.tables import Role
from engine import archives, signing
from engine.results import WITHHELD
from tests.api.conftest import Api
from tests.api.helpers import SECRET_MESSAGE, SECRET_OUTPUT, result_document, submit, work
from tests.api.test_packs import WORD_PACK, pack_files, post_pack


def claim(api: Api, run_id: str, worker: str = "w1") -> tuple[dict[str, str], dict]:
    headers = api.token(Role.WORKER, "w")
    response = api.client.post(f"/v1/runs/{run_id}/claim", headers=headers, json={"worker": worker})
    assert response.status_code == 200, response.text
    return headers, response.json()


def jwks(api: Api) -> dict:
    response = api.client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    return response.json()


def result_as(api: Api, submission_id: str, headers: dict[str, str]) -> dict:
    by_submission = api.client.get(f"/v1/submissions/{submission_id}/result", headers=headers)
    assert by_submission.status_code == 200, by_submission.text
    result_id = api.client.get(f"/v1/submissions/{submission_id}", headers=headers).json()["result_id"]
    by_id = api.client.get(f"/v1/results/{result_id}", headers=headers)
    assert by_id.json() == by_submission.json()
    return by_submission.json()


def assert_candidate_view(view: dict, posted: dict) -> None:
    assert view["view"] == "candidate"
    assert (view["id"], view["score"], view["verdict"]) == (posted["id"], posted["score"], posted["verdict"])
    assert view["output"] == {"stdout": "", "stderr": ""}
    by_id = {c["id"]: c for c in view["checks"]}
    assert by_id["hidden-check"]["message"] == WITHHELD
    assert by_id["visible-check"]["message"] == "you can read this"
    for check in posted["checks"]:
        assert (by_id[check["id"]]["status"], by_id[check["id"]]["score"]) == (check["status"], check["score"])
    text = json.dumps(view)
    assert SECRET_MESSAGE not in text and SECRET_OUTPUT not in text


def assert_full_view(document: dict, posted: dict) -> None:
    assert "view" not in document
    # What the worker posted, plus the candidate binding the server adds (never the worker).
    assert document["subject_digest"].startswith("hmac-sha256:")
    assert {k: v for k, v in document.items() if k not in ("signature", "subject_digest")} == posted
    assert SECRET_MESSAGE in json.dumps(document["checks"])
    assert document["output"]["stdout"] == SECRET_OUTPUT


# -- views -----------------------------------------------------------------


def test_a_candidate_reads_their_own_result_as_the_candidate_view(api):
    alice = api.token(Role.CANDIDATE, "alice")
    accepted = submit(api, alice)
    posted = work(api, accepted["run_id"])
    assert_candidate_view(result_as(api, accepted["id"], alice), posted)


@pytest.mark.parametrize("role", [Role.REVIEWER, Role.ADMIN])
def test_staff_read_the_full_result(api, role):
    accepted = submit(api, api.token(Role.CANDIDATE, "alice"))
    posted = work(api, accepted["run_id"])
    assert_full_view(result_as(api, accepted["id"], api.token(role, "staff")), posted)


def test_the_author_of_an_uploaded_pack_reads_the_full_result_others_do_not_see_it(api, tmp_path):
    ada = api.token(Role.AUTHOR, "ada")
    assert post_pack(api, ada, archives.make_zip(pack_files(tmp_path))).status_code == 201
    alice = api.token(Role.CANDIDATE, "alice")
    accepted = submit(api, alice, files={"top_words.py": "print()\n"}, task=f"{WORD_PACK}/word-frequency")
    posted = work(api, accepted["run_id"])
    assert_full_view(result_as(api, accepted["id"], ada), posted)
    assert_candidate_view(result_as(api, accepted["id"], alice), posted)
    mallory = api.token(Role.AUTHOR, "mallory")
    assert api.client.get(f"/v1/submissions/{accepted['id']}/result", headers=mallory).status_code == 404
    # An author who owns no pack of this submission sees nothing of it, built-in pack or not.
    other = submit(api, alice)
    work(api, other["run_id"])
    assert api.client.get(f"/v1/submissions/{other['id']}/result", headers=ada).status_code == 404


def test_a_result_is_404_until_it_is_written(api):
    alice = api.token(Role.CANDIDATE, "alice")
    accepted = submit(api, alice)
    response = api.client.get(f"/v1/submissions/{accepted['id']}/result", headers=alice)
    assert response.status_code == 404
    assert "queued" in response.json()["detail"]


# -- signatures --------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.CANDIDATE, Role.REVIEWER])
def test_both_views_verify_against_the_published_keys_and_tampering_is_named(api, role):
    alice = api.token(Role.CANDIDATE, "alice")
    accepted = submit(api, alice)
    work(api, accepted["run_id"])
    document = result_as(api, accepted["id"], alice if role is Role.CANDIDATE else api.token(role, "rita"))
    keys = jwks(api)
    assert all("d" not in key for key in keys["keys"])
    verified = signing.verify(document, keys)
    assert verified.ok, verified.problems
    assert verified.kid == api.service.key.kid

    raised = copy.deepcopy(document)
    raised["score"] = 100.0 if document["score"] != 100.0 else 99.0
    assert signing.verify(raised, keys).problems == ["field 'score' was changed after signing"]

    revealed = copy.deepcopy(document)
    revealed["checks"][0]["message"] = "something else"
    assert signing.verify(revealed, keys).problems == ["field 'checks' was changed after signing"]

    relabelled = (
        {k: v for k, v in document.items() if k != "view"} if "view" in document else {**document, "view": "candidate"}
    )
    expected = "removed after signing" if "view" in document else "added after signing"
    assert signing.verify(relabelled, keys).problems == [f"field 'view' was {expected}"]


def test_a_candidate_view_cannot_pass_as_the_full_document(api):
    """The view is signed with its ``view`` label: dropping the label to pass it off as full fails."""
    alice = api.token(Role.CANDIDATE, "alice")
    accepted = submit(api, alice)
    work(api, accepted["run_id"])
    view = result_as(api, accepted["id"], alice)
    view.pop("view")
    assert not signing.verify(view, jwks(api)).ok


# -- one result per run ------------------------------------------------------


def test_a_second_result_for_the_same_run_changes_nothing(api):
    alice = api.token(Role.CANDIDATE, "alice")
    accepted = submit(api, alice)
    headers, job = claim(api, accepted["run_id"])
    first = result_document(api, job, passed=True)
    assert api.client.post(f"/v1/runs/{job['run_id']}/result", headers=headers, json=first).status_code == 201
    reviewer = api.token(Role.REVIEWER, "rita")
    stored = result_as(api, accepted["id"], reviewer)

    second = result_document(api, job, passed=False)
    assert second["id"] != first["id"] and second["score"] != first["score"]
    response = api.client.post(f"/v1/runs/{job['run_id']}/result", headers=headers, json=second)
    assert response.status_code == 200, response.text
    assert response.json() == {"id": first["id"], "created": False}
    assert result_as(api, accepted["id"], reviewer) == stored
    assert api.client.get(f"/v1/results/{second['id']}", headers=reviewer).status_code == 404
    profile = api.client.get("/v1/profile", headers=alice).json()["skills"]
    assert all(skill["results"] == [first["id"]] for skill in profile.values())
    events = read_events(api, accepted["id"], alice)
    assert [kind for kind, _ in events].count("done") == 1


@pytest.mark.parametrize("field", ["submission_digest", "task_digest"])
def test_a_result_naming_another_submission_or_task_version_is_422(api, field):
    alice = api.token(Role.CANDIDATE, "alice")
    accepted = submit(api, alice)
    headers, job = claim(api, accepted["run_id"])
    document = result_document(api, job)
    if field == "submission_digest":
        document["submission_digest"] = "sha256:" + "0" * 64
    else:
        document["task"]["task_digest"] = "sha256:" + "1" * 64
    response = api.client.post(f"/v1/runs/{job['run_id']}/result", headers=headers, json=document)
    assert response.status_code == 422, response.text
    assert "different" in response.json()["detail"]
    assert api.client.get(f"/v1/submissions/{accepted['id']}/result", headers=alice).status_code == 404
    assert api.client.get(f"/v1/submissions/{accepted['id']}", headers=alice).json()["state"] == "running"


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: d.update(score=150), "score"),
        (lambda d: d.update(verdict="maybe"), "verdict"),
        (lambda d: d.pop("checks"), "checks"),
        (lambda d: d.update(schema_version=2), "schema_version"),
    ],
    ids=["score out of range", "unknown verdict", "no checks", "future schema"],
)
def test_a_schema_invalid_result_is_422_naming_where(api, change, where):
    alice = api.token(Role.CANDIDATE, "alice")
    accepted = submit(api, alice)
    headers, job = claim(api, accepted["run_id"])
    document = result_document(api, job)
    change(document)
    response = api.client.post(f"/v1/runs/{job['run_id']}/result", headers=headers, json=document)
    assert response.status_code == 422, response.text
    assert where in json.dumps(response.json()["detail"])
    assert api.client.get(f"/v1/submissions/{accepted['id']}/result", headers=alice).status_code == 404


def test_a_result_that_is_not_an_object_is_422(api):
    accepted = submit(api, api.token(Role.CANDIDATE, "alice"))
    headers, _ = claim(api, accepted["run_id"])
    response = api.client.post(f"/v1/runs/{accepted['run_id']}/result", headers=headers, json=["not", "a", "result"])
    assert response.status_code == 422


# -- events ------------------------------------------------------------------


def read_events(api: Api, submission_id: str, headers: dict[str, str], **params) -> list[tuple[str, dict]]:
    response = api.client.get(f"/v1/submissions/{submission_id}/events", headers=headers, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    events = []
    for block in response.text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":"))
        if "event" in fields:
            events.append((fields["event"], json.loads(fields["data"])))
    return events


def test_events_replay_every_state_in_order_ending_with_the_verdict(api):
    alice = api.token(Role.CANDIDATE, "alice")
    accepted = submit(api, alice)
    headers, job = claim(api, accepted["run_id"])
    progress = api.client.post(
        f"/v1/runs/{job['run_id']}/progress", headers=headers, json={"worker": "w1", "state": "grading"}
    )
    assert progress.status_code == 200, progress.text
    document = result_document(api, job, passed=False)
    api.client.post(f"/v1/runs/{job['run_id']}/result", headers=headers, json=document)

    events = read_events(api, accepted["id"], alice)
    assert [kind for kind, _ in events] == ["queued", "running", "grading", "done"]
    assert [data["state"] for _, data in events] == ["queued", "running", "grading", "done"]
    done = events[-1][1]
    assert (done["verdict"], done["score"], done["result_id"]) == (
        document["verdict"],
        document["score"],
        document["id"],
    )
    assert all(data["submission"] == accepted["id"] for _, data in events)
    moments = [data["at"] for _, data in events]
    assert moments == sorted(moments)


def test_events_of_an_unfinished_run_stop_at_the_timeout(api):
    alice = api.token(Role.CANDIDATE, "alice")
    accepted = submit(api, alice)
    claim(api, accepted["run_id"])
    events = read_events(api, accepted["id"], alice, timeout=0.3)
    assert [kind for kind, _ in events] == ["queued", "running", "timeout"]


# -- profile -----------------------------------------------------------------


@pytest.mark.parametrize("order", [(True, False), (False, True)], ids=["pass then fail", "fail then pass"])
def test_the_profile_shows_latest_and_best_per_micro_skill(api, order):
    alice = api.token(Role.CANDIDATE, "alice")
    posted = []
    for passed in order:
        accepted = submit(api, alice)
        posted.append(work(api, accepted["run_id"], passed=passed))
    first, second = posted
    assert first["score"] != second["score"]
    best = first if first["score"] > second["score"] else second
    profile = api.client.get("/v1/profile", headers=alice).json()
    assert profile["candidate"] == "alice"
    skills = api.service.pack_store.task("python-foundations", "retry-backoff").micro_skills
    assert set(profile["skills"]) == set(skills)
    for skill in skills:
        entry = profile["skills"][skill]
        assert entry["latest"]["result_id"] == second["id"]
        assert entry["latest"]["score"] == second["micro_skills"][skill]["score"]
        assert entry["latest"]["verdict"] == second["micro_skills"][skill]["verdict"]
        assert entry["best"]["result_id"] == best["id"]
        assert entry["best"]["score"] == best["micro_skills"][skill]["score"]
        assert entry["best"]["at"] <= entry["latest"]["at"]
        assert entry["results"] == [first["id"], second["id"]]
    staff_view = api.client.get("/v1/candidates/alice/profile", headers=api.token(Role.REVIEWER, "rita")).json()
    assert staff_view == profile


def test_an_engine_error_is_not_evidence_in_the_profile(api):
    """An infrastructure failure says nothing about the candidate: it never shows as a score of 0."""
    alice = api.token(Role.CANDIDATE, "alice")
    passed = work(api, submit(api, alice)["run_id"])
    failed = submit(api, alice)
    headers, _ = claim(api, failed["run_id"])
    response = api.client.post(
        f"/v1/runs/{failed['run_id']}/fail",
        headers=headers,
        json={"worker": "w1", "reason": "the docker engine went away"},
    )
    assert response.status_code == 201, response.text
    assert api.client.get(f"/v1/submissions/{failed['id']}/result", headers=alice).json()["verdict"] == "error"
    for entry in api.client.get("/v1/profile", headers=alice).json()["skills"].values():
        assert entry["latest"]["result_id"] == passed["id"]
        assert entry["results"] == [passed["id"]]


def test_the_profile_of_a_candidate_with_no_results_is_empty(api):
    alice = api.token(Role.CANDIDATE, "alice")
    submit(api, alice)
    assert api.client.get("/v1/profile", headers=alice).json() == {"candidate": "alice", "skills": {}}


def test_a_grader_error_counts_for_nothing_and_its_details_reach_staff_only(api):
    """A broken grader is the author's fault: verdict error, no profile evidence, no hidden path for the candidate."""
    from engine.models import RunStatus
    from engine.results import GRADER_FAILED, Result, now

    alice = api.token(Role.CANDIDATE, "alice")
    accepted = submit(api, alice)
    headers, job = claim(api, accepted["run_id"])
    task = api.service.pack_store.task(job["pack_id"], job["task_id"], job["pack_version"])
    detail = 'collecting failed: File "/grader/tests/test_retry.py", line 56\n    def test_bad(:'
    document = Result(
        task=task,
        submission_digest=job["submission_digest"],
        status=RunStatus.GRADER_ERROR,
        checks=(),
        started_at=now(),
        finished_at=now(),
        reason=detail,
        grader_output="Traceback: /grader/tests/test_retry.py",
    ).to_document()
    posted = api.client.post(f"/v1/runs/{accepted['run_id']}/result", headers=headers, json=document)
    assert posted.status_code == 201, posted.text
    view = result_as(api, accepted["id"], alice)
    assert (view["verdict"], view["status"], view["reason"]) == ("error", "grader_error", GRADER_FAILED)
    assert "/grader/" not in json.dumps(view) and "grader_error" not in view
    assert signing.verify(view, jwks(api)).problems == []
    full = result_as(api, accepted["id"], api.token(Role.REVIEWER, "rita"))
    assert "def test_bad(:" in full["grader_error"]["message"]
    assert api.client.get("/v1/profile", headers=alice).json()["skills"] == {}
