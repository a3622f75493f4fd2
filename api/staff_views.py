"""What staff read of an assessment: the progress dashboard, the readiness matrices, the hiring filter.

Each reads a few narrow rows per member (the counting attempts kept by ``cohorts.refresh_score``),
never the result documents, so a cohort of thousands stays quick.
"""

from __future__ import annotations

import csv
import io
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from sqlmodel import Session

from api import cohort_storage as store
from api.cohorts import aware, window
from api.tables import Assessment, utcnow
from engine import assessments as rules

#: Views computed at an assessment's revision, reused until its progress changes (the revision is bumped
#: in the transaction of every change, so a cached view is never stale). Per process, bounded.
_CACHE: OrderedDict[tuple, Any] = OrderedDict()
_CACHE_LOCK = threading.Lock()
CACHE_ENTRIES = 32


def _cached(assessment: Assessment, kind: str, compute: Callable[[], Any]) -> Any:
    """``compute()`` once per assessment revision and ``kind``; callers never mutate what it returns."""
    key = (assessment.id, assessment.revision, kind)
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    value = compute()
    with _CACHE_LOCK:
        _CACHE[key] = value
        while len(_CACHE) > CACHE_ENTRIES:
            _CACHE.popitem(last=False)
    return value


def task_keys(assessment: Assessment) -> list[str]:
    return [f"{t['pack_id']}/{t['task_id']}" for t in assessment.tasks]


def _progress(session: Session, assessment: Assessment, with_skills: bool = False) -> dict[str, dict[str, tuple]]:
    """member -> task key -> (attempts, score, verdict, skills, late); score and verdict None until graded."""
    keys = {(t["pack_id"], t["task_id"]): f"{t['pack_id']}/{t['task_id']}" for t in assessment.tasks}
    found: dict[str, dict[str, tuple]] = {}
    for candidate, pack_id, task_id, attempts, score, verdict, late, skills in store.scores(
            session=session, assessment_id=assessment.id, with_skills=with_skills):
        key = keys.get((pack_id, task_id)) or f"{pack_id}/{task_id}"
        by_task = found.get(candidate)
        if by_task is None:
            by_task = found[candidate] = {}
        by_task[key] = (attempts, score, verdict, skills, late)
    return found


def _graded(progress: dict[str, dict[str, tuple]]) -> dict[str, dict[str, tuple]]:
    """Only the tasks with a counting attempt: member -> task key -> (score, verdict, skills, late)."""
    return {member: {key: value[1:] for key, value in tasks.items() if value[2] is not None}
            for member, tasks in progress.items()}


def dashboard(session: Session, assessment: Assessment) -> dict[str, Any]:
    """Per member and task: attempts, the counting verdict; per member: started, time left; per task: totals."""
    return json.loads(dashboard_json(session, assessment))


def dashboard_json(session: Session, assessment: Assessment) -> str:
    """The dashboard as JSON. All but the clocks is serialised once per revision and kept as text (a few
    thousand strings, not a hundred thousand objects the garbage collector would walk on every pass);
    each member's time left is worked out on each call."""
    head, members, tail = _cached(assessment, "dashboard", lambda: _dashboard_parts(session, assessment))
    rule, now = window(assessment), utcnow()
    parts = [text + json.dumps(rule.time_left(started, now)) + "}" for text, started in members]
    return head + ",".join(parts) + tail


def _dashboard_parts(session: Session, assessment: Assessment) -> tuple[str, list[tuple[str, Any]], str]:
    board = _dashboard(session, assessment)
    members = [(json.dumps({k: v for k, v in m.items() if k != "_started"}, ensure_ascii=False)[:-1]
                + ', "time_left_seconds": ', m["_started"]) for m in board["members"]]
    rest = json.dumps({**board, "members": []}, ensure_ascii=False)
    marker = '"members": []'
    at = rest.index(marker) + len('"members": [')
    return rest[:at], members, rest[at:]


def _dashboard(session: Session, assessment: Assessment) -> dict[str, Any]:
    keys = task_keys(assessment)
    progress = _progress(session, assessment)
    starts = store.starts(session=session, assessment_id=assessment.id)
    totals = {k: {"started": 0, "submitted": 0, "graded": 0, "ready": 0} for k in keys}
    nothing = (0, None, None, None, False)
    members = []
    for subject, name in store.member_names(session=session, cohort_id=assessment.cohort_id):
        started = starts.get(subject)
        tasks: dict[str, Any] = {}
        mine = progress.get(subject, {})
        for key in keys:
            attempts, score, verdict, _, late = mine.get(key, nothing)
            state = "ready" if verdict == "ready" else "graded" if verdict else \
                "submitted" if attempts else "started" if started else "not_started"
            tasks[key] = {"attempts": attempts, "state": state, "score": score, "late": late}
            entry = totals[key]
            entry["started"] += bool(started or attempts)
            entry["submitted"] += bool(attempts)
            entry["graded"] += verdict is not None
            entry["ready"] += state == "ready"
        members.append({"subject": subject, "display_name": name,
                        "started_at": aware(started).isoformat() if started else None,
                        "_started": aware(started) if started else None, "tasks": tasks})
    return {"assessment_id": assessment.id, "tasks": keys, "totals": totals, "members": members,
            "count": len(members)}


def matrix(session: Session, assessment: Assessment, by: str) -> dict[str, Any]:
    """Members × tasks (``by='tasks'``) or members × micro-skills (``'skills'``), scoring policy applied.

    A cell is ``{score, verdict}``, or None where the member has no graded attempt.
    """
    return _matrix(session, assessment, by)


def matrix_json(session: Session, assessment: Assessment, by: str) -> str:
    """The matrix as JSON, serialised once per revision and kept as text only."""
    return _cached(assessment, f"matrix.json:{by}",
                   lambda: json.dumps(_matrix(session, assessment, by), ensure_ascii=False))


def matrix_csv_text(session: Session, assessment: Assessment, by: str) -> str:
    """The matrix as CSV, made once per revision and kept as text only."""
    return _cached(assessment, f"matrix.csv:{by}", lambda: matrix_csv(_matrix(session, assessment, by)))


def _matrix(session: Session, assessment: Assessment, by: str) -> dict[str, Any]:
    progress = _progress(session, assessment, with_skills=by == "skills")
    keys = task_keys(assessment)
    rows: list[dict[str, Any]] = []
    nothing = (0, None, None, None, False)
    for subject, name in store.member_names(session=session, cohort_id=assessment.cohort_id):
        mine = progress.get(subject, {})
        if by == "tasks":
            cells: dict[str, Any] = {}
            for key in keys:
                _, score, verdict, _, _ = mine.get(key, nothing)
                cells[key] = {"score": score, "verdict": verdict} if verdict is not None else None
        else:  # (attempts, score, verdict, skills, late): only graded tasks count
            per_skill = rules.skill_readiness([t[3] or {} for t in mine.values() if t[2] is not None])
            cells = {s: {"score": v[0], "verdict": v[1]} for s, v in per_skill.items()}
        rows.append({"subject": subject, "display_name": name, "cells": cells})
    if by == "tasks":
        columns = keys
    else:
        columns = sorted({s for row in rows for s in row["cells"]})
        for row in rows:
            row["cells"] = {c: row["cells"].get(c) for c in columns}
    return {"assessment_id": assessment.id, "by": by, "scoring": assessment.scoring, "columns": columns,
            "rows": rows, "count": len(rows)}


def matrix_csv(table: dict[str, Any]) -> str:
    """The matrix as CSV: subject, display_name, then per column its score and verdict."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["subject", "display_name"] + [f"{c}{part}" for c in table["columns"] for part in
                                                   (":score", ":verdict")])
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
            ranked.append({"subject": row["subject"], "display_name": row["display_name"], "score": mean,
                           "skills": dict(zip(skills, cells, strict=False))})
    ranked.sort(key=lambda r: (-r["score"], r["subject"]))
    for rank, row in enumerate(ranked, 1):
        row["rank"] = rank
    return {"assessment_id": assessment.id, "skills": skills, "data": ranked, "count": len(ranked)}


def hiring_csv(table: dict[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["rank", "subject", "display_name", "score"] + [f"{s}:score" for s in table["skills"]])
    for row in table["data"]:
        writer.writerow([row["rank"], _safe(row["subject"]), _safe(row["display_name"]), row["score"]]
                        + [row["skills"][s]["score"] for s in table["skills"]])
    return buffer.getvalue()


def score_distribution(session: Session, assessment: Assessment) -> dict[str, list[float]]:
    """Counting scores per task."""
    found: dict[str, list[float]] = {k: [] for k in task_keys(assessment)}
    for by_task in _graded(_progress(session, assessment)).values():
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
