"""Issue 14 (API side): each finding of the black-box probe, pinned by a test that failed before the fix.

Item 1 (event streams) is pinned against a real ``tasktrial serve`` in
``test_streams_integration.py``; the in-process parts (caps, no session held,
reconnect at shutdown) are here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlmodel import select

from api import storage
from api.routes import submissions as submission_routes
from api.tables import ApiToken, Role, Run, RunState, utcnow
from engine import archives, results, signing
from tests.api.conftest import Api, make_api
from tests.api.helpers import RETRY, result_document, submit, work
from tests.api.test_packs import WORD_PACK, finish_check, pack_files, post_pack, version_id


def claim(api: Api, run_id: str, headers: dict[str, str], worker: str = "w1"):
    return api.client.post(f"/v1/runs/{run_id}/claim", headers=headers, json={"worker": worker})


def state(api: Api, submission_id: str) -> str:
    return api.client.get(f"/v1/submissions/{submission_id}", headers=api.token(Role.REVIEWER, "rita")).json()["state"]


# -- item 2: a worker acts only on the runs its token holds -------------------------------


def test_a_second_worker_cannot_post_a_result_for_a_run_another_worker_holds(api):
    alice = api.token(Role.CANDIDATE, "alice")
    accepted = submit(api, alice)
    holder, forger = api.token(Role.WORKER, "embedded"), api.token(Role.WORKER, "mallory")
    job = claim(api, accepted["run_id"], holder).json()
    forged = result_document(api, job, passed=True)
    # The forger even names the holder's process: names prove nothing, the token does.
    response = api.client.post(
        f"/v1/runs/{accepted['run_id']}/result", headers=forger, json=forged, params={"worker": "w1"}
    )
    assert response.status_code == 409, response.text
    assert "another worker" in response.json()["detail"]
    assert api.client.get(f"/v1/submissions/{accepted['id']}/result", headers=alice).status_code == 404
    assert api.client.get("/v1/profile", headers=alice).json()["skills"] == {}
    # The holder's own result still goes in.
    assert (
        api.client.post(
            f"/v1/runs/{accepted['run_id']}/result", headers=holder, json=result_document(api, job, passed=False)
        ).status_code
        == 201
    )


def test_a_result_for_a_run_nobody_claimed_is_refused(api):
    alice = api.token(Role.CANDIDATE, "alice")
    accepted = submit(api, alice)
    worker = api.token(Role.WORKER, "mallory")
    task = api.service.pack_store.task("python-foundations", "retry-backoff")
    job = {
        "pack_id": task.pack_id,
        "task_id": task.id,
        "pack_version": task.pack_version,
        "submission_digest": api.client.get(f"/v1/submissions/{accepted['id']}", headers=alice).json()[
            "submission_digest"
        ],
    }
    response = api.client.post(
        f"/v1/runs/{accepted['run_id']}/result", headers=worker, json=result_document(api, job, passed=True)
    )
    assert response.status_code == 409, response.text
    assert "not claimed" in response.json()["detail"]
    assert state(api, accepted["id"]) == "queued"


@pytest.mark.parametrize("action", ["progress", "release", "fail"])
def test_another_token_cannot_act_on_a_held_run_even_naming_its_worker(api, action):
    accepted = submit(api, api.token(Role.CANDIDATE, "alice"))
    holder, intruder = api.token(Role.WORKER, "a"), api.token(Role.WORKER, "b")
    assert claim(api, accepted["run_id"], holder, worker="host-a:1").status_code == 200
    body = {"worker": "host-a:1", "state": "grading", "reason": "sabotage"}
    response = api.client.post(f"/v1/runs/{accepted['run_id']}/{action}", headers=intruder, json=body)
    assert response.status_code == 409, response.text
    assert state(api, accepted["id"]) == "running"
    # The holder still can.
    assert api.client.post(f"/v1/runs/{accepted['run_id']}/{action}", headers=holder, json=body).status_code in (
        200,
        201,
    )


def test_a_result_must_name_the_runs_task_as_well_as_its_digests(api):
    """A signed result shows its task by name: a worker cannot relabel a run's result as another task's."""
    alice = api.token(Role.CANDIDATE, "alice")
    accepted = submit(api, alice)
    worker = api.token(Role.WORKER, "w")
    job = claim(api, accepted["run_id"], worker).json()
    document = result_document(api, job)
    document["task"]["id"] = "a-much-harder-task"
    response = api.client.post(f"/v1/runs/{accepted['run_id']}/result", headers=worker, json=document)
    assert response.status_code == 422, response.text
    assert "different task" in response.json()["detail"]


def test_a_claim_is_recorded_against_the_authenticated_token(api):
    accepted = submit(api, api.token(Role.CANDIDATE, "alice"))
    worker = api.token(Role.WORKER, "w")
    claim(api, accepted["run_id"], worker, worker="whoever-i-say")
    token_id = api.service.principal(worker["Authorization"].removeprefix("Bearer ")).token_id
    with api.service.session() as session:
        run = session.get(Run, accepted["run_id"])
    assert (run.worker_token_id, run.worker, run.state) == (token_id, "whoever-i-say", RunState.RUNNING)


# -- item 5: a signed result is bound to its candidate, without naming them ---------------


def test_a_result_is_bound_to_its_candidate_by_a_salted_digest_only_they_can_open(api):
    alice = api.token(Role.CANDIDATE, "alice")
    accepted = submit(api, alice)
    salt = accepted["subject_salt"]
    assert salt and salt == api.client.get(f"/v1/submissions/{accepted['id']}", headers=alice).json()["subject_salt"]
    work(api, accepted["run_id"])
    document = api.client.get(f"/v1/submissions/{accepted['id']}/result", headers=alice).json()
    jwks = api.client.get("/.well-known/jwks.json").json()
    assert signing.verify(document, jwks).ok
    assert "alice" not in json.dumps(document)  # no identity published
    assert results.subject_problems(document, subject="alice", salt=salt) == []
    assert results.subject_problems(document, subject="bob", salt=salt) != []  # Bob cannot present it as his
    # Swapping in Bob's binding breaks the signature.
    bobs = {**document, "subject_digest": results.subject_digest("bob", salt)}
    assert signing.verify(bobs, jwks).problems == ["field 'subject_digest' was changed after signing"]


def test_each_submission_gets_its_own_salt_so_results_cannot_be_linked(api):
    alice = api.token(Role.CANDIDATE, "alice")
    first, second = submit(api, alice), submit(api, alice)
    assert first["subject_salt"] != second["subject_salt"]
    digests = set()
    for accepted in (first, second):
        work(api, accepted["run_id"])
        digests.add(api.client.get(f"/v1/submissions/{accepted['id']}/result", headers=alice).json()["subject_digest"])
    assert len(digests) == 2


def test_a_worker_cannot_choose_the_subject_binding(api):
    alice = api.token(Role.CANDIDATE, "alice")
    accepted = submit(api, alice)
    worker = api.token(Role.WORKER, "w")
    job = claim(api, accepted["run_id"], worker).json()
    document = result_document(api, job)
    document["subject_digest"] = results.subject_digest("mallory", "0" * 32)
    assert api.client.post(f"/v1/runs/{accepted['run_id']}/result", headers=worker, json=document).status_code == 201
    stored = api.client.get(f"/v1/submissions/{accepted['id']}/result", headers=alice).json()
    assert stored["subject_digest"] == results.subject_digest("alice", accepted["subject_salt"])


# -- item 6: tokens expire and can be revoked ---------------------------------------------


def _token_id(api: Api, headers: dict[str, str]) -> str:
    principal = api.service.principal(headers["Authorization"].removeprefix("Bearer "))
    assert principal is not None
    return principal.token_id


def test_a_token_revoked_through_the_api_stops_working_at_once_on_that_replica(api):
    alice = api.token(Role.CANDIDATE, "alice")
    assert api.client.get("/v1/tasks", headers=alice).status_code == 200  # now cached
    admin = api.token(Role.ADMIN, "root")
    token_id = _token_id(api, alice)
    response = api.client.delete(f"/v1/admin/tokens/{token_id}", headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "revoked"
    assert api.client.get("/v1/tasks", headers=alice).status_code == 401
    listed = {t["id"]: t for t in api.client.get("/v1/admin/tokens", headers=admin).json()["data"]}
    assert listed[token_id]["state"] == "revoked" and "token_hash" not in listed[token_id]
    assert api.client.delete("/v1/admin/tokens/nope", headers=admin).status_code == 404


def test_a_token_revoked_elsewhere_stops_working_within_the_cache_window(api):
    """Another process (the CLI, another replica) revoked it: with no cache window, the next request is refused."""
    api.service.settings = api.service.settings.model_copy(update={"token_cache_seconds": 0})
    alice = api.token(Role.CANDIDATE, "alice")
    assert api.client.get("/v1/tasks", headers=alice).status_code == 200
    with api.service.session() as session:
        storage.revoke_token(session=session, token_id=_token_id(api, alice))
    assert api.client.get("/v1/tasks", headers=alice).status_code == 401


def test_an_expired_token_is_refused(api):
    with api.service.session() as session:
        secret = storage.create_token(
            session=session,
            name="old",
            role=Role.CANDIDATE,
            subject="alice",
            expires_at=utcnow() - timedelta(seconds=1),
        )
        live = storage.create_token(
            session=session, name="new", role=Role.CANDIDATE, subject="alice", expires_at=utcnow() + timedelta(days=1)
        )
    assert api.client.get("/v1/tasks", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    assert api.client.get("/v1/tasks", headers={"Authorization": f"Bearer {live}"}).status_code == 200
    states = {
        t["name"]: t["state"]
        for t in api.client.get("/v1/admin/tokens", headers=api.token(Role.ADMIN, "root")).json()["data"]
    }
    assert (states["old"], states["new"]) == ("expired", "active")


def test_a_cached_token_is_not_trusted_past_its_expiry(api):
    import time

    api.service.settings = api.service.settings.model_copy(update={"token_cache_seconds": 3600})
    with api.service.session() as session:
        secret = storage.create_token(
            session=session,
            name="short",
            role=Role.CANDIDATE,
            subject="alice",
            expires_at=utcnow() + timedelta(seconds=30),
        )
        row = session.exec(select(ApiToken).where(ApiToken.name == "short")).one()
    assert api.service.principal(secret) is not None
    _, until = api.service._principals[row.token_hash]
    assert until <= time.monotonic() + 30


# -- item 7: submission rate per candidate, and a bound on the queue ----------------------


@pytest.fixture
def limited(tmp_path, small_catalogue) -> Iterator[Api]:
    built = make_api(tmp_path / "data", catalogue_dirs=[small_catalogue])
    api = next(built)
    api.service.settings = api.service.settings.model_copy(
        update={"submission_rate_limit": 3, "submission_rate_window_seconds": 60, "max_queued_runs": 5}
    )
    yield api
    next(built, None)


def test_one_candidate_flooding_submissions_gets_429_with_retry_after(limited):
    alice = limited.token(Role.CANDIDATE, "alice")
    codes = []
    for _ in range(10):
        response = limited.client.post(
            "/v1/submissions", headers=alice, json={"task": RETRY, "files": {"retry.py": "x = 1\n"}}
        )
        codes.append(response.status_code)
    assert codes == [202] * 3 + [429] * 7
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert "TASKTRIAL_SUBMISSION_RATE_LIMIT" in response.json()["detail"]
    assert limited.client.get("/v1/submissions", headers=alice).json()["count"] == 3
    # Another token of the same candidate shares the budget; another candidate has their own.
    assert (
        limited.client.post(
            "/v1/submissions",
            headers=limited.token(Role.CANDIDATE, "alice"),
            json={"task": RETRY, "files": {"retry.py": "x = 1\n"}},
        ).status_code
        == 429
    )
    assert (
        limited.client.post(
            "/v1/submissions",
            headers=limited.token(Role.CANDIDATE, "bob"),
            json={"task": RETRY, "files": {"retry.py": "x = 1\n"}},
        ).status_code
        == 202
    )


def test_a_full_queue_refuses_new_submissions_with_429(limited):
    for name in ("a", "b", "c", "d", "e"):
        submit(limited, limited.token(Role.CANDIDATE, name))
    response = limited.client.post(
        "/v1/submissions",
        headers=limited.token(Role.CANDIDATE, "f"),
        json={"task": RETRY, "files": {"retry.py": "x = 1\n"}},
    )
    assert response.status_code == 429
    assert "TASKTRIAL_MAX_QUEUED_RUNS" in response.json()["detail"] and response.headers["Retry-After"]


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TASKTRIAL_SUBMISSION_RATE_LIMIT", "0"),
        ("TASKTRIAL_SUBMISSION_RATE_WINDOW_SECONDS", "-5"),
        ("TASKTRIAL_MAX_QUEUED_RUNS", "0"),
        ("TASKTRIAL_MAX_STREAMS", "0"),
        ("TASKTRIAL_MAX_STREAMS_PER_TOKEN", "-1"),
        ("TASKTRIAL_STREAM_POLL_SECONDS", "0"),
        ("TASKTRIAL_TOKEN_CACHE_SECONDS", "-1"),
        ("TASKTRIAL_MAX_UPLOAD_BYTES", "0"),
        ("TASKTRIAL_EMBEDDED_WORKERS", "0"),
    ],
)
def test_a_setting_that_makes_no_sense_fails_at_start_naming_the_variable(monkeypatch, variable, value):
    from cli.server import load_settings
    from engine.errors import ConfigurationError

    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError, match=variable):
        load_settings()


# -- item 9: every query parameter is bounded ---------------------------------------------


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/submissions", {"offset": 10**20}),
        ("/v1/submissions", {"offset": -1}),
        ("/v1/submissions", {"limit": 0}),
        ("/v1/submissions", {"limit": 10**6}),
        ("/v1/submissions", {"limit": "many"}),
        ("/v1/submissions/{id}/events", {"timeout": -1}),
        ("/v1/submissions/{id}/events", {"timeout": 10**9}),
        ("/v1/submissions/{id}/events", {"timeout": "nan"}),
    ],
    ids=[
        "huge offset",
        "negative offset",
        "zero limit",
        "huge limit",
        "limit not a number",
        "negative timeout",
        "huge timeout",
        "nan timeout",
    ],
)
def test_an_out_of_range_query_parameter_is_422_naming_it(api, path, params):
    alice = api.token(Role.CANDIDATE, "alice")
    accepted = submit(api, alice)
    response = api.client.get(path.format(id=accepted["id"]), headers=alice, params=params)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", *params]


def test_a_huge_path_id_or_log_size_is_422_not_a_database_error(api):
    response = api.client.get("/v1/submissions/" + "a" * 5000, headers=api.token(Role.CANDIDATE, "alice"))
    assert response.status_code == 422
    assert api.client.get("/log/checkpoint/" + "9" * 20).status_code == 422
    log = api.client.get("/log/consistency", params={"first": 0, "second": 10**20})
    assert log.status_code == 422 and log.json()["detail"][0]["loc"] == ["query", "second"]
    assert api.client.get("/v1/pack-checks/" + "a" * 5000, headers=api.token(Role.WORKER, "w")).status_code == 422


# -- item 2, pack side: an upload goes live only on a worker's report, the first one ---------


def test_an_author_cannot_report_their_own_upload_checked(api, tmp_path):
    ada = api.token(Role.AUTHOR, "ada")
    assert post_pack(api, ada, archives.make_zip(pack_files(tmp_path)), check=None).status_code == 201
    checks = f"/v1/pack-checks/{version_id(api, WORD_PACK, '1.0.0')}"
    assert api.client.post(checks, headers=ada, json={"ok": True}).status_code == 403
    assert api.client.get(checks, headers=ada).status_code == 403
    assert api.client.get(f"/v1/packs/{WORD_PACK}/versions/1.0.0", headers=ada).json()["state"] == "checking"
    assert finish_check(api, WORD_PACK, "1.0.0", ok=False) == "rejected"
    again = api.client.post(checks, headers=api.token(Role.WORKER, "another-worker"), json={"ok": True})
    assert again.status_code == 409  # the first report stands, whichever worker sends the next


# -- item 11: media types match exactly; big bodies are parsed off the event loop ----------


@pytest.mark.parametrize(
    "content_type", ["application/jsonhax", "application/json-patch+json", "multipart/form-datax; boundary=x"]
)
def test_a_media_type_that_only_starts_like_json_or_multipart_is_415(api, content_type):
    headers = {**api.token(Role.CANDIDATE, "alice"), "Content-Type": content_type}
    body = json.dumps({"task": RETRY, "files": {"retry.py": "x = 1\n"}})
    response = api.client.post("/v1/submissions", headers=headers, content=body)
    assert response.status_code == 415, response.text
    assert api.client.get("/v1/submissions", headers=api.token(Role.REVIEWER, "r")).json()["count"] == 0


@pytest.mark.parametrize("content_type", ["application/json", "Application/JSON; charset=utf-8"])
def test_json_with_parameters_or_other_case_is_still_json(api, content_type):
    headers = {**api.token(Role.CANDIDATE, "alice"), "Content-Type": content_type}
    body = json.dumps({"task": RETRY, "files": {"retry.py": "x = 1\n"}})
    assert api.client.post("/v1/submissions", headers=headers, content=body).status_code == 202


def test_a_json_submission_is_parsed_on_a_worker_thread_not_the_event_loop(api, monkeypatch):
    import asyncio
    import threading

    seen = {}
    parse = submission_routes._parse_json

    def spy(body: bytes):
        try:
            asyncio.get_running_loop()
            seen["on_loop"] = True
        except RuntimeError:
            seen["on_loop"] = False
        seen["thread"] = threading.current_thread().name
        return parse(body)

    monkeypatch.setattr(submission_routes, "_parse_json", spy)
    submit(api, api.token(Role.CANDIDATE, "alice"))
    assert seen["on_loop"] is False


# -- item 12: /metrics is public unless a setting asks for a token -------------------------


def test_metrics_are_public_by_default(api):
    assert api.client.get("/metrics").status_code == 200


def test_metrics_can_require_a_token(api):
    from pydantic import SecretStr

    api.service.settings = api.service.settings.model_copy(update={"metrics_token": SecretStr("scrape-me")})
    assert api.client.get("/metrics").status_code == 401
    assert api.client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert api.client.get("/metrics", headers=api.token(Role.CANDIDATE, "alice")).status_code == 401
    scraped = api.client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
    assert scraped.status_code == 200 and "tasktrial_submissions_total" in scraped.text
    assert api.client.get("/metrics", headers=api.token(Role.ADMIN, "root")).status_code == 200


# -- item 1 (in process): stream caps and the session a stream holds ----------------------


def test_open_streams_are_capped_per_token_with_429(api):
    api.service.streams.max_streams_per_token = 2
    alice = api.token(Role.CANDIDATE, "alice")
    accepted = submit(api, alice)
    release = [api.service.streams.acquire(_token_id(api, alice)) for _ in range(2)]
    response = api.client.get(f"/v1/submissions/{accepted['id']}/events", headers=alice, params={"timeout": 0.1})
    assert response.status_code == 429 and response.headers["Retry-After"]
    assert "TASKTRIAL_MAX_STREAMS_PER_TOKEN" in response.json()["detail"]
    release[0]()
    assert (
        api.client.get(f"/v1/submissions/{accepted['id']}/events", headers=alice, params={"timeout": 0.1}).status_code
        == 200
    )
    assert api.service.streams.open_streams == 1  # the finished stream gave its slot back


def test_open_streams_are_capped_in_total_with_429(api):
    api.service.streams.max_streams = 1
    alice, bob = api.token(Role.CANDIDATE, "alice"), api.token(Role.CANDIDATE, "bob")
    accepted = submit(api, bob)
    release = api.service.streams.acquire(_token_id(api, alice))
    response = api.client.get(f"/v1/submissions/{accepted['id']}/events", headers=bob, params={"timeout": 0.1})
    assert response.status_code == 429
    assert "TASKTRIAL_MAX_STREAMS" in response.json()["detail"]
    release()


def test_a_waiting_stream_holds_no_database_connection(api):
    """Checked out connections while a stream waits: none held (before the fix, one per open stream, throughout)."""
    import threading

    alice = api.token(Role.CANDIDATE, "alice")
    accepted = submit(api, alice)
    pool = api.service.engine.pool
    seen: list[int] = []
    done = threading.Event()

    def follow() -> None:
        api.client.get(f"/v1/submissions/{accepted['id']}/events", headers=alice, params={"timeout": 1.5})
        done.set()

    thread = threading.Thread(target=follow)
    thread.start()
    while not done.wait(0.05):
        seen.append(pool.checkedout())
    thread.join()
    # A held connection shows in every look; the process's change poller's short query in a few.
    waiting = seen[len(seen) // 2 :]
    assert waiting and sum(1 for n in waiting if n) <= len(waiting) // 4, seen


def test_at_shutdown_a_stream_tells_its_client_to_reconnect_and_ends(tmp_path, small_catalogue):
    import threading

    built = make_api(tmp_path / "data", catalogue_dirs=[small_catalogue])
    api = next(built)
    alice = api.token(Role.CANDIDATE, "alice")
    accepted = submit(api, alice)
    lines: list[str] = []

    def follow() -> None:
        # The timeout only bounds this test if the stream ignores shutdown: it ends with ``timeout``.
        with api.client.stream(
            "GET", f"/v1/submissions/{accepted['id']}/events", headers=alice, params={"timeout": 20}
        ) as response:
            lines.extend(response.iter_lines())

    thread = threading.Thread(target=follow)
    thread.start()
    while "event: queued" not in lines and thread.is_alive():
        thread.join(0.05)
    try:
        api.service.streams.close()
    finally:
        thread.join(30)
    assert "event: reconnect" in lines and "event: timeout" not in lines
    data = json.loads(
        next(line for line in lines[lines.index("event: reconnect") :] if line.startswith("data: ")).removeprefix(
            "data: "
        )
    )
    assert data["retry_ms"] > 0
    next(built, None)


def test_a_client_resumes_after_the_last_event_it_saw(api):
    alice = api.token(Role.CANDIDATE, "alice")
    accepted = submit(api, alice)
    work(api, accepted["run_id"])
    text = api.client.get(f"/v1/submissions/{accepted['id']}/events", headers=alice).text
    ids = [line.removeprefix("id: ") for line in text.splitlines() if line.startswith("id: ")]
    resumed = api.client.get(
        f"/v1/submissions/{accepted['id']}/events", headers={**alice, "Last-Event-ID": ids[1]}
    ).text
    kinds = [line.removeprefix("event: ") for line in resumed.splitlines() if line.startswith("event: ")]
    assert kinds == ["done"]


def test_a_change_made_through_another_replica_wakes_the_stream(api):
    """No in-process notification: the one poll per process finds the new events (else: only at the keep-alive)."""
    import threading

    alice = api.token(Role.CANDIDATE, "alice")
    accepted = submit(api, alice)
    lines: list[str] = []

    def follow() -> None:
        response = api.client.get(f"/v1/submissions/{accepted['id']}/events", headers=alice, params={"timeout": 10})
        lines.extend(response.text.splitlines())

    thread = threading.Thread(target=follow)
    thread.start()
    with api.service.session() as session:  # as another API process would: straight to the database
        assert storage.claim_run(
            session=session, run_id=accepted["run_id"], worker="elsewhere", token_id="t", lease_seconds=60
        )
        run = storage.get_run(session=session, run_id=accepted["run_id"])
        submission = storage.get_submission(session=session, submission_id=run.submission_id)
        task = api.service.pack_store.task(submission.pack_id, submission.task_id, submission.pack_version)
        document = result_document(
            api,
            {
                "pack_id": task.pack_id,
                "task_id": task.id,
                "pack_version": task.pack_version,
                "submission_digest": submission.submission_digest,
            },
        )
        storage.record_result(
            session=session, run=run, submission=submission, document=document, candidate_view=document
        )
    thread.join(30)
    kinds = [line.removeprefix("event: ") for line in lines if line.startswith("event: ")]
    assert kinds == ["queued", "running", "done"], lines
