"""A result document in the terminal: ``grade`` (graded here) and ``submit`` (graded by a server) print alike."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table

from cli._output import err, out

#: How much of a failed grader's output is printed (the result document keeps its own cap).
GRADER_OUTPUT_LINES = 40


def print_result(document: dict[str, Any]) -> None:
    """A human summary of a result document."""
    colour = {"ready": "green", "not_ready": "yellow", "error": "red"}[document["verdict"]]
    task = document["task"]
    out.print(
        f"[bold]{task['pack']}/{task['id']}[/]  score [bold]{document['score']:g}[/]/100  "
        f"[{colour}]{document['verdict']}[/]  ({document['status']})",
        highlight=False,
    )
    if document.get("reason"):
        out.print(f"  {escape(document['reason'])}", highlight=False)
    fault = document.get("grader_error")
    if fault and fault.get("output"):
        lines = fault["output"].strip().splitlines()
        shown = lines[-GRADER_OUTPUT_LINES:]
        err.print(
            "  the grader printed"
            + (f" (last {len(shown)} of {len(lines)} lines)" if len(lines) > len(shown) else "")
            + ":\n    "
            + escape("\n    ".join(shown)),
            highlight=False,
        )
    table = Table(show_header=True, header_style="bold")
    for column in ("check", "status", "score", "skill"):
        table.add_column(column)
    marks = {
        "pass": "[green]pass[/]",
        "fail": "[red]fail[/]",
        "error": "[red]error[/]",
        "skipped": "[yellow]skipped[/]",
    }
    for check in document["checks"]:
        table.add_row(
            escape(check["name"]),
            marks[check["status"]],
            f"{check['score']:g}/{check['max_score']:g}",
            escape(check["micro_skill"] or ""),
        )
    if document["checks"]:
        out.print(table)
    for check in document["checks"]:
        if check["status"] != "pass" and check["message"]:
            lines = check["message"].strip().splitlines()
            shown = ("...\n    " if len(lines) > 12 else "") + "\n    ".join(lines[-12:])
            out.print(f"  [red]✗[/] {escape(check['name'])}\n    {escape(shown)}", highlight=False)
    skills = ", ".join(f"{slug} {v['score']:g} ({v['verdict']})" for slug, v in document["micro_skills"].items())
    runner = document["runner"]
    out.print(f"  micro-skills: {skills}", highlight=False)
    out.print(
        f"  ran in {runner['wall_seconds']:.2f} s on {runner['backend']}"
        + (f", peak memory {runner['peak_memory_bytes'] / 1e6:.1f} MB" if runner["peak_memory_bytes"] else ""),
        highlight=False,
    )
    for run in runner.get("grader_runs") or []:
        out.print(
            f"  the grader's {escape(str(run.get('purpose')))} sandbox: {_grader_run_figures(run)}",
            highlight=False,
            soft_wrap=True,
        )


def _grader_run_figures(run: dict[str, Any]) -> str:
    """A grader run's figures in words; a candidate's view has none (``results.candidate_view``), only a limit hit."""
    limit = "hit the time limit" if run.get("timed_out") else "ran out of memory" if run.get("oom_killed") else ""
    if run.get("wall_seconds") is None:
        return limit or "figures withheld"
    figures = [f"{run['wall_seconds']:.2f} s"]
    if run.get("cpu_seconds") is not None:
        figures.append(f"CPU {run['cpu_seconds']:.2f} s")
    if run.get("peak_memory_bytes"):
        figures.append(f"peak memory {run['peak_memory_bytes'] / 1e6:.1f} MB")
    if run.get("exit_code") is not None:
        figures.append(f"exit {run['exit_code']}")
    return ", ".join(figures + ([limit] if limit else []))
