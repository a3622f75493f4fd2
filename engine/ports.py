"""The two seams the engine drives: a ``Runner`` and a ``Grader``.

Backends live in ``runners/`` and ``graders/``; the engine only knows these
protocols, so its tests run with the fakes shipped beside the backends.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from engine.errors import Problem
from engine.models import Check, RunOutcome, RunSpec, Task


@runtime_checkable
class Runner(Protocol):
    #: The registry name of this backend, recorded in every result.
    name: str

    def run(self, spec: RunSpec) -> RunOutcome:
        """Run ``spec`` in a fresh sandbox and return what happened.

        A crash, timeout or OOM kill is an outcome, never an exception.

        Raises:
            RunnerUnavailable: the backend cannot be reached.
            ImageMissing: the environment's image is not built.
            RunnerError: any other infrastructure fault.
        """
        ...


@dataclass(frozen=True)
class GraderRun:
    """A sandbox run a grader started itself while grading (a collection, a checker, a variant).

    It is reported in the result's runner statistics beside the run the engine started, so what a
    grading cost is never hidden inside the grader.
    """

    purpose: str
    outcome: RunOutcome


@dataclass(frozen=True)
class Grading:
    """What a grader concluded. ``crashed`` explains a run that produced no usable report;
    ``runs`` are the grader's own runs, in the order it started them."""

    checks: tuple[Check, ...]
    crashed: str = ""
    runs: tuple[GraderRun, ...] = ()


@runtime_checkable
class Grader(Protocol):
    #: The ``grader.kind`` this grader handles.
    kind: str

    def problems(self, task: Task) -> list[Problem]:
        """Kind-specific problems of a task's grader folder, for pack validation."""
        ...

    def build_run(self, task: Task, submission: Mapping[str, bytes]) -> RunSpec:
        """What to run for this submission. Hidden files enter it only where the kind requires."""
        ...

    def grade(self, task: Task, submission: Mapping[str, bytes], outcome: RunOutcome) -> Grading:
        """Turn the run of ``submission`` into checks. Never trusts the candidate's output as a result.

        Raises:
            GraderError: the grader itself is broken (never for a bad submission).
        """
        ...
