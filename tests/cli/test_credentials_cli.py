"""``tasktrial credentials`` and ``tasktrial verify CREDENTIAL.json`` against a served API."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from typer.testing import CliRunner

from api.tables import Role
from cli import main
from engine.keyring import Keyring
from tests.api.conftest import small_catalogue  # noqa: F401  (a fixture)
from tests.api.helpers import submit, work
from tests.cli.test_log_cli import served  # noqa: F401  (a fixture)

runner = CliRunner()


@pytest.fixture
def awarded(served, tmp_path, monkeypatch):  # noqa: F811
    api, url = served
    api.service.credentials.public_url = url  # the status list must be where the served API is
    author = api.token(Role.AUTHOR, "carol")
    probe = api.token(Role.CANDIDATE, "probe")
    work(api, submit(api, probe)["run_id"])
    skill = min(api.client.get("/v1/profile", headers=probe).json()["skills"])
    assert (
        api.client.post(
            "/v1/credentials/definitions", headers=author, json={"id": "retries", "name": "Retries", "skills": [skill]}
        ).status_code
        == 201
    )
    alice = api.token(Role.CANDIDATE, "alice@example.org")
    work(api, submit(api, alice)["run_id"])
    award = api.client.get("/v1/credentials", headers=alice).json()["data"][0]
    monkeypatch.setenv("TASKTRIAL_URL", url)
    monkeypatch.setenv("TASKTRIAL_TOKEN", alice["Authorization"].removeprefix("Bearer "))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("TASKTRIAL_DATA_DIR", str(api.service.settings.data_dir))
    return api, url, award


def export(tmp_path, award) -> str:
    path = tmp_path / "credential.json"
    result = runner.invoke(main.app, ["credentials", "export", award["id"], "--output", str(path)])
    assert result.exit_code == 0, result.output
    return str(path)


def verify(path: str) -> tuple[int, str]:
    result = runner.invoke(main.app, ["verify", path])
    assert "Traceback" not in result.output
    return result.exit_code, " ".join(result.output.split())


def test_list_show_export_and_verify(awarded, tmp_path):
    _api, _url, award = awarded
    listed = runner.invoke(main.app, ["credentials", "list"])
    assert listed.exit_code == 0 and award["id"] in listed.output and "valid" in listed.output
    shown = runner.invoke(main.app, ["credentials", "show", award["id"]])
    assert shown.exit_code == 0 and "Retries" in shown.output and award["evidence"][0] in shown.output
    path = export(tmp_path, award)
    assert json.loads(Path(path).read_text())["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert verify(path) == (0, "✓ credential Retries: proof valid (eddsa-rdfc-2022), issuer key known, not revoked")


def test_verify_catches_a_change_a_revocation_and_a_foreign_status_list(awarded, tmp_path):
    api, _url, award = awarded
    path = export(tmp_path, award)
    credential = json.loads(Path(path).read_text())
    changed = {**credential, "name": "Retries (gold)"}
    (tmp_path / "changed.json").write_text(json.dumps(changed))
    code, output = verify(str(tmp_path / "changed.json"))
    assert code == 1 and "the proof does not verify" in output
    api.client.post(
        f"/v1/credentials/{award['id']}/revoke", headers=api.token(Role.ADMIN, "root"), json={"reason": "copied"}
    )
    code, output = verify(path)
    assert code == 1 and "the credential is revoked" in output


def test_verify_never_follows_a_status_list_elsewhere(awarded, tmp_path, monkeypatch):
    api, _url, award = awarded
    path = export(tmp_path, award)
    monkeypatch.setenv("TASKTRIAL_URL", "http://127.0.0.1:9")  # another service is configured
    monkeypatch.setenv("TASKTRIAL_TOKEN", "x")
    jwks = tmp_path / "jwks.json"
    jwks.write_text(api.client.get("/.well-known/jwks.json").text)
    result = runner.invoke(main.app, ["verify", path, "--jwks", str(jwks)])
    assert result.exit_code == 1 and "is not the configured service's DID" in " ".join(result.output.split())


def test_a_credential_signed_by_a_revoked_key_fails_naming_it(awarded, tmp_path):
    api, _url, award = awarded
    path = export(tmp_path, award)
    keyring = Keyring(api.service.settings.keys_dir)
    old = keyring.active()
    keyring.rotate()
    keyring.revoke(old.kid)
    code, output = verify(path)
    assert code == 1 and f"signed by revoked key {old.kid!r}" in output


def test_a_credential_from_before_a_rotation_still_verifies_and_its_revocation_is_still_seen(awarded, tmp_path):
    api, _url, award = awarded
    path = export(tmp_path, award)
    Keyring(api.service.settings.keys_dir).rotate()  # the status list is now signed by the new key
    assert verify(path)[0] == 0
    api.client.post(
        f"/v1/credentials/{award['id']}/revoke", headers=api.token(Role.ADMIN, "root"), json={"reason": "copied"}
    )
    code, output = verify(path)
    assert code == 1 and "the credential is revoked" in output


@pytest.fixture
def below_a_path(tmp_path, small_catalogue, monkeypatch):  # noqa: F811
    """A service published at http://127.0.0.1:PORT/tasktrial behind a path-stripping proxy; alice's award."""
    from tests.api.conftest import make_api
    from tests.proxy import served_below
    from tests.services import free_port

    port = free_port()
    public = f"http://127.0.0.1:{port}/tasktrial"
    for api in make_api(tmp_path / "data", catalogue_dirs=[small_catalogue], public_url=public):
        with served_below(api.app, "/tasktrial", port):
            author, alice = api.token(Role.AUTHOR, "carol"), api.token(Role.CANDIDATE, "alice@example.org")
            work(api, submit(api, alice)["run_id"])
            skill = min(api.client.get("/v1/profile", headers=alice).json()["skills"])
            api.client.post(
                "/v1/credentials/definitions",
                headers=author,
                json={"id": "retries", "name": "Retries", "skills": [skill]},
            )
            work(api, submit(api, alice)["run_id"])
            award = api.client.get("/v1/credentials", headers=alice).json()["data"][0]
            monkeypatch.setenv("TASKTRIAL_URL", public)
            monkeypatch.setenv("TASKTRIAL_TOKEN", alice["Authorization"].removeprefix("Bearer "))
            monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
            yield api, public, award


def test_a_credential_of_a_service_below_a_path_verifies_and_its_did_resolves_there(below_a_path, tmp_path):
    import httpx

    from tests.engine.test_openbadges import resolution_url

    api, public, award = below_a_path
    path = export(tmp_path, award)  # through the proxy: TASKTRIAL_URL has the path
    did = json.loads(Path(path).read_text())["issuer"]["id"]
    assert did == f"did:web:127.0.0.1%3A{urlsplit(public).port}:tasktrial"
    # What a did:web resolver fetches (https in the spec; this proxy speaks http) is the service's document.
    document = httpx.get(resolution_url(did).replace("https://", "http://", 1)).json()
    assert document["id"] == did and document == api.client.get("/.well-known/did.json").json()
    assert verify(path) == (0, "✓ credential Retries: proof valid (eddsa-rdfc-2022), issuer key known, not revoked")
    api.client.post(
        f"/v1/credentials/{award['id']}/revoke", headers=api.token(Role.ADMIN, "root"), json={"reason": "copied"}
    )
    code, output = verify(path)
    assert code == 1 and "the credential is revoked" in output
