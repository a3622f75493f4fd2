"""Grader kinds, chosen by ``grader.kind`` through one registry.

Each kind implements ``engine.ports.Grader``. ``GraderSet.for_task`` gives
the grader a task needs; ``validation_checks`` gives pack validation every
kind's own checks without a sandbox.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from engine import checking, review, syntax
from engine.errors import ConfigurationError, Problem
from engine.models import Task
from engine.ports import Grader, Runner
from graders.http_grader import HttpGrader
from graders.io_grader import IoGrader
from graders.mutation_grader import MutationGrader
from graders.pytest_grader import PytestGrader
from graders.review_grader import ReviewGrader
from graders.script_grader import ScriptGrader


class GraderFactory(Protocol):
    """How the registry makes every kind's grader: one signature, whatever the kind uses of it.

    ``runner`` starts the runs a grader starts itself (a collection, a checker, variants);
    ``cache_dir`` keeps what a kind may cache across processes (the pytest kind's expected tests).
    """

    def __call__(self, runner: Runner, *, cache_dir: Path | None = None) -> Grader: ...


KINDS: dict[str, GraderFactory] = {
    "pytest": PytestGrader,
    "io": IoGrader,
    "script": ScriptGrader,
    "http": HttpGrader,
    "mutation": MutationGrader,
    "review": ReviewGrader,
}


class GraderSet:
    """One grader per kind, sharing a runner (and the pytest grader's collection cache)."""

    def __init__(self, runner: Runner, *, cache_dir: Path | None = None):
        self._graders: dict[str, Grader] = {
            kind: factory(runner, cache_dir=cache_dir) for kind, factory in KINDS.items()
        }

    def for_task(self, task: Task) -> Grader:
        try:
            return self._graders[task.grader_kind]
        except KeyError:
            raise ConfigurationError(
                f"task {task.id!r}: unknown grader kind {task.grader_kind!r}; known: {', '.join(KINDS)}"
            ) from None

    def problems(self, task: Task) -> list[Problem]:
        """The kind's own problems, the skill mapping (rules naming unknown skills or mapping no check)
        and syntax errors in hidden files; nothing is run."""
        grader = self._graders.get(task.grader_kind)
        if grader is None:
            return []
        problems = (
            grader.problems(task)
            + checking.skill_problems(task)
            + checking.counter_example_problems(task)
            + review.rubric_problems(task)
            + syntax.syntax_problems(task.root, task.id)
        )
        static = getattr(grader, "static_check_ids", None)
        known = static(task) if static is not None else None
        if known is not None:
            ids, parametrised = known
            # A pattern naming parameters (``[...]``) cannot be judged before a run: pack check does it.
            unsure = {i for i, rule in enumerate(task.check_rules) if parametrised and "[" in rule.match}
            problems += checking.rule_problems(task, ids, unsure=unsure)
        return problems


class _NoSandbox:
    """The runner of a validation-only grader set: validating a pack never runs anything."""

    name = "none"

    def run(self, spec):
        raise ConfigurationError("pack validation does not run submissions")


def validation_checks() -> Callable[[Task], list[Problem]]:
    """Every kind's static checks of a task folder, for ``engine.packs.load_pack(task_checks=...)``."""
    return GraderSet(_NoSandbox()).problems


__all__ = [
    "KINDS",
    "GraderFactory",
    "GraderSet",
    "HttpGrader",
    "IoGrader",
    "MutationGrader",
    "PytestGrader",
    "ReviewGrader",
    "ScriptGrader",
    "validation_checks",
]
