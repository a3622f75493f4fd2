"""The ``http`` kind: the candidate's program is a service; hidden checks are HTTP requests.

The candidate's container runs ``grader.start`` and must listen on
``grader.port``. A separate client sandbox, on a private network that
reaches nothing else, sends the requests of ``grader/checks.yaml`` once the
service accepts connections. Only the requests enter the client; the
expectations stay on the host, where each response is compared. The
candidate's container never holds any of it.

``checks.yaml`` is a list of checks, run in order against one service
(state carries over from one to the next)::

    - name: create-item                 # the check's id
      request: {method: POST, path: /items, headers: {...}, json: {...}}   # or body: "text"
      expect: {status: 201, json: {...}, headers: {...}, body: "text"}

``expect.json`` is a subset match: every key it names must be present with
a matching value (recursively); lists must have the same length and match
element by element; ``1`` and ``1.0`` are equal, ``true`` and ``1`` are not.
A header matches when equal ignoring case, or when the part before ``;``
is (so ``application/json`` matches ``application/json; charset=utf-8``).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from engine import yamlsafe
from engine.errors import GraderError, Problem
from engine.models import (
    SERVICE_HOST,
    CheckStatus,
    ResourceLimits,
    RunOutcome,
    RunSpec,
    Service,
    Step,
    Task,
)
from engine.ports import Grading, Runner
from graders._common import make_check, tail
from graders._harness import HARNESS_DIR, HTTP, REPORT, harness_files, harness_path

CHECKS_FILE = "checks.yaml"
REQUESTS = harness_path("requests.json")
CLIENT_ENVIRONMENT = "python"
DEFAULT_READY_TIMEOUT = 10.0
DEFAULT_REQUEST_TIMEOUT = 5.0
EXCERPT_CHARS = 300

_HEADERS = {"type": "object", "additionalProperties": {"type": "string"}}
CHECKS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "required": ["name", "request", "expect"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "pattern": "^[a-z0-9]+(-[a-z0-9]+)*$", "maxLength": 100},
            "request": {
                "type": "object",
                "required": ["method", "path"],
                "additionalProperties": False,
                "properties": {
                    "method": {"enum": ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]},
                    "path": {"type": "string", "pattern": "^/[^\\s]*$"},
                    "headers": _HEADERS,
                    "json": True,
                    "body": {"type": "string"},
                },
                "not": {"required": ["json", "body"]},
            },
            "expect": {
                "type": "object",
                "minProperties": 1,
                "additionalProperties": False,
                "properties": {
                    "status": {"type": "integer", "minimum": 100, "maximum": 599},
                    "json": True,
                    "headers": _HEADERS,
                    "body": {"type": "string"},
                },
                "not": {"required": ["json", "body"]},
            },
        },
    },
}


@dataclass(frozen=True)
class HttpCheck:
    name: str
    request: Mapping[str, Any]
    expect: Mapping[str, Any]

    @property
    def label(self) -> str:
        return f"{self.request['method']} {self.request['path']}"


def load_checks(task: Task) -> list[HttpCheck]:
    """The checks of ``grader/checks.yaml``.

    Raises:
        GraderError: the file is missing or invalid (pack validation reports the details).
    """
    document, problems = _read_checks(task)
    if problems:
        raise GraderError(f"task {task.id!r}: {problems[0]}")
    return [HttpCheck(item["name"], item["request"], item["expect"]) for item in document]


class HttpGrader:
    kind = "http"

    def __init__(self, runner: Runner | None = None, *, cache_dir: Path | None = None):
        """Takes the registry's one signature (``graders.GraderFactory``); it starts no run of its own."""

    def problems(self, task: Task) -> list[Problem]:
        return _read_checks(task)[1]

    def static_check_ids(self, task: Task) -> tuple[tuple[str, ...], bool] | None:
        """One check per entry of ``checks.yaml``, by name; None while that file is invalid."""
        document, problems = _read_checks(task)
        return None if problems else (tuple(item["name"] for item in document), False)

    def build_run(self, task: Task, submission: Mapping[str, bytes]) -> RunSpec:
        checks = load_checks(task)
        timeout = float(task.grader.get("request_timeout_seconds", DEFAULT_REQUEST_TIMEOUT))
        requests = {"timeout": timeout, "requests": [_wire_request(check) for check in checks]}
        base_url = f"http://{SERVICE_HOST}:{task.grader['port']}"
        client = RunSpec(
            environment=CLIENT_ENVIRONMENT,
            limits=_client_limits(task.limits),
            steps=(Step(("python3", "-I", harness_path("http_harness.py"), base_url, REQUESTS, REPORT)),),
            grader_files={**harness_files(HTTP), f"{HARNESS_DIR}/requests.json": json.dumps(requests).encode()},
            collect=(REPORT,),
        )
        return RunSpec(
            environment=task.environment,
            limits=task.limits,
            steps=(),
            workspace=submission,
            service=Service(tuple(task.grader["start"]), int(task.grader["port"]), _ready_timeout(task)),
            client=client,
        )

    def grade(self, task: Task, submission: Mapping[str, bytes], outcome: RunOutcome) -> Grading:
        checks = load_checks(task)
        service, client = outcome.service, outcome.client
        if service is None or client is None:
            raise GraderError(f"task {task.id!r}: the runner reported no service run for an http task")
        if not service.ready:
            port = task.grader["port"]
            if service.exit_code is not None:
                reason = f"the service exited with code {service.exit_code} before it answered on port {port}"
            else:
                reason = f"the service did not answer on port {port} within {_ready_timeout(task):g} s"
            failed = tuple(make_check(task, c.name, CheckStatus.FAIL, message=reason) for c in checks)
            output = tail(service.stderr or service.stdout, 1500).strip()
            return Grading(failed, crashed=reason + (f":\n{output}" if output else ""))
        report = _report(client)
        if report is None:
            if client.timed_out:
                report = {}
            else:
                step = client.steps[-1] if client.steps else None
                detail = tail(step.stderr, 1000) if step else "no step ran"
                raise GraderError(
                    f"task {task.id!r}: the http harness wrote no report (exit {client.exit_code}): {detail}",
                    output=detail,
                )
        result = []
        for check in checks:
            response = report.get(check.name)
            if response is None:
                why = "did not run: the checks ran out of time" if client.timed_out else "did not run"
                result.append(make_check(task, check.name, CheckStatus.FAIL, message=f"{check.label}: {why}"))
                continue
            problems = _compare(check.expect, response)
            status = CheckStatus.FAIL if problems else CheckStatus.PASS
            message = f"{check.label}: " + "; ".join(problems) if problems else ""
            result.append(make_check(task, check.name, status, message=message, duration=response.get("seconds")))
        crashed = ""
        if service.exit_code is not None:
            crashed = f"the service exited with code {service.exit_code} while it was being checked"
        return Grading(tuple(result), crashed)


# -- reading the checks ------------------------------------------------------


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(CHECKS_SCHEMA)


def _read_checks(task: Task) -> tuple[Any, list[Problem]]:
    label = f"{task.id}/grader/{CHECKS_FILE}"
    path = task.root / "grader" / CHECKS_FILE
    if not path.is_file():
        return None, [Problem(label, "", "is missing: an http task declares its checks there")]
    try:
        document = yamlsafe.load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        return None, [Problem(label, "", f"is not valid YAML: {exc}")]
    errors = sorted(_validator().iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    problems = [Problem(label, _path(e.absolute_path), e.message) for e in errors]
    if not problems:
        seen: set[str] = set()
        for index, item in enumerate(document):
            if item["name"] in seen:
                problems.append(Problem(label, f"$[{index}].name", f"{item['name']!r} is used by an earlier check"))
            seen.add(item["name"])
    return document, problems


def _path(parts: Any) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _wire_request(check: HttpCheck) -> dict[str, Any]:
    """What the harness sends: method, path, headers and the body as bytes (base64)."""
    request = check.request
    headers = dict(request.get("headers", {}))
    body: bytes | None = None
    if "json" in request:
        body = json.dumps(request["json"]).encode()
        if not any(name.lower() == "content-type" for name in headers):
            headers["Content-Type"] = "application/json"
    elif "body" in request:
        body = request["body"].encode()
    return {
        "name": check.name,
        "method": request["method"],
        "path": request["path"],
        "headers": headers,
        "body_b64": None if body is None else base64.b64encode(body).decode("ascii"),
    }


def _ready_timeout(task: Task) -> float:
    return float(task.grader.get("ready_timeout_seconds", DEFAULT_READY_TIMEOUT))


def _client_limits(limits: ResourceLimits) -> ResourceLimits:
    """The client's own limits: the task's time budget for all requests, and a small fixed footprint."""
    return ResourceLimits(time_seconds=limits.time_seconds, memory_mb=128, cpus=0.5, pids=32, disk_mb=16, output_kb=64)


# -- reading and judging responses -------------------------------------------


def _report(client: RunOutcome) -> dict[str, Any] | None:
    raw = client.collected.get(REPORT)
    if raw is None:
        return None
    try:
        document = json.loads(raw)
    except ValueError:
        return None
    responses = document.get("responses") if isinstance(document, dict) else None
    return responses if isinstance(responses, dict) else None


def _compare(expect: Mapping[str, Any], response: Mapping[str, Any]) -> list[str]:
    """What differs between ``expect`` and a recorded response; empty when the check passes."""
    if "error" in response:
        return [f"no response: {response['error']}"]
    problems = []
    status = response.get("status")
    if "status" in expect and status != expect["status"]:
        problems.append(f"expected status {expect['status']}, got {status}")
    headers = [(str(k).lower(), str(v)) for k, v in response.get("headers", [])]
    for name, wanted in expect.get("headers", {}).items():
        values = [v for k, v in headers if k == name.lower()]
        if not values:
            problems.append(f"missing header {name}")
        elif not any(_header_matches(wanted, value) for value in values):
            problems.append(f"header {name}: expected {wanted!r}, got {values[0]!r}")
    body = base64.b64decode(response.get("body_b64", ""))
    text = body.decode("utf-8", "replace")
    if "json" in expect:
        if response.get("truncated"):
            problems.append("the body is too large to compare")
        else:
            try:
                actual = json.loads(text)
            except ValueError:
                problems.append("the body is not JSON")
            else:
                problems.extend(_subset("$", expect["json"], actual))
    if "body" in expect and text != expect["body"]:
        problems.append(f"expected body {expect['body']!r}")
    if problems:
        excerpt = text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "..."
        problems.append(f"body was {excerpt!r}")
    return problems


def _header_matches(wanted: str, value: str) -> bool:
    wanted, value = wanted.strip().lower(), value.strip().lower()
    return value == wanted or value.split(";", 1)[0].strip() == wanted


def _subset(where: str, expected: Any, actual: Any) -> list[str]:
    """Where ``actual`` fails to contain ``expected`` (see the module's docstring); at most a few places."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"at {where} expected an object, got {_short(actual)}"]
        problems = []
        for key, value in expected.items():
            if key not in actual:
                problems.append(f"at {where} missing key {key!r}")
            else:
                problems.extend(_subset(f"{where}.{key}", value, actual[key]))
        return problems[:5]
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"at {where} expected a list, got {_short(actual)}"]
        if len(actual) != len(expected):
            return [f"at {where} expected {len(expected)} items, got {len(actual)}"]
        problems = []
        for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
            problems.extend(_subset(f"{where}[{index}]", want, got))
        return problems[:5]
    if _same_scalar(expected, actual):
        return []
    return [f"at {where} expected {_short(expected)}, got {_short(actual)}"]


def _same_scalar(expected: Any, actual: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return isinstance(expected, bool) and isinstance(actual, bool) and expected == actual
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return expected == actual
    return type(expected) is type(actual) and expected == actual


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."
