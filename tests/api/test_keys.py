"""Key rotation in a running service: new signatures use the new key, old ones keep verifying."""

from __future__ import annotations

from api.tables import Role
from engine import checkpoints, signing, transparency
from engine.keyring import Keyring
from tests.api.helpers import submit, work


def result_of(api, headers) -> dict:
    accepted = submit(api, headers)
    work(api, accepted["run_id"])
    return api.client.get(f"/v1/submissions/{accepted['id']}/result", headers=headers).json()


def test_a_rotation_takes_over_without_a_restart_and_every_kid_resolves(api):
    headers = api.token(Role.CANDIDATE, "alice")
    before = result_of(api, headers)
    api.service.log.seal()
    old_checkpoint = api.client.get("/log/checkpoint").text
    retired, new = Keyring(api.service.settings.keys_dir).rotate()  # as `tasktrial admin rotate-key` does
    after = result_of(api, headers)
    api.service.log.seal()
    jwks = api.client.get("/.well-known/jwks.json").json()
    assert [(k["kid"], k["status"]) for k in jwks["keys"]] == [(new.kid, "active"), (retired.kid, "retired")]
    assert signing.verify(before, jwks).kid == retired.kid
    assert signing.verify(after, jwks).kid == new.kid
    keys = transparency.note_keys(jwks)
    assert checkpoints.verify(old_checkpoint, keys)[1].label == retired.kid
    assert checkpoints.verify(api.client.get("/log/checkpoint").text, keys)[1].label == new.kid
    for kid in (new.kid, retired.kid):
        assert api.client.get(f"/keys/{kid}").json()["kid"] == kid
    missing = api.client.get("/keys/nope")
    assert missing.status_code == 404 and "'nope'" in missing.json()["detail"]
    assert len(api.client.get("/log/key").text.splitlines()) == 2


def test_a_revoked_key_is_published_as_revoked_and_leaves_the_log_keys(api):
    keyring = Keyring(api.service.settings.keys_dir)
    first = keyring.active()
    keyring.rotate()
    keyring.revoke(first.kid)
    jwks = api.client.get("/.well-known/jwks.json").json()
    assert {k["kid"]: k["status"] for k in jwks["keys"]}[first.kid] == "revoked"
    assert len(api.client.get("/log/key").text.splitlines()) == 1
