"""The ``tasktrial`` command line: every command is registered here, wrapped in ``translate_errors``.

Exit codes are documented (and decided) in ``cli._output``: 0 done; 1 problems found; 2 bad input;
3 infrastructure; 4 the task's grader failed. Start-up stays light, as ``tasktrial --help`` must be
quick: the command modules import their heavy dependencies (the engine's packs and graders, httpx,
SQLModel, Docker) only when a command runs; nothing here imports back from them.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from cli import authoring, client, cohorts, credentials, log, publishing, server, verify
from cli._engine import DEFAULT_CACHE, close_runner, engine_parts, load
from cli._output import (
    EXIT_BAD_INPUT,
    EXIT_GRADER_FAULT,
    EXIT_INFRASTRUCTURE,
    EXIT_PROBLEMS,
    err,
    out,
    translate_errors,
)
from cli._results import print_result
from engine.errors import PackError

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from engine.results import Result

__all__ = ["EXIT_BAD_INPUT", "EXIT_GRADER_FAULT", "EXIT_INFRASTRUCTURE", "EXIT_PROBLEMS", "app"]

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Sandboxed task assessment: packs, grading, images.")
pack_app = typer.Typer(no_args_is_help=True, help="Write, validate, check and publish task packs.")
images_app = typer.Typer(no_args_is_help=True, help="Build the runtime images tasks run in.")
app.add_typer(pack_app, name="pack")
app.add_typer(images_app, name="images")

CacheDir = Annotated[Path, typer.Option(envvar="TASKTRIAL_CACHE_DIR", help="Where collected test lists are cached.")]
Backend = Annotated[str, typer.Option(envvar="TASKTRIAL_RUNNER", help="Sandbox backend.")]
Runtime = Annotated[
    str | None,
    typer.Option(envvar="TASKTRIAL_SANDBOX_RUNTIME", help="OCI runtime of the sandboxes (e.g. runsc for gVisor)."),
]


# -- pack ------------------------------------------------------------------


@pack_app.command("validate")
@translate_errors
def pack_validate(path: Annotated[Path, typer.Argument(help="The pack folder.")]) -> None:
    """Report every problem of a pack in one run: schema, environments, files, case pairs, check
    mappings, and syntax of hidden Python, shell and JavaScript files (compiled, never run); exit 1 on any."""
    from engine import syntax

    unchecked = (
        []
        if syntax.javascript_checked() or not path.is_dir()
        else [js for folder in sorted(path.iterdir()) if folder.is_dir() for js in syntax.javascript_files(folder)]
    )
    if unchecked:
        err.print(
            f"note: node is not installed here, so {len(unchecked)} JavaScript file(s) were not "
            "syntax-checked (install Node.js to check them)",
            highlight=False,
        )
    try:
        pack = load(path)
    except PackError as exc:
        for problem in exc.problems:
            err.print(f"[red]✗[/] {escape(str(problem))}", highlight=False)
        err.print(f"{len(exc.problems)} problem(s) in {escape(str(path))}", highlight=False)
        raise typer.Exit(EXIT_PROBLEMS) from exc
    from graders.pytest_grader import tamper_warnings

    for warning in (w for t in pack.tasks for w in tamper_warnings(t)):
        err.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
    out.print(f"[green]✓[/] {pack.id} {pack.version}: {len(pack.tasks)} task(s) valid")


@pack_app.command("check")
@translate_errors
def pack_check(
    path: Annotated[Path, typer.Argument(help="The pack folder.")],
    task: Annotated[list[str] | None, typer.Option("--task", help="Only this task (repeatable).")] = None,
    repeat: Annotated[int, typer.Option(min=1, max=20, help="Grade each submission this many times.")] = 1,
    jobs: Annotated[
        int | None, typer.Option("--jobs", "-j", min=1, help="Gradings at a time (default: the number of CPUs).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON report.")] = False,
    backend: Backend = "docker",
    cache_dir: CacheDir = DEFAULT_CACHE,
    runtime: Runtime = None,
) -> None:
    """Run each task's reference (ready with 100 in every micro-skill) and starter (not_ready) in the real sandbox."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from engine.checking import check_tasks, pack_report

    pack = load(path)
    tasks = [pack.task(t) for t in task] if task else list(pack.tasks)
    jobs = jobs or os.cpu_count() or 1
    # A sandbox started ahead for every job: each still fresh and used once, as the workers' are.
    runner, graders = engine_parts(backend, cache_dir, runtime, warm=jobs)
    try:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=as_json or not err.is_terminal,
        ) as progress:
            bar = progress.add_task(
                f"checking {pack.id}", total=sum(2 + len(t.counter_examples) for t in tasks) * repeat
            )
            reports = check_tasks(
                tasks,
                runner=runner,
                grader_for=graders.for_task,
                repeat=repeat,
                jobs=jobs,
                on_run=lambda: progress.advance(bar),
            )
    finally:
        close_runner(runner)
    failed = [r for r in reports if not r.ok]
    if as_json:
        print(json.dumps(pack_report(pack, reports), indent=2))
    else:
        table = Table(title=f"{pack.id} {pack.version}")
        for column in ("task", "reference", "starter", "counter-examples", "result"):
            table.add_column(column)
        for report in reports:
            wrong = "\n".join(f"{name} {_scores(runs)}" for name, runs in report.wrong.items())
            table.add_row(
                report.task_id,
                _scores(report.reference),
                _scores(report.starter),
                wrong or "-",
                "[green]ok[/]" if report.ok else "[red]FAIL[/]",
            )
        out.print(table)
        for report in reports:
            skills = ", ".join(f"{slug} {v['score']:g} {v['verdict']}" for slug, v in report.skills().items())
            out.print(f"  {report.task_id} reference per micro-skill: {skills}", highlight=False)
        for item in tasks:
            if item.rubric:  # what pack check can and cannot prove of a reviewed task
                out.print(
                    f"  {item.id}: {len(item.rubric)} rubric criteria scored at their top level for the "
                    "reference and their lowest for the starter and counter-examples (a reviewer scores "
                    "real submissions); this checks the automated part and the rubric's arithmetic",
                    highlight=False,
                    soft_wrap=True,
                )
        for report in failed:
            for problem in report.problems:
                err.print(f"[red]✗[/] {report.task_id}: {problem}", highlight=False)
    if failed:
        raise typer.Exit(EXIT_PROBLEMS)


def _scores(results: list[Result]) -> str:
    return " ".join(f"{r.verdict.value}:{r.score:g}" for r in results)


# -- grade -----------------------------------------------------------------


@app.command("grade")
@translate_errors
def grade(
    pack_path: Annotated[Path, typer.Argument(help="The pack folder.")],
    task_id: Annotated[str, typer.Argument(help="The task's id.")],
    submission_dir: Annotated[Path, typer.Argument(help="The candidate's folder.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the result document.")] = False,
    as_candidate: Annotated[
        bool, typer.Option("--as-candidate", help="Show exactly what the candidate would see.")
    ] = False,
    backend: Backend = "docker",
    cache_dir: CacheDir = DEFAULT_CACHE,
    runtime: Runtime = None,
) -> None:
    """Grade one submission folder and print its result (exit 4 when the task's grader failed)."""
    from engine.grading import grade_submission
    from engine.models import RunSpec, RunStatus
    from engine.results import candidate_view
    from engine.trees import read_tree

    task = load(pack_path).task(task_id)
    runner, graders = engine_parts(backend, cache_dir, runtime)
    try:
        from graders.pytest_grader import runs_a_service

        if hasattr(runner, "prepare") and not runs_a_service(task):  # service runs make a network of their own
            # Its sandbox starts while the submission is read and packed; used once, or removed unused.
            runner.prepare(RunSpec(environment=task.environment, limits=task.limits, steps=()))
        submission = read_tree(submission_dir)
        result = grade_submission(task, submission, runner=runner, grader=graders.for_task(task))
    finally:
        close_runner(runner)
    document = result.to_document()
    if as_candidate:
        document = candidate_view(document)  # the API's rule, so the preview is exactly what candidates get
    if as_json:
        sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    else:
        print_result(document)
    if result.status is RunStatus.GRADER_ERROR:
        raise typer.Exit(EXIT_GRADER_FAULT)


# -- images ----------------------------------------------------------------


@images_app.command("bootstrap")
@translate_errors
def images_bootstrap() -> None:
    """Make the Debian base image available (present, pulled, or built with debootstrap), and compose.yaml's
    Redis and PostgreSQL images (present, pulled, or stand-ins built from Debian packages)."""
    from runners import images

    docker_client = images.client_from_env()
    how = images.bootstrap_base(docker_client, log=err.print)
    out.print(f"{images.BASE_IMAGE}: {how}")
    chosen = images.bootstrap_services(docker_client, log=err.print)
    for service in images.SERVICE_IMAGES:
        if chosen[service.variable] == service.registry:
            out.print(f"{service.registry}: present", soft_wrap=True)
        else:
            out.print(
                f"{service.registry}: stand-in {service.local} (compose: {service.variable}={service.local})",
                soft_wrap=True,
                highlight=False,
            )


@images_app.command("build")
@translate_errors
def images_build(
    environment: Annotated[list[str] | None, typer.Argument(help="Environments (default: all).")] = None,
) -> None:
    """Build the runtime image of each environment (skips those already built)."""
    from runners import images

    docker_client = images.client_from_env()
    for name in environment or images.environments():
        out.print(f"{name}: {images.build(docker_client, name, log=err.print)}")


@images_app.command("list")
@translate_errors
def images_list() -> None:
    """Show each environment's image and whether it is built."""
    from runners import images

    docker_client = images.client_from_env()
    table = Table("environment", "image", "built")
    for name, image in images.runtime_images().items():
        table.add_row(name, image.tag, "yes" if images.has_image(docker_client, image.tag) else "[red]no[/]")
    out.print(table)


# -- verify ----------------------------------------------------------------

app.command("verify")(translate_errors(verify.verify))


# -- authoring -------------------------------------------------------------

pack_app.command("init")(translate_errors(authoring.pack_init))
pack_app.command("import-exercism")(translate_errors(authoring.pack_import_exercism))
pack_app.command("add-task")(translate_errors(publishing.pack_add_task))
pack_app.command("schema")(translate_errors(publishing.pack_schema))
pack_app.command("publish")(translate_errors(publishing.pack_publish))
pack_app.command("list")(translate_errors(publishing.pack_list))
pack_app.command("show")(translate_errors(publishing.pack_show))
pack_app.command("retire")(translate_errors(publishing.pack_retire))
pack_app.command("stats")(translate_errors(publishing.pack_stats))


# -- service ---------------------------------------------------------------

app.command("serve")(translate_errors(server.serve))
app.command("worker")(translate_errors(server.worker))
admin_app = typer.Typer(no_args_is_help=True, help="Administer the service (run on the server).")
admin_app.command("create-token")(translate_errors(server.create_token))
admin_app.command("create-link")(translate_errors(server.create_link))
admin_app.command("list-tokens")(translate_errors(server.list_tokens))
admin_app.command("revoke-token")(translate_errors(server.revoke_token))
admin_app.command("rotate-key")(translate_errors(server.rotate_key))
admin_app.command("revoke-key")(translate_errors(server.revoke_key))
app.add_typer(admin_app, name="admin")


# -- candidate -------------------------------------------------------------

tasks_app = typer.Typer(no_args_is_help=True, help="Browse the tasks on a tasktrial server.")
app.add_typer(tasks_app, name="tasks")
tasks_app.command("list")(translate_errors(client.tasks_list))
tasks_app.command("show")(translate_errors(client.tasks_show))
app.command("start")(translate_errors(client.start))
app.command("submit")(translate_errors(client.submit))
app.command("test")(translate_errors(client.test))
app.command("watch")(translate_errors(client.watch))
app.command("login")(translate_errors(client.login))


# -- transparency log ------------------------------------------------------

log_app = typer.Typer(no_args_is_help=True, help="Monitor the transparency log of signed results.")
app.add_typer(log_app, name="log")
log_app.command("watch")(translate_errors(log.watch))
app.command("proof")(translate_errors(log.proof))


# -- credentials -----------------------------------------------------------

credentials_app = typer.Typer(no_args_is_help=True, help="Your stackable micro-credentials (Open Badges 3.0).")
app.add_typer(credentials_app, name="credentials")
credentials_app.command("list")(translate_errors(credentials.credentials_list))
credentials_app.command("show")(translate_errors(credentials.credentials_show))
credentials_app.command("export")(translate_errors(credentials.credentials_export))


# -- cohorts and assessments ---------------------------------------------------

cohorts_app = typer.Typer(no_args_is_help=True, help="Cohorts: members, invitations, staff (organisers and staff).")
app.add_typer(cohorts_app, name="cohorts")
_command: Callable[..., Any]  # the loops below register commands of every signature
for _name, _command in (
    ("create", cohorts.cohorts_create),
    ("list", cohorts.cohorts_list),
    ("import", cohorts.cohorts_import),
    ("staff", cohorts.cohorts_staff),
    ("members", cohorts.cohorts_members),
    ("invite", cohorts.cohorts_invite),
):
    cohorts_app.command(_name)(translate_errors(_command))
assessments_app = typer.Typer(no_args_is_help=True, help="Assessments of your cohorts: create, take, watch.")
app.add_typer(assessments_app, name="assessments")
for _name, _command in (
    ("create", cohorts.assessments_create),
    ("list", cohorts.assessments_list),
    ("show", cohorts.assessments_show),
    ("start", cohorts.assessments_start),
    ("dashboard", cohorts.assessments_dashboard),
    ("matrix", cohorts.assessments_matrix),
    ("hiring", cohorts.assessments_hiring),
    ("plot", cohorts.assessments_plot),
    ("regrade", cohorts.assessments_regrade),
    ("similarity", cohorts.assessments_similarity),
):
    assessments_app.command(_name)(translate_errors(_command))
app.command("join")(translate_errors(cohorts.join))
reviews_app = typer.Typer(no_args_is_help=True, help="Score submissions of tasks with a rubric, blind.")
app.add_typer(reviews_app, name="reviews")
for _name, _command in (
    ("list", cohorts.reviews_list),
    ("show", cohorts.reviews_show),
    ("score", cohorts.reviews_score),
):
    reviews_app.command(_name)(translate_errors(_command))
regrades_app = typer.Typer(no_args_is_help=True, help="Follow regrades: progress and changed verdicts.")
app.add_typer(regrades_app, name="regrades")
regrades_app.command("show")(translate_errors(cohorts.regrades_show))
webhooks_app = typer.Typer(no_args_is_help=True, help="Cohort webhooks: register, read the delivery log, redeliver.")
app.add_typer(webhooks_app, name="webhooks")
for _name, _command in (
    ("add", cohorts.webhooks_add),
    ("list", cohorts.webhooks_list),
    ("deliveries", cohorts.webhooks_deliveries),
    ("redeliver", cohorts.webhooks_redeliver),
):
    webhooks_app.command(_name)(translate_errors(_command))


if __name__ == "__main__":
    app()
