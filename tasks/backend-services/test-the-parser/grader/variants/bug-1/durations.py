"""Parse and format durations such as ``1h30m``. See statement.md."""

import re

UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
_SECONDS = dict(UNITS)
_RANK = {unit: rank for rank, (unit, _) in enumerate(UNITS)}
_PART = re.compile(r"([0-9]+)([a-z])")


def parse_duration(text):
    """The number of seconds ``text`` stands for, e.g. ``"1h30m"`` -> 5400.

    ``text`` is one or more parts ``<digits><unit>`` with units d, h, m, s,
    largest first, each at most once, no spaces between parts (surrounding
    whitespace is ignored). Raises ``ValueError`` for anything else and
    ``TypeError`` when ``text`` is not a string.
    """
    if not isinstance(text, str):
        raise TypeError(f"expected a str, got {type(text).__name__}")
    stripped = text.strip()
    if not stripped:
        raise ValueError("empty duration")
    total, position, last_rank = 0, 0, -1
    while position < len(stripped):
        match = _PART.match(stripped, position)
        if match is None:
            raise ValueError(f"invalid duration {text!r} at position {position}")
        number, unit = match.groups()
        if unit not in _RANK:
            raise ValueError(f"unknown unit {unit!r} in {text!r}")
        if _RANK[unit] == last_rank:
            raise ValueError(f"units out of order or repeated in {text!r}")
        total += int(number) * _SECONDS[unit]
        last_rank = _RANK[unit]
        position = match.end()
    return total


def format_duration(seconds):
    """The canonical text for ``seconds``: largest units first, zero parts left out, ``0`` -> ``"0s"``.

    Raises ``ValueError`` for a negative number and ``TypeError`` for anything but an int.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise TypeError(f"expected an int, got {type(seconds).__name__}")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    if seconds == 0:
        return "0s"
    parts = []
    for unit, size in UNITS:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
