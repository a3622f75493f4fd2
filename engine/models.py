"""Domain values: tasks, limits, checks, run specs and outcomes.

Everything here is a frozen value. Runners and graders exchange ``RunSpec``
and ``RunOutcome``; only ``runners/`` turns them into backend options.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

WORKSPACE = "/workspace"
GRADER_DIR = "/grader"


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
    """How the run ended. Everything but ENGINE_ERROR is the candidate's outcome."""

    COMPLETED = "completed"
    TIMEOUT = "timeout"
    MEMORY_LIMIT = "memory_limit"
    CRASHED = "crashed"
    ENGINE_ERROR = "engine_error"


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

    @property
    def grader_kind(self) -> str:
        return str(self.grader["kind"])

    @property
    def statement(self) -> str:
        return (self.root / "statement.md").read_text(encoding="utf-8")

    def rule_for(self, check_id: str) -> CheckRule:
        """The first rule matching ``check_id``, or the default rule."""
        from fnmatch import fnmatchcase

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

    def task(self, task_id: str) -> Task:
        from engine.errors import NotFound

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
class RunSpec:
    """What to run: files in, commands, limits, and files to read back.

    ``workspace`` files land in ``/workspace`` (the candidate's tree);
    ``grader`` files in ``/grader``. Only graders whose kind makes it
    unavoidable (in-process unit tests, grader scripts) put hidden files there.
    ``collect`` names absolute paths read back, as regular files only, after
    the last step.
    """

    environment: str
    limits: ResourceLimits
    steps: tuple[Step, ...]
    workspace: Mapping[str, bytes] = field(default_factory=dict)
    grader: Mapping[str, bytes] = field(default_factory=dict)
    collect: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "workspace", _frozen(self.workspace))
        object.__setattr__(self, "grader", _frozen(self.grader))


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
class RunOutcome:
    """What the sandbox observed. Never contains a verdict: graders decide that."""

    backend: str
    image: str
    steps: tuple[StepOutcome, ...]
    collected: Mapping[str, bytes] = field(default_factory=dict)
    wall_seconds: float = 0.0
    cpu_seconds: float | None = None
    peak_memory_bytes: int | None = None
    oom_killed: bool = False

    @property
    def timed_out(self) -> bool:
        return any(s.timed_out for s in self.steps)

    @property
    def output_truncated(self) -> bool:
        return any(s.output_truncated for s in self.steps)

    @property
    def exit_code(self) -> int | None:
        return self.steps[-1].exit_code if self.steps else None
