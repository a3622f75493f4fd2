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


def _without_clashes(tree: dict[str, bytes]) -> dict[str, bytes]:
    """Drop paths that would collide (case folding, normalisation) or be both a file and a folder."""
    from engine.trees import fold

    kept: dict[str, bytes] = {}
    files: set[str] = set()
    folders: set[str] = set()
    for path in sorted(tree):
        key = fold(path)
        parts = key.split("/")
        parents = {"/".join(parts[:i]) for i in range(1, len(parts))}
        if key in files or key in folders or parents & files:
            continue
        files.add(key)
        folders |= parents
        kept[path] = tree[path]
    return kept


# A tree that can exist on any file system: what an archive round trip must preserve.
safe_file_tree = file_tree.map(_without_clashes)


# -- graded checks (engine-core suite) -----------------------------------------

def _check(status, max_score, fraction, weight, skill):
    from engine.models import Check

    return Check(id="c", name="c", status=status, score=max_score * fraction, max_score=max_score,
                 weight=weight, micro_skill=skill)


def checks_strategy():
    """Any check a grader could produce: every status, partial scores, zero and fractional weights."""
    from engine.models import CheckStatus

    return st.builds(
        _check,
        status=st.sampled_from(list(CheckStatus)),
        max_score=st.floats(min_value=0, max_value=1000, allow_nan=False),
        fraction=st.floats(min_value=0, max_value=1),
        weight=st.floats(min_value=0, max_value=100, allow_nan=False),
        skill=st.sampled_from([None, "python.basics.a", "python.basics.b"]),
    )


check_lists = st.lists(st.deferred(checks_strategy), max_size=20)
