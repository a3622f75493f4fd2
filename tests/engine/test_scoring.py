"""Scores, micro-skill attribution and verdicts: plain arithmetic over checks."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine import scoring
from engine.models import Check, CheckStatus, RunStatus, Verdict
from tests import factories
from tests.strategies import check_lists

PASS, FAIL, ERROR, SKIPPED = CheckStatus.PASS, CheckStatus.FAIL, CheckStatus.ERROR, CheckStatus.SKIPPED


def test_the_score_is_the_weighted_share_of_what_could_be_earned():
    checks = [factories.check(PASS, weight=3), factories.check(FAIL, weight=1)]
    assert scoring.weighted_score(checks) == 75.0


def test_weights_decide_which_check_matters_more():
    heavy_pass = [factories.check(PASS, weight=2), factories.check(FAIL, weight=1)]
    heavy_fail = [factories.check(PASS, weight=1), factories.check(FAIL, weight=2)]
    assert scoring.weighted_score(heavy_pass) == pytest.approx(66.67)
    assert scoring.weighted_score(heavy_fail) == pytest.approx(33.33)


@pytest.mark.parametrize("status", [SKIPPED, ERROR])
def test_skipped_and_errored_checks_earn_nothing_but_still_count_in_the_total(status):
    # A full score on a skipped check must not count: a candidate cannot skip a hidden test out of the total.
    checks = [factories.check(PASS), factories.check(status, score=1.0)]
    assert scoring.weighted_score(checks) == 50.0


def test_partial_scores_earn_their_share():
    checks = [factories.check(FAIL, score=1, max_score=4), factories.check(PASS, score=2, max_score=2)]
    assert scoring.weighted_score(checks) == 62.5


def test_a_score_above_its_maximum_is_capped_and_a_negative_one_earns_nothing():
    assert scoring.weighted_score([factories.check(PASS, score=10, max_score=1)]) == 100.0
    assert scoring.weighted_score([factories.check(FAIL, score=-5, max_score=1), factories.check(PASS)]) == 50.0


def test_nothing_to_earn_scores_zero():
    assert scoring.weighted_score([]) == 0.0
    assert scoring.weighted_score([factories.check(PASS, weight=0)]) == 0.0


def test_a_tagged_check_counts_for_its_skill_only_and_an_untagged_one_for_every_skill():
    skills = ("python.basics.a", "python.basics.b")
    checks = [
        factories.check(FAIL, id="t1", micro_skill="python.basics.a"),
        factories.check(PASS, id="t2", micro_skill="python.basics.b"),
        factories.check(PASS, id="t3"),
    ]
    scores = scoring.micro_skill_scores(skills, checks, RunStatus.COMPLETED, threshold=80)
    assert scores == {
        "python.basics.a": {"score": 50.0, "verdict": "not_ready"},
        "python.basics.b": {"score": 100.0, "verdict": "ready"},
    }


def test_a_skill_named_only_by_a_check_is_reported_too():
    checks = [factories.check(PASS, micro_skill="python.extra.skill")]
    scores = scoring.micro_skill_scores(("python.basics.a",), checks, RunStatus.COMPLETED, threshold=80)
    assert set(scores) == {"python.basics.a", "python.extra.skill"}
    assert scores["python.extra.skill"]["score"] == 100.0
    assert scores["python.basics.a"]["score"] == 0.0  # nothing evidences it


def test_skill_verdicts_follow_the_run_status():
    checks = [factories.check(PASS)]
    scores = scoring.micro_skill_scores(("python.basics.a",), checks, RunStatus.TIMEOUT, threshold=80)
    assert scores["python.basics.a"] == {"score": 100.0, "verdict": "not_ready"}


@pytest.mark.parametrize(
    ("status", "score", "expected"),
    [
        (RunStatus.COMPLETED, 80.0, Verdict.READY),
        (RunStatus.COMPLETED, 100.0, Verdict.READY),
        (RunStatus.COMPLETED, 79.99, Verdict.NOT_READY),
        (RunStatus.TIMEOUT, 100.0, Verdict.NOT_READY),
        (RunStatus.MEMORY_LIMIT, 100.0, Verdict.NOT_READY),
        (RunStatus.CRASHED, 100.0, Verdict.NOT_READY),
        (RunStatus.ENGINE_ERROR, 100.0, Verdict.ERROR),
        (RunStatus.ENGINE_ERROR, 0.0, Verdict.ERROR),
    ],
)
def test_verdict_rules(status, score, expected):
    assert scoring.verdict(status, score, threshold=80.0) is expected


@given(check_lists)
def test_the_score_is_always_between_0_and_100(checks):
    assert 0.0 <= scoring.weighted_score(checks) <= 100.0


@given(check_lists, st.data())
def test_turning_a_failing_check_into_a_passing_one_never_lowers_the_score(checks, data):
    failing = [i for i, c in enumerate(checks) if c.status is not PASS]
    if not failing:
        return
    index = data.draw(st.sampled_from(failing))
    improved = list(checks)
    improved[index] = replace(checks[index], status=PASS, score=checks[index].max_score)
    assert scoring.weighted_score(improved) >= scoring.weighted_score(checks)


@given(check_lists)
def test_skill_scores_are_bounded_and_cover_every_tagged_skill(checks):
    scores = scoring.micro_skill_scores(("python.basics.a",), checks, RunStatus.COMPLETED, threshold=50)
    assert {c.micro_skill for c in checks if c.micro_skill} <= set(scores)
    assert all(0.0 <= entry["score"] <= 100.0 for entry in scores.values())


def test_a_tiny_max_score_never_earns_more_than_its_weight():
    """Found by hypothesis: weight * score / max_score rounded past the weight for max_score 5e-324."""
    checks = [Check(id="a", name="a", status=PASS, score=5e-324, max_score=5e-324, weight=0.7)]
    assert scoring.weighted_score(checks) == 100.0
    assert scoring.earned(checks[0]) <= 0.7
