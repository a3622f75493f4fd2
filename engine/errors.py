"""The one exception hierarchy of tasktrial.

Library code raises these; only the CLI maps them to exit codes and only the
API maps them to HTTP statuses. Third-party exceptions are translated at the
seam where they occur, with ``raise ... from exc``.

A failing submission is a verdict, never an exception: only bad input and
infrastructure faults raise.

    TaskTrialError
    ├── ConfigurationError      unknown backend, bad setting
    ├── PackError               a task pack is malformed (carries every problem)
    ├── SubmissionRejected      a submission breaks a rule (size, links, names)
    ├── RunnerError             the sandbox could not run (infrastructure)
    │   ├── RunnerUnavailable   no Docker engine reachable
    │   └── ImageMissing        a runtime image is not built
    ├── GraderError             a grader is misconfigured or broke
    ├── NotFound                an id names nothing that exists
    │   └── AmbiguousTask       a bare task id that several packs hold
    ├── Conflict                contradicts what is stored (e.g. a re-used pack version)
    └── ServerError             a tasktrial server failed or answered as none does (clients)
        └── ServerUnreachable   no connection to the server could be made

    ConfigurationError
    └── TokenRejected           no token is configured, or the server refused it (clients)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # engine.ports imports this module
    from engine.ports import GraderRun


class TaskTrialError(Exception):
    """Base of every error tasktrial raises on purpose."""


class ConfigurationError(TaskTrialError):
    """A setting or backend name is wrong."""


#: Caps on what a problem report may hold, whatever the pack contained: a message
#: quoting a huge value (a schema error repeats it) stays readable and small.
PROBLEM_CHARS = 1000
MAX_PROBLEMS = 200


def capped(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, marking the cut."""
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more characters]"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a pack: which file, where in it, and what (each capped in length)."""

    file: str
    location: str
    message: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "file", capped(self.file, PROBLEM_CHARS // 2))
        object.__setattr__(self, "location", capped(self.location, PROBLEM_CHARS // 2))
        object.__setattr__(self, "message", capped(self.message, PROBLEM_CHARS))

    def __str__(self) -> str:
        where = f"{self.file}: {self.location}" if self.location else self.file
        return f"{where}: {self.message}"


class PackError(TaskTrialError):
    """A task pack is malformed. ``problems`` lists every problem found, up to ``MAX_PROBLEMS``."""

    def __init__(self, problems: Sequence[Problem]):
        found = tuple(problems)
        total = len(found)
        if total > MAX_PROBLEMS:
            more = Problem("", "", f"and {len(found) - MAX_PROBLEMS + 1} more problem(s) not listed")
            found = (*found[: MAX_PROBLEMS - 1], more)
        self.problems = found
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"the pack has {total} problem(s):\n{lines}")


class SubmissionRejected(TaskTrialError):
    """A submission breaks a rule; nothing of it was run or stored.

    ``member`` is the path of the file or folder at fault when there is one
    (the API returns it beside the message).
    """

    def __init__(self, message: str, *, member: str | None = None):
        super().__init__(message)
        self.member = member


class RunnerError(TaskTrialError):
    """The sandbox failed for reasons of its own, not the submission's."""


class RunnerUnavailable(RunnerError):
    """No sandbox backend is reachable (e.g. the Docker engine is down)."""


class ImageMissing(RunnerError):
    """The runtime image a task needs has not been built."""


class GraderError(TaskTrialError):
    """A grader is misconfigured or failed on its own side.

    ``output`` carries what the grader printed (capped), for staff only: it
    may hold hidden paths and source, so it never reaches a candidate.
    ``runs`` are the sandbox runs the grader started before it failed, for
    the result's runner statistics.
    """

    def __init__(self, message: str, *, output: str = "", runs: tuple[GraderRun, ...] = ()):
        super().__init__(message)
        self.output = output
        self.runs = runs


class NotFound(TaskTrialError):
    """An id (pack, task, submission) names nothing that exists."""


class Conflict(TaskTrialError):
    """The request contradicts stored state (e.g. a pack version re-uploaded with new content)."""


class AmbiguousTask(NotFound):
    """A bare task id that several packs hold."""


class TokenRejected(ConfigurationError):
    """No token is configured, or the server refused it: the caller must fix their settings."""


class ServerError(TaskTrialError):
    """A tasktrial server failed, answered with something unexpected, or broke the connection."""


class ServerUnreachable(ServerError):
    """No connection to a tasktrial server could be made."""


class ServerBusy(ServerError):
    """The server shed the request before doing any of its work (503, ``"shed": true``): sending it again
    cannot make a second submission. ``retry_after`` is the server's Retry-After, in seconds."""

    def __init__(self, message: str, *, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after
