"""``tasktrial cohorts ...``, ``tasktrial assessments ...`` and ``tasktrial join``: organisers, staff and members.

Every command calls the API (``TASKTRIAL_URL``, ``TASKTRIAL_TOKEN``); errors become exit codes in cli._output.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.markup import escape

from cli._output import EXIT_BAD_INPUT, EXIT_INFRASTRUCTURE, fail, out
from engine import assessments as rules
from engine.errors import NotFound


def _q(value: str) -> str:
    return quote(value, safe="")


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


# -- cohorts ------------------------------------------------------------------------


def cohorts_create(name: Annotated[str, typer.Argument(help="The cohort's name.")]) -> None:
    """Create a cohort you organise (an author's or admin's token)."""
    from cli import client

    with client.connect() as api:
        cohort = api.call("POST", "/v1/cohorts", what="the new cohort", json={"name": name})
    out.print(f"{cohort['id']}  {escape(cohort['name'])}", highlight=False)


def cohorts_list() -> None:
    """The cohorts you organise, staff or belong to."""
    from cli import client

    with client.connect() as api:
        body = api.call("GET", "/v1/cohorts", what="your cohorts")
    if not body["data"]:
        out.print("no cohorts")
    for cohort in body["data"]:
        out.print(
            f"{cohort['id']}  {escape(cohort['name'])}  {cohort['standing']}  organiser {escape(cohort['organiser'])}",
            highlight=False,
            soft_wrap=True,
        )


def cohorts_import(
    cohort_id: Annotated[str, typer.Argument(help="The cohort's id.")],
    csv_file: Annotated[Path, typer.Argument(metavar="CSV", help="subject,display_name,email with a header line.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the invitations here as CSV (subject,invitation).")
    ] = None,
) -> None:
    """Import members from CSV: all rows or none (every bad line is named). Prints each member's one-time invitation."""
    from cli import client

    try:
        data = csv_file.read_bytes()
    except OSError as exc:
        raise NotFound(f"cannot read {csv_file}: {exc.strerror}") from exc
    with client.connect() as api:
        body = api.call(
            "POST",
            f"/v1/cohorts/{_q(cohort_id)}/members",
            what=f"the members of {csv_file}",
            missing=f"unknown cohort {cohort_id!r}",
            content=data,
            headers={"content-type": "text/csv"},
        )
    lines = ["subject,invitation"] + [f"{i['subject']},{i['invitation']}" for i in body["invitations"]]
    if output is not None:
        output.write_text("\n".join(lines) + "\n", encoding="utf-8")
        out.print(
            f"imported {body['imported']} member(s); invitations saved to {escape(str(output))} "
            "(each works once: `tasktrial join INVITATION`)",
            highlight=False,
        )
    else:
        typer.echo("\n".join(lines))


def cohorts_staff(
    cohort_id: Annotated[str, typer.Argument(help="The cohort's id.")],
    subject: Annotated[str, typer.Argument(help="The reviewer's subject.")],
) -> None:
    """Assign a reviewer to the cohort."""
    from cli import client

    with client.connect() as api:
        body = api.call(
            "POST",
            f"/v1/cohorts/{_q(cohort_id)}/staff",
            what="the staff change",
            missing=f"unknown cohort {cohort_id!r}",
            json={"subject": subject},
        )
    out.print(f"staff of {escape(cohort_id)}: {escape(', '.join(body['staff']))}", highlight=False)


def cohorts_members(cohort_id: Annotated[str, typer.Argument(help="The cohort's id.")]) -> None:
    """The cohort's members (its organiser and staff)."""
    from cli import client

    with client.connect() as api:
        body = api.call(
            "GET", f"/v1/cohorts/{_q(cohort_id)}/members", what="the members", missing=f"unknown cohort {cohort_id!r}"
        )
    for m in body["data"]:
        out.print(f"{escape(m['subject'])}  {escape(m['display_name'])}  {escape(m['email'])}", highlight=False)


def cohorts_invite(
    cohort_id: Annotated[str, typer.Argument(help="The cohort's id.")],
    subject: Annotated[str, typer.Argument(help="The member's subject.")],
) -> None:
    """A fresh one-time invitation for a member."""
    from cli import client

    with client.connect() as api:
        body = api.call(
            "POST",
            f"/v1/cohorts/{_q(cohort_id)}/members/{_q(subject)}/invitation",
            what="the invitation",
            missing=f"no member {subject!r} in cohort {cohort_id!r}",
        )
    typer.echo(body["invitation"])


def join(
    invitation: Annotated[str, typer.Argument(help="The one-time invitation you were sent.")],
    url: Annotated[str | None, typer.Option(help="The server (default: $TASKTRIAL_URL or the stored one).")] = None,
) -> None:
    """Redeem an invitation: it becomes your candidate token, saved like `tasktrial login` saves one."""
    from cli import client, config

    url = config.check_url(url or config.load().url)
    with client.open_http(url, client.TIMEOUT) as http:  # no token yet: the invitation is the credential
        body = client.ApiClient(url, "invitation", http=http).call(
            "POST",
            "/invitations/redeem",
            what="the invitation",
            json={"invitation": invitation},
            missing="unknown or already used invitation (each works once; ask the organiser for a new one)",
        )
    path = config.save(url, body["token"])
    out.print(
        f"[green]✓[/] joined cohort {escape(body['cohort_id'])} as {escape(body['subject'])}; "
        f"token saved in {escape(str(path))}",
        highlight=False,
        soft_wrap=True,
    )


# -- assessments --------------------------------------------------------------------


def _when(text: str) -> str:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise typer.BadParameter(f"{text!r} has no time zone: write UTC as e.g. 2026-03-01T09:00Z")
    return moment.isoformat()


def assessments_create(
    cohort_id: Annotated[str, typer.Argument(help="The cohort's id.")],
    title: Annotated[str, typer.Option(help="The assessment's title.")],
    task: Annotated[list[str], typer.Option(help="PACK/TASK or PACK/TASK@VERSION (repeat).")],
    opens: Annotated[str, typer.Option(help="When it opens (ISO 8601 with a zone, e.g. 2026-03-01T09:00Z).")],
    closes: Annotated[str, typer.Option(help="When it closes (after --opens).")],
    duration: Annotated[int | None, typer.Option(help="Minutes per attempt: a timed assessment.")] = None,
    attempts: Annotated[int | None, typer.Option(help="Attempts allowed per task.")] = None,
    scoring: Annotated[rules.Scoring, typer.Option(help="Which attempt counts.")] = rules.Scoring.BEST,
    late: Annotated[rules.LatePolicy, typer.Option(help="Late submissions.")] = rules.LatePolicy.REFUSE,
    result_visibility: Annotated[
        rules.Visibility, typer.Option(help="When members see results.")
    ] = rules.Visibility.ALWAYS,
    check_visibility: Annotated[
        rules.Visibility, typer.Option(help="When members see checks.")
    ] = rules.Visibility.ALWAYS,
) -> None:
    """Open an assessment for a cohort; tasks are pinned to their pack version."""
    from cli import client

    tasks = []
    for item in task:
        ref, _, version = item.partition("@")
        tasks.append({"task": ref, **({"version": version} if version else {})})
    body = {
        "title": title,
        "tasks": tasks,
        "opens_at": _when(opens),
        "closes_at": _when(closes),
        "duration_seconds": duration * 60 if duration else None,
        "attempt_limit": attempts,
        "scoring": scoring.value,
        "late": late.value,
        "result_visibility": result_visibility.value,
        "check_visibility": check_visibility.value,
    }
    with client.connect() as api:
        made = api.call(
            "POST",
            f"/v1/cohorts/{_q(cohort_id)}/assessments",
            what="the new assessment",
            missing=f"unknown cohort {cohort_id!r}",
            json=body,
        )
    out.print(f"{made['id']}  {escape(made['title'])}  {made['state']}", highlight=False)


def assessments_list() -> None:
    """The assessments of your cohorts."""
    from cli import client

    with client.connect() as api:
        body = api.call("GET", "/v1/assessments", what="your assessments")
    if not body["data"]:
        out.print("no assessments")
    for a in body["data"]:
        out.print(
            f"{a['id']}  {escape(a['title'])}  {a['state']}  {a['opens_at'][:16]} → {a['closes_at'][:16]}" + _clock(a),
            highlight=False,
            soft_wrap=True,
        )


def _clock(a: dict[str, Any]) -> str:
    if a.get("duration_seconds") is None:
        return ""
    if a.get("time_left_seconds") is None:
        return f"  timed ({a['duration_seconds'] // 60} min, not started)"
    return f"  {int(a['time_left_seconds']) // 60} min {int(a['time_left_seconds']) % 60} s left"


def assessments_show(
    assessment_id: Annotated[str, typer.Argument(help="The assessment's id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """One assessment: its tasks, window and rules (and your clock)."""
    from cli import client

    with client.connect() as api:
        a = api.call(
            "GET",
            f"/v1/assessments/{_q(assessment_id)}",
            what="the assessment",
            missing=f"unknown assessment {assessment_id!r}",
        )
    if as_json:
        _print_json(a)
        return
    out.print(f"[bold]{escape(a['title'])}[/] ({a['id']}), {a['state']}{_clock(a)}", highlight=False)
    out.print(
        f"window {a['opens_at']} → {a['closes_at']}; attempts {a['attempt_limit'] or 'unlimited'}; "
        f"scoring {a['scoring']}; late {a['late']}; results {a['result_visibility']}; "
        f"checks {a['check_visibility']}",
        highlight=False,
        soft_wrap=True,
    )
    for t in a["tasks"]:
        out.print(f"  {t['pack_id']}/{t['task_id']}@{t['pack_version']}  {t['task_digest']}", highlight=False)


def assessments_start(assessment_id: Annotated[str, typer.Argument(help="The assessment's id.")]) -> None:
    """Start a timed assessment's clock (it never restarts)."""
    from cli import client

    with client.connect() as api:
        a = api.call(
            "POST",
            f"/v1/assessments/{_q(assessment_id)}/start",
            what="the start",
            missing=f"unknown assessment {assessment_id!r}",
        )
    out.print(
        f"started {escape(a['title'])}{_clock(a)}; submit with `tasktrial submit PACK/TASK DIR --assessment {a['id']}`",
        highlight=False,
        soft_wrap=True,
    )


# -- staff views ------------------------------------------------------------------------


def _save_or_print(text: str, output: Path | None, what: str) -> None:
    if output is None:
        typer.echo(text, nl=not text.endswith("\n"))
        return
    output.write_text(text, encoding="utf-8")
    out.print(f"saved {what} to {escape(str(output))}", highlight=False)


def assessments_dashboard(
    assessment_id: Annotated[str, typer.Argument(help="The assessment's id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Progress: per task how many started, submitted, were graded, are ready; each member's clock."""
    from cli import client

    with client.connect() as api:
        board = api.call(
            "GET",
            f"/v1/assessments/{_q(assessment_id)}/dashboard",
            what="the dashboard",
            missing=f"unknown assessment {assessment_id!r}",
        )
    if as_json:
        _print_json(board)
        return
    out.print(f"{board['count']} member(s)")
    for task, totals in board["totals"].items():
        out.print(
            f"  {escape(task)}: started {totals['started']}, submitted {totals['submitted']}, "
            f"graded {totals['graded']}, ready {totals['ready']}",
            highlight=False,
        )
    for m in board["members"]:
        if m["time_left_seconds"] is not None:
            left = int(m["time_left_seconds"])
            out.print(f"  {escape(m['subject'])}: {left // 60} min {left % 60} s left", highlight=False)


def assessments_matrix(
    assessment_id: Annotated[str, typer.Argument(help="The assessment's id.")],
    by: Annotated[str, typer.Option(help="skills (members × micro-skills) or tasks (members × tasks).")] = "skills",
    format: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write it here (default: stdout).")] = None,
) -> None:
    """Export the readiness matrix, with the assessment's scoring policy applied."""
    from cli import client

    with client.connect() as api:
        response = api._request(
            "GET",
            f"/v1/assessments/{_q(assessment_id)}/matrix",
            what="the matrix",
            missing=f"unknown assessment {assessment_id!r}",
            params={"by": by, "format": format},
        )
    _save_or_print(response.text, output, "the matrix")


def assessments_hiring(
    assessment_id: Annotated[str, typer.Argument(help="The assessment's id.")],
    skill: Annotated[list[str], typer.Option(help="A micro-skill members must be ready in (repeat).")],
    format: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write it here (default: stdout).")] = None,
) -> None:
    """Members ready in every given micro-skill, ranked by their mean score over them."""
    from cli import client

    with client.connect() as api:
        response = api._request(
            "GET",
            f"/v1/assessments/{_q(assessment_id)}/hiring",
            what="the hiring filter",
            missing=f"unknown assessment {assessment_id!r}",
            params={"skill": skill, "format": format},
        )
    _save_or_print(response.text, output, "the ranked list")


#: What ``assessments plot`` writes: the server's SVG as it is, or that same SVG converted to PNG here.
PLOT_FORMATS = ("svg", "png")


def _png_converter() -> Callable[[str], bytes]:
    """SVG text to PNG bytes by CairoSVG, so the PNG is the server's SVG drawn, never a second renderer.

    Imported only when a PNG is asked for (CairoSVG loads libcairo; every command's start-up would pay),
    and before any request, so a machine that cannot write PNG fails first and writes nothing.
    """
    try:
        import cairosvg
    except ImportError:
        fail("writing PNG needs CairoSVG: pip install cairosvg (or write --format svg)", EXIT_INFRASTRUCTURE)
    except OSError as exc:  # cairocffi found no libcairo to load
        fail(
            f"writing PNG needs the cairo library ({exc}): on Debian, apt-get install libcairo2 "
            "(or write --format svg)",
            EXIT_INFRASTRUCTURE,
        )
    return lambda svg: cairosvg.svg2png(bytestring=svg.encode("utf-8"))


def assessments_plot(
    assessment_id: Annotated[str, typer.Argument(help="The assessment's id.")],
    kind: Annotated[str, typer.Option(help="scores (distribution per task) or readiness (per micro-skill).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The .svg or .png file to write.")],
    format: Annotated[
        str | None, typer.Option("--format", help="svg or png (default: from the output's suffix, else svg).")
    ] = None,
) -> None:
    """Save a chart of the assessment as SVG, or PNG converted from that same SVG (rendered by the server)."""
    from cli import client

    chosen = (format or (output.suffix[1:] if output.suffix.lower() in (".svg", ".png") else "svg")).lower()
    if chosen not in PLOT_FORMATS:
        fail(f"unknown plot format {format!r}: choose svg or png", EXIT_BAD_INPUT)
    convert = _png_converter() if chosen == "png" else None
    with client.connect() as api:
        response = api._request(
            "GET",
            f"/v1/assessments/{_q(assessment_id)}/plots/{_q(kind)}.svg",
            what=f"the {kind} plot",
            missing=f"unknown assessment {assessment_id!r} or plot {kind!r}",
        )
    if convert is None:
        _save_or_print(response.text, output, f"the {kind} plot")
        return
    output.write_bytes(convert(response.text))
    out.print(f"saved the {kind} plot to {escape(str(output))}", highlight=False)


# -- reviews ------------------------------------------------------------------------------


def reviews_list(
    assessment: Annotated[str | None, typer.Option(help="Only this assessment's.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200, help="At most this many.")] = 50,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many, oldest first.")] = 0,
) -> None:
    """Submissions awaiting your review (no candidate is named), oldest first, a page at a time."""
    from cli import client

    params: dict[str, Any] = {"limit": limit, "offset": offset}
    if assessment:
        params["assessment"] = assessment
    with client.connect() as api:
        body = api.call("GET", "/v1/reviews", what="the reviews", params=params)
    if not body["data"]:
        out.print("nothing awaits review" if offset == 0 else f"nothing past the first {offset} of {body['count']}")
    for r in body["data"]:
        out.print(f"{r['id']}  {escape(r['task'])}@{r['pack_version']}  {r['created_at'][:16]}", highlight=False)
    shown = offset + len(body["data"])
    if body["data"] and (offset or shown < body["count"]):
        more = f"; the next: --offset {shown}" if shown < body["count"] else ""
        out.print(f"{offset + 1}-{shown} of {body['count']}{more}", highlight=False)


def reviews_show(
    review_id: Annotated[str, typer.Argument(help="The review's id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """A submission to review, blind: the rubric, the reference answer and the submitted files."""
    from cli import client

    with client.connect() as api:
        r = api.call("GET", f"/v1/reviews/{_q(review_id)}", what="the review", missing=f"unknown review {review_id!r}")
    if as_json:
        _print_json(r)
        return
    out.print(f"[bold]{escape(r['title'])}[/] ({escape(r['task'])}), {r['state']}")
    for criterion in r["rubric"]:
        out.print(f"  [bold]{escape(criterion['name'])}[/] ({escape(criterion['micro_skill'] or 'all skills')})")
        for level in criterion["levels"]:
            out.print(f"    {level['points']:g}: {escape(level['descriptor'])}", highlight=False)
    out.print("[bold]reference answer[/]\n" + escape(r["reference_answer"]))
    for path, text in r["files"].items():
        out.print(f"[bold]── {escape(path)}[/]\n{escape(text)}")


def reviews_score(
    review_id: Annotated[str, typer.Argument(help="The review's id.")],
    score: Annotated[list[str], typer.Option(help="CRITERION=POINTS (repeat, one per criterion).")],
    comment: Annotated[list[str] | None, typer.Option(help="CRITERION=TEXT (repeat).")] = None,
) -> None:
    """Score every criterion; the submission's one signed result follows."""
    from cli import client

    def pairs(items: list[str], what: str) -> dict[str, str]:
        found = {}
        for item in items:
            name, sep, value = item.partition("=")
            if not sep:
                raise typer.BadParameter(f"{item!r}: write {what} as CRITERION=VALUE")
            found[name] = value
        return found

    try:
        scores = {k: float(v) for k, v in pairs(score, "a score").items()}
    except ValueError as exc:
        raise typer.BadParameter(f"a score is a number of points: {exc}") from exc
    with client.connect() as api:
        done = api.call(
            "POST",
            f"/v1/reviews/{_q(review_id)}",
            what="the review",
            missing=f"unknown review {review_id!r}",
            json={"scores": scores, "comments": pairs(comment or [], "a comment")},
        )
    out.print(f"[green]✓[/] result {done['result_id']}: {done['verdict']} {done['score']:g}", highlight=False)


# -- regrades -------------------------------------------------------------------------------


def assessments_regrade(
    assessment_id: Annotated[str, typer.Argument(help="The assessment's id.")],
    task: Annotated[str | None, typer.Option(help="Only this PACK/TASK's submissions.")] = None,
    version: Annotated[
        str | None, typer.Option(help="The pack version to grade against (default: latest live).")
    ] = None,
) -> None:
    """Grade the assessment's submissions again against a newer pack version, on the workers."""
    from cli import client

    with client.connect() as api:
        started = api.call(
            "POST",
            f"/v1/assessments/{_q(assessment_id)}/regrade",
            what="the regrade",
            missing=f"unknown assessment {assessment_id!r}",
            json={"task": task, "version": version},
        )
    out.print(
        f"{started['id']}  {started['total']} submission(s) queued against "
        f"{escape(', '.join(f'{k}@{v}' for k, v in started['versions'].items()))}; "
        f"follow with `tasktrial regrades show {started['id']}`",
        highlight=False,
        soft_wrap=True,
    )


def regrades_show(
    regrade_id: Annotated[str, typer.Argument(help="The regrade's id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """A regrade's progress and every changed verdict."""
    from cli import client

    with client.connect() as api:
        report = api.call(
            "GET",
            f"/v1/regrades/{_q(regrade_id)}",
            what="the regrade report",
            missing=f"unknown regrade {regrade_id!r}",
        )
    if as_json:
        _print_json(report)
        return
    out.print(
        f"{report['done']}/{report['total']} regraded{' (finished)' if report['finished'] else ''}; "
        f"{len(report['changed'])} verdict(s) changed",
        highlight=False,
    )
    for change in report["changed"]:
        old = change["old"]
        before = f"{old['verdict']} {old['score']:g}" if old else "none"
        out.print(
            f"  {escape(change['candidate'])}  {escape(change['task'])}  {before} → "
            f"{change['new']['verdict']} {change['new']['score']:g}",
            highlight=False,
        )


def assessments_similarity(
    assessment_id: Annotated[str, typer.Argument(help="The assessment's id.")],
    threshold: Annotated[float, typer.Option(min=0.1, max=1.0, help="Share of fingerprints in common.")] = 0.5,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Pairs of submissions of one task that are suspiciously alike (a flag for a human; no score changes)."""
    from cli import client

    with client.connect() as api:
        report = api.call(
            "GET",
            f"/v1/assessments/{_q(assessment_id)}/similarity",
            what="the similarity report",
            missing=f"unknown assessment {assessment_id!r}",
            params={"threshold": threshold},
        )
    if as_json:
        _print_json(report)
        return
    out.print(f"{report['count']} pair(s) at or above {report['threshold']:g} (flags for a human; scores unchanged)")
    for p in report["data"]:
        out.print(
            f"  {p['score']:.2f}  {escape(p['task'])}  {escape(p['a']['candidate'])} ↔ "
            f"{escape(p['b']['candidate'])}  ({p['shared']} shared)  {p['links']['side_by_side']}",
            highlight=False,
            soft_wrap=True,
        )


# -- webhooks -----------------------------------------------------------------------------------


def webhooks_add(
    cohort_id: Annotated[str, typer.Argument(help="The cohort's id.")],
    url: Annotated[str, typer.Argument(help="The receiver's http(s) URL.")],
    event: Annotated[list[str], typer.Option(help="result.created, review.completed or regrade.changed (repeat).")],
) -> None:
    """Register a webhook; prints its signing secret once (Standard Webhooks)."""
    from cli import client

    with client.connect() as api:
        made = api.call(
            "POST",
            f"/v1/cohorts/{_q(cohort_id)}/webhooks",
            what="the webhook",
            missing=f"unknown cohort {cohort_id!r}",
            json={"url": url, "events": event},
        )
    out.print(f"{made['id']}  {escape(made['url'])}  {', '.join(made['events'])}", highlight=False)
    typer.echo(made["secret"])


def webhooks_list(cohort_id: Annotated[str, typer.Argument(help="The cohort's id.")]) -> None:
    """The cohort's webhooks."""
    from cli import client

    with client.connect() as api:
        body = api.call(
            "GET", f"/v1/cohorts/{_q(cohort_id)}/webhooks", what="the webhooks", missing=f"unknown cohort {cohort_id!r}"
        )
    for e in body["data"]:
        out.print(f"{e['id']}  {escape(e['url'])}  {', '.join(e['events'])}", highlight=False)


def webhooks_deliveries(endpoint_id: Annotated[str, typer.Argument(help="The webhook's id.")]) -> None:
    """The delivery log: each event, its state and every try."""
    from cli import client

    with client.connect() as api:
        body = api.call(
            "GET",
            f"/v1/webhooks/{_q(endpoint_id)}/deliveries",
            what="the delivery log",
            missing=f"unknown webhook {endpoint_id!r}",
        )
    for d in body["data"]:
        tries = ", ".join(str(t["status_code"] or t["error"]) for t in d["tries"]) or "not tried yet"
        out.print(
            f"{d['id']}  {d['event_type']}  {d['state']}  tries: {escape(tries)}", highlight=False, soft_wrap=True
        )


def webhooks_redeliver(delivery_id: Annotated[str, typer.Argument(help="The delivery's id.")]) -> None:
    """Send a delivery again now (same webhook-id)."""
    from cli import client

    with client.connect() as api:
        body = api.call(
            "POST",
            f"/v1/webhooks/deliveries/{_q(delivery_id)}/redeliver",
            what="the redelivery",
            missing=f"unknown delivery {delivery_id!r}",
        )
    out.print(f"{body['id']} queued again ({body['message_id']})", highlight=False)
