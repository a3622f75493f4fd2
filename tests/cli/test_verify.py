"""``tasktrial verify``: exit codes and what it prints, against a JWKS file and a JWKS URL."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cli import main, verify
from engine import signing
from tests.engine.test_signing import result_document

runner = CliRunner()


@pytest.fixture(scope="module")
def key() -> signing.SigningKey:
    return signing.SigningKey.generate()


@pytest.fixture
def signed(key) -> dict[str, Any]:
    return signing.sign(result_document(), key)


@pytest.fixture
def jwks_file(tmp_path, key) -> Path:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(signing.public_jwks([key])))
    return path


@pytest.fixture(autouse=True)
def no_service_url(monkeypatch):
    monkeypatch.delenv("TASKTRIAL_URL", raising=False)


def write(tmp_path: Path, document: Any, name: str = "result.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return path


def run(*args: str):
    return runner.invoke(main.app, ["verify", *args])


def test_the_exit_codes_are_those_cli_main_documents():
    assert (verify.EXIT_PROBLEMS, verify.EXIT_BAD_INPUT, verify.EXIT_INFRASTRUCTURE) == (
        main.EXIT_PROBLEMS,
        main.EXIT_BAD_INPUT,
        main.EXIT_INFRASTRUCTURE,
    )


def test_a_good_result_prints_one_tick_line_and_exits_0(tmp_path, signed, jwks_file, key):
    result = run(str(write(tmp_path, signed)), "--jwks", str(jwks_file))

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("✓ ")
    assert f"key {key.kid}" in result.stdout
    assert "task demo/sample" in result.stdout
    assert f"score {signed['score']:g}/100" in result.stdout
    assert f"verdict {signed['verdict']}" in result.stdout


def test_a_tampered_result_names_each_problem_and_exits_1(tmp_path, signed, jwks_file):
    signed["score"] = 100.0
    signed["checks"][1]["status"] = "pass"
    del signed["reason"]

    result = run(str(write(tmp_path, signed)), "--jwks", str(jwks_file))

    assert result.exit_code == 1
    assert "✓" not in result.stdout
    for problem in (
        "field 'score' was changed after signing",
        "field 'checks' was changed after signing",
        "field 'reason' was removed after signing",
        "3 problem(s)",
    ):
        assert problem in result.stderr


def test_a_result_signed_by_another_key_names_the_key_and_exits_1(tmp_path, jwks_file):
    stranger = signing.SigningKey.generate()

    result = run(str(write(tmp_path, signing.sign(result_document(), stranger))), "--jwks", str(jwks_file))

    assert result.exit_code == 1
    assert f"signed by unknown key '{stranger.kid}'" in result.stderr


def test_an_unsigned_result_exits_1(tmp_path, jwks_file):
    result = run(str(write(tmp_path, result_document())), "--jwks", str(jwks_file))

    assert result.exit_code == 1
    assert "no signature" in result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read the result"),
        ("{not json", "is not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
    ],
)
def test_an_unreadable_or_invalid_result_exits_2(tmp_path, jwks_file, content, message):
    path = tmp_path / "result.json"
    if content is not None:
        path.write_text(content)

    result = run(str(path), "--jwks", str(jwks_file))

    assert result.exit_code == 2
    assert message in result.stderr
    assert str(path) in result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read the JWKS"),
        ("{not json", "is not valid JSON"),
        ('{"keys": "none"}', "the JWKS is malformed"),
        ('{"keys": []}', "holds no Ed25519 key"),
    ],
)
def test_an_unreadable_or_malformed_jwks_exits_2(tmp_path, signed, content, message):
    jwks = tmp_path / "jwks.json"
    if content is not None:
        jwks.write_text(content)

    result = run(str(write(tmp_path, signed)), "--jwks", str(jwks))

    assert result.exit_code == 2
    assert message in result.stderr


def test_without_jwks_or_service_url_it_says_to_pass_jwks_and_exits_2(tmp_path, signed):
    result = run(str(write(tmp_path, signed)))

    assert result.exit_code == 2
    assert "--jwks" in result.stderr and "TASKTRIAL_URL" in result.stderr


# -- JWKS over HTTP ----------------------------------------------------------


@pytest.fixture
def service(key) -> Iterator[str]:
    """A tiny local server publishing the JWKS where the service does."""
    body = json.dumps(signing.public_jwks([key])).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # http.server's naming
            if self.path != verify.JWKS_PATH:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_the_jwks_is_fetched_from_an_url(tmp_path, signed, service):
    result = run(str(write(tmp_path, signed)), "--jwks", service + verify.JWKS_PATH)

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("✓ ")


def test_the_service_url_gives_the_default_jwks(tmp_path, signed, service, monkeypatch):
    monkeypatch.setenv("TASKTRIAL_URL", service + "/")

    result = run(str(write(tmp_path, signed)))

    assert result.exit_code == 0, result.output


def test_a_tampered_result_fails_against_the_served_keys_too(tmp_path, signed, service):
    signed["verdict"] = "ready" if signed["verdict"] != "ready" else "not_ready"

    result = run(str(write(tmp_path, signed)), "--jwks", service + verify.JWKS_PATH)

    assert result.exit_code == 1
    assert "field 'verdict' was changed after signing" in result.stderr


def test_a_url_that_serves_no_jwks_exits_3(tmp_path, signed, service):
    result = run(str(write(tmp_path, signed)), "--jwks", service + "/nothing-here")

    assert result.exit_code == 3
    assert "HTTP 404" in result.stderr


def test_an_unreachable_url_exits_3(tmp_path, signed):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}{verify.JWKS_PATH}"

    result = run(str(write(tmp_path, signed)), "--jwks", url)

    assert result.exit_code == 3
    assert f"cannot fetch the JWKS from {url}" in result.stderr


# -- bound to a candidate (issue 14, item 5) -------------------------------------


@pytest.fixture
def bound(key) -> tuple[dict[str, Any], str]:
    from engine import results

    salt = results.new_subject_salt()
    document = {**result_document(), "subject_digest": results.subject_digest("alice", salt)}
    return signing.sign(document, key), salt


def test_the_candidate_proves_a_result_is_theirs_with_subject_and_salt(tmp_path, bound, jwks_file):
    document, salt = bound
    result = run(str(write(tmp_path, document)), "--jwks", str(jwks_file), "--subject", "alice", "--salt", salt)
    assert result.exit_code == 0, result.output
    assert "bound to candidate alice" in result.stdout


def test_someone_else_presenting_the_result_does_not_verify(tmp_path, bound, jwks_file):
    document, salt = bound
    result = run(str(write(tmp_path, document)), "--jwks", str(jwks_file), "--subject", "bob", "--salt", salt)
    assert result.exit_code == 1
    assert "not bound to 'bob'" in result.stderr
    wrong_salt = run(str(write(tmp_path, document)), "--jwks", str(jwks_file), "--subject", "alice", "--salt", "0" * 32)
    assert wrong_salt.exit_code == 1


def test_a_result_signed_before_binding_still_verifies_but_proves_no_subject(tmp_path, signed, jwks_file):
    path = str(write(tmp_path, signed))
    assert run(path, "--jwks", str(jwks_file)).exit_code == 0
    result = run(path, "--jwks", str(jwks_file), "--subject", "alice", "--salt", "0" * 32)
    assert result.exit_code == 1
    assert "names no candidate" in result.stderr


def test_subject_without_salt_is_bad_input(tmp_path, bound, jwks_file):
    document, _ = bound
    result = run(str(write(tmp_path, document)), "--jwks", str(jwks_file), "--subject", "alice")
    assert result.exit_code == 2
    assert "--salt" in result.stderr
