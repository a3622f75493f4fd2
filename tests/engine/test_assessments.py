"""Assessment rules as plain functions: window, clock, attempt limit, late policy, visibility, scoring."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine import assessments as rules
from engine.roster import RosterError, parse_members

T0 = datetime(2026, 1, 1, 9, tzinfo=UTC)
HOUR = timedelta(hours=1)


def window(**changes) -> rules.Window:
    values: dict[str, Any] = {"opens_at": T0, "closes_at": T0 + 2 * HOUR}
    values.update(changes)
    return rules.Window(**values)


def test_a_window_must_close_after_it_opens():
    with pytest.raises(ValueError, match="closes_at must be after opens_at"):
        window(closes_at=T0)


@pytest.mark.parametrize(
    ("now", "changes", "rule"),
    [
        (T0 - HOUR, {}, "window_not_open"),
        (T0 + 3 * HOUR, {}, "window_closed"),
        (T0 + HOUR, {"attempt_limit": 2}, "attempt_limit"),
        (T0 + HOUR, {"duration_seconds": 600}, "not_started"),
    ],
)
def test_each_refusal_names_its_rule(now, changes, rule):
    with pytest.raises(rules.AssessmentRuleBroken) as caught:
        rules.admit(window(**changes), now=now, started_at=None, attempts_used=2)
    assert caught.value.rule == rule and str(caught.value).startswith(rule)


def test_late_work_is_marked_when_accepted():
    assert (
        rules.admit(window(late=rules.LatePolicy.ACCEPT), now=T0 + 3 * HOUR, started_at=None, attempts_used=0) is True
    )
    assert rules.admit(window(), now=T0 + HOUR, started_at=None, attempts_used=0) is False


def test_a_timed_attempt_ends_at_its_duration_or_the_close():
    timed = window(duration_seconds=1800)
    started = T0 + HOUR + timedelta(minutes=45)
    assert timed.deadline(started) == T0 + 2 * HOUR  # refusing late work: the close comes first
    assert timed.time_left(started, T0 + 2 * HOUR - timedelta(minutes=5)) == 300
    with pytest.raises(rules.AssessmentRuleBroken, match=r"^time_limit"):
        rules.admit(timed, now=T0 + 2 * HOUR + timedelta(seconds=1), started_at=started, attempts_used=0)
    assert window(duration_seconds=1800, late=rules.LatePolicy.ACCEPT).deadline(started) == started + HOUR / 2


def test_visibility_and_views():
    view = {"checks": [{"id": "a"}, {"id": "b"}, {"id": "c"}]}
    cut = rules.candidate_views(view, rules.Visibility.AFTER_CLOSE, {"a": "always", "c": "never"})
    assert [c["id"] for c in cut["during"]["checks"]] == ["a"]
    assert [c["id"] for c in cut["after"]["checks"]] == ["a", "b"]
    assert not rules.visible(rules.Visibility.NEVER, closed=True)


def test_scoring_best_or_last_and_errors_never_count():
    attempts = [
        rules.Attempt(at=T0, score=90, verdict="ready", result_id="1"),
        rules.Attempt(at=T0 + HOUR, score=40, verdict="not_ready", result_id="2"),
        rules.Attempt(at=T0 + 2 * HOUR, score=0, verdict="error", result_id="3"),
    ]
    assert rules.counting(attempts, rules.Scoring.BEST).result_id == "1"
    assert rules.counting(attempts, rules.Scoring.LAST).result_id == "2"
    assert rules.counting(attempts[2:], rules.Scoring.BEST) is None


def test_a_roster_reports_every_bad_line():
    with pytest.raises(RosterError) as caught:
        parse_members(b"email,subject,display_name\nx@y.org,ok,Ok\n,, \nnope,bad!,B\nx@y.org,ok2,C\n")
    assert caught.value.problems[0].startswith("line 4: subject 'bad!'")
    assert caught.value.problems[1].startswith("line 5: email 'x@y.org' already on line 2")
    rows = parse_members("subject,display_name,email\nzoë,Zoë,z@example.org\n".replace("zoë,", "zoe,").encode())
    assert [(r.line, r.subject, r.display_name) for r in rows] == [(2, "zoe", "Zoë")]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"subject,email\n", r"lacks the column\(s\) display_name"),
        (b"\xff\xfe", "not UTF-8"),
        (b"subject,display_name,email\n", "no members"),
    ],
)
def test_a_roster_without_members_is_refused(data, message):
    with pytest.raises(RosterError, match=message):
        parse_members(data)
