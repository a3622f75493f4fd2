"""Authoring tools: scaffold a new pack, import Exercism practice exercises.

Everything here builds a pack as a ``{relative path: bytes}`` map and
reports what it did; ``write_pack`` puts a map on disk atomically. No CLI,
no Docker: the caller passes validation in (``write_pack(validate=...)``).
"""

from engine.authoring._common import AuthoringError, check_destination, slugify, write_pack
from engine.authoring._exercism import (
    IMPORT_LIMITS,
    IMPORT_PASS_THRESHOLD,
    ExercismImport,
    ImportedExercise,
    SkippedExercise,
    difficulty_for,
    import_exercism,
)
from engine.authoring._scaffold import SCAFFOLD_KINDS, SCAFFOLD_TASK, scaffold_pack, scaffold_task

__all__ = [
    "IMPORT_LIMITS",
    "IMPORT_PASS_THRESHOLD",
    "SCAFFOLD_KINDS",
    "SCAFFOLD_TASK",
    "AuthoringError",
    "ExercismImport",
    "ImportedExercise",
    "SkippedExercise",
    "check_destination",
    "difficulty_for",
    "import_exercism",
    "scaffold_pack",
    "scaffold_task",
    "slugify",
    "write_pack",
]
