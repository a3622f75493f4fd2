"""Key rotation and revocation: old documents keep verifying, revoked and unknown keys are named."""

from __future__ import annotations

import json

import pytest

from engine import signing
from engine.errors import ConfigurationError, NotFound
from engine.keyring import Keyring
from tests.engine.test_signing import result_document


def test_a_rotated_key_stays_published_as_retired_and_its_documents_still_verify(tmp_path):
    keyring = Keyring(tmp_path / "keys")
    first = keyring.active()
    old_document = signing.sign(result_document(), first)
    retired, new = keyring.rotate()
    assert retired == first and new != first and keyring.active() == new
    jwks = keyring.jwks()
    assert [(k["kid"], k["status"]) for k in jwks["keys"]] == [(new.kid, "active"), (first.kid, "retired")]
    assert all("d" not in k for k in jwks["keys"])
    assert signing.verify(old_document, jwks).ok
    fresh = signing.sign(result_document(), keyring.active())
    assert signing.verify(fresh, jwks).kid == new.kid
    assert Keyring(tmp_path / "keys").active() == new  # what another process reads


def test_a_revoked_key_fails_verification_naming_it(tmp_path):
    keyring = Keyring(tmp_path / "keys")
    first = keyring.active()
    old_document = signing.sign(result_document(), first)
    keyring.rotate()
    keyring.revoke(first.kid)
    verification = signing.verify(old_document, keyring.jwks())
    assert not verification.ok
    assert verification.problems == [
        (f"signed by revoked key {first.kid!r}: the issuer withdrew it, so nothing it signed is trusted")
    ]


def test_an_unknown_key_fails_verification_naming_it(tmp_path):
    keyring = Keyring(tmp_path / "keys")
    stranger = signing.SigningKey.generate()
    verification = signing.verify(signing.sign(result_document(), stranger), keyring.jwks())
    assert not verification.ok and f"signed by unknown key {stranger.kid!r}" in verification.problems[0]


def test_the_active_key_cannot_be_revoked_and_unknown_ids_are_named(tmp_path):
    keyring = Keyring(tmp_path / "keys")
    with pytest.raises(ConfigurationError, match="active signing key: rotate it first"):
        keyring.revoke(keyring.active().kid)
    keyring.rotate()
    with pytest.raises(NotFound, match="no retired key has id 'nope'"):
        keyring.revoke("nope")


def test_an_unknown_status_is_treated_as_revoked(tmp_path):
    keyring = Keyring(tmp_path / "keys")
    first = keyring.active()
    document = signing.sign(result_document(), first)
    jwks = {"keys": [{**first.public_jwk(), "status": "maybe"}]}
    assert not signing.verify(document, jwks).ok


def test_a_malformed_retired_file_is_a_configuration_error_naming_it(tmp_path):
    keyring = Keyring(tmp_path / "keys")
    keyring.rotate()
    (tmp_path / "keys" / "retired.json").write_text(json.dumps({"keys": "x"}))
    with pytest.raises(ConfigurationError, match=r"retired\.json are malformed"):
        keyring.jwks()
