"""What staff read of an assessment: the progress dashboard, the readiness matrices, the hiring filter.

Each is made from one narrow progress row per member and task (the counting attempt kept by
``cohorts.refresh_score`` in the result's transaction), never the result documents, and kept per
process as a ``_Board``: after a change only the rows stamped since are read again and only their
members re-rendered, so a cohort of thousands stays quick right after every new result.
"""

from __future__ import annotations

import csv
import io
import json
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable
from typing import Any, cast

from sqlmodel import Session

from api import cohort_storage as store
from api.cohorts import aware, window
from api.tables import Assessment, utcnow
from engine import assessments as rules

#: Boards kept per process (least recently used dropped first).
BOARDS = 16
_BOARDS: OrderedDict[str, _Board] = OrderedDict()
_BOARDS_LOCK = threading.Lock()
NOTHING = (0, None, None, None, False)


class _Board:
    """One assessment's staff views, kept in step with its progress rows.

    Every write to a member's progress stamps the row with the assessment's new revision
    (``storage.bump_revision``). A view read at a newer revision re-reads only the rows stamped since
    and re-renders only those members' fragments (a JSON object or a CSV line each); the rest of the
    text is joined as it was. A new member list or task list rebuilds everything.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.revision = -1
        self.signature: tuple | None = None
        self.keys: list[str] = []
        self.names: list[tuple[str, str]] = []
        #: member -> task key -> (attempts, score, verdict, skills, late)
        self.progress: dict[str, dict[str, tuple]] = {}
        self.starts: dict[str, Any] = {}
        #: view -> member -> rendered fragment
        self.fragments: dict[str, dict[str, str]] = {}
        #: micro-skill -> how many members have a graded attempt assessing it (the skills matrix's columns)
        self.skill_members: Counter[str] = Counter()
        self.member_skills: dict[str, frozenset[str]] = {}
        self.texts: dict[str, Any] = {}
        self.members: set[str] = set()
        #: the dashboard's totals per task (started, submitted, graded, ready), and each member's share of them
        self.totals: list[list[int]] = []
        self.shares: dict[str, tuple[tuple[int, int, int, int], ...]] = {}
        #: member -> when their timed attempt ends (a Unix time), for the dashboard's time left
        self.deadlines: dict[str, float | None] = {}


def _board(session: Session, assessment: Assessment) -> _Board:
    """The assessment's board, brought up to at least ``assessment.revision``."""
    with _BOARDS_LOCK:
        board = _BOARDS.get(assessment.id)
        if board is None:
            board = _BOARDS[assessment.id] = _Board()
        _BOARDS.move_to_end(assessment.id)
        while len(_BOARDS) > BOARDS:
            _BOARDS.popitem(last=False)
    with board.lock:
        if board.revision >= assessment.revision and board.keys == task_keys(assessment):
            return board  # as new as this request's reading of the assessment, or newer
        signature = (
            tuple(task_keys(assessment)),
            window(assessment),
            store.member_signature(session=session, cohort_id=assessment.cohort_id),
        )
        if board.revision < 0 or signature != board.signature:
            _rebuild(session, assessment, board)
        else:
            _catch_up(session, assessment, board)
        board.signature, board.revision = signature, assessment.revision
    return board


def _rebuild(session: Session, assessment: Assessment, board: _Board) -> None:
    board.keys = task_keys(assessment)
    board.names = store.member_names(session=session, cohort_id=assessment.cohort_id)
    board.progress = _progress(session, assessment)
    board.starts = store.starts(session=session, assessment_id=assessment.id)
    board.fragments, board.texts = {}, {}
    board.skill_members, board.member_skills = Counter(), {}
    board.members = {subject for subject, _ in board.names}
    board.totals, board.shares, board.deadlines = [[0, 0, 0, 0] for _ in board.keys], {}, {}
    rule = window(assessment)
    for subject, _ in board.names:
        _count(board, subject, rule)


def _catch_up(session: Session, assessment: Assessment, board: _Board) -> None:
    """Apply the rows written since the board's revision; drop the changed members' fragments."""
    changed = set()
    for subject, by_task in _progress(session, assessment, since=board.revision).items():
        board.progress.setdefault(subject, {}).update(by_task)
        changed.add(subject)
    for subject, started in store.starts(session=session, assessment_id=assessment.id, since=board.revision).items():
        board.starts[subject] = started
        changed.add(subject)
    if not changed:
        return
    columns = set(board.skill_members)
    rule = window(assessment)
    for subject in changed & board.members:
        _count(board, subject, rule)
    for view, fragments in board.fragments.items():
        if view.endswith(":skills") and set(board.skill_members) != columns:
            fragments.clear()  # a micro-skill column came or went: every row of the skills matrix changes
        for subject in changed:
            fragments.pop(subject, None)
    board.texts = {}


def _count(board: _Board, subject: str, rule: rules.Window) -> None:
    """Bring the member's share of the totals, the skill columns and their deadline up to date."""
    started, mine = board.starts.get(subject), board.progress.get(subject, {})
    share = []
    for key in board.keys:
        attempts, _, verdict, _, _ = mine.get(key, NOTHING)
        share.append(
            (int(bool(started or attempts)), int(bool(attempts)), int(verdict is not None), int(verdict == "ready"))
        )
    for sign, counted in ((-1, board.shares.get(subject, ())), (1, share)):
        for total, part in zip(board.totals, counted, strict=False):
            for index in range(4):
                total[index] += sign * part[index]
    board.shares[subject] = tuple(share)
    deadline = rule.deadline(aware(started)) if started else None
    board.deadlines[subject] = deadline.timestamp() if deadline else None
    skills = frozenset(s for t in mine.values() if t[2] is not None for s in (t[3] or {}))
    old = board.member_skills.get(subject, frozenset())
    board.skill_members.subtract(old)
    board.skill_members.update(skills)
    board.skill_members += Counter()  # drop the skills no member has any more
    board.member_skills[subject] = skills


def task_keys(assessment: Assessment) -> list[str]:
    return [f"{t['pack_id']}/{t['task_id']}" for t in assessment.tasks]


def _progress(session: Session, assessment: Assessment, since: int | None = None) -> dict[str, dict[str, tuple]]:
    """member -> task key -> (attempts, score, verdict, skills, late); score and verdict None until graded.
    ``since``: only the rows written after that revision."""
    keys = {(t["pack_id"], t["task_id"]): f"{t['pack_id']}/{t['task_id']}" for t in assessment.tasks}
    found: dict[str, dict[str, tuple]] = {}
    for candidate, pack_id, task_id, attempts, score, verdict, late, skills in store.scores(
        session=session, assessment_id=assessment.id, with_skills=True, since=since
    ):
        key = keys.get((pack_id, task_id)) or f"{pack_id}/{task_id}"
        by_task = found.get(candidate)
        if by_task is None:
            by_task = found[candidate] = {}
        by_task[key] = (attempts, score, verdict, skills, late)
    return found


def _graded(progress: dict[str, dict[str, tuple]]) -> dict[str, dict[str, tuple]]:
    """Only the tasks with a counting attempt: member -> task key -> (score, verdict, skills, late)."""
    return {
        member: {key: value[1:] for key, value in tasks.items() if value[2] is not None}
        for member, tasks in progress.items()
    }


def _fragments(board: _Board, view: str, render: Callable[[str, str], str]) -> list[str]:
    """Every member's fragment of ``view``, rendering only those not kept."""
    kept = board.fragments.setdefault(view, {})
    out = []
    for subject, name in board.names:
        text = kept.get(subject)
        if text is None:
            text = kept[subject] = render(subject, name)
        out.append(text)
    return out


# -- the dashboard -------------------------------------------------------------------------


def dashboard(session: Session, assessment: Assessment) -> dict[str, Any]:
    """Per member and task: attempts, the counting verdict; per member: started, time left; per task: totals."""
    return json.loads(dashboard_json(session, assessment))


def _member_tasks(board: _Board, subject: str) -> dict[str, dict[str, Any]]:
    started, mine = board.starts.get(subject), board.progress.get(subject, {})
    tasks = {}
    for key in board.keys:
        attempts, score, verdict, _, late = mine.get(key, NOTHING)
        state = (
            "ready"
            if verdict == "ready"
            else "graded"
            if verdict
            else "submitted"
            if attempts
            else "started"
            if started
            else "not_started"
        )
        tasks[key] = {"attempts": attempts, "state": state, "score": score, "late": late}
    return tasks


def dashboard_json(session: Session, assessment: Assessment) -> str:
    """The dashboard as JSON: kept member fragments, totals counted over the kept task states, and each
    member's time left worked out on each call."""
    board = _board(session, assessment)
    with board.lock:

        def member(subject: str, name: str) -> str:
            started = board.starts.get(subject)
            body = {
                "subject": subject,
                "display_name": name,
                "started_at": aware(started).isoformat() if started else None,
                "tasks": _member_tasks(board, subject),
            }
            return json.dumps(body, ensure_ascii=False)[:-1] + ', "time_left_seconds": '

        parts = _fragments(board, "dashboard", member)
        head = board.texts.get("dashboard")
        if head is None:
            totals = {
                k: dict(zip(("started", "submitted", "graded", "ready"), t, strict=False))
                for k, t in zip(board.keys, board.totals, strict=False)
            }
            head = board.texts["dashboard"] = (
                json.dumps({"assessment_id": assessment.id, "tasks": board.keys, "totals": totals}, ensure_ascii=False)[
                    :-1
                ]
                + ', "members": [',
                f'], "count": {len(board.names)}}}',
            )
        deadlines = [board.deadlines.get(subject) for subject, _ in board.names]
    now = utcnow().timestamp()
    return (
        head[0]
        + ",".join(
            text + ("null" if deadline is None else repr(max(0.0, deadline - now))) + "}"
            for text, deadline in zip(parts, deadlines, strict=False)
        )
        + head[1]
    )


def dashboard_page(session: Session, assessment: Assessment, start: int, stop: int) -> dict[str, Any]:
    """The dashboard with only ``members[start:stop]`` (a web page of it; totals and count over everyone):
    the same board and rules as ``dashboard_json``, without turning every member's row into objects."""
    board = _board(session, assessment)
    with board.lock:
        totals = {
            k: dict(zip(("started", "submitted", "graded", "ready"), t, strict=False))
            for k, t in zip(board.keys, board.totals, strict=False)
        }
        names = board.names[start:stop]
        members = [
            {
                "subject": subject,
                "display_name": name,
                "started_at": aware(board.starts[subject]).isoformat() if board.starts.get(subject) else None,
                "tasks": _member_tasks(board, subject),
                "_deadline": board.deadlines.get(subject),
            }
            for subject, name in names
        ]
        keys, count = list(board.keys), len(board.names)
    now = utcnow().timestamp()
    for member in members:
        deadline = cast("float | None", member.pop("_deadline"))  # board.deadlines' value, put there above
        member["time_left_seconds"] = None if deadline is None else max(0.0, deadline - now)
    return {"assessment_id": assessment.id, "tasks": keys, "totals": totals, "members": members, "count": count}


# -- the readiness matrices ----------------------------------------------------------------


def _cells(board: _Board, subject: str, by: str, columns: list[str]) -> dict[str, Any]:
    mine = board.progress.get(subject, {})
    if by == "tasks":
        cells = {}
        for key in board.keys:
            _, score, verdict, _, _ = mine.get(key, NOTHING)
            cells[key] = {"score": score, "verdict": verdict} if verdict is not None else None
        return cells
    per_skill = rules.skill_readiness([t[3] or {} for t in mine.values() if t[2] is not None])
    return {c: ({"score": per_skill[c][0], "verdict": per_skill[c][1]} if c in per_skill else None) for c in columns}


def _columns(board: _Board, by: str) -> list[str]:
    return board.keys if by == "tasks" else sorted(board.skill_members)


def matrix(session: Session, assessment: Assessment, by: str) -> dict[str, Any]:
    """Members × tasks (``by='tasks'``) or members × micro-skills (``'skills'``), scoring policy applied.

    A cell is ``{score, verdict}``, or None where the member has no graded attempt.
    """
    return json.loads(matrix_json(session, assessment, by))


def matrix_json(session: Session, assessment: Assessment, by: str) -> str:
    board = _board(session, assessment)
    with board.lock:
        text = board.texts.get(f"json:{by}")
        if text is None:
            columns = _columns(board, by)
            rows = _fragments(
                board,
                f"json:{by}",
                lambda subject, name: json.dumps(
                    {"subject": subject, "display_name": name, "cells": _cells(board, subject, by, columns)},
                    ensure_ascii=False,
                ),
            )
            head = json.dumps(
                {"assessment_id": assessment.id, "by": by, "scoring": assessment.scoring, "columns": columns},
                ensure_ascii=False,
            )[:-1]
            text = board.texts[f"json:{by}"] = head + ', "rows": [' + ",".join(rows) + f'], "count": {len(rows)}}}'
        return text


def matrix_page(session: Session, assessment: Assessment, by: str, start: int, stop: int) -> dict[str, Any]:
    """The matrix with only ``rows[start:stop]`` (a web page of it; columns and count over everyone)."""
    board = _board(session, assessment)
    with board.lock:
        columns = _columns(board, by)
        rows = [
            {"subject": subject, "display_name": name, "cells": _cells(board, subject, by, columns)}
            for subject, name in board.names[start:stop]
        ]
        count = len(board.names)
    return {
        "assessment_id": assessment.id,
        "by": by,
        "scoring": assessment.scoring,
        "columns": list(columns),
        "rows": rows,
        "count": count,
    }


def matrix_csv_text(session: Session, assessment: Assessment, by: str) -> str:
    """The matrix as CSV: subject, display_name, then per column its score and verdict."""
    board = _board(session, assessment)
    with board.lock:
        text = board.texts.get(f"csv:{by}")
        if text is None:
            columns = _columns(board, by)

            def line(subject: str, name: str) -> str:
                cells = _cells(board, subject, by, columns)
                return _csv_line(
                    [_safe(subject), _safe(name)]
                    + [
                        part
                        for c in columns
                        for part in ((cells[c]["score"], cells[c]["verdict"]) if cells.get(c) else ("", ""))
                    ]
                )

            header = _csv_line(
                ["subject", "display_name"] + [f"{c}{part}" for c in columns for part in (":score", ":verdict")]
            )
            text = board.texts[f"csv:{by}"] = header + "".join(_fragments(board, f"csv:{by}", line))
        return text


def _csv_line(values: list[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()


def matrix_csv(table: dict[str, Any]) -> str:
    """The matrix as CSV: subject, display_name, then per column its score and verdict."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        ["subject", "display_name"] + [f"{c}{part}" for c in table["columns"] for part in (":score", ":verdict")]
    )
    for row in table["rows"]:
        cells = []
        for column in table["columns"]:
            cell = row["cells"].get(column)
            cells += [cell["score"], cell["verdict"]] if cell else ["", ""]
        writer.writerow([_safe(row["subject"]), _safe(row["display_name"]), *cells])
    return buffer.getvalue()


def _safe(text: str) -> str:
    """A spreadsheet never runs a cell as a formula (CSV injection): such cells get a leading quote."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def hiring(session: Session, assessment: Assessment, skills: list[str]) -> dict[str, Any]:
    """Members ready in every one of ``skills``, ranked by their mean score over them (then by subject)."""
    table = matrix(session, assessment, "skills")
    ranked = []
    for row in table["rows"]:
        cells = [row["cells"].get(s) for s in skills]
        if all(c is not None and c["verdict"] == "ready" for c in cells):
            mean = round(sum(c["score"] for c in cells) / len(cells), 2)
            ranked.append(
                {
                    "subject": row["subject"],
                    "display_name": row["display_name"],
                    "score": mean,
                    "skills": dict(zip(skills, cells, strict=False)),
                }
            )
    ranked.sort(key=lambda r: (-r["score"], r["subject"]))
    for rank, row in enumerate(ranked, 1):
        row["rank"] = rank
    return {"assessment_id": assessment.id, "skills": skills, "data": ranked, "count": len(ranked)}


def hiring_csv(table: dict[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["rank", "subject", "display_name", "score"] + [f"{s}:score" for s in table["skills"]])
    for row in table["data"]:
        writer.writerow(
            [row["rank"], _safe(row["subject"]), _safe(row["display_name"]), row["score"]]
            + [row["skills"][s]["score"] for s in table["skills"]]
        )
    return buffer.getvalue()


def score_distribution(session: Session, assessment: Assessment) -> dict[str, list[float]]:
    """Counting scores per task."""
    found: dict[str, list[float]] = {k: [] for k in task_keys(assessment)}
    board = _board(session, assessment)
    with board.lock:
        progress = {subject: dict(tasks) for subject, tasks in board.progress.items()}
    for by_task in _graded(progress).values():
        for key, value in by_task.items():
            found.setdefault(key, []).append(value[0])
    return found


def readiness_by_skill(session: Session, assessment: Assessment) -> dict[str, tuple[int, int]]:
    """Per micro-skill: (members ready, members assessed)."""
    table = matrix(session, assessment, "skills")
    found: dict[str, tuple[int, int]] = {}
    for column in table["columns"]:
        cells = [row["cells"][column] for row in table["rows"] if row["cells"].get(column)]
        found[column] = (sum(c["verdict"] == "ready" for c in cells), len(cells))
    return found
