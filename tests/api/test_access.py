"""Every endpoint's access rule, for every role and for no token at all."""

from __future__ import annotations

import pytest

from api.tables import Role
from tests.api.helpers import submit, work
from tests.api.test_cohort_access import COHORT_RULES, cohort_ids

ANONYMOUS = None
PEOPLE = {Role.CANDIDATE, Role.AUTHOR, Role.REVIEWER, Role.ADMIN}
EVERYONE = PEOPLE | {Role.WORKER}
STAFF = {Role.REVIEWER, Role.ADMIN}
WORKERS = {Role.WORKER, Role.ADMIN}
AUTHORS = {Role.AUTHOR, Role.ADMIN}

DOCS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
# (method, path template, roles admitted; None means public). Ids are filled in per test.
RULES = [
    ("GET", "/healthz", None),
    ("GET", "/metrics", None),
    ("GET", "/.well-known/jwks.json", None),
    ("GET", "/.well-known/did.json", None),
    ("GET", "/did.json", "page"),  # a public URL without a path: its DID document is at /.well-known/ only
    ("GET", "/openapi.json", None),
    ("GET", "/docs", None),
    ("GET", "/docs/oauth2-redirect", None),
    ("GET", "/redoc", None),
    ("GET", "/v1/packs", EVERYONE),
    ("GET", "/v1/packs/{pack_id}", EVERYONE),
    ("POST", "/v1/packs", {Role.AUTHOR, Role.ADMIN}),
    ("GET", "/v1/tasks", EVERYONE),
    ("GET", "/v1/tasks/{pack_id}/{task_id}", EVERYONE),
    ("GET", "/v1/tasks/{pack_id}/{task_id}/starter.tar.gz", EVERYONE),
    ("GET", "/v1/tasks/{pack_id}/{task_id}/starter.zip", EVERYONE),
    ("POST", "/v1/tasks/{pack_id}/{task_id}/public-tests", PEOPLE),
    ("POST", "/v1/submissions", PEOPLE),
    ("GET", "/v1/submissions", PEOPLE),
    ("GET", "/v1/submissions/{submission_id}", PEOPLE),
    ("GET", "/v1/submissions/{submission_id}/result", PEOPLE),
    ("GET", "/v1/submissions/{submission_id}/events", PEOPLE),
    ("GET", "/v1/results/{result_id}", PEOPLE),
    ("GET", "/v1/profile", PEOPLE),
    ("GET", "/v1/candidates/{candidate}/profile", STAFF),
    ("POST", "/v1/runs/{run_id}/claim", WORKERS),
    ("POST", "/v1/runs/{run_id}/progress", WORKERS),
    ("POST", "/v1/runs/{run_id}/release", WORKERS),
    ("POST", "/v1/runs/{run_id}/result", WORKERS),
    ("POST", "/v1/runs/{run_id}/fail", WORKERS),
    ("POST", "/v1/public-test-jobs/{job_id}/claim", WORKERS),
    ("POST", "/v1/public-test-jobs/{job_id}/outcome", WORKERS),
    ("GET", "/v1/admin/tokens", {Role.ADMIN}),
    ("DELETE", "/v1/admin/tokens/{token_id}", {Role.ADMIN}),
    ("GET", "/keys/{kid}", None),
    ("GET", "/log/checkpoint", None),
    ("GET", "/log/checkpoint/{size}", None),
    ("GET", "/log/key", None),
    ("GET", "/log/inclusion", None),
    ("GET", "/log/consistency", None),
    ("GET", "/v1/results/{result_id}/inclusion", PEOPLE),
    ("POST", "/v1/credentials/definitions", {Role.AUTHOR, Role.ADMIN}),
    ("GET", "/v1/credentials/definitions", PEOPLE),
    ("GET", "/v1/credentials", PEOPLE),
    ("GET", "/v1/credentials/{award_id}", PEOPLE),
    ("GET", "/v1/credentials/{award_id}/ob3", PEOPLE),
    ("POST", "/v1/credentials/{award_id}/revoke", {Role.ADMIN}),
    ("GET", "/credentials/status/revocation", None),
    ("GET", "/credentials/{award_id}", "page"),
    ("GET", "/v1/authoring/packs", AUTHORS),
    ("GET", "/v1/packs/{pack_id}/versions", AUTHORS),
    ("GET", "/v1/packs/{pack_id}/versions/{version}", AUTHORS),
    ("POST", "/v1/packs/{pack_id}/versions/{version}/retire", AUTHORS),
    ("GET", "/v1/packs/{pack_id}/stats", {Role.AUTHOR, Role.REVIEWER, Role.ADMIN}),
    ("GET", "/v1/pack-checks/{version_id}", WORKERS),
    ("POST", "/v1/pack-checks/{version_id}", WORKERS),
    *COHORT_RULES,
]


def test_every_route_has_an_access_rule(api):
    routes = {(method.upper(), path) for path, item in api.app.openapi()["paths"].items() for method in item}
    ruled = {(method, path) for method, path, _ in RULES if path not in DOCS}
    assert routes == ruled, f"missing rules: {routes - ruled}; stale rules: {ruled - routes}"


@pytest.mark.parametrize(("method", "template", "admitted"), RULES, ids=[f"{m} {p}" for m, p, _ in RULES])
@pytest.mark.parametrize("role", [ANONYMOUS, *Role], ids=lambda r: r.value if r else "anonymous")
def test_access_rule(api, method, template, admitted, role):
    owner = api.token(Role.CANDIDATE, "owner")
    accepted = submit(api, owner)
    work(api, accepted["run_id"])
    submission = api.client.get(f"/v1/submissions/{accepted['id']}", headers=owner).json()
    api.service.log.seal()
    ids = {
        "pack_id": "python-foundations",
        "task_id": "retry-backoff",
        "submission_id": accepted["id"],
        "result_id": submission["result_id"],
        "candidate": "owner",
        "run_id": accepted["run_id"],
        "kid": api.service.key.kid,
        "size": 2,
        "award_id": "no-such-award",
        "version": "1.0.0",
        "version_id": "unknown-version",
        "review_id": "no-such-review",
        "regrade_id": "no-such-regrade",
        "a": "x",
        "b": "y",
        "job_id": "no-such-job",
        "endpoint_id": "no-such-endpoint",
        "delivery_id": "no-such-delivery",
        "token_id": "no-such-token",
    }
    if "{cohort_id}" in template or "{assessment_id}" in template:
        ids.update(cohort_ids(api))
    headers = {} if role is None else api.token(role, "owner" if role is Role.CANDIDATE else f"someone-{role}")
    extra = _body(template)
    if template == "/log/inclusion":
        bundle = api.client.get(f"/v1/results/{submission['result_id']}/inclusion", headers=owner).json()
        extra = {"params": {"digest": bundle["log"]["leaf_digest"]}}
    headers = {**headers, **extra.pop("headers", {})}
    response = api.client.request(method, template.format(**ids), headers=headers, **extra)
    if admitted == "page":  # public; the id in the test names no award (or the DID document is elsewhere)
        assert response.status_code == 404, response.text
    elif admitted is None:
        assert response.status_code < 400, response.text
    elif role is None:
        assert response.status_code == 401
    elif role in admitted:
        assert response.status_code not in (401, 403), response.text
    else:
        assert response.status_code == 403, response.text


def _body(template: str) -> dict:
    from tests.api.test_cohort_access import body

    if (found := body(template)) is not None:
        return found
    if template == "/v1/credentials/definitions":
        return {"json": {"id": "retries", "name": "Retries", "skills": ["python.resilience.retry-backoff"]}}
    if template.endswith("/revoke"):
        return {"json": {"reason": "test"}}
    if template == "/log/consistency":
        return {"params": {"first": 0, "second": 2}}
    if template == "/v1/submissions":
        return {"json": {"task": "python-foundations/retry-backoff", "files": {"retry.py": "x = 1\n"}}}
    if template.endswith("/progress"):
        return {"json": {"worker": "w1", "state": "grading"}}
    if template.endswith("/fail"):
        return {"json": {"worker": "w1", "reason": "test"}}
    if template.startswith("/v1/public-test-jobs"):
        return {"json": {}}
    if template.startswith("/v1/pack-checks"):
        return {"json": {"ok": False}}
    if template.startswith("/v1/runs"):
        return {"json": {"worker": "w1"}}
    if template == "/v1/packs":
        return {"files": {"archive": ("pack.zip", b"not an archive")}}
    return {}


def test_a_candidate_cannot_see_another_candidates_submission(api):
    alice, bob = api.token(Role.CANDIDATE, "alice"), api.token(Role.CANDIDATE, "bob")
    accepted = submit(api, alice)
    work(api, accepted["run_id"])
    for path in (
        f"/v1/submissions/{accepted['id']}",
        f"/v1/submissions/{accepted['id']}/result",
        f"/v1/submissions/{accepted['id']}/events",
    ):
        assert api.client.get(path, headers=bob).status_code == 404
    assert api.client.get("/v1/submissions", headers=bob).json()["count"] == 0
    assert api.client.get("/v1/submissions", headers=alice).json()["count"] == 1
    assert api.client.get("/v1/profile", headers=bob).json()["skills"] == {}
    assert api.client.get("/v1/candidates/alice/profile", headers=bob).status_code == 403
