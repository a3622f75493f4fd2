"""``tasktrial verify --log`` offline, ``tasktrial proof`` and ``tasktrial log watch`` against the API in-process.

The monitor and the verifier reach the service by URL, so these tests serve the
in-process app over a real local HTTP port (uvicorn in a thread).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from typer.testing import CliRunner

from api.tables import Role
from cli import main
from tests.api.conftest import Api, make_api, small_catalogue  # noqa: F401  (a fixture)
from tests.api.helpers import rewrite_log_leaf, submit, work
from tests.services import free_port

runner = CliRunner()


@pytest.fixture
def served(tmp_path, small_catalogue, monkeypatch) -> Iterator[tuple[Api, str]]:  # noqa: F811
    monkeypatch.delenv("TASKTRIAL_URL", raising=False)
    for api in make_api(tmp_path / "data", catalogue_dirs=[small_catalogue]):
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(api.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        try:
            yield api, f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join(10)


def graded(api: Api, candidate: str = "alice") -> tuple[dict[str, str], str]:
    headers = api.token(Role.CANDIDATE, candidate)
    accepted = submit(api, headers)
    work(api, accepted["run_id"])
    return headers, api.client.get(f"/v1/submissions/{accepted['id']}", headers=headers).json()["result_id"]


def save_bundle(api: Api, headers, result_id: str, path: Path, size: int | None = None) -> dict:
    params = {} if size is None else {"size": size}
    bundle = api.client.get(f"/v1/results/{result_id}/inclusion", headers=headers, params=params).json()
    path.write_text(json.dumps(bundle))
    return bundle


def test_verify_checks_inclusion_offline_against_a_checkpoint_file(served, tmp_path):
    api, url = served
    headers, result_id = graded(api)
    api.service.log.seal()
    bundle = save_bundle(api, headers, result_id, tmp_path / "bundle.json")
    (tmp_path / "checkpoint").write_text(bundle["checkpoint"])
    (tmp_path / "jwks.json").write_text(api.client.get("/.well-known/jwks.json").text)
    result = runner.invoke(
        main.app,
        [
            "verify",
            str(tmp_path / "bundle.json"),
            "--jwks",
            str(tmp_path / "jwks.json"),
            "--log",
            str(tmp_path / "checkpoint"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"at index {bundle['log']['log_index']} of the checkpoint of size 2" in result.output
    by_url = runner.invoke(
        main.app,
        [
            "verify",
            str(tmp_path / "bundle.json"),
            "--jwks",
            f"{url}/.well-known/jwks.json",
            "--log",
            f"{url}/log/checkpoint",
        ],
    )
    assert by_url.exit_code == 0, by_url.output


def test_verify_log_failures_exit_1_with_a_reason(served, tmp_path):
    api, _ = served
    headers, result_id = graded(api)
    api.service.log.seal()
    bundle = save_bundle(api, headers, result_id, tmp_path / "bundle.json")
    (tmp_path / "jwks.json").write_text(api.client.get("/.well-known/jwks.json").text)
    checkpoint = tmp_path / "checkpoint"

    def run(document, note: str) -> str:
        (tmp_path / "case.json").write_text(json.dumps(document))
        checkpoint.write_text(note)
        result = runner.invoke(
            main.app,
            ["verify", str(tmp_path / "case.json"), "--jwks", str(tmp_path / "jwks.json"), "--log", str(checkpoint)],
        )
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output
        return " ".join(result.output.split())

    good = bundle["checkpoint"]
    assert "holds no inclusion proof" in run(bundle["result"], good)
    assert "no signature block" in run(bundle, "garbage")
    assert "does not verify" in run(bundle, good.replace("\n2\n", "\n3\n", 1))
    forged_proof = json.loads(json.dumps(bundle))
    forged_proof["log"]["inclusion_proof"][0] = "A" * 43 + "="
    assert "does not lead to the root" in run(forged_proof, good)
    not_base64 = json.loads(json.dumps(bundle))
    not_base64["log"]["inclusion_proof"] = ["%%%"]
    assert "not standard base64" in run(not_base64, good)
    wrong_index = json.loads(json.dumps(bundle))
    wrong_index["log"]["log_index"] = "zero"
    assert "'log_index' must be a non-negative integer" in run(wrong_index, good)
    graded(api, "bob")
    api.service.log.seal()
    newer = api.client.get("/log/checkpoint").text
    assert "is for tree size 2 but the checkpoint has size 4" in run(bundle, newer)


def test_proof_saves_a_bundle_that_verify_accepts(served, tmp_path, monkeypatch):
    api, url = served
    headers, result_id = graded(api)
    api.service.log.seal()
    monkeypatch.setenv("TASKTRIAL_URL", url)
    monkeypatch.setenv("TASKTRIAL_TOKEN", headers["Authorization"].removeprefix("Bearer "))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    saved = runner.invoke(main.app, ["proof", result_id, "--output", str(tmp_path / "bundle.json")])
    assert saved.exit_code == 0, saved.output
    checked = runner.invoke(main.app, ["verify", str(tmp_path / "bundle.json"), "--log", f"{url}/log/checkpoint"])
    assert checked.exit_code == 0, checked.output
    missing = runner.invoke(main.app, ["proof", "nope"])
    assert missing.exit_code == 2 and "unknown result 'nope'" in missing.output


def test_the_monitor_accepts_an_extended_log_and_catches_a_rewritten_one(served, tmp_path):
    api, url = served
    state = tmp_path / "state.checkpoint"

    def watch() -> tuple[int, str]:
        result = runner.invoke(main.app, ["log", "watch", url, "--once", "--state", str(state)])
        assert "Traceback" not in result.output
        return result.exit_code, " ".join(result.output.split())

    graded(api)
    api.service.log.seal()
    assert watch() == (
        0,
        (
            f"✓ first checkpoint of log {api.service.settings.origin}: size 2 "
            f"(signed by key {api.service.key.kid}); remembered in {state}"
        ),
    )
    graded(api, "bob")
    api.service.log.seal()
    code, output = watch()
    assert code == 0 and "size 4 is consistent with the size 2 seen before" in output
    assert watch()[0] == 0  # no new checkpoint: the same one again
    with api.service.session() as session:  # rewrite a leaf the monitor has seen
        rewrite_log_leaf(session, log_index=0, digest="sha256:" + "00" * 32)
    graded(api, "carol")
    api.service.log.seal()
    remembered = state.read_text()
    code, output = watch()
    assert code == 1 and "LOG INCONSISTENT" in output and "rewritten" in output
    assert state.read_text() == remembered  # the evidence is kept


def test_rotate_and_revoke_through_the_cli(served, tmp_path, monkeypatch):
    api, url = served
    monkeypatch.setenv("TASKTRIAL_DATA_DIR", str(api.service.settings.data_dir))
    headers, result_id = graded(api)
    api.service.log.seal()
    first = api.service.key.kid
    bundle = save_bundle(api, headers, result_id, tmp_path / "bundle.json")
    (tmp_path / "checkpoint").write_text(bundle["checkpoint"])
    rotated = runner.invoke(main.app, ["admin", "rotate-key"])
    assert rotated.exit_code == 0 and f"{first} retired" in rotated.output, rotated.output
    args = [
        "verify",
        str(tmp_path / "bundle.json"),
        "--jwks",
        f"{url}/.well-known/jwks.json",
        "--log",
        str(tmp_path / "checkpoint"),
    ]
    still = runner.invoke(main.app, args)
    assert still.exit_code == 0 and f"key {first}" in still.output, still.output
    refused = runner.invoke(main.app, ["admin", "revoke-key", api.service.signing_key().kid])
    assert refused.exit_code == 2 and "rotate it first" in refused.output
    assert runner.invoke(main.app, ["admin", "revoke-key", first]).exit_code == 0
    revoked = runner.invoke(main.app, args)
    assert revoked.exit_code == 1 and f"signed by revoked key {first!r}" in " ".join(revoked.output.split())


@pytest.mark.parametrize(
    ("checkpoint", "consistency", "message"),
    [
        ("not a checkpoint", None, "does not verify: the checkpoint has no signature block"),
        (None, b"[1, 2]", "consistency proof must be a list"),
        (None, b"not json", "is not JSON"),
        (None, json.dumps({"consistency_proof": ["@@"]}).encode(), "not standard base64"),
        (None, json.dumps({"consistency_proof": ["AAAA"]}).encode(), "must be 32 bytes"),
    ],
)
def test_the_monitor_reports_a_malformed_answer_as_exit_1(served, tmp_path, checkpoint, consistency, message):
    """A log that answers garbage is as bad as a rewritten one: exit 1 with the reason, never a traceback."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    api, url = served
    state = tmp_path / "state"
    graded(api)
    api.service.log.seal()
    assert runner.invoke(main.app, ["log", "watch", url, "--once", "--state", str(state)]).exit_code == 0
    graded(api, "bob")
    api.service.log.seal()
    real = {
        "/log/checkpoint": api.client.get("/log/checkpoint").content,
        "/.well-known/jwks.json": api.client.get("/.well-known/jwks.json").content,
    }

    class Liar(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            body = {
                "/log/checkpoint": checkpoint.encode() if checkpoint else real["/log/checkpoint"],
                "/log/consistency": consistency,
            }.get(path) or real.get(path, b"")
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Liar)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = runner.invoke(
            main.app, ["log", "watch", f"http://127.0.0.1:{server.server_port}", "--once", "--state", str(state)]
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result.exit_code == 1, result.output
    assert "LOG INCONSISTENT" in result.output and message in " ".join(result.output.split())
    assert "Traceback" not in result.output
