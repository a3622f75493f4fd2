"""Hidden tests: they import the candidate's words.py from the submission."""

from words import count_words


def test_counts_words_separated_by_spaces():
    assert count_words("the quick brown fox") == 4


def test_counts_a_single_word():
    assert count_words("hello") == 1


def test_tabs_and_newlines_separate_words():
    assert count_words("one\ttwo\nthree") == 3


def test_runs_of_whitespace_count_once():
    assert count_words("  spaced   out  ") == 2


def test_empty_text_has_no_words():
    assert count_words("") == 0
