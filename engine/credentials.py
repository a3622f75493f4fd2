"""Stackable micro-credentials: which definitions a candidate's skill evidence meets.

A definition requires micro-skills whose latest verdict is ``ready`` (optionally
no older than N days: skills go stale) and/or other credentials (stacking).
Pure functions over plain values: storage and signing live elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from engine.errors import TaskTrialError

READY = "ready"


class CredentialDefinitionError(TaskTrialError):
    """A credential definition is inconsistent (unknown parts, a stacking cycle); the message names it."""


@dataclass(frozen=True)
class Criteria:
    skills: tuple[str, ...] = ()
    within_days: int | None = None
    credentials: tuple[str, ...] = ()


@dataclass(frozen=True)
class SkillRecord:
    """One piece of evidence: a result's verdict for one skill, and when."""

    skill: str
    verdict: str
    at: datetime
    result_id: str


@dataclass(frozen=True)
class CredentialSpec:
    """A credential a pack declares (``pack.yaml`` ``credentials:``): its local id and what it requires.

    Stacked credentials name other credentials of the same pack by their local ids; a service
    registers each as ``PACK_ID/ID`` (an id no API-made definition can take).
    """

    id: str
    name: str
    description: str = ""
    image: str | None = None
    criteria: Criteria = Criteria()


def definition_problems(
    definitions: Mapping[str, Criteria], known_skills: Iterable[str] | None = None
) -> list[tuple[str, str, str]]:
    """Every inconsistency among ``definitions``: ``(definition, field, message)``, in order.

    The one rule for API-made and pack-declared definitions alike: something is required,
    every stacked credential exists, every micro-skill is known (when ``known_skills`` is
    given), and no credential requires itself, directly or not (``field`` is ``credentials``).
    """
    skills = set(known_skills) if known_skills is not None else None
    problems: list[tuple[str, str, str]] = []
    for name, criteria in definitions.items():
        if not criteria.skills and not criteria.credentials:
            problems.append((name, "", f"credential {name!r} requires nothing: name skills or credentials"))
        for position, required in enumerate(criteria.credentials):
            if required not in definitions:
                problems.append(
                    (name, f"credentials[{position}]", f"credential {name!r} stacks unknown credential {required!r}")
                )
        if skills is not None:
            for position, skill in enumerate(criteria.skills):
                if skill not in skills:
                    problems.append(
                        (name, f"skills[{position}]", f"credential {name!r} requires unknown micro-skill {skill!r}")
                    )
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "open":
            cycle = " -> ".join([*path[path.index(name) :], name])
            problems.append((path[path.index(name)], "credentials", f"credentials stack in a cycle: {cycle}"))
            return
        state[name] = "open"
        for required in definitions[name].credentials:
            if required in definitions:
                visit(required, [*path, name])
        state[name] = "done"

    for name in definitions:
        visit(name, [])
    return problems


def check_definitions(definitions: Mapping[str, Criteria], known_skills: Iterable[str] | None = None) -> None:
    """Raise the first of ``definition_problems``.

    Raises:
        CredentialDefinitionError: naming the definition and the problem.
    """
    problems = definition_problems(definitions, known_skills)
    if problems:
        raise CredentialDefinitionError(problems[0][2])


def met(definitions: Mapping[str, Criteria], evidence: Sequence[SkillRecord], now: datetime) -> dict[str, list[str]]:
    """Definition id -> the result ids that meet it, for every definition met now.

    A skill counts when its latest record is ``ready`` and, with ``within_days``,
    no older than that. Definitions must already pass ``check_definitions``.
    """
    latest: dict[str, SkillRecord] = {}
    for record in sorted(evidence, key=lambda r: r.at):
        latest[record.skill] = record
    found: dict[str, list[str] | None] = {}

    def meets(name: str) -> list[str] | None:
        if name in found:
            return found[name]
        criteria = definitions[name]
        results: list[str] = []
        for skill in criteria.skills:
            record = latest.get(skill)
            if record is None or record.verdict != READY:
                found[name] = None
                return None
            if criteria.within_days is not None and record.at < now - timedelta(days=criteria.within_days):
                found[name] = None
                return None
            results.append(record.result_id)
        for required in criteria.credentials:
            sub = meets(required)
            if sub is None:
                found[name] = None
                return None
            results += sub
        found[name] = list(dict.fromkeys(results))
        return found[name]

    return {name: results for name in definitions if (results := meets(name)) is not None}
