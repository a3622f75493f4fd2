"""The candidate's commands: ``tasks list|show``, ``start``, ``submit`` and ``login``.

They talk to a tasktrial server (``cli.config`` says where, with which token)
through ``ApiClient``, a small client over httpx. ``ApiClient`` turns every
transport failure and HTTP error into a tasktrial error that names the server
and what to do (``engine.errors``); ``cli._output.translate_errors`` turns those into exit codes:
0 done (a result was produced, whatever its verdict); 1 the result's signature
or binding does not verify; 4 the task's grader failed (the attempt does not count); 2 bad input (an unknown or ambiguous task, a
rejected folder or upload, a missing or rejected token); 3 the server is
unreachable or failed.

httpx, archives and signature checks are imported when a command runs, never at start-up.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from cli import config, waiting
from cli._output import EXIT_BAD_INPUT, EXIT_GRADER_FAULT, EXIT_INFRASTRUCTURE, EXIT_PROBLEMS, err, fail, out  # noqa: F401
from cli._results import print_result
from engine.errors import (
    AmbiguousTask,
    ConfigurationError,
    Conflict,
    NotFound,
    ServerBusy,
    ServerError,
    ServerUnreachable,
    SubmissionRejected,
    TokenRejected,
)

if TYPE_CHECKING:
    import httpx

    from engine import signing

#: Seconds (httpx.Timeout's fields). The server sends a keep-alive every 15 s while a run is under way,
#: so a 60 s read timeout never cuts a live stream.
TIMEOUT = {"timeout": 30.0, "connect": 10.0, "read": 60.0}
STATES = ("queued", "running", "grading", "done")
#: How long ``submit`` and ``test`` try again while no connection can be made at all (the server is
#: starting) or the server sheds them (busy). ``submit``'s help names the figure.
CONNECT_PATIENCE_SECONDS = 20.0
PatienceOption = Annotated[
    float,
    typer.Option(
        "--patience",
        min=1.0,
        help="Seconds to keep reconnecting to a server that went away "
        "before giving up (the submission stays on the server).",
    ),
]
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


# -- the API client ------------------------------------------------------------


def open_http(base_url: str, timeout: dict[str, float]) -> httpx.Client:
    """The HTTP client every command talks through. Tests replace this factory (e.g. with a TestClient)."""
    import httpx

    return httpx.Client(base_url=base_url, timeout=httpx.Timeout(**timeout))


@dataclass(frozen=True)
class TaskRef:
    """A task named as the server names it: ``PACK/TASK``."""

    pack: str
    task: str

    def __str__(self) -> str:
        return f"{self.pack}/{self.task}"

    @property
    def path(self) -> str:
        return f"/v1/tasks/{quote(self.pack, safe='')}/{quote(self.task, safe='')}"


@dataclass(frozen=True)
class Event:
    """One Server-Sent Event: its ``event:`` name, its JSON ``data`` and its ``id:`` (if any)."""

    kind: str
    data: dict[str, Any]
    id: str | None = None


class ApiClient:
    """The calls the candidate CLI makes, over an ``httpx.Client`` whose base URL is the server.

    Every method raises a ``TaskTrialError`` rather than an httpx exception:
    ``ServerUnreachable`` (no connection), ``TokenRejected`` (401 and 403),
    ``NotFound`` (404), ``Conflict`` (409), ``SubmissionRejected`` (400, 413, 415, 422, with the
    server's detail), ``ServerBusy`` (a 503 the server shed before any work) and ``ServerError``
    (another 5xx, a broken connection, an answer that is not what a tasktrial server sends).
    """

    #: Which token a 403 asks for (the author's commands say "an author's token").
    token_hint = "a candidate's token"

    def __init__(self, url: str, token: str, *, http: httpx.Client):
        self.url = url
        self._headers = {"Authorization": f"Bearer {token}"}
        self._http = http

    def tasks(self) -> list[dict[str, Any]]:
        """Every task of the catalogue (the latest version of each pack)."""
        try:
            response = self._request("GET", "/v1/tasks", what="the catalogue", missing="GET /v1/tasks answered 404")
        except NotFound as exc:
            raise ConfigurationError(
                f"{self.url} serves no tasktrial API ({exc}); check {config.URL_VARIABLE} or run `tasktrial login`"
            ) from exc
        body = self._json(response, "/v1/tasks")
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise self._not_tasktrial("/v1/tasks")
        return body["data"]

    def task(self, ref: TaskRef) -> dict[str, Any]:
        """One task with its statement."""
        return self._json(
            self._request("GET", ref.path, what=f"task {ref}", missing=f"unknown task {str(ref)!r}"), ref.path
        )

    def starter(self, ref: TaskRef) -> bytes:
        """The task's starter as a tar.gz whose files sit under a folder named after the task."""
        return self._request(
            "GET", f"{ref.path}/starter.tar.gz", what=f"the starter of {ref}", missing=f"unknown task {str(ref)!r}"
        ).content

    def submit(self, ref: TaskRef, archive: bytes, assessment: str | None = None) -> dict[str, Any]:
        """Upload a tar.gz for ``ref`` (an attempt at ``assessment``); the server's 202 answer (``id``, ``state``, ``links``)."""
        response = self._request(
            "POST",
            "/v1/submissions",
            what=f"the submission to {ref}",
            missing=f"unknown task {str(ref)!r}",
            data={"task": str(ref), **({"assessment": assessment} if assessment else {})},
            files={"archive": (f"{ref.task}.tar.gz", archive, "application/gzip")},
        )
        body = self._json(response, "/v1/submissions")
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            raise self._not_tasktrial("/v1/submissions")
        return body

    def public_tests(self, ref: TaskRef, archive: bytes) -> dict[str, Any]:
        """Run ``ref``'s public tests on the server over a tar.gz; their output (nothing signed or counted)."""
        path = f"{ref.path}/public-tests"
        response = self._request(
            "POST",
            path,
            what=f"the public tests of {ref}",
            missing=f"task {str(ref)!r} is unknown or has no public tests",
            files={"archive": (f"{ref.task}.tar.gz", archive, "application/gzip")},
        )
        body = self._json(response, path)
        if not isinstance(body, dict) or "passed" not in body:
            raise self._not_tasktrial(path)
        return body

    def events(self, submission_id: str, *, last_event_id: str | None = None) -> Iterator[Event]:
        """A submission's Server-Sent Events (queued, running, grading, done) over one connection, as they come.

        ``last_event_id`` resumes after that event (``Last-Event-ID``). The stream may end with
        ``reconnect`` (the server is shutting down) or ``timeout``: following again, through
        restarts and dropped connections, is ``cli.waiting.follow``'s part.
        """
        path = f"/v1/submissions/{quote(submission_id, safe='')}/events"
        headers = dict(self._headers, **({"Last-Event-ID": last_event_id} if last_event_id else {}))
        with self._translated(), self._http.stream("GET", path, headers=headers) as response:
            if response.is_error:
                response.read()
                self._check(response, what=f"unknown submission {submission_id!r}")
            yield from self._parse_events(response.iter_lines(), path)

    def result(self, submission_id: str) -> dict[str, Any]:
        """The signed result document (the view this token may see)."""
        path = f"/v1/submissions/{quote(submission_id, safe='')}/result"
        body = self._json(self._request("GET", path, what=f"the result of submission {submission_id!r}"), path)
        if not isinstance(body, dict):
            raise self._not_tasktrial(path)
        return body

    def submission(self, submission_id: str) -> dict[str, Any]:
        """A submission's state (``state``, ``result_id`` once there is one): what ``watch`` polls."""
        path = f"/v1/submissions/{quote(submission_id, safe='')}"
        body = self._json(
            self._request(
                "GET", path, what=f"submission {submission_id!r}", missing=f"unknown submission {submission_id!r}"
            ),
            path,
        )
        if not isinstance(body, dict):
            raise self._not_tasktrial(path)
        return body

    def result_inclusion(self, result_id: str, size: int | None) -> dict[str, Any]:
        """The result with its log index and inclusion proof (the view this token may see)."""
        path = f"/v1/results/{quote(result_id, safe='')}/inclusion"
        body = self._json(
            self._request(
                "GET",
                path,
                what=f"the inclusion proof of result {result_id!r}",
                params={} if size is None else {"size": size},
            ),
            path,
        )
        if not isinstance(body, dict) or not isinstance(body.get("log"), dict):
            raise self._not_tasktrial(path)
        return body

    def call(self, method: str, path: str, *, what: str, missing: str | None = None, **kwargs: Any) -> Any:
        """Any other JSON call of the API (the author's commands), with the same error translation."""
        return self._json(self._request(method, path, what=what, missing=missing, **kwargs), path)

    def jwks(self) -> dict[str, Any]:
        """The server's public signing keys."""
        return self._json(
            self._request("GET", "/.well-known/jwks.json", what="the public keys"), "/.well-known/jwks.json"
        )

    # -- plumbing --

    def _request(
        self, method: str, path: str, *, what: str, missing: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = {**self._headers, **kwargs.pop("headers", {})}
        with self._translated():
            response = self._http.request(method, path, headers=headers, **kwargs)
        self._check(response, what=what, missing=missing)
        return response

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """httpx's exceptions, as tasktrial errors naming the server."""
        import httpx

        try:
            yield
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise ServerUnreachable(
                f"cannot reach the tasktrial server at {self.url}: {_reason(exc)}; "
                f"set {config.URL_VARIABLE} or run `tasktrial login`"
            ) from exc
        except httpx.TimeoutException as exc:
            raise ServerError(f"the tasktrial server at {self.url} did not answer in time ({_reason(exc)})") from exc
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise ConfigurationError(
                f"the server URL {self.url!r} is not usable: {_reason(exc)}; "
                f"set {config.URL_VARIABLE} or run `tasktrial login`"
            ) from exc
        except httpx.HTTPError as exc:
            raise ServerError(f"the connection to the tasktrial server at {self.url} failed: {_reason(exc)}") from exc

    def _check(self, response: httpx.Response, *, what: str, missing: str | None = None) -> None:
        """Raise for an error status; ``missing`` is how a 404 is told (default: ``what``)."""
        code = response.status_code
        if code < 400:
            return
        detail = _detail(response)
        if code == 401:
            raise TokenRejected(f"the server rejected the token ({detail}); run `tasktrial login`")
        if code == 403:
            raise TokenRejected(
                f"the server refused this token: {detail}; run `tasktrial login` with {self.token_hint}"
            )
        if code == 404:
            raise NotFound(f"{missing or what}: {detail}")
        if code == 409:
            raise Conflict(f"the server refused {what}: {detail}")
        if code == 429:
            wait = response.headers.get("retry-after", "a while")
            raise SubmissionRejected(f"the server refused {what} for now (HTTP 429): {detail}; retry after {wait} s")
        if code in (400, 413, 415, 422):
            raise SubmissionRejected(f"the server refused {what} (HTTP {code}): {detail}")
        if code == 503 and _shed(response):
            raise ServerBusy(
                f"the tasktrial server at {self.url} is busy and did not take {what} (HTTP 503): {detail}",
                retry_after=_retry_after(response),
            )
        raise ServerError(f"the tasktrial server at {self.url} failed on {what} (HTTP {code}): {detail}")

    def _json(self, response: httpx.Response, path: str) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise self._not_tasktrial(path) from exc

    def _not_tasktrial(self, path: str) -> ServerError:
        return ServerError(
            f"{self.url}{path} did not answer as a tasktrial server does; "
            f"check {config.URL_VARIABLE} or run `tasktrial login`"
        )

    def _parse_events(self, lines: Iterable[str], path: str) -> Iterator[Event]:
        """Server-Sent Events as the HTML standard frames them: fields up to a blank line; ``:`` lines are comments."""
        kind, event_id = "message", None
        data: list[str] = []
        for line in lines:
            if not line:
                if data:
                    try:
                        payload = json.loads("\n".join(data))
                    except ValueError as exc:
                        raise self._not_tasktrial(path) from exc
                    yield Event(kind, payload if isinstance(payload, dict) else {}, event_id)
                kind, data = "message", []  # the last event id persists, as the standard says
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                kind = value
            elif name == "id":
                event_id = value
            elif name == "data":
                data.append(value)


def _reason(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


def _shed(response: httpx.Response) -> bool:
    """Whether the server says it shed the request before doing any of its work (``api.errors.busy``)."""
    try:
        return response.json().get("shed") is True
    except (ValueError, AttributeError):
        return False


def _retry_after(response: httpx.Response) -> float:
    """The answer's Retry-After in seconds (0 when absent or an HTTP date: the backoff alone then)."""
    try:
        return max(0.0, float(response.headers.get("retry-after", "")))
    except ValueError:
        return 0.0


def _detail(response: httpx.Response) -> str:
    """The server's ``detail``: a string, or FastAPI's list of ``{loc, msg}``; else the start of the body."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return response.text[:200].strip() or response.reason_phrase
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                loc = ".".join(str(p) for p in item.get("loc", []) if p != "body")
                parts.append(f"{loc}: {item.get('msg')}" if loc else str(item.get("msg")))
            else:
                parts.append(str(item))
        return "; ".join(parts)
    return str(detail) if detail is not None else response.reason_phrase


@contextmanager
def connect(settings: config.ClientConfig | None = None) -> Iterator[ApiClient]:
    """An ``ApiClient`` for the configured server, closed afterwards.

    Raises:
        TokenRejected: no token is configured.
        ConfigurationError: the stored configuration is unreadable.
    """
    settings = settings or config.load()
    if not settings.token:
        raise TokenRejected(f"no API token for {settings.url}: {config.LOGIN_HINT}")
    with open_http(settings.url, TIMEOUT) as http:
        yield ApiClient(settings.url, settings.token, http=http)


def resolve(api: ApiClient, text: str) -> TaskRef:
    """``PACK/TASK`` as given, or the one pack holding the bare id ``TASK``.

    Raises:
        NotFound: the text is not a task id, or no pack holds the bare id.
        AmbiguousTask: several packs hold the bare id (the message lists them).
    """
    pack, slash, task = text.rpartition("/")
    if not _NAME.match(task) or (slash and not _NAME.match(pack)):
        raise NotFound(f"{text!r} is not a task id: expected PACK/TASK, or TASK alone when one pack has it")
    if slash:
        return TaskRef(pack, task)
    matches = sorted({(t["pack"], t["id"]) for t in api.tasks() if t.get("id") == task})
    if not matches:
        raise NotFound(f"unknown task {task!r}; `tasktrial tasks list` shows the catalogue")
    if len(matches) > 1:
        names = ", ".join(f"{p}/{t}" for p, t in matches)
        raise AmbiguousTask(f"task {task!r} is in several packs: {names}; name one as PACK/TASK")
    return TaskRef(*matches[0])


# -- commands ------------------------------------------------------------------

TaskId = Annotated[str, typer.Argument(metavar="TASK_ID", help="PACK/TASK, or TASK alone when only one pack has it.")]


def tasks_list() -> None:
    """List the tasks on the server."""
    with connect() as api:
        tasks = api.tasks()
    table = Table(title=f"{len(tasks)} task(s)", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("task", no_wrap=True)
    table.add_column("level", no_wrap=True)
    table.add_column("env", no_wrap=True)
    table.add_column("title and micro-skills", overflow="fold")
    for task in tasks:
        table.add_row(
            escape(f"{task['pack']}/{task['id']}"),
            task["difficulty"],
            task["environment"],
            f"{escape(task['title'])}\n[dim]{escape(', '.join(task['micro_skills']))}[/]",
        )
    out.print(table)


def tasks_show(task_id: TaskId) -> None:
    """Print a task's statement and its facts: limits, micro-skills, pass threshold."""
    from rich.markdown import Markdown

    with connect() as api:
        task = api.task(resolve(api, task_id))
    out.print(Markdown(task["statement"]))
    out.print()
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold", no_wrap=True)
    facts.add_column(overflow="fold")
    name = f"{task['pack']}/{task['id']}"
    facts.add_row("task", escape(f"{name} (pack version {task['pack_version']})"))
    facts.add_row("difficulty", task["difficulty"])
    facts.add_row("environment", task["environment"])
    facts.add_row("graded by", task["grader_kind"])
    facts.add_row("pass threshold", f"{task['pass_threshold']:g}/100")
    facts.add_row("limits", _limits(task["limits"]))
    facts.add_row("micro-skills", escape(", ".join(task["micro_skills"])))
    out.print(facts)
    out.print(f"\nstart it with: tasktrial start {escape(name)}", highlight=False)


def _limits(limits: dict[str, Any]) -> str:
    units = [
        ("time_seconds", "{:g} s"),
        ("memory_mb", "{:g} MB memory"),
        ("cpus", "{:g} CPU"),
        ("pids", "{:g} processes"),
        ("disk_mb", "{:g} MB disk"),
        ("output_kb", "{:g} KB output"),
    ]
    return ", ".join(form.format(limits[key]) for key, form in units if key in limits)


def start(
    task_id: TaskId,
    directory: Annotated[
        Path | None, typer.Argument(metavar="DIR", help="Where to put the starter (default: ./TASK).")
    ] = None,
) -> None:
    """Download a task's starter files into a new folder."""
    target = directory if directory is not None else Path(task_id.rpartition("/")[2] or task_id)
    _require_empty(target)
    with connect() as api:
        ref = resolve(api, task_id)
        archive = api.starter(ref)
    files = _starter_files(archive, ref, api.url)
    _write_files(target, files)
    shown = escape(str(target))
    out.print(
        f"[green]✓[/] {len(files)} starter file(s) of {escape(str(ref))} in {shown}", highlight=False, soft_wrap=True
    )
    out.print(
        f"next: read the task with `tasktrial tasks show {escape(str(ref))}`, work in {shown}, then run\n"
        f"      tasktrial submit {escape(str(ref))} {shown} --wait",
        highlight=False,
        soft_wrap=True,
    )


def _require_empty(target: Path) -> None:
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        fail(f"{target} exists and is not a folder; choose another DIR", EXIT_BAD_INPUT)
    if target.is_dir() and any(target.iterdir()):
        fail(f"{target} is not empty; choose another DIR or empty it first", EXIT_BAD_INPUT)


def _starter_files(archive: bytes, ref: TaskRef, url: str) -> dict[str, bytes]:
    """The starter's files without their top folder, checked by the same rules as an upload."""
    from engine import archives

    try:
        files = archives.extract(archive, what="starter", strip_top_folder=False)
    except SubmissionRejected as exc:
        raise ServerError(f"the starter of {ref} from {url} is unsafe or corrupt: {exc}") from exc
    top = f"{ref.task}/"
    strays = [path for path in files if not path.startswith(top)]
    if strays:
        raise ServerError(f"the starter of {ref} from {url} holds {strays[0]!r} outside its folder {top!r}")
    return {path.removeprefix(top): body for path, body in files.items()}


def _write_files(target: Path, files: dict[str, bytes]) -> None:
    """Create each file; never overwrites and never follows a link (the folder was empty a moment ago)."""
    try:
        target.mkdir(parents=True, exist_ok=True)
        for path, body in files.items():
            destination = target / path
            destination.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
            with os.fdopen(fd, "wb") as handle:
                handle.write(body)
    except OSError as exc:
        fail(f"cannot write the starter into {target}: {exc}", EXIT_BAD_INPUT)


def submit(
    task_id: TaskId,
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="The folder to submit.")] = Path("."),
    wait: Annotated[bool, typer.Option("--wait", help="Follow the grading and print the result.")] = False,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print JSON: the result document with --wait, else the server's acknowledgement."),
    ] = False,
    assessment: Annotated[str | None, typer.Option(help="An attempt at this assessment (its rules apply).")] = None,
    patience: PatienceOption = waiting.Patience().seconds,
) -> None:
    """Upload a folder for grading; with --wait, follow it live and print the verified result.

    A server not up yet, or too busy to take the upload (it says so: nothing was stored), is tried
    again for 20 s. A server that is restarting or a dropped connection does not end the wait: it
    reconnects (backoff with jitter), resumes, and asks for the result, for up to --patience seconds.
    """
    from engine import archives
    from engine.digest import tree_digest
    from engine.trees import read_tree

    files = read_tree(directory)  # the server's own rules and caps; a rejected folder never leaves the machine
    if not files:
        fail(f"{directory} holds no files to submit", EXIT_BAD_INPUT)
    with connect() as api:
        ref = _before_any_work(lambda: resolve(api, task_id))
        # Under a folder of its own, so the server's stripping of one top folder never eats a folder of ours.
        archive = archives.make_tar_gz(files, prefix=ref.task)
        accepted = _before_any_work(lambda: api.submit(ref, archive, assessment))
        submission_id = accepted["id"]
        if not wait:
            _print_accepted(accepted, ref, api.url, as_json)
            return
        document, verification = _follow_to_result(
            api, submission_id, quiet=as_json, patience=waiting.Patience(seconds=patience)
        )
    problems = verification.problems or _binding_problems(document, ref, tree_digest(files))
    _report_result(
        document,
        verification.kid,
        problems,
        submission_id=submission_id,
        url=api.url,
        as_json=as_json,
        subject_salt=accepted.get("subject_salt"),
    )


def _report_result(
    document: dict[str, Any],
    kid: str | None,
    problems: list[str],
    *,
    submission_id: str,
    url: str,
    as_json: bool,
    subject_salt: str | None = None,
) -> None:
    """Print a followed result once it verified (``problems`` empty), or why it must not be trusted (exit 1);
    exit 4 when the task's grader failed (the attempt does not count)."""
    if problems:
        for problem in problems:
            err.print(f"[red]✗[/] {escape(problem)}", highlight=False, soft_wrap=True)
        err.print(
            f"the result of submission {submission_id} does not verify against {url}'s keys; do not trust it",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_PROBLEMS)
    if as_json:
        sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    else:
        print_result(document)
        out.print(
            f"  [green]✓[/] signature verified (key {escape(str(kid))}); submission {escape(submission_id)}",
            highlight=False,
            soft_wrap=True,
        )
        if subject_salt:
            out.print(
                f"  subject salt: {escape(subject_salt)}  (keep it private: "
                "`tasktrial verify RESULT --subject YOUR_ID --salt SALT` proves the result is yours)",
                highlight=False,
                soft_wrap=True,
            )
    if document.get("status") == "grader_error":
        raise typer.Exit(EXIT_GRADER_FAULT)  # the task's grader failed: this attempt does not count


def _print_accepted(accepted: dict[str, Any], ref: TaskRef, url: str, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(accepted, indent=2) + "\n")
        return
    links = accepted.get("links", {})
    out.print(
        f"submission [bold]{escape(accepted['id'])}[/] for {escape(str(ref))}: {accepted.get('state')}",
        highlight=False,
        soft_wrap=True,
    )
    out.print(
        f"  progress: {escape(url + links.get('events', ''))}  (Server-Sent Events)\n"
        f"  result:   {escape(url + links.get('result', ''))}\n"
        "  both need the header 'Authorization: Bearer <token>'; "
        "`tasktrial submit --wait` follows it for you",
        highlight=False,
        soft_wrap=True,
    )


def _follow(api: ApiClient, submission_id: str, *, quiet: bool, patience: waiting.Patience) -> dict[str, Any]:
    """Show each state as the server reports it; the ``done`` event's data (or the state once it has a result).

    On a terminal a live status line; otherwise one line per state on stderr. Reconnects
    through restarts and dropped connections (``cli.waiting.follow``); gives up after
    ``patience`` without reaching the server, naming the submission (``waiting.GaveUp``, exit 3).
    """
    live = err.is_terminal and not quiet
    display = err.status(f"submission {submission_id}: waiting", spinner="dots") if live else _nothing()
    with display as status:

        def show(event: Event) -> None:
            if event.kind not in STATES:
                return
            line = f"submission {submission_id}: {event.kind}"
            if status is not None:
                status.update(escape(line))
            err.print(escape(line), highlight=False, soft_wrap=True)

        data = waiting.follow(
            api, submission_id, on_event=show, patience=patience, retry_on=(ServerUnreachable, ServerError)
        )
    score = data.get("score")
    score_text = f" (verdict {data.get('verdict')}, score {score:g})" if isinstance(score, int | float) else ""
    err.print(escape(f"submission {submission_id}: done{score_text}"), highlight=False, soft_wrap=True)
    return data


def _follow_to_result(
    api: ApiClient, submission_id: str, *, quiet: bool, patience: waiting.Patience
) -> tuple[dict[str, Any], signing.Verification]:
    """Follow to ``done``, then fetch the signed result and check it against the server's keys (both
    fetched again if the server is restarting just then)."""
    from engine import signing

    _follow(api, submission_id, quiet=quiet, patience=patience)
    outage = (ServerUnreachable, ServerError)
    document = waiting.retry(lambda: api.result(submission_id), retry_on=outage, patience=patience)
    return document, signing.verify(document, waiting.retry(api.jwks, retry_on=outage, patience=patience))


def _before_any_work(call: Callable[[], Any]) -> Any:
    """``call()``, tried again for ``CONNECT_PATIENCE_SECONDS`` while the server is out of reach or sheds it:
    both mean it did no work, so even a submission is never made twice (``submit``, ``test``). The
    candidate is told each wait."""

    def say(problem: Exception, delay: float) -> None:
        err.print(escape(f"{problem}; trying again in {delay:.0f} s"), highlight=False, soft_wrap=True)

    return waiting.retry(
        call,
        retry_on=(ServerUnreachable, ServerBusy),
        patience=waiting.Patience(seconds=CONNECT_PATIENCE_SECONDS),
        on_retry=say,
    )


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


def _binding_problems(document: dict[str, Any], ref: TaskRef, digest: str) -> list[str]:
    """A validly signed result must also be about this task and exactly the files uploaded."""
    problems = []
    named_task = document.get("task")
    task = named_task if isinstance(named_task, dict) else {}
    named = f"{task.get('pack')}/{task.get('id')}"
    if named != str(ref):
        problems.append(f"the result is for task {named}, not {ref}")
    if document.get("submission_digest") != digest:
        problems.append(
            f"the result is for submission {document.get('submission_digest')}, not the files uploaded ({digest})"
        )
    return problems


def login(
    url: Annotated[
        str | None, typer.Option(help=f"The server (default: ${config.URL_VARIABLE} or the stored one).")
    ] = None,
    token: Annotated[str | None, typer.Option(help="An API token (prompted for, hidden, when absent).")] = None,
) -> None:
    """Check a server URL and token against the server, then store them for the other commands."""
    try:
        current = config.load().url
    except ConfigurationError:
        current = config.DEFAULT_URL  # a broken config file is what login rewrites
    url = config.check_url(url or typer.prompt("server URL", default=current))
    token = token or typer.prompt("API token", hide_input=True)
    with connect(config.ClientConfig(url=url, token=token, path=config.config_path())) as api:
        count = len(api.tasks())
    path = config.save(url, token)
    out.print(
        f"[green]✓[/] logged in to {escape(url)} ({count} task(s) available); saved in {escape(str(path))}",
        highlight=False,
        soft_wrap=True,
    )
    overriding = [name for name in (config.URL_VARIABLE, config.TOKEN_VARIABLE) if os.environ.get(name)]
    if overriding:
        err.print(f"note: {' and '.join(overriding)} set in the environment override what was saved", highlight=False)


def test(
    task_id: TaskId,
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="The folder to test.")] = Path("."),
    as_json: Annotated[bool, typer.Option("--json", help="Print the server's JSON answer.")] = False,
) -> None:
    """Run the task's public tests on the server, in the grading image and limits; nothing is signed or counted.

    Exit 0 when they pass, 1 when they do not.
    """
    from engine import archives
    from engine.trees import read_tree

    files = read_tree(directory)
    if not files:
        fail(f"{directory} holds no files to test", EXIT_BAD_INPUT)
    with connect() as api:
        ref = _before_any_work(lambda: resolve(api, task_id))
        archive = archives.make_tar_gz(files, prefix=ref.task)
        ran = _before_any_work(lambda: api.public_tests(ref, archive))
    if as_json:
        sys.stdout.write(json.dumps(ran, indent=2, ensure_ascii=False) + "\n")
    else:
        for stream in ("stdout", "stderr"):
            if ran.get(stream):
                (out if stream == "stdout" else err).print(escape(ran[stream]), highlight=False, soft_wrap=True)
        limits = ran.get("limits") or {}
        for flag, words in (
            ("timed_out", f"stopped after {limits.get('time_seconds', 0):g} s: the task's time limit"),
            ("oom_killed", f"killed at {limits.get('memory_mb', 0)} MB: the memory limit"),
            ("output_truncated", f"output cut at {limits.get('output_kb', 0)} KB: the output limit"),
        ):
            if ran.get(flag):
                err.print(f"[yellow]![/] {escape(words)}", highlight=False)
        mark = "[green]✓ public tests passed[/]" if ran["passed"] else "[red]✗ public tests did not pass[/]"
        out.print(
            f"{mark} ({escape(' '.join(ran.get('command', [])))}; not a submission: nothing signed or counted)",
            highlight=False,
        )
    if not ran["passed"]:
        raise typer.Exit(EXIT_PROBLEMS)


def watch(
    submission_id: Annotated[str, typer.Argument(metavar="SUBMISSION_ID", help="The id `submit` printed.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the result document as JSON.")] = False,
    patience: PatienceOption = waiting.Patience().seconds,
) -> None:
    """Follow a submission to its result and print it verified: after `submit` without --wait, or after a
    wait that gave up. Reconnects through server restarts and dropped connections for up to --patience s."""
    with connect() as api:
        document, verification = _follow_to_result(
            api, submission_id, quiet=as_json, patience=waiting.Patience(seconds=patience)
        )
    _report_result(
        document, verification.kid, verification.problems, submission_id=submission_id, url=api.url, as_json=as_json
    )
