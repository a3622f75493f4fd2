"""The command line's one place for exit codes, consoles and the translation of errors into both.

Exit codes of every ``tasktrial`` command:

- 0 done (``grade``/``submit``: a result was produced, whatever its verdict);
- 1 problems found (an invalid pack, a failing pack check, a result that does not verify, an
  inconsistent log);
- 2 bad input (a malformed pack, a rejected submission, an unknown id, a bad setting or token);
- 3 infrastructure (no Docker engine, a missing image, the server unreachable or failing);
- 4 the task's grader failed (the attempt does not count: the author must fix the grader).

Library code raises ``engine.errors``; only ``translate_errors`` (wrapped around every command by
``cli.main``) turns them into a message and a code. This module imports nothing heavy: every
command's start-up pays for it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from engine.errors import (
    ConfigurationError,
    Conflict,
    GraderError,
    NotFound,
    PackError,
    RunnerError,
    ServerError,
    SubmissionRejected,
    TaskTrialError,
)

EXIT_PROBLEMS, EXIT_BAD_INPUT, EXIT_INFRASTRUCTURE, EXIT_GRADER_FAULT = 1, 2, 3, 4

out = Console()
err = Console(stderr=True)


def exit_code(exc: TaskTrialError) -> int:
    """The documented exit code of an error (infrastructure for any not listed)."""
    # Errors of the engine's heavier modules, imported only once one has happened.
    from engine.authoring import AuthoringError
    from engine.credentials import CredentialDefinitionError
    from engine.roster import RosterError

    codes: list[tuple[type[TaskTrialError], int]] = [
        (PackError, EXIT_BAD_INPUT),
        (SubmissionRejected, EXIT_BAD_INPUT),
        (NotFound, EXIT_BAD_INPUT),
        (ConfigurationError, EXIT_BAD_INPUT),
        (Conflict, EXIT_BAD_INPUT),
        (CredentialDefinitionError, EXIT_BAD_INPUT),
        (RosterError, EXIT_BAD_INPUT),
        (AuthoringError, EXIT_BAD_INPUT),
        (RunnerError, EXIT_INFRASTRUCTURE),
        (ServerError, EXIT_INFRASTRUCTURE),
        (GraderError, EXIT_GRADER_FAULT),
    ]
    return next((code for kind, code in codes if isinstance(exc, kind)), EXIT_INFRASTRUCTURE)


def fail(message: str, code: int) -> NoReturn:
    """Print ``error: message`` on stderr and end the command with ``code``."""
    _say(message)
    raise typer.Exit(code)


def _say(message: str) -> None:
    # soft_wrap: a one-line message stays one line (rich would fold it at 80 columns off a terminal)
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


def translate_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn tasktrial's errors into a message on stderr and the documented exit code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except TaskTrialError as exc:
            _say(str(exc))
            raise typer.Exit(exit_code(exc)) from exc

    return wrapper
