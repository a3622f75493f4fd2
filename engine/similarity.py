"""Suspiciously alike submissions: winnowing fingerprints over Pygments tokens (MOSS's method).

Identifiers, strings and numbers are normalised (renaming a variable changes nothing), comments
and whitespace dropped; k-grams of tokens are hashed and winnowed (Schleimer, Wilkerson, Aiken 2003).
Fingerprints the starter code already has are removed, so the code everyone was given never counts.
This flags pairs for a human; it never changes a score.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

from pygments.lexers import TextLexer, get_lexer_for_filename
from pygments.token import Comment, Name, Number, String, Text, Whitespace, is_token_subtype
from pygments.util import ClassNotFound

K = 5  # tokens per k-gram: a match shorter than this is noise
WINDOW = 4  # winnowing window: any match of K + WINDOW - 1 tokens is guaranteed to be found
MAX_FILE_CHARS = 200_000


@dataclass(frozen=True)
class Fingerprints:
    """A submission's selected k-gram hashes, each with the (file, line) where it starts."""

    where: Mapping[int, tuple[str, int]]

    @property
    def hashes(self) -> set[int]:
        return set(self.where)


def tokens(path: str, text: str) -> list[tuple[str, int]]:
    """Normalised tokens of one file with their line numbers."""
    try:
        lexer = get_lexer_for_filename(path, stripnl=False)
    except ClassNotFound:
        lexer = TextLexer(stripnl=False)
    found: list[tuple[str, int]] = []
    line = 1
    for kind, value in lexer.get_tokens(text[:MAX_FILE_CHARS]):
        if (
            is_token_subtype(kind, Comment)
            or is_token_subtype(kind, Whitespace)
            or (is_token_subtype(kind, Text) and not value.strip())
        ):
            pass
        elif is_token_subtype(kind, Name):
            found.append(("N", line))
        elif is_token_subtype(kind, String):
            found.append(("S", line))
        elif is_token_subtype(kind, Number):
            found.append(("0", line))
        elif is_token_subtype(kind, Text):  # prose (a report, a brief): its words, lower-cased
            found.extend((word.lower(), line) for word in value.split())
        else:
            found.append((value.strip(), line))
        line += value.count("\n")
    return found


def _hash(gram: Sequence[str]) -> int:
    return int.from_bytes(hashlib.blake2b("\x1f".join(gram).encode(), digest_size=8).digest(), "big")


def fingerprint(files: Mapping[str, bytes]) -> Fingerprints:
    """Winnowed fingerprints of a tree of files (each file on its own: no k-gram spans two files)."""
    where: dict[int, tuple[str, int]] = {}
    for path in sorted(files):
        stream = tokens(path, files[path].decode("utf-8", "replace"))
        hashes = [(_hash([t for t, _ in stream[i : i + K]]), stream[i][1]) for i in range(len(stream) - K + 1)]
        if not hashes:
            continue
        last = -1
        for start in range(max(1, len(hashes) - WINDOW + 1)):
            window = hashes[start : start + WINDOW]
            low = min(h for h, _ in window)
            index = start + max(i for i, (h, _) in enumerate(window) if h == low)  # the rightmost minimum
            if index != last:
                where.setdefault(hashes[index][0], (path, hashes[index][1]))
                last = index
    return Fingerprints(where)


def without(prints: Fingerprints, starter: set[int]) -> Fingerprints:
    return Fingerprints({h: w for h, w in prints.where.items() if h not in starter})


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    #: Shared fingerprints over the smaller side's: 1.0 when one is contained in the other.
    score: float
    shared: int


def similar_pairs(
    prints: Mapping[str, Fingerprints], *, threshold: float = 0.5, min_shared: int = 5, common: float = 0.5
) -> list[Pair]:
    """Pairs of keys whose fingerprints overlap at least ``threshold``, most alike first.

    Fingerprints found in more than ``common`` of all submissions (and in more than two) are dropped as
    shared idiom, as MOSS does; an inverted index keeps this far below comparing every pair.
    """
    postings: dict[int, list[str]] = defaultdict(list)
    for key, fp in prints.items():
        for h in fp.where:
            postings[h].append(key)
    limit = max(2, int(common * len(prints)))
    shared: dict[tuple[str, str], int] = defaultdict(int)
    kept: dict[str, int] = defaultdict(int)
    for keys in postings.values():
        if len(keys) > limit:
            continue
        for key in keys:
            kept[key] += 1
        for a, b in combinations(sorted(keys), 2):
            shared[(a, b)] += 1
    pairs = []
    for (a, b), count in shared.items():
        smaller = min(kept[a], kept[b])
        score = count / smaller if smaller else 0.0
        if count >= min_shared and score >= threshold:
            pairs.append(Pair(a=a, b=b, score=round(score, 3), shared=count))
    return sorted(pairs, key=lambda p: (-p.score, -p.shared, p.a, p.b))


def matched_lines(a: Fingerprints, b: Fingerprints) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """Per file, the lines where the fingerprints the two share start, on each side (for a side-by-side view)."""
    left: dict[str, set[int]] = defaultdict(set)
    right: dict[str, set[int]] = defaultdict(set)
    for h in a.hashes & b.hashes:
        path, line = a.where[h]
        left[path].add(line)
        path, line = b.where[h]
        right[path].add(line)
    return ({p: sorted(v) for p, v in left.items()}, {p: sorted(v) for p, v in right.items()})
