"""Domain values: tasks, limits, checks, run specs and outcomes.

Everything here is a frozen value. Runners and graders exchange ``RunSpec``
and ``RunOutcome``; only ``runners/`` turns them into backend options.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from types import MappingProxyType
from typing import Any

from engine.credentials import CredentialSpec
from engine.errors import NotFound

WORKSPACE = "/workspace"
GRADER_DIR = "/grader"
#: The host name a service's client reaches the candidate's container by.
SERVICE_HOST = "candidate"


class Difficulty(enum.StrEnum):
    INTRO = "intro"
    CORE = "core"
    ADVANCED = "advanced"


class CheckStatus(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    SKIPPED = "skipped"


class RunStatus(enum.StrEnum):
    """How the run ended. Everything but the two errors is the candidate's outcome.

    ``GRADER_ERROR``: the task's grader broke (crashed, wrote no or invalid
    results, hidden tests that do not collect); the attempt does not count.
    """

    COMPLETED = "completed"
    TIMEOUT = "timeout"
    MEMORY_LIMIT = "memory_limit"
    CRASHED = "crashed"
    ENGINE_ERROR = "engine_error"
    GRADER_ERROR = "grader_error"

    @property
    def is_fault(self) -> bool:
        """The engine's or the grader's fault: never evidence about the candidate."""
        return self in (RunStatus.ENGINE_ERROR, RunStatus.GRADER_ERROR)


class Verdict(enum.StrEnum):
    READY = "ready"
    NOT_READY = "not_ready"
    ERROR = "error"


@dataclass(frozen=True)
class ResourceLimits:
    """What one run may use. Defaults are safe for small exercises."""

    time_seconds: float = 10.0
    memory_mb: int = 256
    cpus: float = 1.0
    pids: int = 128
    disk_mb: int = 64
    output_kb: int = 256

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> ResourceLimits:
        """Build from a task's ``limits`` block; absent keys keep the defaults."""
        return cls(**dict(values or {}))

    def to_document(self) -> dict[str, Any]:
        return {
            "time_seconds": self.time_seconds,
            "memory_mb": self.memory_mb,
            "cpus": self.cpus,
            "pids": self.pids,
            "disk_mb": self.disk_mb,
            "output_kb": self.output_kb,
        }


@dataclass(frozen=True)
class CheckRule:
    """Author metadata for the checks whose id matches ``match`` (a glob)."""

    match: str
    weight: float = 1.0
    micro_skill: str | None = None
    visible: bool = False


@dataclass(frozen=True)
class CounterExample:
    """A plausible wrong answer in ``wrong/NAME/`` and what ``pack check`` must see it get."""

    name: str
    verdict: Verdict
    max_score: float | None = None
    must_not_earn: tuple[str, ...] = ()
    why: str = ""


@dataclass(frozen=True)
class Level:
    """One level of a rubric criterion: its points and what work at that level looks like."""

    points: float
    descriptor: str


@dataclass(frozen=True)
class Criterion:
    """A rubric criterion a human reviewer scores (check ``review.NAME``)."""

    name: str
    levels: tuple[Level, ...]
    micro_skill: str | None = None
    weight: float = 1.0

    @property
    def max_points(self) -> float:
        return max(level.points for level in self.levels)

    @property
    def check_id(self) -> str:
        return f"review.{self.name}"


@dataclass(frozen=True)
class Task:
    """One task of a pack, as loaded and validated from its folder."""

    pack_id: str
    pack_version: str
    id: str
    title: str
    summary: str
    micro_skills: tuple[str, ...]
    difficulty: Difficulty
    environment: str
    limits: ResourceLimits
    grader: Mapping[str, Any]
    pass_threshold: float
    check_rules: tuple[CheckRule, ...]
    root: Path
    digest: str
    counter_examples: tuple[CounterExample, ...] = ()
    #: Criteria a human scores before the result is signed (empty: graded automatically only).
    rubric: tuple[Criterion, ...] = ()

    @property
    def grader_kind(self) -> str:
        return str(self.grader["kind"])

    @property
    def statement(self) -> str:
        return (self.root / "statement.md").read_text(encoding="utf-8")

    def rule_for(self, check_id: str) -> CheckRule:
        """The first rule matching ``check_id``, or the default rule."""
        for rule in self.check_rules:
            if fnmatchcase(check_id, rule.match):
                return rule
        return CheckRule(match="*")


@dataclass(frozen=True)
class Pack:
    id: str
    version: str
    title: str
    description: str
    authors: tuple[str, ...]
    license: str
    root: Path
    tasks: tuple[Task, ...]
    #: The stackable micro-credentials the pack declares (``pack.yaml`` ``credentials:``).
    credentials: tuple[CredentialSpec, ...] = ()

    def task(self, task_id: str) -> Task:
        for task in self.tasks:
            if task.id == task_id:
                return task
        known = ", ".join(t.id for t in self.tasks)
        raise NotFound(f"pack {self.id!r} has no task {task_id!r} (it has: {known})")


@dataclass(frozen=True)
class Check:
    """One graded check. ``visible`` says whether the candidate may read ``message``."""

    id: str
    name: str
    status: CheckStatus
    score: float
    max_score: float
    weight: float = 1.0
    micro_skill: str | None = None
    message: str = ""
    duration_seconds: float | None = None
    visible: bool = False

    def to_document(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status.value,
            "score": self.score,
            "max_score": self.max_score,
            "weight": self.weight,
            "micro_skill": self.micro_skill,
            "message": self.message,
            "duration_seconds": self.duration_seconds,
            "visible": self.visible,
        }


def _frozen(mapping: Mapping[str, bytes]) -> Mapping[str, bytes]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class Step:
    """One command run inside the sandbox, in ``/workspace``, fed ``stdin``."""

    argv: tuple[str, ...]
    stdin: bytes = b""


@dataclass(frozen=True)
class Service:
    """A long-running program of the candidate's, started after the steps.

    It must accept TCP connections on ``port`` (reached as ``SERVICE_HOST``)
    within ``ready_timeout_seconds``; it lives until the client's steps end,
    then it is killed. Its life is bounded by that wait plus the client's
    own time limits, not by the candidate's ``time_seconds``.

    ``probe``: the runner waits for the port before the client's steps run;
    False when the client connects (and retries) on its own, which saves a
    probe per run (the pytest kind's bridge).

    ``loopback``: the two sandboxes share one loopback (and nothing else)
    instead of a network of the run's own: both sandboxes stay
    off every network, and there is no network to make and remove per run.
    Only for a client that listens on nothing the candidate may not reach
    (the pytest kind's harness listens on nothing).
    """

    argv: tuple[str, ...]
    port: int
    ready_timeout_seconds: float = 10.0
    probe: bool = True
    loopback: bool = False


@dataclass(frozen=True)
class RunSpec:
    """What to run: files in, commands, limits, and files to read back.

    ``workspace`` files land in ``/workspace`` (the candidate's tree);
    ``grader_files`` in ``/grader``. Only graders whose kind makes it
    unavoidable (in-process unit tests, grader scripts) put hidden files there.
    ``collect`` names absolute paths read back, as regular files only, after
    the last step.

    With a ``service``, the run gets a private network that reaches nothing
    but a second sandbox, the ``client``: its own files, limits and steps,
    which run once the service is ready. Hidden checks belong in the
    client's ``grader_files``, never in this spec's.

    With ``isolated_steps``, every step runs in a fresh sandbox of its own
    that receives the same files: nothing one step leaves behind (files in
    ``/tmp`` or ``/workspace``, processes, shared memory) reaches the next,
    so a hidden input cannot be carried into a visible step's output.
    """

    environment: str
    limits: ResourceLimits
    steps: tuple[Step, ...]
    workspace: Mapping[str, bytes] = field(default_factory=dict)
    grader_files: Mapping[str, bytes] = field(default_factory=dict)
    collect: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    service: Service | None = None
    client: RunSpec | None = None
    isolated_steps: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "workspace", _frozen(self.workspace))
        object.__setattr__(self, "grader_files", _frozen(self.grader_files))
        if (self.service is None) != (self.client is None):
            raise ValueError("a service and its client come together: set both or neither")
        if self.client is not None and self.client.service is not None:
            raise ValueError("a service's client cannot run a service of its own")
        if self.isolated_steps and (self.service is not None or self.collect):
            raise ValueError("isolated steps share no sandbox: they run no service and collect no files")


@dataclass(frozen=True)
class StepOutcome:
    """What one step did. ``exit_code`` is None when the step was killed or never ran."""

    exit_code: int | None
    stdout: bytes = b""
    stderr: bytes = b""
    wall_seconds: float = 0.0
    timed_out: bool = False
    output_truncated: bool = False


@dataclass(frozen=True)
class ServiceOutcome:
    """What the candidate's service did.

    ``ready`` says whether it accepted a connection in time (``ready_seconds``
    after it started). ``exit_code`` is None when it was still running when
    the run stopped it, which is the normal end of a service.
    """

    ready: bool
    ready_seconds: float | None = None
    exit_code: int | None = None
    stdout: bytes = b""
    stderr: bytes = b""
    output_truncated: bool = False


@dataclass(frozen=True)
class RunOutcome:
    """What the sandbox observed. Never contains a verdict: graders decide that.

    A service run also reports its ``service`` and the ``client`` sandbox's
    outcome; a client that ran out of time counts as the run timing out,
    since only the candidate's service can make it wait.
    """

    backend: str
    image: str
    steps: tuple[StepOutcome, ...]
    collected: Mapping[str, bytes] = field(default_factory=dict)
    wall_seconds: float = 0.0
    cpu_seconds: float | None = None
    peak_memory_bytes: int | None = None
    oom_killed: bool = False
    service: ServiceOutcome | None = None
    client: RunOutcome | None = None

    @property
    def timed_out(self) -> bool:
        return any(s.timed_out for s in self.steps) or (self.client is not None and self.client.timed_out)

    @property
    def output_truncated(self) -> bool:
        return any(s.output_truncated for s in self.steps) or (
            self.service is not None and self.service.output_truncated
        )

    @property
    def exit_code(self) -> int | None:
        return self.steps[-1].exit_code if self.steps else None
