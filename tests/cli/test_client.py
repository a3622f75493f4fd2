"""The candidate CLI against the real API, in-process: ``tasks``, ``start``, ``submit``, ``login``.

The app runs with real storage and signing; the CLI reaches it through a
TestClient that replaces ``cli.client.open_http``. Fast tests grade nothing:
a queue that plays the worker through the runs API ends each run with the
engine's signed ``error`` result. The one ``docker`` test grades for real.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api import storage
from api.app import create_app
from api.queue import FakeQueue
from api.serve import build
from api.service import AppService, build_service
from api.settings import Settings
from api.tables import Role
from cli import client, config, main
from engine import archives, signing
from engine.digest import tree_digest
from engine.trees import read_tree
from tests.api.test_overload import submissions_held
from tests.conftest import CATALOGUE
from tests.faults.stack import wait_until

URL = "http://tasktrial.test"
PACK = "python-foundations"
TASK = "retry-backoff"
REF = f"{PACK}/{TASK}"
TASK_DIR = CATALOGUE / PACK / TASK
UNREACHABLE = "http://127.0.0.1:9"

runner = CliRunner()


def cli(*args: str, **kwargs: Any):
    return runner.invoke(main.app, list(args), **kwargs)


# -- an in-process server ------------------------------------------------------


class PlayedWorker:
    """A queue whose worker grades nothing: it claims the run, reports grading, then fails it through the API.

    The service ends a failed run with a signed ``error`` result, as it does
    when the engine cannot grade, so a submission reaches ``done`` without Docker.
    """

    def __init__(self) -> None:
        self.http: TestClient | None = None
        self.token = ""
        self.threads: list[threading.Thread] = []
        self.failures: list[BaseException] = []

    def enqueue(self, run_id: str) -> None:
        thread = threading.Thread(target=self._play, args=(run_id,))
        self.threads.append(thread)
        thread.start()

    def _play(self, run_id: str) -> None:
        assert self.http is not None, "the fixture sets the client before anything is queued"
        try:
            headers = {"Authorization": f"Bearer {self.token}"}
            for path, body in (
                (f"/v1/runs/{run_id}/claim", {"worker": "played"}),
                (f"/v1/runs/{run_id}/progress", {"worker": "played", "state": "grading"}),
                (f"/v1/runs/{run_id}/fail", {"worker": "played", "reason": "played by the test"}),
            ):
                self.http.post(path, json=body, headers=headers).raise_for_status()
        except BaseException as exc:  # noqa: BLE001 - surfaced by the fixture: a broken worker must fail the test
            self.failures.append(exc)

    def join(self) -> None:
        for thread in self.threads:
            thread.join(timeout=60)
        assert not self.failures, self.failures


@dataclass
class Server:
    app: Any
    service: AppService
    http: TestClient
    opened: list[str] = field(default_factory=list)

    def token(self, role: Role = Role.CANDIDATE, subject: str = "alice") -> str:
        with self.service.session() as session:
            return storage.create_token(session=session, name=f"{role} {subject}", role=role, subject=subject)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}"}

    def submissions(self) -> list[Any]:
        with self.service.session() as session:
            rows, _ = storage.list_submissions(session=session, candidate=None, limit=100, offset=0)
            return rows


def catalogue_copy(root: Path, *, twin: bool = False) -> Path:
    """The python-foundations pack (and, with ``twin``, a second pack holding the same task id)."""
    shutil.copytree(CATALOGUE / PACK, root / PACK)
    if twin:
        shutil.copytree(TASK_DIR, root / "twin" / TASK)
        (root / "twin" / "pack.yaml").write_text(
            (CATALOGUE / PACK / "pack.yaml").read_text().replace(f"id: {PACK}", "id: python-twin")
        )
    return root


@pytest.fixture(autouse=True)
def environment(tmp_path, monkeypatch):
    """No user's config or variables leak in; wide output so rich never folds what tests look for."""
    for name in (config.URL_VARIABLE, config.TOKEN_VARIABLE):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config-home"))
    monkeypatch.setenv("COLUMNS", "200")


def serve(tmp_path: Path, monkeypatch, *, queue, twin: bool = False, **settings: Any) -> Iterator[Server]:
    settings_ = Settings(
        data_dir=tmp_path / "data", catalogue_dirs=[catalogue_copy(tmp_path / "catalogue", twin=twin)], **settings
    )
    service = build_service(settings_, queue)
    app = create_app(service, reaper=False)
    with TestClient(app) as http:
        server = Server(app=app, service=service, http=http)

        def open_http(base_url, timeout):
            server.opened.append(base_url)
            return TestClient(app, base_url=base_url)

        monkeypatch.setattr(client, "open_http", open_http)
        monkeypatch.setenv(config.URL_VARIABLE, URL)
        monkeypatch.setenv(config.TOKEN_VARIABLE, server.token())
        yield server
    service.engine.dispose()


@pytest.fixture
def server(tmp_path, monkeypatch) -> Iterator[Server]:
    """A server that stores submissions and never grades them."""
    yield from serve(tmp_path, monkeypatch, queue=FakeQueue())


@pytest.fixture
def graded(tmp_path, monkeypatch) -> Iterator[Server]:
    """A server whose every submission ends with a signed ``error`` result."""
    queue = PlayedWorker()
    generator = serve(tmp_path, monkeypatch, queue=queue)
    server = next(generator)
    queue.http, queue.token = server.http, server.token(Role.WORKER, "played")
    yield server
    queue.join()
    next(generator, None)


@pytest.fixture
def solution(tmp_path) -> Path:
    """A candidate's folder: the starter with the reference solution written over it."""
    folder = tmp_path / "work"
    shutil.copytree(TASK_DIR / "starter", folder)
    shutil.copy(TASK_DIR / "solution" / "retry.py", folder / "retry.py")
    return folder


def test_the_exit_codes_are_those_cli_main_documents():
    assert (client.EXIT_PROBLEMS, client.EXIT_BAD_INPUT, client.EXIT_INFRASTRUCTURE) == (
        main.EXIT_PROBLEMS,
        main.EXIT_BAD_INPUT,
        main.EXIT_INFRASTRUCTURE,
    )


# -- tasks -------------------------------------------------------------------


def test_tasks_list_shows_every_task_of_the_configured_server(server):
    result = cli("tasks", "list")

    assert result.exit_code == 0, result.output
    assert server.opened == [URL]
    tasks = sorted(p.parent.name for p in (CATALOGUE / PACK).glob("*/task.yaml"))
    assert f"{len(tasks)} task(s)" in result.stdout
    for task in tasks:
        assert f"{PACK}/{task}" in result.stdout
    assert "Retry a flaky call with exponential backoff" in result.stdout
    assert "python.resilience.deadlines" in result.stdout


def test_tasks_show_prints_the_statement_and_the_facts(server):
    result = cli("tasks", "show", TASK)  # a bare id, unique in the catalogue

    assert result.exit_code == 0, result.output
    assert "Retry a flaky call with exponential backoff" in result.stdout  # the statement's heading
    assert "Services fail transiently." in result.stdout
    assert f"{REF} (pack version 1.0.0)" in result.stdout
    assert "85/100" in result.stdout
    assert "20 s, 256 MB memory, 1 CPU, 64 processes, 32 MB disk, 64 KB output" in result.stdout
    assert "python.resilience.retry-backoff, python.resilience.deadlines" in result.stdout


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("tasks", "show", "nope"), "nope"),
        (("tasks", "show", f"{PACK}/nope"), f"{PACK}/nope"),
        (("tasks", "show", "nope/retry-backoff"), "nope/retry-backoff"),
        (("start", f"{PACK}/nope", "somewhere"), f"{PACK}/nope"),
    ],
)
def test_an_unknown_task_exits_2_naming_it(server, args, named, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    result = cli(*args)

    assert result.exit_code == 2
    assert f"unknown task '{named}'" in result.stderr
    assert not (tmp_path / "somewhere").exists()


def test_a_malformed_task_id_exits_2(server):
    result = cli("tasks", "show", "../etc/passwd")

    assert result.exit_code == 2
    assert "is not a task id" in result.stderr


def test_a_task_id_two_packs_hold_is_ambiguous_and_exits_2_listing_them(tmp_path, monkeypatch):
    for _ in serve(tmp_path, monkeypatch, queue=FakeQueue(), twin=True):
        result = cli("tasks", "show", TASK)

        assert result.exit_code == 2
        assert f"task '{TASK}' is in several packs: {REF}, python-twin/{TASK}" in result.stderr
        assert cli("tasks", "show", f"python-twin/{TASK}").exit_code == 0


# -- start -------------------------------------------------------------------


def test_start_writes_the_starter_files_without_their_top_folder(server, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    result = cli("start", TASK)

    assert result.exit_code == 0, result.output
    written = tmp_path / TASK
    assert read_tree(written) == read_tree(TASK_DIR / "starter")
    assert f"tasktrial submit {REF} {TASK} --wait" in result.stdout


def test_start_into_an_empty_folder_is_allowed(server, tmp_path):
    target = tmp_path / "empty"
    target.mkdir()

    result = cli("start", REF, str(target))

    assert result.exit_code == 0, result.output
    assert read_tree(target) == read_tree(TASK_DIR / "starter")


def test_start_refuses_a_folder_that_is_not_empty(server, tmp_path):
    target = tmp_path / "busy"
    target.mkdir()
    (target / "retry.py").write_text("mine\n")

    result = cli("start", REF, str(target))

    assert result.exit_code == 2
    assert "is not empty" in result.stderr
    assert read_tree(target) == {"retry.py": b"mine\n"}


def test_start_refuses_a_path_that_is_a_file(server, tmp_path):
    target = tmp_path / "file"
    target.write_text("x")

    result = cli("start", REF, str(target))

    assert result.exit_code == 2
    assert "is not a folder" in result.stderr


def test_start_refuses_a_starter_archive_with_files_outside_the_task_folder(server, tmp_path, monkeypatch):
    hostile = archives.make_tar_gz({f"{TASK}/retry.py": b"x", "elsewhere.py": b"y"})
    monkeypatch.setattr(client.ApiClient, "starter", lambda self, ref: hostile)

    result = cli("start", REF, str(tmp_path / "out"))

    assert result.exit_code == 3
    assert "'elsewhere.py' outside its folder" in result.stderr
    assert not (tmp_path / "out" / "retry.py").exists()


# -- submit ------------------------------------------------------------------


def test_submit_uploads_the_folder_and_says_how_to_follow_it(server, solution):
    result = cli("submit", TASK, str(solution))

    assert result.exit_code == 0, result.output
    [stored] = server.submissions()
    assert (stored.pack_id, stored.task_id, stored.candidate) == (PACK, TASK, "alice")
    assert stored.submission_digest == tree_digest(read_tree(solution))
    assert f"submission {stored.id} for {REF}: queued" in result.stdout
    assert f"{URL}/v1/submissions/{stored.id}/events" in result.stdout
    assert "--wait" in result.stdout


def test_submit_json_without_wait_prints_the_acknowledgement(server, solution):
    result = cli("submit", REF, str(solution), "--json")

    assert result.exit_code == 0, result.output
    accepted = json.loads(result.stdout)
    assert accepted["id"] == server.submissions()[0].id
    assert accepted["state"] == "queued"
    assert accepted["links"]["result"] == f"/v1/submissions/{accepted['id']}/result"


def test_submit_defaults_to_the_current_folder(server, solution, monkeypatch):
    monkeypatch.chdir(solution)

    assert cli("submit", TASK).exit_code == 0
    assert server.submissions()[0].submission_digest == tree_digest(read_tree(solution))


def test_a_folder_holding_one_folder_keeps_it(server, tmp_path):
    folder = tmp_path / "work"
    (folder / "pkg").mkdir(parents=True)
    (folder / "pkg" / "retry.py").write_text("pass\n")

    assert cli("submit", REF, str(folder)).exit_code == 0

    [stored] = server.submissions()
    assert archives.extract(stored.archive, strip_top_folder=False) == {"pkg/retry.py": b"pass\n"}


def test_a_folder_with_a_symlink_exits_2_before_any_upload(server, solution, monkeypatch):
    (solution / "secrets").symlink_to("/etc/passwd")
    monkeypatch.setenv(config.URL_VARIABLE, UNREACHABLE)  # proves the folder is refused before any connection

    result = cli("submit", REF, str(solution))

    assert result.exit_code == 2
    assert "'secrets' is a symbolic link" in result.stderr
    assert server.submissions() == []


def test_an_empty_folder_exits_2(server, tmp_path):
    (tmp_path / "empty").mkdir()

    result = cli("submit", REF, str(tmp_path / "empty"))

    assert result.exit_code == 2
    assert "holds no files" in result.stderr
    assert server.submissions() == []


@pytest.fixture
def narrow_server(tmp_path, monkeypatch) -> Iterator[Server]:
    """A server that takes one request at a time and sheds the next at once."""
    yield from serve(tmp_path, monkeypatch, queue=FakeQueue(), max_requests_in_flight=1, request_queue_seconds=0)


def test_a_submission_the_busy_server_sheds_is_sent_again_and_stored_once(narrow_server, solution):
    """One request in flight is the server's limit: the CLI's is shed (503, nothing done), told, and sent
    again after the Retry-After, once the first is through."""
    server = narrow_server
    api = SimpleNamespace(client=server.http, service=server.service, app=server.app)  # what the helper reads
    with ThreadPoolExecutor(1) as pool:
        with submissions_held(api, server.headers(), 1, until=lambda limit: limit.in_flight == 1):
            submitting = pool.submit(cli, "submit", REF, str(solution))
            wait_until(
                lambda: 'tasktrial_rejected_total{reason="busy"} 1.0' in server.http.get("/metrics").text,
                10,
                "the CLI's submission was never shed",
            )
        result = submitting.result(timeout=60)

    assert result.exit_code == 0, result.output
    assert "is busy and did not take" in result.stderr and "trying again in" in result.stderr
    assert len(server.submissions()) == 2  # the held one, and the CLI's exactly once
    assert " ".join(result.stdout.split()).startswith("submission ")


def test_submitting_to_an_unknown_task_exits_2_and_stores_nothing(server, solution):
    result = cli("submit", f"{PACK}/nope", str(solution))

    assert result.exit_code == 2
    assert f"unknown task '{PACK}/nope'" in result.stderr
    assert server.submissions() == []


def test_an_upload_the_server_refuses_shows_its_detail_and_exits_2(tmp_path, monkeypatch):
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "noise.bin").write_bytes(os.urandom(8192))  # incompressible: the upload passes the server's cap
    for server in serve(tmp_path, monkeypatch, queue=FakeQueue(), max_upload_bytes=4096):
        result = cli("submit", REF, str(folder))

        assert result.exit_code == 2
        assert "HTTP 413" in result.stderr
        assert "larger than the 4096-byte limit" in result.stderr
        assert server.submissions() == []


def test_public_tests_over_the_candidates_rate_exit_2_saying_when_to_retry(tmp_path, monkeypatch, solution):
    for server in serve(tmp_path, monkeypatch, queue=FakeQueue(), public_test_rate_limit=1):
        with server.service.session() as session:  # one run let in already: the next is over the rate
            server.service.admit_public_tests(session=session, candidate="alice")
        result = cli("test", REF, str(solution))

        assert result.exit_code == 2
        assert f"the server refused the public tests of {REF} for now (HTTP 429)" in result.stderr
        assert "TASKTRIAL_PUBLIC_TEST_RATE_LIMIT" in result.stderr and "retry after" in result.stderr
        assert "passed" not in result.stdout


def test_wait_follows_each_state_then_prints_the_verified_result(graded, solution):
    result = cli("submit", TASK, str(solution), "--wait")

    assert result.exit_code == 0, result.output  # a result was produced: the verdict does not decide the exit
    [stored] = graded.submissions()
    states = [
        line.split(": ", 1)[1].split()[0]
        for line in result.stderr.splitlines()
        if line.startswith(f"submission {stored.id}: ")
    ]
    assert states == ["queued", "running", "grading", "done"]
    assert f"{REF}  score 0/100  error" in result.stdout
    assert "played by the test" in result.stdout
    assert "signature verified" in result.stdout


def test_wait_json_prints_the_signed_candidate_view(graded, solution):
    result = cli("submit", REF, str(solution), "--wait", "--json")

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    jwks = graded.http.get("/.well-known/jwks.json").json()
    assert signing.verify(document, jwks).ok
    assert document["view"] == "candidate"
    assert document["submission_digest"] == tree_digest(read_tree(solution))
    assert document["verdict"] == "error"


def test_a_tampered_result_exits_1_naming_the_change(graded, solution, monkeypatch):
    fetch = client.ApiClient.result

    def tampered(self, submission_id):
        return {**fetch(self, submission_id), "score": 100.0, "verdict": "ready"}

    monkeypatch.setattr(client.ApiClient, "result", tampered)

    result = cli("submit", REF, str(solution), "--wait", "--json")

    assert result.exit_code == 1
    assert result.stdout == ""
    assert "field 'score' was changed after signing" in result.stderr
    assert "field 'verdict' was changed after signing" in result.stderr


def test_a_genuine_result_of_another_submission_exits_1(graded, solution, tmp_path, monkeypatch):
    first = cli("submit", REF, str(solution), "--wait", "--json")
    assert first.exit_code == 0, first.output
    other = json.loads(first.stdout)
    monkeypatch.setattr(client.ApiClient, "result", lambda self, submission_id: other)
    (solution / "retry.py").write_text("# changed\n")

    result = cli("submit", REF, str(solution), "--wait")

    assert result.exit_code == 1
    assert "not the files uploaded" in result.stderr
    assert "signature verified" not in result.stdout


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ([client.Event("queued", {"state": "queued"})], "the event stream ended before the submission was done"),
        ([client.Event("queued", {"state": "queued"}), client.Event("timeout", {})], "asked to reconnect"),
    ],
)
def test_a_stream_that_keeps_ending_before_done_gives_up_after_the_patience_naming_the_submission(
    server, solution, monkeypatch, events, message
):
    """It is followed again (and the state asked for) until --patience runs out, then exit 3."""
    opened = []

    def stream(self, submission_id, *, last_event_id=None):
        opened.append(submission_id)
        yield from events

    monkeypatch.setattr(client.ApiClient, "events", stream)

    result = cli("submit", REF, str(solution), "--wait", "--patience", "1")

    assert result.exit_code == 3
    said = " ".join(result.stderr.split())
    submission_id = server.submissions()[0].id
    assert message in said and f"`tasktrial watch {submission_id}`" in said
    assert len(opened) > 1  # followed again before giving up


def test_server_sent_events_are_parsed_as_the_standard_frames_them(server):
    api = client.ApiClient(URL, "t", http=server.http)
    lines = [
        ": keep-alive",
        "",
        "id: 1",
        "event: queued",
        'data: {"state":',
        'data:  "queued"}',
        "",
        "event: done",
        'data: {"score": 100}',
        "",
        "event: partial",
    ]

    events = list(api._parse_events(lines, "/events"))

    # The last event id persists until another ``id:`` line, as the standard says.
    assert events == [client.Event("queued", {"state": "queued"}, "1"), client.Event("done", {"score": 100}, "1")]


# -- server and token trouble --------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("tasks", "list"),
        ("tasks", "show", REF),
        ("start", REF, "{tmp}/out"),
        ("submit", REF, "{solution}"),
        ("test", REF, "{solution}"),
    ],
)
def test_an_unreachable_server_exits_3_saying_where_and_what_to_do(args, tmp_path, solution, monkeypatch):
    monkeypatch.setattr(client, "CONNECT_PATIENCE_SECONDS", 0.3)  # submit and test try again
    monkeypatch.setenv(config.URL_VARIABLE, UNREACHABLE)
    monkeypatch.setenv(config.TOKEN_VARIABLE, "tt_whatever")

    result = cli(*(a.format(tmp=tmp_path, solution=solution) for a in args))

    assert result.exit_code == 3
    message = " ".join(result.stderr.split())
    assert f"cannot reach the tasktrial server at {UNREACHABLE}:" in message
    assert "set TASKTRIAL_URL or run `tasktrial login`" in message
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args", [("tasks", "list"), ("tasks", "show", TASK), ("submit", REF, "{solution}")])
def test_a_rejected_token_exits_2_with_the_login_hint(server, args, solution, monkeypatch):
    monkeypatch.setenv(config.TOKEN_VARIABLE, "tt_not-a-real-token")

    result = cli(*(a.format(solution=solution) for a in args))

    assert result.exit_code == 2
    assert "the server rejected the token" in result.stderr
    assert "run `tasktrial login`" in " ".join(result.stderr.split())
    assert server.submissions() == []


def test_a_token_without_the_role_exits_2_with_the_servers_reason(server, solution, monkeypatch):
    monkeypatch.setenv(config.TOKEN_VARIABLE, server.token(Role.WORKER, "w"))

    result = cli("submit", REF, str(solution))

    assert result.exit_code == 2
    assert "refused this token" in result.stderr
    assert "your token has worker" in result.stderr


def test_no_token_exits_2_before_any_request(server, monkeypatch):
    monkeypatch.delenv(config.TOKEN_VARIABLE)

    result = cli("tasks", "list")

    assert result.exit_code == 2
    assert f"no API token for {URL}" in result.stderr
    assert server.opened == []


def test_a_url_that_is_no_tasktrial_server_exits_2(server, monkeypatch):
    monkeypatch.setenv(config.URL_VARIABLE, URL + "/somewhere-else")

    result = cli("tasks", "list")

    assert result.exit_code == 2
    assert f"{URL}/somewhere-else serves no tasktrial API" in result.stderr


# -- login and config ------------------------------------------------------------


def test_login_checks_and_stores_the_url_and_token_privately(server, monkeypatch, tmp_path):
    token = server.token(subject="bob")
    monkeypatch.delenv(config.URL_VARIABLE)
    monkeypatch.delenv(config.TOKEN_VARIABLE)

    result = cli("login", "--url", URL + "/", input=f"{token}\n")  # the token is prompted for, hidden

    assert result.exit_code == 0, result.output
    assert token not in result.output
    path = tmp_path / "config-home" / "tasktrial" / "config.json"
    assert json.loads(path.read_text()) == {"url": URL, "token": token}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["config.json"]  # no temporary file left
    assert cli("tasks", "list").exit_code == 0  # the stored settings now serve the other commands


def test_login_with_a_rejected_token_stores_nothing(server, monkeypatch, tmp_path):
    result = cli("login", "--url", URL, "--token", "tt_wrong")

    assert result.exit_code == 2
    assert "the server rejected the token" in result.stderr
    assert not (tmp_path / "config-home" / "tasktrial" / "config.json").exists()


def test_login_to_an_unreachable_server_exits_3_and_stores_nothing(monkeypatch, tmp_path):
    result = cli("login", "--url", UNREACHABLE, "--token", "tt_x")

    assert result.exit_code == 3
    assert not (tmp_path / "config-home" / "tasktrial" / "config.json").exists()


def test_the_environment_overrides_the_stored_settings(server, monkeypatch, tmp_path):
    config.save(UNREACHABLE, "tt_stale")

    assert cli("tasks", "list").exit_code == 0  # TASKTRIAL_URL and TASKTRIAL_TOKEN win
    assert server.opened == [URL]

    monkeypatch.delenv(config.URL_VARIABLE)
    assert cli("tasks", "list").exit_code == 0
    assert server.opened[-1] == UNREACHABLE  # the stored URL, as the variable is unset

    monkeypatch.delenv(config.TOKEN_VARIABLE)
    result = cli("tasks", "list")
    assert result.exit_code == 2  # the stored, stale token
    assert "the server rejected the token" in result.stderr


def test_a_corrupt_config_file_exits_2_naming_it(monkeypatch, tmp_path):
    path = tmp_path / "config-home" / "tasktrial" / "config.json"
    path.parent.mkdir(parents=True)
    path.write_text("{not json")

    result = cli("tasks", "list")

    assert result.exit_code == 2
    message = "".join(result.stderr.split())  # rich may wrap the long path
    assert str(path) in message
    assert "isnotvalidJSON" in message


def test_save_replaces_the_file_and_keeps_it_private(monkeypatch, tmp_path):
    first = config.save("http://a.test", "one")
    os.chmod(first, 0o644)
    second = config.save("http://b.test/", "two")

    assert first == second
    assert json.loads(second.read_text()) == {"url": "http://b.test", "token": "two"}
    assert stat.S_IMODE(second.stat().st_mode) == 0o600
    assert config.load() == config.ClientConfig(url="http://b.test", token="two", path=second)


# -- real grading ----------------------------------------------------------------


@pytest.mark.docker
def test_the_reference_solution_is_graded_ready_100_with_a_verified_signature(
    tmp_path, monkeypatch, solution, docker_client
):
    settings = Settings(
        data_dir=tmp_path / "data", embedded_workers=1, catalogue_dirs=[catalogue_copy(tmp_path / "catalogue")]
    )
    holder: dict[str, TestClient] = {}

    class Lazy:  # the embedded worker reaches the app through the TestClient, once it exists
        def __getattr__(self, name):
            return getattr(holder["http"], name)

    app, service = build(settings, client=Lazy())
    with TestClient(app) as http:
        holder["http"] = http
        with service.session() as session:
            token = storage.create_token(session=session, name="c", role=Role.CANDIDATE, subject="alice")
        monkeypatch.setattr(client, "open_http", lambda base_url, timeout: TestClient(app, base_url=base_url))
        monkeypatch.setenv(config.URL_VARIABLE, URL)
        monkeypatch.setenv(config.TOKEN_VARIABLE, token)

        result = cli("submit", TASK, str(solution), "--wait", "--json")

        assert result.exit_code == 0, result.output
        document = json.loads(result.stdout)
        assert (document["verdict"], document["score"]) == ("ready", 100)
        assert signing.verify(document, http.get("/.well-known/jwks.json").json()).ok
        assert document["submission_digest"] == tree_digest(read_tree(solution))
    service.engine.dispose()


def test_a_reconnect_is_followed_from_the_last_event_seen_after_the_servers_pause():
    """At shutdown the server says ``reconnect``: the client waits at least its ``retry_ms`` (plus
    jitter), then resumes with Last-Event-ID."""
    import httpx

    from cli import waiting

    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if not request.url.path.endswith("/events"):  # between streams it asks for the state
            return httpx.Response(200, json={"id": "s1", "state": "queued", "result_id": None})
        seen.append(request.headers.get("last-event-id"))
        if len(seen) == 1:
            body = (
                'retry: 1000\n\nid: 7\nevent: queued\ndata: {"state": "queued"}\n\n'
                'event: reconnect\ndata: {"retry_ms": 250}\n\n'
            )
        else:
            body = 'id: 9\nevent: done\ndata: {"state": "done", "score": 100}\n\n'
        return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})

    pauses: list[float] = []
    kinds: list[str] = []
    with httpx.Client(transport=httpx.MockTransport(handler), base_url=URL) as http:
        api = client.ApiClient(URL, "t", http=http)
        data = waiting.follow(
            api,
            "s1",
            on_event=lambda event: kinds.append(event.kind),
            patience=waiting.Patience(seconds=60),
            retry_on=(client.ServerUnreachable,),
            sleep=pauses.append,
            rng=lambda: 0.5,
        )
    assert (kinds, data) == (["queued"], {"state": "done", "score": 100})
    assert seen == [None, "7"]
    assert pauses == [0.25 + 0.25]  # the server's pause, plus jitter (half of the first backoff step)
