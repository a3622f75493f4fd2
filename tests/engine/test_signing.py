"""Signed results: what verification catches, and how the key is kept."""

from __future__ import annotations

import ast
import base64
import copy
import hashlib
import json
import math
import os
import stat
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from hypothesis import assume, given
from hypothesis import strategies as st
from joserfc import jws

from engine import signing
from engine.errors import ConfigurationError, TaskTrialError
from engine.models import CheckStatus, RunStatus
from engine.results import Result
from tests import factories

# JSON values as a JSON file can carry them exactly (RFC 8785's number domain).
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def result_document() -> dict[str, Any]:
    checks = (factories.check(id="a", name="adds"), factories.check(CheckStatus.FAIL, id="b", name="subtracts"))
    moment = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    result = Result(
        task=factories.task(),
        submission_digest="sha256:" + "1" * 64,
        status=RunStatus.COMPLETED,
        checks=checks,
        started_at=moment,
        finished_at=moment,
        id="r1",
    )
    return result.to_document()


@pytest.fixture(scope="module")
def key() -> signing.SigningKey:
    return signing.SigningKey.generate()


@pytest.fixture(scope="module")
def jwks(key) -> dict[str, Any]:
    return signing.public_jwks([key])


@pytest.fixture(scope="module")
def signed(key) -> dict[str, Any]:
    return signing.sign(result_document(), key)


def tampered(document: dict[str, Any], **changes: Any) -> dict[str, Any]:
    copied = copy.deepcopy(document)
    copied.update(changes)
    return copied


def header_and_payload(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = token.split(".")
    return json.loads(_b64decode(header)), json.loads(_b64decode(payload))


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# -- signing and verifying -------------------------------------------------


def test_a_signed_result_verifies_and_names_its_key(signed, jwks, key):
    verification = signing.verify(signed, jwks)

    assert verification == signing.Verification(ok=True, kid=key.kid, problems=[])


def test_the_signature_is_an_ed25519_jws_over_a_digest_of_every_field(signed, key):
    header, payload = header_and_payload(signed["signature"])

    assert header == {"alg": "Ed25519", "kid": key.kid}
    document = result_document()
    assert set(payload["fields"]) == set(document)
    assert payload["fields"]["score"] == "sha256:" + hashlib.sha256(rfc8785.dumps(document["score"])).hexdigest()


def test_sign_returns_a_copy_and_replaces_an_old_signature(key, jwks):
    document = result_document()
    first = signing.sign(document, key)
    other = signing.SigningKey.generate()
    second = signing.sign(first, other)

    assert "signature" not in document
    assert first["signature"] != second["signature"]
    assert signing.verify(second, signing.public_jwks([other])).ok
    assert header_and_payload(second["signature"])[1]["fields"].keys() == document.keys()


def test_a_result_still_verifies_after_any_json_round_trip(signed, jwks):
    """Whitespace, key order and 85 versus 85.0 are not changes: the digests are over canonical JSON."""
    reordered = dict(reversed(list(signed.items())))
    text = json.dumps(reordered, indent=4, ensure_ascii=True, sort_keys=True)
    document = json.loads(text)
    document["score"] = int(document["score"]) if document["score"] == int(document["score"]) else document["score"]

    assert signing.verify(document, jwks).ok


@given(data=st.data())
def test_changing_any_top_level_field_is_caught_and_named(signed, jwks, data):
    name = data.draw(st.sampled_from(sorted(set(signed) - {"signature"})))
    value = data.draw(json_values)
    assume(rfc8785.dumps(value) != rfc8785.dumps(signed[name]))

    verification = signing.verify(tampered(signed, **{name: value}), jwks)

    assert not verification.ok
    assert verification.problems == [f"field {name!r} was changed after signing"]


@given(name=st.text(max_size=20), value=json_values)
def test_adding_a_field_is_caught_and_named(signed, jwks, name, value):
    assume(name not in signed)

    verification = signing.verify(tampered(signed, **{name: value}), jwks)

    assert verification.problems == [f"field {name!r} was added after signing"]


@pytest.mark.parametrize("name", sorted(result_document()))
def test_removing_a_field_is_caught_and_named(signed, jwks, name):
    document = tampered(signed)
    del document[name]

    assert signing.verify(document, jwks).problems == [f"field {name!r} was removed after signing"]


def test_a_nested_change_names_the_top_level_field(signed, jwks):
    document = tampered(signed)
    failing = next(c for c in document["checks"] if c["status"] == "fail")
    failing["status"] = "pass"

    assert signing.verify(document, jwks).problems == ["field 'checks' was changed after signing"]


def test_every_change_is_reported(signed, jwks):
    document = tampered(signed, score=100.0, verdict="ready", bonus=True)
    del document["reason"]

    assert sorted(signing.verify(document, jwks).problems) == [
        "field 'bonus' was added after signing",
        "field 'reason' was removed after signing",
        "field 'score' was changed after signing",
        "field 'verdict' was changed after signing",
    ]


@pytest.mark.parametrize("value", [math.nan, math.inf, 2**60, {1: "non-string key"}])
def test_a_value_json_cannot_carry_exactly_is_named_not_raised(signed, jwks, value):
    verification = signing.verify(tampered(signed, score=value), jwks)

    assert not verification.ok
    assert len(verification.problems) == 1
    assert verification.problems[0].startswith("field 'score' was changed after signing")


def test_signing_a_value_json_cannot_carry_exactly_names_the_field(key):
    with pytest.raises(TaskTrialError, match="'score'"):
        signing.sign(dict(result_document(), score=math.nan), key)


# -- keys and signatures that do not hold ----------------------------------


def test_a_result_signed_by_another_key_names_the_unknown_key(signed, key):
    stranger = signing.SigningKey.generate()

    verification = signing.verify(signed, signing.public_jwks([stranger]))

    assert not verification.ok
    assert verification.kid == key.kid
    assert verification.problems == [f"signed by unknown key {key.kid!r}; known keys: {stranger.kid!r}"]


def test_a_key_reusing_the_signers_kid_does_not_verify(signed, key):
    impostor = signing.SigningKey.generate().public_jwk() | {"kid": key.kid}

    verification = signing.verify(signed, {"keys": [impostor]})

    assert verification.problems == [f"the signature does not verify with key {key.kid!r}"]


def test_corrupted_signature_bytes_do_not_verify(signed, jwks, key):
    header, payload, signature = signed["signature"].split(".")
    raw = bytearray(_b64decode(signature))
    raw[10] ^= 0x01
    document = tampered(signed, signature=".".join([header, payload, _b64encode(bytes(raw))]))

    verification = signing.verify(document, jwks)

    assert verification.problems == [f"the signature does not verify with key {key.kid!r}"]


def test_a_rewritten_signed_payload_does_not_verify(signed, jwks):
    """Tampering with a field and with its digest in the payload is still caught: the payload is signed."""
    header, payload, sig = signed["signature"].split(".")
    fields = json.loads(_b64decode(payload))
    fields["fields"]["score"] = "sha256:" + hashlib.sha256(rfc8785.dumps(100.0)).hexdigest()
    forged = ".".join([header, _b64encode(rfc8785.dumps(fields)), sig])

    verification = signing.verify(tampered(signed, score=100.0, signature=forged), jwks)

    assert not verification.ok
    assert verification.problems[0].startswith("the signature does not verify")


def test_an_unsigned_algorithm_is_refused(signed, jwks, key):
    _, payload, _ = signed["signature"].split(".")
    header = _b64encode(json.dumps({"alg": "none", "kid": key.kid}).encode())

    verification = signing.verify(tampered(signed, signature=f"{header}.{payload}."), jwks)

    assert verification.problems == ["the signature uses algorithm 'none'; only 'Ed25519' is accepted"]


def test_a_jws_by_the_right_key_over_something_else_is_not_a_result_signature(signed, jwks, key):
    token = jws.serialize_compact(
        {"alg": "Ed25519", "kid": key.kid}, b'{"sub":"someone"}', key.jwk, algorithms=["Ed25519"]
    )

    verification = signing.verify(tampered(signed, signature=token), jwks)

    assert verification.problems == ["the signed payload is not a tasktrial result signature"]


@pytest.mark.parametrize(
    ("signature", "problem"),
    [
        (None, "no signature"),
        (17, "the signature is malformed: a JWS compact string was expected, found a number"),
        ("not a jws", "the signature is malformed"),
        ("a.b.c", "the signature is malformed"),
    ],
)
def test_a_missing_or_malformed_signature_is_a_problem_not_an_exception(signed, jwks, signature, problem):
    document = tampered(signed, signature=signature)
    if signature is None:
        del document["signature"]

    verification = signing.verify(document, jwks)

    assert not verification.ok
    assert len(verification.problems) == 1
    assert verification.problems[0].startswith(problem)


# -- JWKS ------------------------------------------------------------------


def test_the_jwks_carries_public_halves_only(key):
    other = signing.SigningKey.generate()

    published = signing.public_jwks([key, other])

    assert [k["kid"] for k in published["keys"]] == [key.kid, other.kid]
    for entry in published["keys"]:
        assert "d" not in entry
        assert entry["kty"] == "OKP" and entry["crv"] == "Ed25519"
        assert entry["alg"] == "Ed25519" and entry["use"] == "sig"
    assert key.jwk.as_dict(private=True)["d"] not in json.dumps(published)


def test_the_kid_is_the_rfc7638_thumbprint(key):
    public = key.public_jwk()
    required = json.dumps({"crv": public["crv"], "kty": public["kty"], "x": public["x"]}, separators=(",", ":"))

    assert key.kid == _b64encode(hashlib.sha256(required.encode()).digest())


def test_keys_of_other_types_are_ignored_and_a_missing_kid_is_the_thumbprint(signed, key):
    rsa_like = {"kty": "RSA", "kid": "rsa-1", "n": "AQAB", "e": "AQAB"}
    x25519 = {"kty": "OKP", "crv": "X25519", "kid": "x", "x": "AAAA"}
    without_kid = {k: v for k, v in key.public_jwk().items() if k != "kid"}

    assert signing.verify(signed, {"keys": [rsa_like, x25519, without_kid]}).ok


@pytest.mark.parametrize(
    ("jwks", "message"),
    [
        ([], "expected an object with a 'keys' list"),
        ({"keys": "none"}, "expected an object with a 'keys' list"),
        ({"keys": ["text"]}, r"keys\[0\] is a string, not an object"),
        ({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "short"}]}, r"keys\[0\] is not an Ed25519 public key"),
        ({"keys": [{"kty": "OKP", "crv": "Ed25519"}]}, r"keys\[0\] is not an Ed25519 public key"),
        ({"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB"}]}, "holds no Ed25519 key"),
        ({"keys": []}, "holds no Ed25519 key"),
    ],
)
def test_a_malformed_jwks_raises_a_configuration_error(signed, jwks, message):
    with pytest.raises(ConfigurationError, match=message):
        signing.verify(signed, jwks)


def test_two_keys_sharing_a_kid_are_refused(signed):
    one, two = signing.SigningKey.generate().public_jwk(), signing.SigningKey.generate().public_jwk()

    with pytest.raises(ConfigurationError, match="share kid"):
        signing.verify(signed, {"keys": [one, two | {"kid": one["kid"]}]})


# -- the key file ------------------------------------------------------------


def test_the_key_file_is_created_once_private_and_then_reused(tmp_path):
    path = tmp_path / "data" / "signing-key.jwk"

    first = signing.load_or_create(path)
    content = path.read_bytes()
    second = signing.load_or_create(path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert second.kid == first.kid
    assert path.read_bytes() == content
    assert os.listdir(path.parent) == [path.name]
    assert signing.verify(signing.sign(result_document(), first), signing.public_jwks([second])).ok


def test_an_existing_key_file_is_never_overwritten(tmp_path):
    path = tmp_path / "signing-key.jwk"
    original = signing.SigningKey.generate()
    path.write_text(json.dumps(original.jwk.as_dict(private=True)))

    assert signing.load_or_create(path).kid == original.kid


@pytest.mark.parametrize(
    "content", ["", "{", "[]", '{"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}', '{"kty": "RSA", "d": "x"}']
)
def test_a_key_file_that_holds_no_private_key_is_a_configuration_error(tmp_path, content):
    path = tmp_path / "signing-key.jwk"
    path.write_text(content)

    with pytest.raises(ConfigurationError, match=str(path)):
        signing.load_or_create(path)
    assert path.read_text() == content


def test_a_key_file_whose_public_half_does_not_match_is_refused(tmp_path):
    path = tmp_path / "signing-key.jwk"
    private = signing.SigningKey.generate().jwk.as_dict(private=True)
    private["x"] = signing.SigningKey.generate().public_jwk()["x"]
    path.write_text(json.dumps(private))

    with pytest.raises(ConfigurationError, match="does not match"):
        signing.load_or_create(path)


def test_concurrent_first_starts_agree_on_one_key(tmp_path):
    for round_ in range(10):
        path = tmp_path / f"round-{round_}" / "signing-key.jwk"
        workers = 8
        barrier = threading.Barrier(workers)
        kids: list[str] = []
        errors: list[BaseException] = []

        def start(path: Path, barrier: threading.Barrier, kids: list[str], errors: list[BaseException]) -> None:
            barrier.wait()
            try:
                kids.append(signing.load_or_create(path).kid)
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=start, args=(path, barrier, kids, errors)) for _ in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert errors == []
        assert len(kids) == workers
        assert set(kids) == {signing.load_or_create(path).kid}
        assert os.listdir(path.parent) == [path.name]


def test_the_key_repr_never_shows_the_private_half(key):
    assert repr(key) == f"SigningKey(kid={key.kid!r})"
    assert key.jwk.as_dict(private=True)["d"] not in repr(key)


def test_engine_signing_imports_no_network_library():
    tree = ast.parse(Path(signing.__file__).read_text())
    imported = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    imported |= {
        node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }

    assert imported.isdisjoint({"httpx", "urllib", "socket", "http", "requests", "fastapi", "celery", "redis"})
    assert {"joserfc", "rfc8785"} <= imported
