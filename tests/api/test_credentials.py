"""Stackable micro-credentials through the API: define, award, stack, regrade-revoke, admin-revoke, export."""

from __future__ import annotations

import json
import subprocess
from urllib.parse import urlsplit

import pytest

from api.tables import Role
from engine import openbadges, statuslist
from engine.keyring import Keyring
from tests.api.conftest import Api, make_api, small_catalogue  # noqa: F401  (a fixture)
from tests.api.helpers import submit, work
from tests.engine.test_openbadges import resolution_url

SKILL = "python.resilience.retry-backoff"
STATUS = "/credentials/status/revocation"


def skills_of(api: Api, headers) -> list[str]:
    accepted = submit(api, headers)
    work(api, accepted["run_id"])
    return sorted(api.client.get("/v1/profile", headers=headers).json()["skills"])


def define(api: Api, author, **body) -> dict:
    response = api.client.post("/v1/credentials/definitions", headers=author, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def did_documents(api: Api) -> dict[str, dict]:
    """The issuer's DID document as the service publishes it (what a did:web resolver would fetch)."""
    document = api.client.get("/.well-known/did.json").json()
    return {document["id"]: document}


def status_bit(api: Api, index: int) -> bool:
    status = api.client.get("/credentials/status/revocation")
    assert status.status_code == 200 and status.headers["content-type"].startswith("application/vc+ld+json")
    assert openbadges.verify(status.json(), did_documents(api)) == []
    return statuslist.is_set(status.json()["credentialSubject"]["encodedList"], index)


def test_a_ready_result_awards_stacked_credentials_and_a_regrade_revokes_them(api):
    author, alice = api.token(Role.AUTHOR, "carol"), api.token(Role.CANDIDATE, "alice@example.org")
    probe = api.token(Role.CANDIDATE, "probe")
    skills = skills_of(api, probe)
    assert skills, "the task maps to micro-skills"
    define(api, author, id="retries", name="Retries", skills=skills[:1])
    define(api, author, id="resilience", name="Backend Resilience", credentials=["retries"], within_days=365)
    assert api.client.get("/v1/credentials", headers=alice).json() == {"data": [], "count": 0}

    accepted = submit(api, alice)
    work(api, accepted["run_id"])
    awards = api.client.get("/v1/credentials", headers=alice).json()["data"]
    assert sorted(a["definition_id"] for a in awards) == ["resilience", "retries"]
    result_id = api.client.get(f"/v1/submissions/{accepted['id']}", headers=alice).json()["result_id"]
    assert all(a["evidence"] == [result_id] for a in awards)

    stacked = next(a for a in awards if a["definition_id"] == "resilience")
    exported = api.client.get(f"/v1/credentials/{stacked['id']}/ob3", headers=alice)
    assert exported.status_code == 200, exported.text
    credential = exported.json()
    assert openbadges.verify(credential, did_documents(api)) == []
    assert (
        credential["issuer"]["id"]
        == "did:web:127.0.0.1%3A8000"
        == credential["proof"]["verificationMethod"].split("#")[0]
    )
    assert credential["credentialSubject"]["achievement"]["name"] == "Backend Resilience"
    assert credential["evidence"][0]["id"].endswith(f"/v1/results/{result_id}")
    assert "sha256:" in credential["evidence"][0]["description"]
    assert "alice" not in str(credential)
    index = int(credential["credentialStatus"]["statusListIndex"])
    assert not status_bit(api, index)

    failing = submit(api, alice)  # a later result for the same skill: not ready
    work(api, failing["run_id"], passed=False)
    awards = {a["definition_id"]: a for a in api.client.get("/v1/credentials", headers=alice).json()["data"]}
    assert awards["resilience"]["revoked_reason"].startswith("criteria no longer met")
    assert status_bit(api, index)


def test_an_admin_revokes_and_others_cannot(api):
    author, alice = api.token(Role.AUTHOR, "carol"), api.token(Role.CANDIDATE, "alice")
    define(api, author, id="retries", name="Retries", skills=skills_of(api, api.token(Role.CANDIDATE, "p"))[:1])
    work(api, submit(api, alice)["run_id"])
    award = api.client.get("/v1/credentials", headers=alice).json()["data"][0]
    assert (
        api.client.post(
            f"/v1/credentials/{award['id']}/revoke", headers=api.token(Role.REVIEWER, "r"), json={"reason": "x"}
        ).status_code
        == 403
    )
    revoked = api.client.post(
        f"/v1/credentials/{award['id']}/revoke",
        headers=api.token(Role.ADMIN, "root"),
        json={"reason": "copied solution"},
    )
    assert revoked.status_code == 200 and revoked.json()["revoked_reason"] == "copied solution"
    credential = api.client.get(f"/v1/credentials/{award['id']}/ob3", headers=alice).json()
    assert status_bit(api, int(credential["credentialStatus"]["statusListIndex"]))
    assert api.client.get(f"/v1/credentials/{award['id']}", headers=api.token(Role.CANDIDATE, "bob")).status_code == 404


def test_inconsistent_definitions_are_422_naming_the_problem(api):
    author = api.token(Role.AUTHOR, "carol")
    cycle = api.client.post(
        "/v1/credentials/definitions", headers=author, json={"id": "a", "name": "A", "credentials": ["a"]}
    )
    assert cycle.status_code == 422 and "cycle: a -> a" in cycle.json()["detail"]
    unknown = api.client.post(
        "/v1/credentials/definitions", headers=author, json={"id": "b", "name": "B", "credentials": ["nope"]}
    )
    assert unknown.status_code == 422 and "unknown credential 'nope'" in unknown.json()["detail"]
    skill = skills_of(api, api.token(Role.CANDIDATE, "p"))[0]
    define(api, author, id="c", name="C", skills=[skill])
    again = api.client.post(
        "/v1/credentials/definitions", headers=author, json={"id": "c", "name": "C", "skills": [skill]}
    )
    assert again.status_code == 409
    unknown_skill = api.client.post(
        "/v1/credentials/definitions", headers=author, json={"id": "e", "name": "E", "skills": ["no.such.skill"]}
    )
    assert unknown_skill.status_code == 422 and "unknown micro-skill 'no.such.skill'" in unknown_skill.json()["detail"]
    bad_id = api.client.post(
        "/v1/credentials/definitions", headers=author, json={"id": "Bad Id", "name": "C", "skills": [skill]}
    )
    assert bad_id.status_code == 422
    assert (
        api.client.post(
            "/v1/credentials/definitions",
            headers=api.token(Role.CANDIDATE, "a"),
            json={"id": "d", "name": "D", "skills": ["x"]},
        ).status_code
        == 403
    )


@pytest.mark.node
def test_digital_bazaars_verifier_accepts_the_export_and_sees_the_revocation(api, js_verifier, tmp_path):
    author, alice = api.token(Role.AUTHOR, "carol"), api.token(Role.CANDIDATE, "alice")
    define(api, author, id="retries", name="Retries", skills=skills_of(api, api.token(Role.CANDIDATE, "p"))[:1])
    work(api, submit(api, alice)["run_id"])
    award = api.client.get("/v1/credentials", headers=alice).json()["data"][0]
    credential = api.client.get(f"/v1/credentials/{award['id']}/ob3", headers=alice).json()

    def js(status_list: dict) -> tuple[int, dict]:
        return js_check(api, js_verifier, tmp_path, credential, status_list)

    code, answer = js(api.client.get("/credentials/status/revocation").json())
    assert (code, answer["verified"], answer["revoked"]) == (0, True, False), answer
    api.client.post(
        f"/v1/credentials/{award['id']}/revoke", headers=api.token(Role.ADMIN, "root"), json={"reason": "copied"}
    )
    code, answer = js(api.client.get("/credentials/status/revocation").json())
    assert (code, answer["verified"], answer["revoked"]) == (1, True, True), answer  # proof holds, status revoked


def did_document_path(api: Api, did: str) -> str:
    """Where a did:web resolver fetches ``did``'s document, as the API sees it behind a reverse proxy that
    strips the public URL's path (``https://example.org/tasktrial/did.json`` reaches it as ``/did.json``)."""
    below = urlsplit(api.service.settings.public_url).path.rstrip("/")
    path = urlsplit(resolution_url(did)).path
    assert path.startswith(below + "/"), f"{did} resolves outside the public URL"
    return path.removeprefix(below)


def awarded_credential(api: Api) -> tuple[dict, dict]:
    """alice's award of a one-skill credential and its Open Badges export."""
    author, alice = api.token(Role.AUTHOR, "carol"), api.token(Role.CANDIDATE, "alice")
    define(api, author, id="retries", name="Retries", skills=skills_of(api, api.token(Role.CANDIDATE, "p"))[:1])
    work(api, submit(api, alice)["run_id"])
    award = api.client.get("/v1/credentials", headers=alice).json()["data"][0]
    return award, api.client.get(f"/v1/credentials/{award['id']}/ob3", headers=alice).json()


PREFIXED = "https://example.org:8443/tasktrial"


@pytest.fixture
def prefixed(tmp_path, small_catalogue):  # noqa: F811
    """The API of a service published below a path (a reverse proxy strips ``/tasktrial`` before it)."""
    yield from make_api(tmp_path / "prefixed", catalogue_dirs=[small_catalogue], public_url=PREFIXED)


def test_below_a_path_the_issuer_is_the_paths_did_web_and_its_document_is_where_the_spec_resolves_it(prefixed):
    api = prefixed
    award, credential = awarded_credential(api)
    did = "did:web:example.org%3A8443:tasktrial"
    assert credential["issuer"]["id"] == did == credential["proof"]["verificationMethod"].partition("#")[0]
    assert resolution_url(did) == f"{PREFIXED}/did.json" and did_document_path(api, did) == "/did.json"
    served = api.client.get("/did.json")
    assert served.status_code == 200 and served.json()["id"] == did
    assert served.json() == api.client.get("/.well-known/did.json").json()

    def check() -> openbadges.CredentialReport:  # as `tasktrial verify` does, the proxy stripping the path
        jwks = api.client.get("/.well-known/jwks.json").json()
        fetch = lambda url: api.client.get(url.removeprefix(PREFIXED)).json()  # noqa: E731
        return openbadges.check(credential, service_url=PREFIXED, jwks=jwks, status_list=fetch)

    assert check().ok and check().status == "not revoked", check().problems
    api.client.post(
        f"/v1/credentials/{award['id']}/revoke", headers=api.token(Role.ADMIN, "root"), json={"reason": "copied"}
    )
    assert (check().ok, check().status) == (False, "revoked")


def test_at_the_root_the_document_is_only_at_the_well_known_path(api):
    assert api.client.get("/.well-known/did.json").json()["id"] == "did:web:127.0.0.1%3A8000"
    below = api.client.get("/did.json")
    assert below.status_code == 404 and "is at /.well-known/did.json" in below.json()["detail"]


@pytest.mark.node
def test_digital_bazaars_verifier_accepts_a_credential_issued_below_a_path(prefixed, js_verifier, tmp_path):
    award, credential = awarded_credential(prefixed)
    assert credential["issuer"]["id"] == "did:web:example.org%3A8443:tasktrial"
    code, answer = js_check(prefixed, js_verifier, tmp_path, credential, prefixed.client.get(STATUS).json())
    assert (code, answer["verified"], answer["revoked"]) == (0, True, False), answer
    prefixed.client.post(
        f"/v1/credentials/{award['id']}/revoke", headers=prefixed.token(Role.ADMIN, "root"), json={"reason": "x"}
    )
    code, answer = js_check(prefixed, js_verifier, tmp_path, credential, prefixed.client.get(STATUS).json())
    assert (code, answer["verified"], answer["revoked"]) == (1, True, True), answer


def js_check(api: Api, js_verifier, tmp_path, credential: dict, status_list: dict | None) -> tuple[int, dict]:
    """Digital Bazaar's verifier over the credential, its status list and the issuer's DID document (frozen)."""
    (tmp_path / "credential.json").write_text(json.dumps(credential))
    (tmp_path / "status.json").write_text(json.dumps(status_list))
    (tmp_path / "did.json").write_text(api.client.get(did_document_path(api, credential["issuer"]["id"])).text)
    done = subprocess.run(
        [
            "node",
            str(js_verifier),
            str(tmp_path / "credential.json"),
            str(tmp_path / "status.json") if status_list else "-",
            str(tmp_path / "did.json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, json.loads(done.stdout)


def test_the_shareable_page_shows_what_it_certifies_and_its_live_status(api):
    author, alice = api.token(Role.AUTHOR, "carol"), api.token(Role.CANDIDATE, "alice@example.org")
    define(
        api,
        author,
        id="retries",
        name="Retries <b>",
        description="Backs off & retries",
        skills=skills_of(api, api.token(Role.CANDIDATE, "p"))[:1],
        image="https://img.example/b.png",
    )
    work(api, submit(api, alice)["run_id"])
    award = api.client.get("/v1/credentials", headers=alice).json()["data"][0]
    page = api.client.get(f"/credentials/{award['id']}")  # no token: shareable
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Retries &lt;b&gt;" in page.text and "Backs off &amp; retries" in page.text
    assert "<strong>Valid</strong>" in page.text and f"/v1/results/{award['evidence'][0]}" in page.text
    assert "alice" not in page.text and "<script" not in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    api.client.post(
        f"/v1/credentials/{award['id']}/revoke", headers=api.token(Role.ADMIN, "root"), json={"reason": "copied"}
    )
    assert "<strong>Revoked</strong>" in api.client.get(f"/credentials/{award['id']}").text
    assert api.client.get("/credentials/nope").status_code == 404


@pytest.mark.node
def test_after_a_rotation_an_older_credential_verifies_with_its_status_and_a_revoked_key_fails_naming_it(
    api, js_verifier, tmp_path
):
    author, alice = api.token(Role.AUTHOR, "carol"), api.token(Role.CANDIDATE, "alice")
    define(api, author, id="retries", name="Retries", skills=skills_of(api, api.token(Role.CANDIDATE, "p"))[:1])
    work(api, submit(api, alice)["run_id"])
    award = api.client.get("/v1/credentials", headers=alice).json()["data"][0]
    credential = api.client.get(f"/v1/credentials/{award['id']}/ob3", headers=alice).json()
    keyring = Keyring(api.service.settings.keys_dir)
    old = keyring.active()
    keyring.rotate()  # as `tasktrial admin rotate-key` does: the status list is now signed by the new key
    status = api.client.get("/credentials/status/revocation").json()
    assert status["issuer"] == credential["issuer"]["id"]  # one stable issuer, two keys
    assert status["proof"]["verificationMethod"] != credential["proof"]["verificationMethod"]
    assert credential["proof"]["verificationMethod"].endswith("#" + old.kid)

    def ours():
        return openbadges.check(
            credential,
            service_url=api.service.settings.public_url,
            jwks=api.client.get("/.well-known/jwks.json").json(),
            status_list=lambda url: api.client.get(url).json(),
        )

    code, answer = js_check(api, js_verifier, tmp_path, credential, status)
    assert (code, answer["verified"], answer["revoked"]) == (0, True, False), answer
    assert ours().ok and ours().status == "not revoked"

    keyring.revoke(old.kid)
    code, answer = js_check(
        api, js_verifier, tmp_path, credential, api.client.get("/credentials/status/revocation").json()
    )
    assert code == 1 and answer["verified"] is False, answer
    assert any(old.kid in error and "not authorized" in error for error in answer["errors"]), answer
    assert not ours().ok and f"signed by revoked key {old.kid!r}" in ours().problems[0]
