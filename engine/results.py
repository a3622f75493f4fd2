"""The result document: what a grading produced, in a versioned, schema-checked form.

It names the exact task (``task_digest``) and submission (``submission_digest``)
it came from, and stays small whatever the submission printed: captured
output and messages are capped here, and bytes that are not UTF-8 are
replaced, so the document is always valid JSON.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from engine import scoring
from engine.models import Check, ResourceLimits, RunOutcome, RunStatus, Task, Verdict
from engine.ports import GraderRun

SCHEMA_VERSION = 1
OUTPUT_CAP_CHARS = 16 * 1024
MESSAGE_CAP_CHARS = 4 * 1024
TRUNCATION_MARK = "\n[... truncated by tasktrial ...]"


def engine_version() -> str:
    try:
        return metadata.version("tasktrial")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def now() -> datetime:
    return datetime.now(UTC)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def text(data: bytes | str, cap: int) -> str:
    """Decode (replacing bad bytes) and cap, marking the cut."""
    value = data if isinstance(data, str) else data.decode("utf-8", "replace")
    return value if len(value) <= cap else value[:cap] + TRUNCATION_MARK


@dataclass(frozen=True)
class Result:
    task: Task
    submission_digest: str
    status: RunStatus
    checks: tuple[Check, ...]
    started_at: datetime
    finished_at: datetime
    outcome: RunOutcome | None = None
    #: The runs the grader started itself (a collection, a checker, variants), beside ``outcome``.
    grader_runs: tuple[GraderRun, ...] = ()
    reason: str = ""
    #: With ``GRADER_ERROR``: what the grader printed (staff only; may hold hidden paths and source).
    grader_output: str = ""
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def score(self) -> float:
        return scoring.weighted_score(self.checks) if not self.status.is_fault else 0.0

    @property
    def verdict(self) -> Verdict:
        return scoring.verdict(self.status, self.score, self.task.pass_threshold)

    def to_document(self) -> dict[str, Any]:
        outcome = self.outcome
        limits: ResourceLimits = self.task.limits
        return {
            "schema_version": SCHEMA_VERSION,
            "id": self.id,
            "task": {
                "pack": self.task.pack_id,
                "pack_version": self.task.pack_version,
                "id": self.task.id,
                "task_digest": self.task.digest,
            },
            "submission_digest": self.submission_digest,
            "score": self.score,
            "verdict": self.verdict.value,
            "status": self.status.value,
            "reason": self.reason,
            "checks": [_capped(c).to_document() for c in self.checks],
            "micro_skills": scoring.micro_skill_scores(
                self.task.micro_skills, self.checks, self.status, self.task.pass_threshold
            ),
            "runner": {
                "backend": outcome.backend if outcome else "none",
                "image": outcome.image if outcome else "",
                "limits": limits.to_document(),
                "wall_seconds": round(outcome.wall_seconds, 4) if outcome else 0.0,
                "cpu_seconds": round(outcome.cpu_seconds, 4) if outcome and outcome.cpu_seconds is not None else None,
                "peak_memory_bytes": outcome.peak_memory_bytes if outcome else None,
                "exit_code": outcome.exit_code if outcome else None,
                "timed_out": outcome.timed_out if outcome else False,
                "oom_killed": outcome.oom_killed if outcome else False,
                "output_truncated": outcome.output_truncated if outcome else False,
                "grader_runs": [_run_figures(run) for run in _grader_runs(outcome, self.grader_runs)],
            },
            "output": _output(outcome),
            **(
                {"grader_error": {"message": self.reason, "output": text(self.grader_output, OUTPUT_CAP_CHARS)}}
                if self.status is RunStatus.GRADER_ERROR
                else {}
            ),
            "started_at": rfc3339(self.started_at),
            "finished_at": rfc3339(self.finished_at),
            "engine_version": engine_version(),
        }


def _grader_runs(outcome: RunOutcome | None, started: tuple[GraderRun, ...]) -> tuple[GraderRun, ...]:
    """Every sandbox that ran the grader's code: a service run's client (the requests, the isolated
    pytest tests), then the runs the grader started itself. The figures above are the candidate's sandbox's."""
    client = (GraderRun("client", outcome.client),) if outcome is not None and outcome.client is not None else ()
    return client + started


def _run_figures(run: GraderRun) -> dict[str, Any]:
    outcome = run.outcome
    return {
        "purpose": run.purpose,
        "image": outcome.image,
        "wall_seconds": round(outcome.wall_seconds, 4),
        "cpu_seconds": round(outcome.cpu_seconds, 4) if outcome.cpu_seconds is not None else None,
        "peak_memory_bytes": outcome.peak_memory_bytes,
        "exit_code": outcome.exit_code,
        "timed_out": outcome.timed_out,
        "oom_killed": outcome.oom_killed,
    }


def _capped(check: Check) -> Check:
    return replace(check, message=text(check.message, MESSAGE_CAP_CHARS))


def _output(outcome: RunOutcome | None) -> dict[str, str]:
    if outcome is None:
        return {"stdout": "", "stderr": ""}
    stdout = b"".join(s.stdout for s in outcome.steps)
    stderr = b"".join(s.stderr for s in outcome.steps)
    return {"stdout": text(stdout, OUTPUT_CAP_CHARS), "stderr": text(stderr, OUTPUT_CAP_CHARS)}


def status_of(outcome: RunOutcome, crashed: bool) -> RunStatus:
    """The run's status from what the sandbox saw and whether the grader found a crash."""
    if outcome.oom_killed:
        return RunStatus.MEMORY_LIMIT
    if outcome.timed_out:
        return RunStatus.TIMEOUT
    if crashed:
        return RunStatus.CRASHED
    return RunStatus.COMPLETED


WITHHELD = "withheld from candidates"
GRADER_FAILED = "the grader failed; this attempt does not count"


#: Run figures a program can set from what it read (its exit code, CPU time, memory), so a hidden
#: input could be spelled through them: withheld from candidates whenever a check is hidden.
RUN_SIDE_CHANNELS = ("exit_code", "cpu_seconds", "peak_memory_bytes")
#: A grader's own runs hold hidden material (tests, variants, expected outputs) beside what the candidate's
#: code controls, so a candidate sees that they ran and whether they hit a limit, never their figures.
GRADER_RUN_FIGURES = ("wall_seconds", *RUN_SIDE_CHANNELS)


def candidate_view(document: dict[str, Any]) -> dict[str, Any]:
    """What a candidate may read: hidden checks keep pass/fail and score, lose their message and duration;
    output is withheld, and so are the run's own side channels when any check is hidden; the
    grader's own runs keep only that they ran and whether they hit a limit.

    A grader's fault shows only that it happened: its message, output and
    checks can hold the hidden tests' paths and source, so none of them stays.
    This is the one rule: the API's candidate results and ``grade --as-candidate`` both use it.
    """
    view = {key: value for key, value in document.items() if key != "grader_error"}
    checks = document.get("checks", [])
    view["checks"] = [
        check
        if check.get("visible")
        else {**check, "message": WITHHELD if check.get("message") else "", "duration_seconds": None}
        for check in checks
    ]
    runner = document.get("runner")
    if isinstance(runner, dict):
        view["runner"] = dict(runner)
        if any(not check.get("visible") for check in checks):
            view["runner"].update(dict.fromkeys(RUN_SIDE_CHANNELS))
        if isinstance(runner.get("grader_runs"), list):
            view["runner"]["grader_runs"] = [
                {**run, **dict.fromkeys(GRADER_RUN_FIGURES)} for run in runner["grader_runs"] if isinstance(run, dict)
            ]
    if document.get("status") == RunStatus.GRADER_ERROR.value:
        view["checks"] = []
        view["reason"] = GRADER_FAILED
    view["output"] = {"stdout": "", "stderr": ""}
    view["view"] = "candidate"
    return view


# -- binding a result to its candidate ----------------------------------------

SUBJECT_FIELD = "subject_digest"
SUBJECT_PREFIX = "hmac-sha256:"


def new_subject_salt() -> str:
    """A fresh salt for one submission: 128 random bits, hex."""
    return secrets.token_hex(16)


def subject_digest(subject: str, salt: str) -> str:
    """``hmac-sha256:<hex>`` of the candidate's id keyed by the salt.

    Without the salt, the digest says nothing about who the candidate is (no
    dictionary of ids helps); with it, the candidate proves the result is theirs.
    A fresh salt per submission keeps two results of one candidate unlinkable.
    """
    mac = hmac.new(salt.encode("utf-8"), subject.encode("utf-8"), hashlib.sha256)
    return SUBJECT_PREFIX + mac.hexdigest()


def bind_subject(document: dict[str, Any], *, subject: str, salt: str | None) -> dict[str, Any]:
    """A copy of ``document`` naming its candidate by ``subject_digest`` (replacing whatever a worker put there).

    Without a salt (a submission stored before binding existed), the copy carries no binding.
    """
    bound = {name: value for name, value in document.items() if name != SUBJECT_FIELD}
    if salt is not None:
        bound[SUBJECT_FIELD] = subject_digest(subject, salt)
    return bound


def subject_problems(document: dict[str, Any], *, subject: str, salt: str) -> list[str]:
    """Why ``document`` is not bound to ``subject`` with ``salt``; empty when it is.

    Only meaningful once the signature verified (``signing.verify``): the digest is a signed field.
    """
    bound = document.get(SUBJECT_FIELD)
    if bound is None:
        return ["the result names no candidate (it was signed before results were bound to candidates)"]
    if not isinstance(bound, str) or not hmac.compare_digest(bound, subject_digest(subject, salt)):
        return [f"the result is not bound to {subject!r} with this salt"]
    return []
