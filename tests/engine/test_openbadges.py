"""Open Badges 3.0 credentials with eddsa-rdfc-2022 proofs, checked here and by Digital Bazaar's verifiers."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from engine import openbadges as ob
from engine.checkpoints import raw_public
from engine.openbadges import CredentialError

JS = Path(__file__).resolve().parents[1] / "js"


def award(**overrides) -> ob.Award:
    identity, salt = ob.subject_identity("alice@example.org", salt="0f" * 16)
    values: dict[str, Any] = {
        "credential_id": "urn:uuid:6f1f8a9e-2a8e-4d8e-9c8e-1f2a3b4c5d6e",
        "name": "Backend Resilience",
        "description": "Retries, deadlines and idempotency, each shown ready in a sandboxed task.",
        "criteria": "Ready in python.resilience.retries and python.resilience.deadlines within 365 days.",
        "achievement_id": "https://tasktrial.example/credentials/backend-resilience",
        "image": None,
        "skills": [("python.resilience.retries", "https://tasktrial.example/skills/python.resilience.retries")],
        "subject_hash": identity,
        "subject_salt": salt,
        "evidence": [
            ob.Evidence(
                url="https://tasktrial.example/v1/results/abc", digest="sha256:" + "a" * 64, name="retry-backoff"
            )
        ],
        "issuer_name": "tasktrial",
        "issuer_url": "https://tasktrial.example",
        "valid_from": datetime(2026, 12, 1, tzinfo=UTC),
    }
    values.update(overrides)
    return ob.Award(**values)


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def signed(key) -> dict:
    return ob.sign(ob.open_badge(award(), raw_public(key)), key)


def test_the_credential_is_an_open_badge_with_a_hashed_subject(signed, key):
    assert signed["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert signed["@context"] == [ob.VC_V2, ob.OB_V3]
    assert signed["issuer"]["id"] == ob.did_key(raw_public(key)) and signed["issuer"]["id"].startswith("did:key:z6Mk")
    identifier = signed["credentialSubject"]["identifier"][0]
    assert identifier["hashed"] is True and identifier["identityHash"].startswith("sha256$")
    assert "alice" not in json.dumps(signed)
    assert signed["proof"]["cryptosuite"] == "eddsa-rdfc-2022" and signed["proof"]["proofValue"].startswith("z")


def test_a_signed_credential_verifies_and_any_change_fails(signed):
    assert ob.verify(signed) == []
    for path, value in [
        (("name",), "Backend Resilience!"),
        (("credentialSubject", "identifier"), []),
        (("proof", "created"), "2020-01-01T00:00:00Z"),
        (("validFrom",), "2020-01-01T00:00:00Z"),
    ]:
        changed = copy.deepcopy(signed)
        target = changed
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value
        assert ob.verify(changed) != [], path


def test_a_credential_naming_a_context_that_is_not_bundled_is_refused_without_fetching(key):
    credential = ob.open_badge(award(), raw_public(key))
    credential["@context"].append("https://attacker.example/context.json")
    with pytest.raises(CredentialError, match="not bundled with tasktrial and is never fetched"):
        ob.sign(credential, key)


@pytest.mark.parametrize(
    ("method", "message"),
    [
        ("https://tasktrial.example/keys/1", "neither a did:key nor a did:web key"),
        ("did:web:tasktrial.example#key-1", "is not the configured service's DID"),  # no DID document given
        ("did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK#other", "not its own key"),
    ],
)
def test_only_a_did_key_or_a_given_did_document_resolves_and_nothing_is_fetched(signed, method, message):
    forged = copy.deepcopy(signed)
    forged["proof"]["verificationMethod"] = method
    assert any(message in problem for problem in ob.verify(forged))


def test_a_proof_by_a_key_other_than_the_issuer_fails(signed):
    other = Ed25519PrivateKey.generate()
    resigned = ob.sign(signed, other)
    resigned["issuer"] = signed["issuer"]
    assert "is not the issuer's" in ob.verify(resigned)[0]


@pytest.mark.parametrize("credential", [None, [], {"proof": "x"}, {"proof": {"type": "Ed25519Signature2020"}}])
def test_malformed_credentials_give_reasons_not_exceptions(credential):
    assert ob.verify(credential)


@given(st.binary(max_size=40))
def test_base58btc_round_trips(data):
    assert ob.from_base58btc(ob.base58btc(data)) == data


# -- the independent implementation ---------------------------------------------


@pytest.fixture(scope="session")
def js_verifier() -> Path:
    """Digital Bazaar's verifiers from npm, installed once from tests/js/package-lock.json."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("node and npm are needed (Debian: apt-get install nodejs npm)")
    if not (JS / "node_modules" / "@digitalbazaar" / "vc").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=JS, check=True, capture_output=True, timeout=600)
    return JS / "verify.mjs"


def js_verify(js_verifier: Path, credential: dict, tmp_path: Path) -> tuple[int, dict]:
    path = tmp_path / "credential.json"
    path.write_text(json.dumps(credential))
    done = subprocess.run(
        ["node", str(js_verifier), str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    return done.returncode, json.loads(done.stdout)


@pytest.mark.node
def test_digital_bazaars_verifier_accepts_our_credential_and_rejects_a_changed_byte(signed, js_verifier, tmp_path):
    code, answer = js_verify(js_verifier, signed, tmp_path)
    assert (code, answer["verified"]) == (0, True), answer
    changed = copy.deepcopy(signed)
    changed["credentialSubject"]["achievement"]["name"] = "Backend Resilienc3"
    code, answer = js_verify(js_verifier, changed, tmp_path)
    assert (code, answer["verified"]) == (1, False) and "Invalid signature." in answer["errors"], answer


# -- the issuer's did:web and the reader's check -----------------------------------------

SERVICE = "https://tasktrial.example:8443"


def test_did_web_names_the_host_port_and_path():
    assert ob.did_web(SERVICE) == "did:web:tasktrial.example%3A8443"
    assert ob.did_web("https://example.org/skills/tasktrial/") == "did:web:example.org:skills:tasktrial"
    assert ob.did_web("https://Example.org:8443/tasktrial") == "did:web:example.org%3A8443:tasktrial"
    assert ob.did_web("https://example.org/my%20app/~me") == "did:web:example.org:my%20app:%7Eme"  # encoded once
    with pytest.raises(CredentialError):
        ob.did_web("not a url")


def resolution_url(did: str) -> str:
    """The did:web spec's Read, written apart from ``did_web``: ``:`` becomes ``/``, a port's ``%3A`` a ``:``,
    no path gives ``/.well-known``; then ``/did.json``, over https."""
    host, *path = did.removeprefix("did:web:").split(":")
    return "https://" + host.replace("%3A", ":") + "".join(f"/{s}" for s in path or [".well-known"]) + "/did.json"


@pytest.mark.parametrize(
    "public_url",
    [
        "https://example.org",
        "https://example.org/",
        "http://127.0.0.1:8000",
        "https://example.org/tasktrial",
        "https://example.org:8443/skills/tasktrial/",
        "https://example.org/my%20app",
    ],
)
def test_a_did_web_resolves_to_where_the_service_serves_its_document(public_url):
    """What a resolver fetches for the service's DID is its public URL and ``did_document_path`` (the API's route)."""
    served = urlsplit(public_url)._replace(scheme="https").geturl().rstrip("/") + ob.did_document_path(public_url)
    assert resolution_url(ob.did_web(public_url)) == served
    below = urlsplit(public_url).path.strip("/")
    assert ob.did_document_path(public_url) == ("/did.json" if below else "/.well-known/did.json")


def issued_by_service(signing_key, *, status: dict | None = None) -> dict:
    credential = ob.open_badge(award(), issuer=ob.did_web(SERVICE))
    if status is not None:
        credential["credentialStatus"] = status
    return ob.sign(
        credential, signing_key.jwk.private_key, verification_method=f"{ob.did_web(SERVICE)}#{signing_key.kid}"
    )


def status_list(signing_key, revoked: list[int]) -> dict:
    from engine import statuslist

    listing = {
        "@context": [ob.VC_V2],
        "id": f"{SERVICE}/credentials/status/revocation",
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": ob.did_web(SERVICE),
        "validFrom": "2026-12-01T00:00:00Z",
        "credentialSubject": {
            "id": f"{SERVICE}/credentials/status/revocation#list",
            "type": "BitstringStatusList",
            "statusPurpose": "revocation",
            "encodedList": statuslist.encode(revoked),
        },
    }
    return ob.sign(listing, signing_key.jwk.private_key, verification_method=f"{ob.did_web(SERVICE)}#{signing_key.kid}")


ENTRY = {
    "id": f"{SERVICE}/credentials/status/revocation#3",
    "type": "BitstringStatusListEntry",
    "statusPurpose": "revocation",
    "statusListIndex": "3",
    "statusListCredential": f"{SERVICE}/credentials/status/revocation",
}


def test_the_check_reports_what_a_credential_claims_and_its_live_status():
    from engine.signing import SigningKey, public_jwks

    first, second = SigningKey.generate(), SigningKey.generate()
    credential = issued_by_service(first, status=ENTRY)
    jwks = public_jwks([second, first])  # rotated: the list is signed by the new key, the credential by the old
    report = ob.check(credential, service_url=SERVICE, jwks=jwks, status_list=lambda url: status_list(second, []))
    assert report.ok and report.status == "not revoked", report.problems
    assert (report.issuer, report.achievement, report.skills) == (
        "did:web:tasktrial.example%3A8443",
        "Backend Resilience",
        ("python.resilience.retries",),
    )
    assert report.key == f"did:web:tasktrial.example%3A8443#{first.kid}" and report.subject.startswith("sha256$")
    revoked = ob.check(credential, service_url=SERVICE, jwks=jwks, status_list=lambda url: status_list(second, [3]))
    assert (revoked.ok, revoked.status) == (False, "revoked") and "index 3" in revoked.problems[0]


def test_the_check_says_which_part_is_wrong():
    from engine.signing import SigningKey, public_jwks

    key = SigningKey.generate()
    credential = issued_by_service(key, status=ENTRY)
    jwks = public_jwks([key])

    def fetched(url):
        raise AssertionError(f"nothing may be fetched here, not {url}")

    changed = copy.deepcopy(credential)
    changed["credentialSubject"]["achievement"]["name"] = "Backend Resilience (gold)"
    report = ob.check(changed, service_url=SERVICE, jwks=jwks, status_list=fetched)
    assert not report.ok and "the proof does not verify" in report.problems[0]
    assert report.achievement == "Backend Resilience (gold)"  # what it claims, shown beside the verdict
    other = ob.check(credential, service_url="https://other.example", jwks=jwks, status_list=fetched)
    assert "is not the configured service's DID" in other.problems[0]
    stranger = SigningKey.generate()
    unknown = ob.check(issued_by_service(stranger), service_url=SERVICE, jwks=jwks, status_list=fetched)
    assert f"signed by unknown key {stranger.kid!r}" in unknown.problems[0]
    elsewhere = issued_by_service(key, status={**ENTRY, "statusListCredential": "https://evil.example/list"})
    report = ob.check(elsewhere, service_url=SERVICE, jwks=jwks, status_list=fetched)
    assert "is not at the configured service" in report.problems[0] and report.status == "not checked"
    forged = ob.check(
        credential,
        service_url=SERVICE,
        jwks=jwks,
        status_list=lambda url: ob.sign(
            {**status_list(key, []), "issuer": ob.did_key(raw_public(stranger.jwk.private_key))},
            stranger.jwk.private_key,
        ),
    )
    assert not forged.ok and "not by the credential's issuer" in forged.problems[0]
