"""``tasktrial pack init`` and ``tasktrial pack import-exercism``: tools for pack authors.

Registered on ``pack`` by ``cli/main.py``. Exit codes (``cli._output``):
0 the pack was written; 1 nothing could be imported (nothing written);
2 bad input (a destination that is not empty, a folder that is not a track,
a bad id); 3 infrastructure. Both commands validate the pack they build, as
``pack validate`` does, before it appears at its destination.

``AuthoringError`` is bad input (exit 2) through ``cli._output.translate_errors``, as every error is.
"""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from cli._engine import load
from cli._output import EXIT_PROBLEMS, err, out

if TYPE_CHECKING:
    from engine.authoring import ExercismImport


class Kind(enum.StrEnum):
    PYTEST = "pytest"
    IO = "io"
    SCRIPT = "script"


def _validate(path: Path) -> None:
    """Load the pack the way ``pack validate`` does; raises ``PackError`` listing every problem."""
    load(path)


def pack_init(
    path: Annotated[Path, typer.Argument(help="Where to create the pack: a new or empty folder.")],
    kind: Annotated[Kind, typer.Option(help="The grader kind of the example task.")] = Kind.PYTEST,
    pack_id: Annotated[str | None, typer.Option("--id", help="The pack's id (default: from PATH's name).")] = None,
) -> None:
    """Create a pack with one example task that passes `pack check` as generated."""
    from engine.authoring import SCAFFOLD_TASK, AuthoringError, check_destination, scaffold_pack, slugify, write_pack

    check_destination(path)
    pack_id = pack_id if pack_id is not None else slugify(path.resolve().name)
    if not pack_id:
        raise AuthoringError(f"cannot make a pack id from the folder name {path.resolve().name!r}; pass --id")
    write_pack(scaffold_pack(kind.value, pack_id=pack_id), path, validate=_validate)
    out.print(
        f"[green]✓[/] created pack {escape(pack_id)} in {escape(str(path))} "
        f"with the example task {SCAFFOLD_TASK} ({kind.value} grader)",
        highlight=False,
    )
    out.print(f"  next: tasktrial pack check {escape(str(path))}", highlight=False)


def pack_import_exercism(
    track_dir: Annotated[Path, typer.Argument(help="An Exercism track checkout (holds exercises/practice/).")],
    out_dir: Annotated[Path, typer.Argument(help="Where to write the pack: a new or empty folder.")],
    exercise: Annotated[
        list[str] | None, typer.Option("--exercise", help="Only this exercise slug (repeatable).")
    ] = None,
    pack_id: Annotated[str | None, typer.Option("--id", help="The pack's id (default: exercism-<track slug>).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON report.")] = False,
) -> None:
    """Convert Exercism practice exercises into a pack; list every exercise that could not be converted."""
    from engine.authoring import check_destination, import_exercism, write_pack

    check_destination(out_dir)
    result = import_exercism(track_dir, slugs=exercise, pack_id=pack_id)
    written = bool(result.imported)
    if written:
        write_pack(result.files, out_dir, validate=_validate)
    if as_json:
        print(json.dumps(_document(result, out_dir, written), indent=2, ensure_ascii=False))
    else:
        _print_report(result, out_dir, written)
    if not written:
        raise typer.Exit(EXIT_PROBLEMS)


def _print_report(result: ExercismImport, out_dir: Path, written: bool) -> None:
    for warning in result.warnings:
        err.print(f"[yellow]![/] {escape(warning)}", highlight=False)
    if result.imported:
        table = Table(title=f"{result.pack_id}: imported")
        for column in ("task", "title", "difficulty", "micro-skills"):
            table.add_column(column)
        for item in result.imported:
            table.add_row(item.task_id, escape(item.title), item.difficulty.value, ", ".join(item.micro_skills))
        out.print(table)
    for skipped in result.skipped:
        err.print(f"[yellow]skipped[/] {escape(skipped.slug)}: {escape(skipped.reason)}", highlight=False)
    if written:
        out.print(
            f"[green]✓[/] wrote {len(result.imported)} task(s) to {escape(str(out_dir))}"
            + (f"; {len(result.skipped)} exercise(s) skipped" if result.skipped else ""),
            highlight=False,
        )
    else:
        err.print(
            f"[red]✗[/] no exercise could be converted ({len(result.skipped)} skipped); nothing was written",
            highlight=False,
        )


def _document(result: ExercismImport, out_dir: Path, written: bool) -> dict[str, Any]:
    return {
        "pack": result.pack_id,
        "out": str(out_dir),
        "written": written,
        "imported": [
            {
                "slug": i.slug,
                "task": i.task_id,
                "title": i.title,
                "difficulty": i.difficulty.value,
                "micro_skills": list(i.micro_skills),
            }
            for i in result.imported
        ],
        "skipped": [{"slug": s.slug, "reason": s.reason} for s in result.skipped],
        "warnings": list(result.warnings),
    }
