from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine import statuslist
from engine.statuslist import StatusListError


@given(st.sets(st.integers(0, 200_000), max_size=20), st.integers(0, 200_000))
def test_exactly_the_revoked_bits_are_set(revoked, probe):
    encoded = statuslist.encode(revoked)
    assert encoded.startswith("u")
    for index in revoked:
        assert statuslist.is_set(encoded, index)
    if probe not in revoked and probe < statuslist.MIN_BITS:
        assert not statuslist.is_set(encoded, probe)


@pytest.mark.parametrize(
    ("encoded", "message"), [("xabc", "not a multibase"), ("u!!!", "does not decode"), (None, "not a multibase")]
)
def test_malformed_lists_are_refused(encoded, message):
    with pytest.raises(StatusListError, match=message):
        statuslist.is_set(encoded, 0)


def test_an_index_outside_the_list_is_refused():
    with pytest.raises(StatusListError, match="outside the list"):
        statuslist.is_set(statuslist.encode([]), statuslist.MIN_BITS)
