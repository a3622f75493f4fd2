"""``pack import-exercism``: Exercism practice exercises (the Python track's layout) as a pack.

A track holds ``exercises/practice/<slug>/`` folders, each with
``.meta/config.json`` naming its ``solution`` (the stub), ``test`` and
``example`` files, and ``.docs/instructions.md``. The track root's
``config.json`` adds each exercise's name, practices, difficulty and status;
without it every exercise takes defaults. Each exercise becomes one pytest
task: statement from the docs, starter = the stubs, hidden grader = the
tests, reference solution = the example laid over the stubs. An exercise
that cannot be converted is reported with its reason, never dropped.

A Python file beside the tests that the exercise's config does not name
(error-handling's ``test_utils.py``) goes with the hidden tests: Exercism's
runner gets the whole folder, so the tests may import it.

A test the track always skips (``@unittest.skip(...)``, ``@pytest.mark.skip(...)``,
e.g. alphametics' "extra-credit") is left out of the hidden tests, with a
warning: Exercism does not count it, whereas a skipped hidden test earns
nothing here, so it would keep the example from being ready.
"""

from __future__ import annotations

import ast
import errno
import json
import os
import posixpath
import re
import stat
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from engine.authoring._common import AuthoringError, is_id, slugify
from engine.errors import SubmissionRejected
from engine.models import Difficulty
from engine.trees import check_name

PRACTICE = ("exercises", "practice")
ENVIRONMENT = "python"
TESTS_FOLDER = "tests"
# Exercism's exercises are small and their tests fast; a generous margin still stops a runaway example.
IMPORT_LIMITS: dict[str, Any] = {
    "time_seconds": 30,
    "memory_mb": 256,
    "cpus": 1,
    "pids": 64,
    "disk_mb": 32,
    "output_kb": 128,
}
# Exercism counts an exercise solved when every test passes.
IMPORT_PASS_THRESHOLD = 100
#: Words in a test file that mean its tests reach into the candidate's process (patching its globals or
#: ``builtins.open`` with mocks, capturing its prints, driving its coroutines): such an exercise keeps the
#: in-process pytest mode (``pack validate`` warns). Every other exercise is graded across the boundary.
SHARED_PROCESS_MARKERS = ("mock", "capsys", "capfd", "asyncio", "monkeypatch")
MAX_FILE_BYTES = 1024 * 1024
TEST_NAME = re.compile(r"^(test_.*|.*_test)\.py$")
DOCS = ("introduction.md", "introduction.append.md", "instructions.md", "instructions.append.md")
MIT_GRANT = "Permission is hereby granted, free of charge"


@dataclass(frozen=True)
class ImportedExercise:
    slug: str
    task_id: str
    title: str
    difficulty: Difficulty
    micro_skills: tuple[str, ...]


@dataclass(frozen=True)
class SkippedExercise:
    slug: str
    reason: str


@dataclass(frozen=True)
class ExercismImport:
    """The pack's files (empty when nothing converted) and what happened to every exercise looked at."""

    pack_id: str
    files: Mapping[str, bytes]
    imported: tuple[ImportedExercise, ...]
    skipped: tuple[SkippedExercise, ...]
    warnings: tuple[str, ...]


class _Unconvertible(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def difficulty_for(value: object) -> Difficulty:
    """Exercism's difficulty (1–10): 1–3 intro, 4–6 core, 7–10 advanced; missing or odd values core."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10:
        return Difficulty.CORE
    if value <= 3:
        return Difficulty.INTRO
    return Difficulty.CORE if value <= 6 else Difficulty.ADVANCED


def import_exercism(
    track_dir: Path, *, slugs: Collection[str] | None = None, pack_id: str | None = None
) -> ExercismImport:
    """Convert a track's practice exercises (all, or those named in ``slugs``) into a pack's files.

    Deprecated exercises are skipped unless named in ``slugs``.

    Raises:
        AuthoringError: ``track_dir`` has no ``exercises/practice`` folder, or the pack id is invalid.
    """
    track_dir = Path(track_dir)
    practice = track_dir.joinpath(*PRACTICE)
    if not practice.is_dir():
        raise AuthoringError(f"{track_dir} is not an Exercism track: it has no exercises/practice folder")
    warnings: list[str] = []
    track = _track_config(track_dir, warnings)
    entries = _practice_entries(track, warnings)
    pack_id = pack_id or "exercism-" + slugify(str(track.get("slug") or track_dir.resolve().name))
    if not is_id(pack_id):
        raise AuthoringError(
            f"{pack_id!r} is not a valid pack id: lowercase letters and digits in "
            "dash-separated words, at most 64 characters"
        )
    language = str(track.get("language") or "Python")
    if slugs:
        wanted = list(dict.fromkeys(slugs))
    else:
        folders = {p.name for p in practice.iterdir() if not p.name.startswith(".") and (p.is_dir() or p.is_symlink())}
        wanted = sorted(folders | set(entries))
    files: dict[str, bytes] = {}
    imported: list[ImportedExercise] = []
    skipped: list[SkippedExercise] = []
    owners: dict[str, str] = {}
    for slug in wanted:
        entry = entries.get(slug, {})
        if not slugs and entry.get("status") == "deprecated":
            skipped.append(
                SkippedExercise(
                    slug, "deprecated in the track's config.json (name it with --exercise to import it anyway)"
                )
            )
            continue
        try:
            task_files, exercise = _convert(practice, slug, entry, language, warnings)
        except _Unconvertible as exc:
            skipped.append(SkippedExercise(slug, exc.reason))
            continue
        if exercise.task_id in owners:
            skipped.append(
                SkippedExercise(
                    slug, f"its task id {exercise.task_id!r} is already taken by exercise {owners[exercise.task_id]!r}"
                )
            )
            continue
        owners[exercise.task_id] = slug
        files.update({f"{exercise.task_id}/{name}": data for name, data in task_files.items()})
        imported.append(exercise)
    if imported:
        files.update(_pack_files(track_dir, pack_id, language, len(imported), warnings))
    return ExercismImport(pack_id, files, tuple(imported), tuple(skipped), tuple(warnings))


def _convert(
    practice: Path, slug: str, entry: Mapping[str, Any], language: str, warnings: list[str]
) -> tuple[dict[str, bytes], ImportedExercise]:
    """One exercise as a task's files (paths relative to the task folder)."""
    if "/" in slug or "\\" in slug or slug.startswith("."):
        raise _Unconvertible(f"{slug!r} is not an exercise slug")
    folder = practice / slug
    if folder.is_symlink():
        raise _Unconvertible(f"exercises/practice/{slug} is a symbolic link")
    if not folder.is_dir():
        listed = " (it is listed in the track's config.json)" if entry else ""
        raise _Unconvertible(f"there is no folder exercises/practice/{slug}{listed}")
    task_id = slugify(slug)
    if not is_id(task_id):
        raise _Unconvertible(f"{slug!r} does not make a valid task id")
    meta = _meta(folder)
    names = _file_names(meta)
    contents = _read_all(folder, [name for group in names.values() for name in group])
    named = {name for group in names.values() for name in group}
    helpers = sorted(p.name for p in folder.glob("*.py") if p.name not in named and not p.is_symlink() and p.is_file())
    contents.update(_read_all(folder, helpers))
    docs = _docs(folder)

    title = str(entry.get("name") or "").strip()[:200] or slug.replace("-", " ").title()
    blurb = meta.get("blurb")
    summary = (
        " ".join(blurb.split()) if isinstance(blurb, str) and blurb.strip() else f"Exercism practice exercise: {title}"
    )
    declared = entry.get("practices")
    practices: list[object] = declared if isinstance(declared, list) else []
    skills = [f"{ENVIRONMENT}.exercism.{task_id}"]
    skills += [f"{ENVIRONMENT}.{slugify(p)}" for p in practices if isinstance(p, str) and is_id(slugify(p))]
    skills = list(dict.fromkeys(skills))
    difficulty = difficulty_for(entry.get("difficulty"))
    task = {
        "id": task_id,
        "title": title,
        "summary": summary,
        "micro_skills": skills,
        "difficulty": difficulty.value,
        "environment": ENVIRONMENT,
        "limits": dict(IMPORT_LIMITS),
        "grader": {"kind": "pytest", "tests": TESTS_FOLDER, **_isolation(contents, names["test"])},
        "scoring": {"pass_threshold": IMPORT_PASS_THRESHOLD},
    }
    files: dict[str, bytes] = {
        "task.yaml": yaml.safe_dump(task, sort_keys=False, allow_unicode=True, width=1000).encode("utf-8"),
        "statement.md": _statement(title, docs, names["solution"], slug, meta, language).encode("utf-8"),
    }
    for name in names["solution"] + names["editor"]:
        files[f"starter/{name}"] = contents[name]
    for name in names["test"]:
        files[f"grader/{TESTS_FOLDER}/{name}"], dropped = _without_skipped_tests(contents[name])
        if dropped:
            warnings.append(
                f"{slug}: left out {', '.join(dropped)} of {name}: the track always skips "
                f"{'it' if len(dropped) == 1 else 'them'}, so Exercism does not count "
                f"{'it' if len(dropped) == 1 else 'them'}"
            )
    for name in names["editor"] + helpers:
        files[f"grader/{TESTS_FOLDER}/{name}"] = contents[name]
    for solution, example in _example_targets(names["solution"], names["example"]).items():
        files[f"solution/{solution}"] = contents[example]
    exercise = ImportedExercise(slug, task_id, title, difficulty, tuple(skills))
    return files, exercise


_ALWAYS_SKIP = ("unittest.skip(", "pytest.mark.skip(", "skip(")


def _without_skipped_tests(source: bytes) -> tuple[bytes, list[str]]:
    """The test file without the tests it always skips (an unconditional skip decorator), and their names.

    A file that does not parse is kept as it is (pack validation reports its syntax).
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return source, []
    spans, names = [], []
    scopes = [node for node in tree.body if isinstance(node, ast.ClassDef)] + [tree]
    for scope in scopes:
        for node in scope.body:
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or not node.name.startswith("test"):
                continue
            decorators = [ast.unparse(d) for d in node.decorator_list]
            if any(d.startswith(_ALWAYS_SKIP) or d in ("unittest.skip", "pytest.mark.skip") for d in decorators):
                spans.append((node.decorator_list[0].lineno, node.end_lineno))
                names.append(node.name)
    if not spans:
        return source, []
    lines = source.decode("utf-8").splitlines(keepends=True)
    for first, last in sorted(spans, reverse=True):
        del lines[first - 1 : last]
    kept = "".join(lines)
    try:
        ast.parse(kept)
    except SyntaxError:  # e.g. a class left without a body: keep the file whole
        return source, []
    return kept.encode("utf-8"), names


def _meta(folder: Path) -> dict[str, Any]:
    try:
        raw = _read(folder, ".meta/config.json")
    except FileNotFoundError:
        raise _Unconvertible("it has no .meta/config.json") from None
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _Unconvertible(f".meta/config.json is not readable JSON: {exc}") from None
    if not isinstance(meta, dict):
        raise _Unconvertible(".meta/config.json is not a JSON object")
    return meta


def _file_names(meta: Mapping[str, Any]) -> dict[str, list[str]]:
    """``files.solution/test/example/editor`` from the exercise's config, each checked."""
    spec = meta.get("files")
    if not isinstance(spec, dict):
        raise _Unconvertible(".meta/config.json has no files object")
    names: dict[str, list[str]] = {}
    for role in ("solution", "test", "example", "editor"):
        value = spec.get(role, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _Unconvertible(f".meta/config.json: files.{role} is not a list of file names")
        if not value and role != "editor":
            raise _Unconvertible(
                f".meta/config.json names no {role} file"
                + (" (there is no example solution to be the reference)" if role == "example" else "")
            )
        names[role] = list(dict.fromkeys(value))
    every = [name for group in names.values() for name in group]
    for name in every:
        try:
            check_name(name)
        except SubmissionRejected as exc:
            raise _Unconvertible(f".meta/config.json: {exc}") from None
    foreign = [name for name in every if not name.endswith(".py")]
    if foreign:
        raise _Unconvertible(f"non-Python file name(s): {', '.join(foreign)} (only Python exercises convert)")
    uncollected = [name for name in names["test"] if not TEST_NAME.match(posixpath.basename(name))]
    if uncollected:
        raise _Unconvertible(
            f"test file(s) pytest would not collect: {', '.join(uncollected)} (names must be test_*.py or *_test.py)"
        )
    clash = set(names["editor"]) & (set(names["solution"]) | set(names["test"]))
    if clash:
        raise _Unconvertible(
            "file(s) named both as editor files and as solution or test files: " + ", ".join(sorted(clash))
        )
    return names


def _example_targets(solution: list[str], example: list[str]) -> dict[str, str]:
    """Which example file replaces which stub: the only one the only one, else by base name."""
    if len(solution) == 1 and len(example) == 1:
        return {solution[0]: example[0]}
    by_base = {posixpath.basename(name): name for name in solution}
    targets = {}
    for name in example:
        base = posixpath.basename(name)
        if base not in by_base:
            raise _Unconvertible(
                f"cannot tell which solution file the example {name} replaces (solution files: {', '.join(solution)})"
            )
        targets[by_base[base]] = name
    return targets


def _read_all(folder: Path, names: list[str]) -> dict[str, bytes]:
    contents, missing = {}, []
    for name in names:
        try:
            contents[name] = _read(folder, name)
        except FileNotFoundError:
            missing.append(name)
    if missing:
        raise _Unconvertible(f"missing file(s) named in .meta/config.json: {', '.join(missing)}")
    return contents


def _docs(folder: Path) -> list[str]:
    """The exercise's docs, in the order Exercism shows them; ``instructions.md`` is required."""
    texts = []
    for name in DOCS:
        try:
            raw = _read(folder, f".docs/{name}")
        except FileNotFoundError:
            if name == "instructions.md":
                raise _Unconvertible("it has no .docs/instructions.md") from None
            continue
        try:
            texts.append(raw.decode("utf-8").strip())
        except UnicodeDecodeError:
            raise _Unconvertible(f".docs/{name} is not UTF-8 text") from None
    return [text for text in texts if text]


def _statement(
    title: str, docs: list[str], solution: list[str], slug: str, meta: Mapping[str, Any], language: str
) -> str:
    files = ", ".join(f"`{name}`" for name in solution)
    plural = "s" if len(solution) > 1 else ""
    credit = f"Imported from Exercism's {language} track, exercise `{slug}`"
    listed = meta.get("authors")
    authors = [a for a in listed if isinstance(a, str)] if isinstance(listed, list) else []
    if authors:
        credit += f"; authors: {', '.join(authors)}"
    source = meta.get("source")
    if isinstance(source, str) and source.strip():
        url = meta.get("source_url")
        linked = isinstance(url, str) and url
        credit += f"; source: [{source.strip()}]({url})" if linked else f"; source: {source.strip()}"
    parts = [
        f"# {title}",
        *(_demoted(doc) for doc in docs),
        "## Your submission",
        (f"Write your solution in {files}. The hidden tests import it by module name, so keep the file name{plural}."),
        f"*{credit}.*",
    ]
    return "\n\n".join(parts) + "\n"


def _demoted(markdown: str) -> str:
    """Every ATX heading one level down (outside code fences), so the task's title is the only ``#``."""
    lines, fenced = [], False
    for line in markdown.split("\n"):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        lines.append("#" + line if not fenced and re.match(r"#{1,5} ", line) else line)
    return "\n".join(lines)


def _read(folder: Path, rel: str) -> bytes:
    """A regular file below ``folder``, never through a link, at most ``MAX_FILE_BYTES``.

    Raises:
        FileNotFoundError: there is no such file.
        _Unconvertible: it is a link, not a regular file, too large or unreadable.
    """
    try:
        fd = os.open(folder / rel, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise  # the caller decides whether a missing file matters
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _Unconvertible(f"{rel} is a symbolic link") from None
        raise _Unconvertible(f"{rel} cannot be read: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise _Unconvertible(f"{rel} is not a regular file")
        data = fh.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise _Unconvertible(f"{rel} is larger than {MAX_FILE_BYTES} bytes")
    return data


def _isolation(contents: Mapping[str, bytes], tests: list[str]) -> dict[str, str]:
    """``{isolation: shared-process}`` for tests that cannot cross a process boundary, else nothing (the default)."""
    text = b"\n".join(contents[name] for name in tests)
    return {"isolation": "shared-process"} if any(m.encode() in text for m in SHARED_PROCESS_MARKERS) else {}


def _track_config(track_dir: Path, warnings: list[str]) -> dict[str, Any]:
    path = track_dir / "config.json"
    if not path.is_file():
        warnings.append("the track has no config.json: titles, difficulties and practices take defaults")
        return {}
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        warnings.append(f"the track's config.json is not readable JSON ({exc}): every exercise takes defaults")
        return {}
    if not isinstance(config, dict):
        warnings.append("the track's config.json is not a JSON object: every exercise takes defaults")
        return {}
    return config


def _practice_entries(track: Mapping[str, Any], warnings: list[str]) -> dict[str, dict[str, Any]]:
    exercises = track.get("exercises")
    practice = exercises.get("practice", []) if isinstance(exercises, dict) else []
    if not isinstance(practice, list):
        warnings.append("the track's config.json: exercises.practice is not a list; it was ignored")
        return {}
    entries = {}
    for index, entry in enumerate(practice):
        if isinstance(entry, dict) and isinstance(entry.get("slug"), str) and entry["slug"]:
            entries[entry["slug"]] = entry
        else:
            warnings.append(f"the track's config.json: exercises.practice[{index}] has no slug; it was ignored")
    return entries


def _pack_files(track_dir: Path, pack_id: str, language: str, count: int, warnings: list[str]) -> dict[str, bytes]:
    """``pack.yaml``, plus the track's LICENSE when it has one (its terms travel with the exercises)."""
    files: dict[str, bytes] = {}
    try:
        licence = _read(track_dir, "LICENSE")
    except FileNotFoundError:
        licence = None
        warnings.append("the track has no LICENSE file: set the license field of pack.yaml by hand")
    except _Unconvertible as exc:
        licence = None
        warnings.append(f"the track's {exc.reason}: set the license field of pack.yaml by hand")
    if licence is not None:
        files["LICENSE"] = licence
        name = "MIT" if MIT_GRANT in licence.decode("utf-8", "replace") else "see LICENSE"
    else:
        name = "unknown (see the Exercism track's licence)"
    meta = {
        "id": pack_id,
        "version": "0.1.0",
        "title": f"Exercism {language} practice exercises",
        "description": (
            f"{count} practice exercise(s) imported from Exercism's {language} track: each statement "
            "comes from the exercise's instructions, the starter is its stub, the hidden pytest grader "
            "runs its tests, and its example solution is the reference."
        ),
        "authors": ["Exercism contributors"],
        "license": name,
    }
    files["pack.yaml"] = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1000).encode("utf-8")
    return files
