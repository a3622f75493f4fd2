"""Your tests for durations.py. Run them with ``python3 -m pytest`` in this folder.

These three examples pass on the given module; add the tests that would catch its bugs.
"""

import pytest

from durations import format_duration, parse_duration


def test_parses_hours_and_minutes():
    assert parse_duration("1h30m") == 5400


def test_formats_hours_and_minutes():
    assert format_duration(5400) == "1h30m"


def test_rejects_units_out_of_order():
    with pytest.raises(ValueError):
        parse_duration("30m1h")
