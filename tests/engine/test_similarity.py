"""Winnowing over Pygments tokens: renaming does not hide a copy, the starter never counts, unlike code is not flagged."""

from __future__ import annotations

from engine import similarity

ORIGINAL = b'''
def retry(call, attempts=5, base=0.1, cap=2.0):
    """Call until it works."""
    delay = base
    for attempt in range(attempts):
        try:
            return call()
        except ConnectionError:
            if attempt == attempts - 1:
                raise
            time.sleep(min(delay, cap))
            delay *= 2
'''
RENAMED = b"""
def again(fn, tries=5, first=0.1, ceiling=2.0):
    # my own work, honest
    wait = first
    for n in range(tries):
        try:
            return fn()
        except ConnectionError:
            if n == tries - 1:
                raise
            time.sleep(min(wait, ceiling))
            wait *= 2
"""
OTHER = b"""
import itertools
def retry(call, attempts=5):
    errors = []
    while len(errors) < attempts:
        result = call_safely(call, errors)
        if result is not None:
            return result
    raise RuntimeError(errors[-1])
"""


def test_renamed_identifiers_and_new_comments_do_not_hide_a_copy():
    prints = {
        name: similarity.fingerprint({"retry.py": text})
        for name, text in (("a", ORIGINAL), ("b", RENAMED), ("c", OTHER))
    }
    pairs = similarity.similar_pairs(prints, threshold=0.5, min_shared=3, common=1.0)
    assert [(p.a, p.b) for p in pairs] == [("a", "b")]
    assert pairs[0].score > 0.9


def test_code_from_the_starter_is_never_counted():
    starter = similarity.fingerprint({"retry.py": ORIGINAL}).hashes
    prints = {
        name: similarity.without(similarity.fingerprint({"retry.py": ORIGINAL + extra}), starter)
        for name, extra in (("a", b"\nx = 1\n"), ("b", b"\nprint('done', 42)\n"))
    }
    assert similarity.similar_pairs(prints, threshold=0.5, min_shared=1, common=1.0) == []


def test_matched_lines_point_into_both_files():
    a, b = similarity.fingerprint({"retry.py": ORIGINAL}), similarity.fingerprint({"r.py": RENAMED})
    left, right = similarity.matched_lines(a, b)
    assert set(left) == {"retry.py"} and set(right) == {"r.py"}
    assert min(left["retry.py"]) >= 2 and max(right["r.py"]) <= RENAMED.count(b"\n")


def test_prose_is_compared_word_by_word():
    text = b"The pool ran out because migration 0042 held an exclusive lock on the orders table for 32 minutes."
    prints = {
        "a": similarity.fingerprint({"summary.md": text}),
        "b": similarity.fingerprint({"summary.md": text.replace(b"The pool", b"Our pool")}),
        "c": similarity.fingerprint({"summary.md": b"Users saw errors; we rolled back and added an alert."}),
    }
    assert [(p.a, p.b) for p in similarity.similar_pairs(prints, min_shared=3, common=1.0)] == [("a", "b")]
