"""Shared hypothesis strategies and the test profile."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

settings.register_profile("tasktrial", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "tasktrial"))

# A safe relative path segment: what a well-behaved submission uses.
segment = st.text(
    alphabet=st.characters(codec="utf-8", categories=("L", "N"), include_characters="_-."), min_size=1, max_size=12
).filter(lambda s: s not in (".", ".."))
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

    return Check(
        id="c",
        name="c",
        status=status,
        score=max_score * fraction,
        max_score=max_score,
        weight=weight,
        micro_skill=skill,
    )


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


# -- trees that probe every admission rule (engine.trees.Admission) -------------

#: Names chosen to break or brush against a rule: case and Unicode folding, dots, litter, bad characters.
TRICKY_SEGMENTS = [
    "a",
    "A",
    "src",
    "Src",
    "SRC",
    "b.py",
    "B.PY",
    ".",
    "..",
    "",
    ".git",
    "__pycache__",
    "x.pyc",
    "__MACOSX",
    "node_modules",
    ".hidden",
    "...",
    "caf\u00e9",
    "cafe\u0301",
    "stra\u00dfe",
    "STRASSE",
    "\u017f",
    "s",
    "\u0130",
    "i\u0307",
    "a\\b",
    "c:",
    "bad\nname",
    "del\x7f",
    "\u00e9\u00e9",
]
tricky_segment = st.one_of(
    st.sampled_from(TRICKY_SEGMENTS),
    st.text(alphabet="aAbB.\u00e9\u00c9_", min_size=1, max_size=4),
    st.integers(250, 260).map(lambda n: "a" * n),  # around NAME_MAX (255 bytes)
    st.integers(124, 130).map(lambda n: "\u00e9" * n),  # the same in two-byte characters
)
tricky_path = st.one_of(
    st.lists(tricky_segment, min_size=1, max_size=5).map("/".join),
    st.lists(st.sampled_from(["d", "D"]), min_size=14, max_size=18).map("/".join),  # around the depth cap (16)
    st.lists(st.just("\u00e9" * 120), min_size=3, max_size=6).map("/".join),  # around the path cap (1024 bytes)
)
#: File bodies: small, or one byte repeated around the 1 MiB cap for one file (compresses ~1000:1).
tricky_body = st.one_of(
    st.binary(max_size=32),
    st.tuples(
        st.sampled_from([1024 * 1024 - 1, 1024 * 1024, 1024 * 1024 + 1, 700_000]), st.binary(min_size=1, max_size=1)
    ).map(lambda pair: pair[1] * pair[0]),
)


class Tree(dict):
    """A ``{path: bytes}`` tree whose repr shows big files by size, so a falsifying example stays readable."""

    def __repr__(self) -> str:
        shown = {
            path: body if len(body) <= 64 else f"<{len(body)} bytes of {body[:1]!r}...>" for path, body in self.items()
        }
        return f"Tree({shown!r})"

    def _repr_pretty_(self, printer, cycle) -> None:  # hypothesis's printer
        printer.text(repr(self))


tricky_tree = st.one_of(
    st.dictionaries(tricky_path, tricky_body, max_size=8),
    # around the file count cap (500) and the total size cap (8 MiB)
    st.integers(498, 502).map(lambda n: {f"f{i}.txt": b"x" for i in range(n)}),
    st.integers(7, 9).map(lambda n: {f"big{i}.bin": bytes([i]) * 1_000_000 for i in range(n)}),
).map(Tree)
