"""``POST /v1/tasks/{pack}/{task}/public-tests``: refusals before anything runs (the real run is in tests/web)."""

from __future__ import annotations

from api.tables import Role


def test_a_task_without_public_tests_answers_404(api):
    headers = api.token(Role.CANDIDATE, "alice")
    response = api.client.post("/v1/tasks/python-foundations/word-frequency/public-tests", headers=headers,
                               json={"files": {"top_words.py": "print(1)\n"}})
    assert response.status_code == 404 and "no public tests" in response.json()["detail"]


def test_unsafe_paths_and_wrong_bodies_are_refused(api):
    headers = api.token(Role.CANDIDATE, "alice")
    path = "/v1/tasks/python-foundations/retry-backoff/public-tests"
    unsafe = api.client.post(path, headers=headers, json={"files": {"../x.py": "1"}})
    assert unsafe.status_code == 422 and "x.py" in unsafe.text
    wrong = api.client.post(path, headers={**headers, "Content-Type": "text/plain"}, content=b"x")
    assert wrong.status_code == 415
    assert api.client.post(path, json={"files": {}}).status_code == 401


PUBLIC = "/v1/tasks/python-foundations/retry-backoff/public-tests"


def limited(api, limit: int = 2) -> None:
    api.service.settings = api.service.settings.model_copy(
        update={"public_test_rate_limit": limit, "public_test_rate_window_seconds": 60})


def test_public_tests_are_admitted_as_submissions_are_429_with_retry_after(api):
    limited(api)
    alice = api.token(Role.CANDIDATE, "alice")
    # Every run let in counts, whatever becomes of it (here the files are refused after admission).
    for _ in range(2):
        assert api.client.post(PUBLIC, headers=alice, json={"files": {"../x.py": "1"}}).status_code == 422
    # Refused before the body is read (this one would be a 415) and before anything runs.
    refused = api.client.post(PUBLIC, headers={**alice, "Content-Type": "text/plain"}, content=b"x")
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 60
    detail = refused.json()["detail"]
    assert "alice made 2 public-test runs in the last 60 s" in detail and "TASKTRIAL_PUBLIC_TEST_RATE_LIMIT" in detail
    # Another token of hers changes nothing (the rate is the candidate's); another candidate has his own.
    assert api.client.post(PUBLIC, headers=api.token(Role.CANDIDATE, "alice"), json={"files": {}}).status_code == 429
    assert api.client.post(PUBLIC, headers=api.token(Role.CANDIDATE, "bob"),
                           json={"files": {"../x.py": "1"}}).status_code == 422
    # Public tests and submissions are limited apart: her submissions are still let in.
    submitted = api.client.post("/v1/submissions", headers=alice,
                                json={"task": "python-foundations/retry-backoff", "files": {"retry.py": "x = 1\n"}})
    assert submitted.status_code == 202


def test_a_task_without_public_tests_is_refused_before_admission(api):
    limited(api, limit=1)
    alice = api.token(Role.CANDIDATE, "alice")
    for _ in range(3):
        response = api.client.post("/v1/tasks/python-foundations/word-frequency/public-tests", headers=alice,
                                   json={"files": {"top_words.py": "print(1)\n"}})
        assert response.status_code == 404
    assert api.client.post(PUBLIC, headers=alice, json={"files": {"../x.py": "1"}}).status_code == 422
