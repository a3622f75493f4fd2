"""A test suite for durations.py that pins down every rule of the statement."""

import pytest

from durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1h30m", 5400),
        ("45s", 45),
        ("2d", 172800),
        ("1d1h1m1s", 90061),
        ("0s", 0),
        ("05m", 300),
        ("90m", 5400),
        ("  3h \n", 10800),
        ("1d12h", 129600),
    ],
)
def test_parses(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text",
    ["", "   ", "30m1h", "1s1d", "1h1h", "1m2m", "1h 30m", "90", "h", "1H", "1h30mx", "-5m", "+5m", "1.5h", "1w", "abc"],
)
def test_rejects(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_rejects_non_strings():
    with pytest.raises(TypeError):
        parse_duration(90)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (45, "45s"), (60, "1m"), (3600, "1h"), (3661, "1h1m1s"), (86400, "1d"), (90061, "1d1h1m1s"),
     (86401, "1d1s"), (5400, "1h30m")],
)
def test_formats(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize("seconds", [0, 1, 59, 61, 3599, 3601, 86399, 86400, 93784, 10**7])
def test_round_trips(seconds):
    assert parse_duration(format_duration(seconds)) == seconds


def test_format_rejects_negative_and_non_integers():
    with pytest.raises(ValueError):
        format_duration(-1)
    with pytest.raises(TypeError):
        format_duration(1.5)
    with pytest.raises(TypeError):
        format_duration(True)
