"""W3C Bitstring Status List: one bit per credential, set when it is revoked.

``encodedList`` is the GZIP of the bitstring (at least 16 KiB, so one bit says
little about who holds it), base64url without padding, multibase prefix ``u``.
Bit 0 is the most significant bit of the first byte.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import zlib
from collections.abc import Iterable
from typing import Any

from engine.errors import TaskTrialError

MIN_BITS = 131_072
MAX_ENCODED = 1 << 20
MAX_LIST_BYTES = 16 << 20  # a decompression bomb stops here


class StatusListError(TaskTrialError):
    """A status list is malformed or an index is outside it."""


def encode(revoked: Iterable[int], size: int = MIN_BITS) -> str:
    indices = list(revoked)
    size = max(size, MIN_BITS, *(i + 1 for i in indices)) if indices else max(size, MIN_BITS)
    size = (size + 7) // 8 * 8
    bits = bytearray(size // 8)
    for index in indices:
        bits[index // 8] |= 0x80 >> (index % 8)
    return "u" + base64.urlsafe_b64encode(gzip.compress(bytes(bits), mtime=0)).decode("ascii").rstrip("=")


def is_set(encoded: Any, index: int) -> bool:
    """Whether bit ``index`` is set.

    Raises:
        StatusListError: not a multibase base64url GZIP list, or the index is outside it.
    """
    if not isinstance(encoded, str) or not encoded.startswith("u") or len(encoded) > MAX_ENCODED:
        raise StatusListError("the status list's encodedList is not a multibase base64url string")
    try:
        raw = base64.b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4), altchars=b"-_", validate=True)
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip framing
        bits = inflater.decompress(raw, MAX_LIST_BYTES + 1)
        if len(bits) > MAX_LIST_BYTES:
            raise ValueError(f"it inflates past {MAX_LIST_BYTES} bytes")
    except (ValueError, zlib.error, binascii.Error) as exc:
        raise StatusListError(f"the status list's encodedList does not decode: {exc}") from exc
    if not 0 <= index < len(bits) * 8:
        raise StatusListError(f"status index {index} is outside the list of {len(bits) * 8} entries")
    return bool(bits[index // 8] & (0x80 >> (index % 8)))
