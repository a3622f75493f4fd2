"""Output comparators of the io kind: pure functions with properties worth proving."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from graders import comparators
from graders.comparators import exact, from_config, numeric, regex, whitespace

token = st.text(st.characters(codec="utf-8", exclude_categories=("Z", "C")), min_size=1, max_size=8).filter(
    lambda s: not any(c.isspace() for c in s)
)
gap = st.text(" \t\n\r\x0b\x0c", min_size=1, max_size=4)
line_text = st.text(st.characters(codec="utf-8", exclude_characters="\r"), max_size=60)


# -- exact ----------------------------------------------------------------------------------------


def test_exact_accepts_identical_output():
    assert exact("4 the\n2 end\n", "4 the\n2 end\n") == (True, "")


def test_exact_ignores_one_trailing_newline_either_side():
    assert exact("a\nb", "a\nb\n")[0]
    assert exact("a\nb\n", "a\nb")[0]


def test_exact_rejects_an_extra_blank_line_and_names_it():
    ok, why = exact("a\n\n", "a\n")
    assert not ok
    assert "extra output" in why


def test_exact_names_the_first_differing_line():
    ok, why = exact("a\nB\nc\n", "a\nb\nc\n")
    assert not ok
    assert why == "line 2: expected 'b', got 'B'"


def test_exact_reports_output_that_ends_early():
    ok, why = exact("a\n", "a\nb\n")
    assert not ok and "ends early" in why


def test_exact_is_sensitive_to_spacing():
    assert not exact("a  b", "a b")[0]
    assert not exact("a b ", "a b")[0]


@given(line_text.map(lambda t: t.rstrip("\n")))
def test_exact_ignores_only_one_trailing_newline(text):
    assert exact(text, text)[0]
    assert exact(text, text + "\n")[0]
    assert exact(text + "\n", text)[0]
    assert not exact(text + "\n\n", text)[0]
    assert not exact(text + " ", text)[0]


@given(line_text, line_text)
def test_exact_accepts_exactly_the_equal_texts(a, b):
    assert exact(a, b)[0] == (a.removesuffix("\n") == b.removesuffix("\n"))


# -- whitespace -----------------------------------------------------------------------------------


def test_whitespace_compares_tokens():
    assert whitespace("1  2\n3\n\n", " 1 2 3")[0]
    ok, why = whitespace("1 2 4", "1 2 3")
    assert not ok and why == "token 3: expected '3', got '4'"


@given(st.lists(token, max_size=10), st.data())
def test_whitespace_ignores_any_change_in_whitespace(tokens, data):
    def spaced():
        gaps = data.draw(st.lists(gap, min_size=len(tokens) + 1, max_size=len(tokens) + 1))
        lead = data.draw(st.booleans())
        body = "".join(t + g for t, g in zip(tokens, gaps[1:], strict=True))
        return (gaps[0] if lead else "") + body

    assert whitespace(spaced(), spaced()) == (True, "")


@given(st.lists(token, min_size=1, max_size=10), st.data())
def test_whitespace_notices_any_changed_token(tokens, data):
    index = data.draw(st.integers(min_value=0, max_value=len(tokens) - 1))
    other = data.draw(token.filter(lambda t: t != tokens[index]))
    changed = [*tokens[:index], other, *tokens[index + 1 :]]
    assert not whitespace(" ".join(changed), " ".join(tokens))[0]


# -- numeric --------------------------------------------------------------------------------------


def test_numeric_accepts_close_numbers_and_compares_words_exactly():
    compare = numeric(abs_tol=0.01)
    assert compare("total 3.001\n", "total 3.0")[0]
    assert not compare("sum 3.0", "total 3.0")[0]
    assert not compare("total x", "total 3.0")[0]


def test_numeric_counts_tokens():
    ok, why = numeric()("1 2", "1 2 3")
    assert not ok and why == "expected 3 tokens, got 2"


def test_numeric_names_the_token_and_tolerance():
    ok, why = numeric(abs_tol=0.5, rel_tol=0)("1 9", "1 2")
    assert not ok
    assert "token 2" in why and "0.5" in why


def test_numeric_treats_nan_and_infinity_as_words():
    assert numeric()("nan inf", "nan inf")[0]
    assert not numeric()("1e400", "inf")[0]


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
tolerance = st.floats(min_value=1e-6, max_value=10)


@given(finite, tolerance, st.floats(min_value=-0.99, max_value=0.99))
def test_numeric_accepts_values_within_the_absolute_tolerance(value, tol, share):
    actual = value + share * tol
    assert numeric(abs_tol=tol, rel_tol=0)(repr(actual), repr(value))[0]


@given(finite, tolerance, st.floats(min_value=1.01, max_value=100), st.booleans())
def test_numeric_rejects_values_beyond_the_tolerance(value, tol, factor, above):
    allowed = max(tol, 1e-3 * abs(value))
    actual = value + (factor * allowed if above else -factor * allowed)
    assume(math.isfinite(actual))
    assert not numeric(abs_tol=tol, rel_tol=1e-3)(repr(actual), repr(value))[0]


@given(finite.filter(lambda v: abs(v) > 1), st.floats(min_value=-0.99, max_value=0.99))
def test_numeric_accepts_values_within_the_relative_tolerance(value, share):
    actual = value * (1 + share * 1e-3)
    assert numeric(abs_tol=0, rel_tol=1e-3)(repr(actual), repr(value))[0]


# -- regex ----------------------------------------------------------------------------------------


def test_regex_must_match_the_whole_output():
    assert regex("took 12 ms\n", "took \\d+ ms\n")[0]  # a .out file ends with a newline
    assert not regex("it took 12 ms", r"took \d+ ms")[0]
    assert not regex("took 12 ms and more", r"took \d+ ms")[0]


def test_regex_spans_lines():
    assert regex("a\nb\nc", "a.*c")[0]


def test_an_invalid_pattern_fails_with_a_reason():
    ok, why = regex("x", "(unclosed")
    assert not ok and "not a valid regular expression" in why


# -- choosing from config -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (None, whitespace),
        ({}, whitespace),
        ({"type": "whitespace"}, whitespace),
        ({"type": "exact"}, exact),
        ({"type": "regex"}, regex),
    ],
)
def test_from_config_picks_the_named_comparator(config, expected):
    assert from_config(config) is expected


def test_from_config_builds_numeric_with_its_tolerances():
    compare = from_config({"type": "numeric", "abs_tol": 0.5, "rel_tol": 0})
    assert compare("1.4", "1")[0]
    assert not compare("1.6", "1")[0]


def test_the_checker_is_not_a_pure_comparator():
    with pytest.raises(ValueError, match="checker"):
        comparators.from_config({"type": "checker", "command": ["x"]})
