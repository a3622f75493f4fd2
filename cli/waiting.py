"""Following a submission to its result through server restarts and dropped connections.

The server keeps every accepted submission (its database is the source of truth), so a
candidate's command that lost its connection must not lose the submission either: it
reconnects with exponential backoff and full jitter (so a restarted server is not met by
every waiting client at the same instant), follows the event stream again, and between
attempts asks for the submission's state directly (a result stored while the stream was
down is found that way). Only after ``Patience.seconds`` without progress does it give up,
with a message naming the submission id and how to pick it up again.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.errors import TaskTrialError


@dataclass(frozen=True)
class Patience:
    """How long and how often to try again."""

    #: Give up after this long without reaching the server (or without any news of the submission).
    seconds: float = 300.0
    first_delay: float = 0.5
    max_delay: float = 10.0

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """Exponential backoff with full jitter: uniform in [0, min(max, first * 2**attempt)]."""
        return rng() * min(self.max_delay, self.first_delay * 2**attempt)


class GaveUp(TaskTrialError):
    """The server stayed out of reach past the patience; the submission is safe on the server (exit 3)."""


def follow(
    api,
    submission_id: str,
    *,
    on_event: Callable[[Any], None],
    patience: Patience,
    retry_on: tuple[type[Exception], ...],
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: Callable[[], float] = random.random,
) -> dict[str, Any]:
    """The data of the submission's ``done`` event, however often the connection broke on the way.

    ``api`` offers ``events(submission_id, last_event_id=...)`` (Server-Sent Events of one connection)
    and ``submission(submission_id)`` (its state). A stream reopened after a drop resumes after the
    last event seen; one that replays the run's events anyway still shows ``on_event`` each state once.
    ``retry_on``: the errors of an outage (unreachable, restarting, a 5xx); any other error is
    an answer that waiting would not change (an unknown submission, a rejected token).

    Raises:
        GaveUp: no progress for ``patience.seconds``; the message names the submission.
        NotFound, TokenRejected, ...: answers that waiting would not change, as they come.
    """
    seen: set[str] = set()
    deadline = clock() + patience.seconds
    attempt = 0
    last_id: str | None = None
    problem = "the event stream ended before the submission was done"
    while True:
        hint = 0.0
        try:
            for event in api.events(submission_id, last_event_id=last_id):
                attempt = 0
                if event.kind in ("reconnect", "timeout"):
                    problem = f"the server asked to reconnect ({event.kind})"
                    retry_ms = event.data.get("retry_ms")
                    hint = retry_ms / 1000 if isinstance(retry_ms, int) and retry_ms > 0 else 0.0
                    break
                last_id = event.id or last_id
                if event.kind == "done":
                    return event.data
                if event.kind not in seen:  # progress (not a replay): patience starts again
                    seen.add(event.kind)
                    deadline = clock() + patience.seconds
                    on_event(event)
        except retry_on as exc:
            problem = str(exc)
        try:  # the stream is down or ended: ask for the state itself (the result may be in already)
            state = api.submission(submission_id)
            if state.get("result_id"):
                return {"state": "done", "result_id": state["result_id"], "submission": submission_id}
        except retry_on as exc:
            problem = str(exc)
        # The server's own hint (it is restarting) plus jitter, so its waiting clients do not all return at once.
        delay = min(hint, patience.max_delay) + patience.delay(attempt, rng)
        attempt += 1
        if clock() + delay > deadline:
            raise GaveUp(
                f"gave up waiting for submission {submission_id} after {patience.seconds:g} s without "
                f"reaching the server ({problem}); the submission is kept on the server: "
                f"`tasktrial watch {submission_id}` picks it up again"
            )
        sleep(delay)


def retry(
    call: Callable[[], Any],
    *,
    patience: Patience,
    retry_on: tuple[type[Exception], ...],
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: Callable[[], float] = random.random,
    on_retry: Callable[[Exception, float], None] | None = None,
) -> Any:
    """``call()``, tried again with the same backoff while it raises one of ``retry_on``.

    At submit time ``retry_on`` is only what never reached the server's work: ``ServerUnreachable``
    (no connection could be made) and ``ServerBusy`` (shed before any work), so trying again cannot
    make a second submission, whereas a broken connection or another 5xx after sending is raised at
    once (the server may have accepted it). Reads (the result, the keys) may retry any outage.
    An error's ``retry_after`` (the server's Retry-After) is waited on top of the jitter, as in
    ``follow``; ``on_retry(error, delay)`` is told before each wait.
    """
    deadline = clock() + patience.seconds
    attempt = 0
    while True:
        try:
            return call()
        except retry_on as exc:
            hint = getattr(exc, "retry_after", 0.0)
            delay = min(hint, patience.max_delay) + patience.delay(attempt, rng)
            attempt += 1
            if clock() + delay > deadline:
                raise
            if on_retry is not None:
                on_retry(exc, delay)
            sleep(delay)
