"""The author's commands against a server: ``pack publish|list|show|retire|stats``; and
``pack add-task`` and ``pack schema`` on the author's machine.

Registered on ``pack`` by ``cli/main.py``. Exit codes (``cli._output``): 0 done (``publish``: the version is live);
1 problems found (the pack does not validate, the local check failed, or the server's check
rejected it); 2 bad input (an unknown pack or version, a version that cannot be retired, a
rejected upload or token); 3 infrastructure (the server is unreachable, or its check did not
finish within ``--timeout``).
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.markup import escape
from rich.table import Table

from cli import client
from cli._engine import DEFAULT_CACHE, engine_parts, load
from cli._output import EXIT_PROBLEMS, err, out
from engine import schemas
from engine.errors import NotFound, PackError, ServerError

PackPath = Annotated[Path, typer.Argument(help="The pack folder.")]


@contextmanager
def _connect() -> Iterator[client.ApiClient]:
    """An API client whose 403 asks for an author's token."""
    with client.connect() as api:
        api.token_hint = "an author's token (tasktrial admin create-token --role author)"
        yield api


def _versions_path(pack_id: str, version: str | None = None) -> str:
    path = f"/v1/packs/{quote(pack_id, safe='')}/versions"
    return path if version is None else f"{path}/{quote(version, safe='')}"


def _split(ref: str, *, need_version: bool) -> tuple[str, str | None]:
    pack_id, at, version = ref.partition("@")
    if not pack_id or (need_version and not version) or (at and not version):
        form = "ID@VERSION" if need_version else "ID or ID@VERSION"
        raise NotFound(f"{ref!r} does not name a pack version: write it as {form} (e.g. my-pack@1.0.0)")
    return pack_id, version or None


# -- publish -------------------------------------------------------------------


def pack_publish(
    path: PackPath,
    check: Annotated[bool, typer.Option("--check", help="Run `pack check` here first (needs Docker).")] = False,
    wait: Annotated[bool, typer.Option(help="Wait for the server's check and print its report.")] = True,
    timeout: Annotated[float, typer.Option(help="How long to wait for the server's check, in seconds.")] = 1800.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the server's answer and report as JSON.")] = False,
) -> None:
    """Validate a pack, optionally check it here, upload it, and wait for the server's check:
    the version goes live only if the check passes on the server's workers."""
    from engine import archives, packs
    from engine.trees import read_tree

    try:
        pack = load(path)  # every problem, before anything leaves this machine
    except PackError as exc:
        for problem in exc.problems:
            err.print(f"[red]✗[/] {escape(str(problem))}", highlight=False)
        err.print(f"{len(exc.problems)} problem(s) in {escape(str(path))}; nothing was uploaded", highlight=False)
        raise typer.Exit(EXIT_PROBLEMS) from exc
    if check:
        from engine.checking import check_task

        runner, graders = engine_parts("docker", DEFAULT_CACHE)
        failed = [r for r in (check_task(t, runner=runner, grader=graders.for_task(t)) for t in pack.tasks) if not r.ok]
        for report in failed:
            for message in report.problems:
                err.print(f"[red]✗[/] {escape(report.task_id)}: {escape(message)}", highlight=False)
        if failed:
            err.print("the local pack check failed; nothing was uploaded", highlight=False)
            raise typer.Exit(EXIT_PROBLEMS)
    archive = archives.make_tar_gz(read_tree(path, packs.PACK_CAPS, what="pack"), prefix=pack.id)
    with _connect() as api:
        uploaded = api.call(
            "POST",
            "/v1/packs",
            what=f"the upload of {pack.id}@{pack.version}",
            files={"archive": (f"{pack.id}-{pack.version}.tar.gz", archive, "application/gzip")},
        )
        if not as_json:
            out.print(
                f"uploaded {escape(pack.id)}@{escape(pack.version)}  digest {uploaded['digest']}"
                + ("" if uploaded["created"] else "  (this content was already stored)"),
                highlight=False,
            )
        detail = api.call("GET", _versions_path(pack.id, pack.version), what=f"pack {pack.id}@{pack.version}")
        deadline = time.monotonic() + timeout
        while wait and detail["state"] == "checking":
            if time.monotonic() > deadline:
                raise ServerError(
                    f"the server did not finish checking {pack.id}@{pack.version} within {timeout:g} s; "
                    f"see `tasktrial pack show {pack.id}@{pack.version}` later"
                )
            time.sleep(1.0)
            detail = api.call("GET", _versions_path(pack.id, pack.version), what=f"pack {pack.id}@{pack.version}")
    if as_json:
        sys.stdout.write(json.dumps({**detail, "created": uploaded["created"]}, indent=2) + "\n")
    else:
        _print_version(detail)
    if detail["state"] == "rejected":
        raise typer.Exit(EXIT_PROBLEMS)


def _print_version(detail: dict[str, Any]) -> None:
    colour = {"live": "green", "checking": "yellow", "rejected": "red", "retired": "dim"}.get(detail["state"], "white")
    out.print(
        f"[bold]{escape(detail['pack_id'])}@{escape(detail['version'])}[/]  [{colour}]{detail['state']}[/]"
        f"  {detail['digest']}",
        highlight=False,
    )
    report = detail.get("report")
    if not report:
        if detail["state"] == "checking":
            out.print("  the server's workers are checking it; it goes live only if the check passes", highlight=False)
        return
    for problem in report.get("problems", []):
        err.print(f"  [red]✗[/] {escape(problem)}", highlight=False)
    table = Table("task", "reference", "starter", "counter-examples", "result")
    for task in report.get("tasks", []):
        wrong = "\n".join(
            f"{name} {runs[0]['verdict']}:{runs[0]['score']:g}" for name, runs in task.get("wrong", {}).items() if runs
        )
        table.add_row(
            escape(task["task"]),
            _runs(task.get("reference", [])),
            _runs(task.get("starter", [])),
            escape(wrong) or "-",
            "[green]ok[/]" if task["ok"] else "[red]FAIL[/]",
        )
    out.print(table)
    for task in report.get("tasks", []):
        skills = ", ".join(
            f"{slug} {v['score']:g} {v['verdict']}" for slug, v in task.get("reference_skills", {}).items()
        )
        out.print(f"  {escape(task['task'])} reference per micro-skill: {escape(skills)}", highlight=False)
    for task in report.get("tasks", []):
        for problem in task.get("problems", []):
            err.print(f"  [red]✗[/] {escape(task['task'])}: {escape(problem)}", highlight=False)


def _runs(runs: list[dict[str, Any]]) -> str:
    return " ".join(f"{r['verdict']}:{r['score']:g}" for r in runs)


# -- list, show, retire, stats ---------------------------------------------------


def pack_list(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List the pack versions you uploaded, with their state (checking, live, rejected, retired)."""
    with _connect() as api:
        listed = api.call("GET", "/v1/authoring/packs", what="your packs")
    if as_json:
        sys.stdout.write(json.dumps(listed, indent=2) + "\n")
        return
    table = Table("pack", "version", "state", "uploaded", "digest", title=f"{listed['count']} version(s)")
    for row in listed["data"]:
        table.add_row(
            escape(row["pack_id"]),
            escape(row["version"]),
            row["state"],
            row["created_at"][:19],
            row["digest"][:19] + "…",
        )
    out.print(table)


def pack_show(
    ref: Annotated[str, typer.Argument(metavar="ID[@VERSION]", help="A pack, or one version of it.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a pack's versions, or one version with the server's check report."""
    pack_id, version = _split(ref, need_version=False)
    with _connect() as api:
        if version is None:
            shown = api.call("GET", _versions_path(pack_id), what=f"pack {pack_id}")
        else:
            shown = api.call("GET", _versions_path(pack_id, version), what=f"pack {pack_id}@{version}")
    if as_json:
        sys.stdout.write(json.dumps(shown, indent=2) + "\n")
    elif version is None:
        for row in shown["data"]:
            out.print(
                f"{escape(row['pack_id'])}@{escape(row['version'])}  {row['state']}  {row['digest']}", highlight=False
            )
    else:
        _print_version(shown)


def pack_retire(ref: Annotated[str, typer.Argument(metavar="ID@VERSION", help="The live version to retire.")]) -> None:
    """Stop new submissions to a live version; its results stay valid and verifiable."""
    pack_id, version = _split(ref, need_version=True)
    version = version or ""  # never empty: _split refuses a reference without a version here
    with _connect() as api:
        retired = api.call("POST", f"{_versions_path(pack_id, version)}/retire", what=f"retiring {pack_id}@{version}")
    out.print(
        f"[green]✓[/] {escape(pack_id)}@{escape(version)} is {retired['state']}: no new submissions; "
        "its results stay valid",
        highlight=False,
    )


def pack_stats(
    pack_id: Annotated[str, typer.Argument(metavar="ID", help="Your pack's id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Per task of your pack: attempts, verdicts, score distribution and the checks failed most."""
    with _connect() as api:
        stats = api.call("GET", f"/v1/packs/{quote(pack_id, safe='')}/stats", what=f"the statistics of {pack_id}")
    if as_json:
        sys.stdout.write(json.dumps(stats, indent=2) + "\n")
        return
    if not stats["tasks"]:
        out.print(f"{escape(pack_id)}: no results yet", highlight=False)
    for task_id, task in stats["tasks"].items():
        verdicts = ", ".join(f"{k} {v}" for k, v in sorted(task["verdicts"].items()))
        mean = "-" if task["mean_score"] is None else f"{task['mean_score']:g}"
        out.print(
            f"[bold]{escape(task_id)}[/]  {task['attempts']} attempt(s) ({verdicts}); mean score {mean}",
            highlight=False,
        )
        spread = "  ".join(f"{name}:{count}" for name, count in task["score_distribution"].items() if count)
        out.print(f"  scores  {spread or '-'}", highlight=False)
        for entry in task["failed_most"]:
            out.print(f"  failed  {entry['rate'] * 100:.0f}%  {escape(entry['name'])}", highlight=False)
        if task["faults"]:
            out.print(f"  faults  {task['faults']} (not counted)", highlight=False)


# -- on the author's machine ------------------------------------------------------


def pack_add_task(
    path: PackPath,
    kind: Annotated[str, typer.Option(help="The grader kind of the example task: pytest, io or script.")] = "pytest",
    task_id: Annotated[str, typer.Option("--id", help="The new task's id (its folder's name).")] = "new-task",
) -> None:
    """Add a working example task to an existing pack; the pack must still validate with it."""
    from engine import packs
    from engine.authoring import AuthoringError, scaffold_task

    path = path.resolve()  # "." has no name to copy under
    target = path / task_id
    if not (path / packs.PACK_FILE).is_file():
        raise AuthoringError(f"{path} holds no {packs.PACK_FILE}: create a pack with `tasktrial pack init` first")
    if target.exists():
        raise AuthoringError(f"{target} already exists; choose another --id")
    files = scaffold_task(kind, task_id=task_id)
    with tempfile.TemporaryDirectory(prefix=".add-task-", dir=path.parent) as tmp:
        trial = Path(tmp) / path.name
        shutil.copytree(path, trial, symlinks=True)
        for name, data in files.items():
            (trial / name).parent.mkdir(parents=True, exist_ok=True)
            (trial / name).write_bytes(data)
        load(trial)  # the pack with the new task must validate before anything changes in PATH
        shutil.copytree(trial / task_id, target)
    out.print(
        f"[green]✓[/] added task {escape(task_id)} ({kind} grader) to {escape(str(path))}; "
        f"next: edit it, then tasktrial pack check {escape(str(path))} --task {escape(task_id)}",
        highlight=False,
    )


def pack_schema(name: Annotated[str, typer.Argument(help=f"One of: {', '.join(schemas.SCHEMA_NAMES)}.")]) -> None:
    """Print a JSON Schema of tasktrial's documents (pack.yaml, task.yaml, results), as installed."""
    if name not in schemas.SCHEMA_NAMES:
        raise NotFound(f"unknown schema {name!r}; known: {', '.join(schemas.SCHEMA_NAMES)}")
    sys.stdout.write(json.dumps(schemas.schema(name), indent=2) + "\n")
