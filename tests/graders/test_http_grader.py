"""The http kind: building the service run, judging recorded responses, the harness, the example task."""

from __future__ import annotations

import base64
import copy
import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from engine import schemas, scoring
from engine.errors import GraderError
from engine.models import SERVICE_HOST, CheckStatus, ResourceLimits, RunOutcome, ServiceOutcome, StepOutcome
from graders.http_grader import REPORT, REQUESTS, HttpGrader
from runners.fake import FakeRunner
from tests import factories
from tests.conftest import CATALOGUE

SECRET = "expected-value-that-must-stay-on-the-host"
CHECKS = [
    {
        "name": "list",
        "request": {"method": "GET", "path": "/items?limit=2"},
        "expect": {
            "status": 200,
            "headers": {"Content-Type": "application/json"},
            "json": {"items": [{"id": 1}], "total": 1, "note": SECRET},
        },
    },
    {
        "name": "create",
        "request": {"method": "POST", "path": "/items", "json": {"name": "lamp"}},
        "expect": {"status": 201, "headers": {"Location": "/items/1"}},
    },
    {
        "name": "text",
        "request": {"method": "POST", "path": "/echo", "headers": {"X-Mode": "raw"}, "body": "hi"},
        "expect": {"body": "hi"},
    },
]


def http_task(tmp_path: Path, checks=CHECKS, **grader):
    root = tmp_path / "task"
    (root / "grader").mkdir(parents=True)
    (root / "grader" / "checks.yaml").write_text(yaml.safe_dump(checks))
    config = {"kind": "http", "start": ["python3", "server.py", "8080"], "port": 8080, **grader}
    return factories.task(root=root, grader=config, limits=ResourceLimits(time_seconds=15))


def response(status=200, headers=(("Content-Type", "application/json"),), body: bytes | str = b"", **extra):
    data = body.encode() if isinstance(body, str) else body
    return {
        "status": status,
        "headers": [list(h) for h in headers],
        "body_b64": base64.b64encode(data).decode(),
        "truncated": False,
        "seconds": 0.01,
        **extra,
    }


def served(responses: dict | None, *, ready=True, exit_code=None, client_timed_out=False, stderr=b"") -> RunOutcome:
    collected = {} if responses is None else {REPORT: json.dumps({"responses": responses}).encode()}
    client = factories.outcome(
        StepOutcome(exit_code=None if client_timed_out else 0, timed_out=client_timed_out), collected=collected
    )
    return RunOutcome(
        backend="fake",
        image="sha256:fake",
        steps=(),
        client=client,
        service=ServiceOutcome(ready=ready, exit_code=exit_code, stderr=stderr),
    )


def grade(task, outcome):
    return HttpGrader(FakeRunner(lambda spec: outcome)).grade(task, {}, outcome)


def by_id(grading):
    return {check.id: check for check in grading.checks}


# -- building the run --------------------------------------------------------


def test_the_service_runs_the_submission_and_the_client_holds_only_requests(tmp_path):
    task = http_task(tmp_path, ready_timeout_seconds=4, request_timeout_seconds=2)
    spec = HttpGrader(FakeRunner(lambda spec: None)).build_run(task, {"server.py": b"print('hi')"})

    assert spec.service.argv == ("python3", "server.py", "8080")
    assert (spec.service.port, spec.service.ready_timeout_seconds) == (8080, 4.0)
    assert dict(spec.workspace) == {"server.py": b"print('hi')"}
    assert dict(spec.grader_files) == {} and spec.steps == ()
    client = spec.client
    assert client.environment == "python" and client.limits.time_seconds == 15
    assert f"http://{SERVICE_HOST}:8080" in client.steps[0].argv
    requests = json.loads(client.grader_files[REQUESTS.removeprefix("/grader/")])
    assert requests["timeout"] == 2
    assert [r["name"] for r in requests["requests"]] == ["list", "create", "text"]
    create = requests["requests"][1]
    assert base64.b64decode(create["body_b64"]) == b'{"name": "lamp"}'
    assert create["headers"]["Content-Type"] == "application/json"
    assert requests["requests"][2]["headers"] == {"X-Mode": "raw"}
    everything = b"".join([*client.grader_files.values(), *spec.workspace.values()])
    assert SECRET.encode() not in everything, "expectations must never leave the host"


# -- judging responses -------------------------------------------------------


def test_matching_responses_pass_and_score_100(tmp_path):
    task = http_task(tmp_path)
    grading = grade(
        task,
        served(
            {
                "list": response(
                    body=json.dumps({"items": [{"id": 1, "name": "x"}], "total": 1, "note": SECRET, "more": 1})
                ),
                "create": response(201, headers=[("location", "/items/1")]),
                "text": response(200, headers=[], body="hi"),
            }
        ),
    )
    assert [c.status for c in grading.checks] == [CheckStatus.PASS] * 3
    assert grading.crashed == ""
    assert scoring.weighted_score(grading.checks) == 100


def test_a_content_type_with_parameters_matches_its_media_type(tmp_path):
    task = http_task(tmp_path, checks=CHECKS[:1])
    body = json.dumps({"items": [{"id": 1}], "total": 1, "note": SECRET})
    grading = grade(
        task, served({"list": response(headers=[("Content-Type", "application/json; charset=utf-8")], body=body)})
    )
    assert grading.checks[0].status is CheckStatus.PASS


@pytest.mark.parametrize(
    ("actual", "problem"),
    [
        ({"items": [{"id": 1}, {"id": 2}], "total": 1, "note": SECRET}, "at $.items expected 1 items, got 2"),
        ({"items": [{"id": "1"}], "total": 1, "note": SECRET}, 'at $.items[0].id expected 1, got "1"'),
        ({"items": [{"id": True}], "total": 1, "note": SECRET}, "at $.items[0].id expected 1, got true"),
        ({"items": [{"id": 1}], "note": SECRET}, "at $ missing key 'total'"),
        ({"items": {"id": 1}, "total": 1, "note": SECRET}, "at $.items expected a list"),
    ],
)
def test_a_json_body_must_contain_the_expected_subset(tmp_path, actual, problem):
    task = http_task(tmp_path, checks=CHECKS[:1])
    check = grade(task, served({"list": response(body=json.dumps(actual))})).checks[0]
    assert check.status is CheckStatus.FAIL
    assert check.message.startswith("GET /items?limit=2: ")
    assert problem in check.message


def test_integers_and_floats_compare_by_value(tmp_path):
    task = http_task(
        tmp_path, checks=[{"name": "n", "request": {"method": "GET", "path": "/"}, "expect": {"json": {"price": 80}}}]
    )
    assert grade(task, served({"n": response(body='{"price": 80.0}')})).checks[0].status is CheckStatus.PASS


def test_status_header_and_body_mismatches_are_each_explained(tmp_path):
    task = http_task(tmp_path)
    checks = by_id(
        grade(
            task,
            served(
                {
                    "list": response(404, headers=[("Content-Type", "text/html")], body="<h1>nope</h1>"),
                    "create": response(201, headers=[("Location", "/items/7")]),
                    "text": response(200, body="ho"),
                }
            ),
        )
    )
    assert {c.status for c in checks.values()} == {CheckStatus.FAIL}
    assert "expected status 200, got 404" in checks["list"].message
    assert "header Content-Type: expected 'application/json', got 'text/html'" in checks["list"].message
    assert "the body is not JSON" in checks["list"].message
    assert "body was '<h1>nope</h1>'" in checks["list"].message
    assert "header Location: expected '/items/1', got '/items/7'" in checks["create"].message
    assert "expected body 'hi'" in checks["text"].message


def test_a_request_that_got_no_answer_fails_with_the_error(tmp_path):
    task = http_task(tmp_path, checks=CHECKS[1:2])
    check = grade(task, served({"create": {"error": "ConnectionResetError: reset by peer", "seconds": 0.1}})).checks[0]
    assert check.status is CheckStatus.FAIL
    assert "no response: ConnectionResetError" in check.message


def test_a_service_that_never_answers_fails_every_check_and_crashes(tmp_path):
    task = http_task(tmp_path, ready_timeout_seconds=7)
    grading = grade(task, served(None, ready=False, stderr=b"Traceback: boom"))
    reason = "the service did not answer on port 8080 within 7 s"
    assert [(c.status, c.message) for c in grading.checks] == [(CheckStatus.FAIL, reason)] * 3
    assert grading.crashed.startswith(reason) and "boom" in grading.crashed


def test_a_service_that_exited_early_says_so(tmp_path):
    task = http_task(tmp_path)
    grading = grade(task, served(None, ready=False, exit_code=3))
    assert grading.checks[0].message == "the service exited with code 3 before it answered on port 8080"
    assert grading.crashed


def test_checks_cut_short_by_the_time_limit_fail_and_the_run_timed_out(tmp_path):
    task = http_task(tmp_path)
    body = json.dumps({"items": [{"id": 1}], "total": 1, "note": SECRET})
    outcome = served({"list": response(body=body)}, client_timed_out=True)
    checks = by_id(grade(task, outcome))
    assert outcome.timed_out
    assert checks["list"].status is CheckStatus.PASS
    assert checks["create"].status is CheckStatus.FAIL
    assert "ran out of time" in checks["create"].message


def test_a_service_that_dies_while_checked_is_a_crash(tmp_path):
    task = http_task(tmp_path, checks=CHECKS[1:2])
    grading = grade(task, served({"create": response(201, headers=[("Location", "/items/1")])}, exit_code=1))
    assert grading.checks[0].status is CheckStatus.PASS
    assert "exited with code 1 while it was being checked" in grading.crashed


def test_a_missing_harness_report_is_a_grader_fault(tmp_path):
    with pytest.raises(GraderError, match="wrote no report"):
        grade(http_task(tmp_path), served(None))


def test_an_outcome_without_a_service_is_a_grader_fault(tmp_path):
    with pytest.raises(GraderError, match="no service run"):
        grade(http_task(tmp_path), factories.outcome())


def test_weights_come_from_the_task_rules(tmp_path):
    task = http_task(tmp_path)
    task = factories.task(root=task.root, grader=task.grader, check_rules=(factories.rule("create", weight=3),))
    checks = by_id(grade(task, served(None, ready=False)))
    assert (checks["create"].weight, checks["list"].weight) == (3, 1.0)


# -- validation --------------------------------------------------------------


def test_problems_name_the_file_and_the_field(tmp_path):
    bad = [
        CHECKS[0],
        {"name": "Bad Name", "request": {"method": "GET", "path": "/"}, "expect": {"status": 200}},
        {"name": "list", "request": {"method": "FETCH", "path": "x"}, "expect": {}},
    ]
    problems = HttpGrader(FakeRunner(lambda s: None)).problems(http_task(tmp_path, checks=bad))
    where = {p.location for p in problems}
    assert {"$[1].name", "$[2].request.method", "$[2].request.path", "$[2].expect"} <= where
    assert all(p.file == "sample/grader/checks.yaml" for p in problems)


def test_duplicate_names_and_a_missing_file_are_problems(tmp_path):
    grader = HttpGrader(FakeRunner(lambda s: None))
    # Two equal copies: the same object twice would be dumped as an anchor and an alias, which loading refuses.
    problems = grader.problems(http_task(tmp_path, checks=[CHECKS[0], copy.deepcopy(CHECKS[0])]))
    assert [(p.location, "used by an earlier check" in p.message) for p in problems] == [("$[1].name", True)]
    (tmp_path / "task" / "grader" / "checks.yaml").unlink()
    task = factories.task(root=tmp_path / "task", grader={"kind": "http", "start": ["x"], "port": 1})
    assert "is missing" in grader.problems(task)[0].message


def test_the_task_schema_requires_start_and_port_and_rejects_unknown_fields():
    doc = factories.pytest_task_yaml(grader={"kind": "http", "start": ["python3", "s.py"], "port": 8080})
    assert schemas.problems("task", doc) == []
    doc["grader"] = {"kind": "http", "start": ["python3"]}
    assert any("'port' is a required property" in m for _, m in schemas.problems("task", doc))
    doc["grader"] = {"kind": "http", "start": ["python3"], "port": 8080, "command": ["x"]}
    assert schemas.problems("task", doc), "fields of other kinds are rejected"
    doc["grader"] = {"kind": "http", "start": ["python3"], "port": 70000}
    assert schemas.problems("task", doc)


# -- the harness, run on the host against a real server ---------------------


class _Echo(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        data = json.dumps({"got": body.decode(), "type": self.headers["Content-Type"]}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_the_harness_records_what_the_service_answered(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        requests = {
            "timeout": 5,
            "requests": [
                {
                    "name": "post",
                    "method": "POST",
                    "path": "/x",
                    "headers": {"Content-Type": "text/plain"},
                    "body_b64": base64.b64encode(b"hello").decode(),
                },
            ],
        }
        (tmp_path / "requests.json").write_text(json.dumps(requests))
        harness = Path(__file__).resolve().parents[2] / "graders" / "harness" / "http_harness.py"
        base = f"http://127.0.0.1:{server.server_address[1]}"
        subprocess.run(
            [sys.executable, "-I", str(harness), base, str(tmp_path / "requests.json"), str(tmp_path / "report.json")],
            check=True,
            timeout=30,
        )
    finally:
        server.shutdown()
        server.server_close()
    report = json.loads((tmp_path / "report.json").read_text())["responses"]
    assert report["post"]["status"] == 201
    assert json.loads(base64.b64decode(report["post"]["body_b64"])) == {"got": "hello", "type": "text/plain"}
    assert ["Content-Type", "application/json"] in report["post"]["headers"]


class _Flood(BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"\x01" * (300 * 1024)
        self.send_response(200)
        for index in range(60):
            self.send_header(f"X-Junk-{index}", "\x7f" * 2000)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _run_harness(tmp_path, base, requests):
    (tmp_path / "requests.json").write_text(json.dumps(requests))
    harness = Path(__file__).resolve().parents[2] / "graders" / "harness" / "http_harness.py"
    subprocess.run(
        [sys.executable, "-I", str(harness), base, str(tmp_path / "requests.json"), str(tmp_path / "report.json")],
        check=True,
        timeout=60,
    )
    return tmp_path / "report.json"


def test_the_harness_keeps_its_report_small_whatever_the_service_sends(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Flood)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        requests = {
            "timeout": 5,
            "requests": [
                {"name": f"r{i}", "method": "GET", "path": "/", "headers": {}, "body_b64": None} for i in range(60)
            ],
        }
        path = _run_harness(tmp_path, f"http://127.0.0.1:{server.server_address[1]}", requests)
    finally:
        server.shutdown()
        server.server_close()
    responses = json.loads(path.read_text())["responses"]
    assert len(responses) == 60 and all(r["status"] == 200 and r["truncated"] for r in responses.values())
    assert path.stat().st_size < 3 * 1024 * 1024, "far below what the runner reads back (4 MB)"


def test_the_harness_records_a_refused_connection_as_an_error(tmp_path):
    spare = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    port = spare.server_address[1]
    spare.server_close()
    (tmp_path / "requests.json").write_text(
        json.dumps(
            {
                "timeout": 2,
                "requests": [{"name": "nobody", "method": "GET", "path": "/", "headers": {}, "body_b64": None}],
            }
        )
    )
    harness = Path(__file__).resolve().parents[2] / "graders" / "harness" / "http_harness.py"
    subprocess.run(
        [
            sys.executable,
            "-I",
            str(harness),
            f"http://127.0.0.1:{port}",
            str(tmp_path / "requests.json"),
            str(tmp_path / "report.json"),
        ],
        check=True,
        timeout=30,
    )
    entry = json.loads((tmp_path / "report.json").read_text())["responses"]["nobody"]
    assert entry["error"].startswith("ConnectionRefusedError")


# -- the example task, in the real sandbox -----------------------------------


@pytest.mark.docker
def test_items_api_reference_is_ready_and_starter_is_not(tmp_path, docker_runner, graders):
    from engine import packs
    from engine.checking import check_task
    from runners import images

    pack_root = tmp_path / "pack"
    factories.one_task_pack(CATALOGUE / "backend-services", "items-api", pack_root)
    pack = packs.load_pack(pack_root, environments=images.environments(), task_checks=graders.problems)
    task = pack.task("items-api")

    report = check_task(task, runner=docker_runner, grader=graders.for_task(task), repeat=3)

    assert report.problems == []
    assert [(r.verdict.value, r.score) for r in report.reference] == [("ready", 100.0)] * 3
    assert all(r.verdict.value == "not_ready" and r.status.value == "completed" for r in report.starter)
