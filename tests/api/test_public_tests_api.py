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
