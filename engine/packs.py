"""Loading and validating task packs.

A pack is a folder: ``pack.yaml`` plus one folder per task holding
``task.yaml``, ``statement.md``, ``starter/`` (what the candidate receives),
``grader/`` (hidden), ``solution/`` (hidden; overlaid on the starter it is
the reference submission) and optionally ``wrong/NAME/`` (hidden
counter-examples, overlaid on the starter like the solution, declared under
``wrong`` in task.yaml). Validation collects every problem of every layer
before failing, so an author fixes a pack in one pass.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

import yaml

from engine import shorthands, yamlsafe
from engine.credentials import CredentialSpec, Criteria, definition_problems
from engine.digest import tree_digest
from engine.errors import PackError, Problem, SubmissionRejected
from engine.models import CheckRule, CounterExample, Criterion, Difficulty, Level, Pack, ResourceLimits, Task, Verdict
from engine.trees import TreeCaps, check_name, overlay, read_tree

PACK_FILE = "pack.yaml"
TASK_FILE = "task.yaml"
PACK_CAPS = TreeCaps(max_files=2000, max_file_bytes=4 * 1024 * 1024, max_total_bytes=64 * 1024 * 1024)

#: Kind-specific static validation of a loaded task: its problems (``graders.GraderSet.problems``).
TaskValidator = Callable[[Task], list[Problem]]


def load_pack(root: Path, *, environments: Collection[str], task_checks: TaskValidator | None = None) -> Pack:
    """Load the pack at ``root`` and validate all of it.

    Args:
        environments: names of the runtime environments this engine can run.
        task_checks: extra, kind-specific validation per task (from ``graders``).

    Raises:
        PackError: with every problem found, each naming its file and field.
    """
    problems: list[Problem] = []
    root = Path(root)
    if not root.is_dir():
        raise PackError([Problem(str(root), "", "is not a folder")])
    meta = _document(root / PACK_FILE, "pack", problems, label=PACK_FILE)
    tasks: list[Task] = []
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    if not folders:
        problems.append(Problem(PACK_FILE, "", "the pack has no task folders"))
    for folder in folders:
        task = _load_task(folder, meta if isinstance(meta, dict) else {}, environments, problems, task_checks)
        if task is not None:
            tasks.append(task)
    # Skills are checked only when every task loaded: a broken task would make its skills look unknown.
    credentials = _credentials(
        meta if isinstance(meta, dict) else {}, tasks if len(tasks) == len(folders) else None, problems
    )
    if problems or meta is None:
        raise PackError(problems)
    return Pack(
        id=meta["id"],
        version=meta["version"],
        title=meta["title"],
        description=meta["description"],
        authors=tuple(meta["authors"]),
        license=meta["license"],
        root=root,
        tasks=tuple(tasks),
        credentials=credentials,
    )


def _credentials(meta: dict[str, Any], tasks: list[Task] | None, problems: list[Problem]) -> tuple[CredentialSpec, ...]:
    """The pack's credential declarations, checked by the rule API-made definitions follow
    (``engine.credentials.definition_problems``): the micro-skills must be this pack's tasks', stacked
    credentials this pack's, and no stacking cycle. Each problem names its field in pack.yaml."""
    items = meta.get("credentials")
    if not isinstance(items, list):
        return ()  # absent, or the schema reported it
    specs: list[CredentialSpec] = []
    where: dict[str, int] = {}
    for position, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            continue
        if item["id"] in where:
            problems.append(
                Problem(
                    PACK_FILE,
                    f"$.credentials[{position}].id",
                    f"credential id {item['id']!r} is declared twice (first at $.credentials[{where[item['id']]}])",
                )
            )
            continue
        where[item["id"]] = position
        specs.append(
            CredentialSpec(
                id=item["id"],
                name=str(item.get("name", "")),
                description=str(item.get("description", "")),
                image=item.get("image") if isinstance(item.get("image"), str) else None,
                criteria=Criteria(
                    skills=tuple(s for s in item.get("skills") or () if isinstance(s, str)),
                    within_days=item.get("within_days") if isinstance(item.get("within_days"), int) else None,
                    credentials=tuple(c for c in item.get("credentials") or () if isinstance(c, str)),
                ),
            )
        )
    skills = {skill for task in tasks for skill in task.micro_skills} if tasks is not None else None
    for name, field, message in definition_problems({spec.id: spec.criteria for spec in specs}, skills):
        suffix = " (a pack's credentials require its own tasks' micro-skills)" if field.startswith("skills") else ""
        problems.append(
            Problem(PACK_FILE, f"$.credentials[{where[name]}]" + (f".{field}" if field else ""), message + suffix)
        )
    return tuple(specs)


def _load_task(
    folder: Path,
    meta: dict[str, Any],
    environments: Collection[str],
    problems: list[Problem],
    task_checks: TaskValidator | None = None,
) -> Task | None:
    """The task of ``folder``, or None when it has problems (all recorded, every layer at once).

    Every layer is checked whatever the others found: a schema problem does not hide a
    missing file, an unknown environment or a case without its answer.
    """
    label = f"{folder.name}/{TASK_FILE}"
    before = len(problems)
    doc = _document(folder / TASK_FILE, "task", problems, label=label)
    grader = doc.get("grader") if isinstance(doc, dict) else None
    reviewed_only = isinstance(grader, dict) and grader.get("kind") == "review"  # nothing runs: no grader/ folder
    for required in ("statement.md", "solution") if reviewed_only else ("statement.md", "grader", "solution"):
        if not (folder / required).exists():
            problems.append(Problem(f"{folder.name}/{required}", "", "is missing"))
    try:
        files = read_tree(folder, PACK_CAPS, what="task")
    except SubmissionRejected as exc:
        problems.append(Problem(folder.name, "", str(exc)))
        return None
    if not isinstance(doc, dict):
        return None
    if isinstance(doc.get("id"), str) and doc["id"] != folder.name:
        problems.append(Problem(label, "$.id", f"{doc['id']!r} must equal the folder name {folder.name!r}"))
    if isinstance(doc.get("environment"), str) and doc["environment"] not in environments:
        problems.append(
            Problem(
                label,
                "$.environment",
                f"unknown environment {doc['environment']!r}; known: {', '.join(sorted(environments))}",
            )
        )
    task = _provisional_task(folder, meta, doc, tree_digest(files))
    if task is not None and task_checks is not None and ((folder / "grader").is_dir() or reviewed_only):
        try:
            problems.extend(task_checks(task))
        except (KeyError, TypeError, ValueError, AttributeError):
            if len(problems) == before:  # a malformed block the schema reported already; else a real bug
                raise
    return task if len(problems) == before else None


def _provisional_task(folder: Path, meta: dict[str, Any], doc: dict[str, Any], digest: str) -> Task | None:
    """The task ``doc`` describes, as far as it can be built (None when its grader block is unusable)."""
    grader = doc.get("grader")
    if not isinstance(grader, dict) or not isinstance(grader.get("kind"), str):
        return None
    grader = dict(grader)
    try:
        rules = tuple(CheckRule(**rule) for rule in grader.pop("checks", []) or [])
    except TypeError:
        rules = ()
    skills = doc.get("micro_skills")
    try:
        limits = ResourceLimits.from_mapping(doc.get("limits"))
    except TypeError:
        limits = ResourceLimits()
    try:
        threshold = float(doc["scoring"]["pass_threshold"])
    except (KeyError, TypeError, ValueError):
        threshold = 100.0
    difficulty = doc.get("difficulty")
    return Task(
        pack_id=str(meta.get("id", "")),
        pack_version=str(meta.get("version", "")),
        id=str(doc.get("id", folder.name)),
        title=str(doc.get("title", "")),
        summary=str(doc.get("summary", "")),
        micro_skills=tuple(s for s in skills if isinstance(s, str)) if isinstance(skills, list) else (),
        difficulty=Difficulty(difficulty) if difficulty in set(Difficulty) else Difficulty.CORE,
        environment=str(doc.get("environment", "")),
        limits=limits,
        grader=grader,
        pass_threshold=threshold,
        check_rules=rules,
        root=folder,
        digest=digest,
        counter_examples=_counter_examples(doc.get("wrong")),
        rubric=_rubric(doc.get("rubric")),
    )


def _rubric(items: Any) -> tuple[Criterion, ...]:
    """The ``rubric`` block's well-formed criteria (the schema reports the others)."""
    found = []
    for item in items if isinstance(items, list) else []:
        try:
            levels = tuple(
                Level(points=float(level["points"]), descriptor=str(level["descriptor"])) for level in item["levels"]
            )
            found.append(
                Criterion(
                    name=str(item["name"]),
                    levels=levels,
                    micro_skill=item.get("micro_skill"),
                    weight=float(item.get("weight", 1.0)),
                )
            )
        except (KeyError, TypeError, ValueError):
            continue
    return tuple(found)


def _counter_examples(items: Any) -> tuple[CounterExample, ...]:
    """The ``wrong`` block's entries that are well-formed (the schema reports the others)."""
    found = []
    for item in items if isinstance(items, list) else []:
        try:
            found.append(
                CounterExample(
                    name=str(item["name"]),
                    verdict=Verdict(item["verdict"]),
                    max_score=None if item.get("max_score") is None else float(item["max_score"]),
                    must_not_earn=tuple(item.get("must_not_earn", ())),
                    why=str(item.get("why", "")),
                )
            )
        except (KeyError, TypeError, ValueError):
            continue
    return tuple(found)


def _document(path: Path, schema: str, problems: list[Problem], *, label: str) -> Any:
    """Parse a YAML file and validate it, recording every problem; the parsed document (None if unreadable)."""
    if not path.is_file():
        problems.append(Problem(label, "", "is missing"))
        return None
    try:
        doc = yamlsafe.load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        problems.append(Problem(label, "", f"is not valid YAML: {exc}"))
        return None
    doc, said = shorthands.canonical(schema, doc)  # the one place authors' shorthands become the long form
    problems.extend(Problem(label, where, message) for where, message in said)
    return doc


# -- a task's file sets: what the candidate gets, what stays hidden ----------


def starter_files(task: Task) -> dict[str, bytes]:
    """The starter repo the candidate receives (may be empty)."""
    folder = task.root / "starter"
    return read_tree(folder, PACK_CAPS, what="starter") if folder.is_dir() else {}


def grader_files(task: Task) -> dict[str, bytes]:
    """The hidden grader folder. Never sent to a candidate."""
    return read_tree(task.root / "grader", PACK_CAPS, what="grader")


def reference_submission(task: Task) -> dict[str, bytes]:
    """The starter overlaid with the hidden reference solution."""
    return overlay(starter_files(task), read_tree(task.root / "solution", PACK_CAPS, what="solution"))


# -- path fields of a task: they name places inside the pack, nowhere else ----


def inside(folder: Path, relative: str) -> Path:
    """``folder / relative``, for a path field that must name something inside ``folder``.

    Decided on the string alone, before anything touches the disk: an absolute
    path, a ``..`` or empty segment, a backslash or a drive letter is refused,
    so validation never looks at a host folder. ``"."`` is ``folder`` itself.
    (Links inside a pack are refused when its tree is read.)

    Raises:
        SubmissionRejected: naming the path and the rule it breaks.
    """
    trimmed = relative.rstrip("/") if relative not in ("", "/") else relative
    while trimmed.startswith("./"):
        trimmed = trimmed[2:]
    if trimmed == ".":
        return folder
    check_name(trimmed)
    return folder / trimmed


def sandbox_file_problems(task: Task, field: str, argv: Collection[str], *, mount: str, folder: str) -> list[Problem]:
    """Problems of a command's arguments naming files under ``mount`` (e.g. ``/grader``) of the sandbox.

    Each such argument must be a plain path to a regular file of the task's ``folder`` (e.g. ``grader``):
    ``/grader/../etc/passwd`` is refused, not looked up on the host.
    """
    problems = []
    where = f"$.{field}"
    for arg in argv:
        if not arg.startswith(mount + "/"):
            continue
        try:
            path = inside(task.root / folder, arg.removeprefix(mount + "/"))
        except SubmissionRejected as exc:
            problems.append(
                Problem(f"{task.id}/{TASK_FILE}", where, f"{arg!r} must name a file inside {folder}/: {exc}")
            )
            continue
        if not path.is_file():
            problems.append(Problem(f"{task.id}/{TASK_FILE}", where, f"{arg} is not a file in {folder}/"))
    return problems


WRONG_DIR = "wrong"
#: What reviewers read beside a submission of a task with a rubric (never served to candidates).
REVIEW_REFERENCE = "review/reference.md"


def wrong_submission(task: Task, name: str) -> dict[str, bytes]:
    """The starter overlaid with the counter-example ``wrong/NAME/`` (hidden, like the solution)."""
    return overlay(starter_files(task), read_tree(task.root / WRONG_DIR / name, PACK_CAPS, what="counter-example"))
