"""The public verification page checks an Open Badges 3.0 credential as ``tasktrial verify CREDENTIAL.json``
does: proof, issuer, what it claims, live revocation status; a tampered one says which part is wrong."""

from __future__ import annotations

import copy
import json

from fastapi.testclient import TestClient

from api.tables import Role
from engine.keyring import Keyring
from tests.api.helpers import submit, work
from tests.web.conftest import api  # noqa: F401  (a fixture)


def awarded_credential(api) -> tuple[dict, dict]:  # noqa: F811
    author, alice = api.token(Role.AUTHOR, "carol"), api.token(Role.CANDIDATE, "alice@example.org")
    probe = api.token(Role.CANDIDATE, "probe")
    work(api, submit(api, probe)["run_id"])
    skill = min(api.client.get("/v1/profile", headers=probe).json()["skills"])
    made = api.client.post(
        "/v1/credentials/definitions",
        headers=author,
        json={"id": "retries", "name": "Retries", "description": "Backs off <and> retries", "skills": [skill]},
    )
    assert made.status_code == 201, made.text
    work(api, submit(api, alice)["run_id"])
    award = api.client.get("/v1/credentials", headers=alice).json()["data"][0]
    return award, api.client.get(f"/v1/credentials/{award['id']}/ob3", headers=alice).json()


def test_a_pasted_credential_verifies_with_what_it_claims_and_its_live_status(api):  # noqa: F811
    award, credential = awarded_credential(api)
    public = TestClient(api.app)  # no sign-in: the page is public
    page = public.post("/verify", files={"file": ("badge.json", json.dumps(credential).encode())})
    assert page.status_code == 200
    text = page.text
    assert "✓ Credential valid" in text and "not revoked" in text
    assert "Retries" in text and "Backs off &lt;and&gt; retries" in text  # what it claims, escaped
    assert credential["issuer"]["id"] in text and award["evidence"][0] in text
    assert "alice" not in text  # the holder only as a hashed identity

    api.client.post(
        f"/v1/credentials/{award['id']}/revoke", headers=api.token(Role.ADMIN, "root"), json={"reason": "copied"}
    )
    revoked = public.post("/verify", data={"document": json.dumps(credential)}).text
    assert "✗ Credential not valid" in revoked and "the credential is revoked" in revoked


def test_a_tampered_credential_or_one_from_a_revoked_key_says_what_is_wrong(api):  # noqa: F811
    _, credential = awarded_credential(api)
    public = TestClient(api.app)
    tampered = copy.deepcopy(credential)
    tampered["credentialSubject"]["achievement"]["name"] = "Retries (gold)"
    page = public.post("/verify", data={"document": json.dumps(tampered)}).text
    assert "✗ Credential not valid" in page and "the proof does not verify" in page and "Retries (gold)" in page

    foreign = copy.deepcopy(credential)
    foreign["issuer"]["id"] = "did:web:elsewhere.example"
    assert "is not the issuer" in public.post("/verify", data={"document": json.dumps(foreign)}).text

    keyring = Keyring(api.service.settings.keys_dir)
    old = keyring.active()
    keyring.rotate()
    still = public.post("/verify", data={"document": json.dumps(credential)}).text
    assert "✓ Credential valid" in still  # a rotation changes no issuer: the old key is retired, not revoked
    keyring.revoke(old.kid)
    page = public.post("/verify", data={"document": json.dumps(credential)}).text
    assert "✗ Credential not valid" in page and f"signed by revoked key &#39;{old.kid}&#39;" in page


def test_results_still_verify_on_the_same_page(api):  # noqa: F811
    headers = api.token(Role.CANDIDATE, "bob")
    accepted = submit(api, headers)
    work(api, accepted["run_id"])
    result = api.client.get(f"/v1/submissions/{accepted['id']}/result", headers=headers).json()
    page = TestClient(api.app).post("/verify", data={"document": json.dumps(result)}).text
    assert "✓ Signature valid" in page and "Credential" not in page.split("<form")[0].split("</h1>")[1]
