"""Shared hypothesis strategies and the test profile."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

settings.register_profile("tasktrial", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "tasktrial"))

# A safe relative path segment: what a well-behaved submission uses.
segment = st.text(alphabet=st.characters(codec="utf-8", categories=("L", "N"), include_characters="_-."),
                  min_size=1, max_size=12).filter(lambda s: s not in (".", ".."))
relative_path = st.lists(segment, min_size=1, max_size=4).map("/".join)
file_tree = st.dictionaries(relative_path, st.binary(max_size=256), max_size=12)
