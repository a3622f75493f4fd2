"""Log checkpoints as C2SP ``tlog-checkpoint`` bodies inside C2SP ``signed-note`` envelopes.

A checkpoint commits the log to its size and root hash::

    <origin>\\n
    <size in decimal>\\n
    <base64 root hash>\\n
    \\n
    — <key name> <base64(4-byte key id || Ed25519 signature)>\\n

The signature covers the body (the first lines, through the newline before the
blank line). The key id is the first four bytes of
``SHA-256(key name || 0x0A || 0x01 || 32-byte public key)`` (0x01: Ed25519),
so a verifier matches a signature line to a key without trusting the line's
claim: an id that names no known key is simply not a signature it can check.
The key name is the log's origin.

Parsing is strict and every rejection says what is wrong; nothing here fetches anything.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from engine.errors import TaskTrialError
from engine.merkle import HASH_SIZE

ED25519_TYPE = b"\x01"
SIGNATURE_PREFIX = "\u2014 "  # an em dash and a space
MAX_NOTE_BYTES = 16 * 1024
MAX_SIGNATURES = 100
_SIZE = re.compile(r"0|[1-9][0-9]{0,19}")


class CheckpointError(TaskTrialError):
    """A checkpoint is malformed or its signature does not verify; the message says which."""


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root_hash: bytes

    def body(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root_hash).decode('ascii')}\n"


@dataclass(frozen=True)
class NoteKey:
    """A public key a verifier trusts, with the label it reports (e.g. the JWK ``kid``)."""

    label: str
    public: bytes  # the raw 32-byte Ed25519 public key
    #: A withdrawn key: its signature is recognised only to say so.
    revoked: bool = False


def key_id(name: str, public: bytes) -> bytes:
    """The signed-note key id: 4 bytes of ``SHA-256(name || 0x0A || 0x01 || public key)``."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + ED25519_TYPE + public).digest()[:4]


def raw_public(private: Ed25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def verifier_key(name: str, public: bytes) -> str:
    """The ``name+hexid+base64(0x01 || key)`` verifier key string signed-note tools accept."""
    return f"{name}+{key_id(name, public).hex()}+{base64.b64encode(ED25519_TYPE + public).decode('ascii')}"


def sign_note(text: str, name: str, private: Ed25519PrivateKey) -> str:
    """``text`` (ending in a newline) as a signed note with one Ed25519 signature under key ``name``."""
    signature = private.sign(text.encode("utf-8"))
    blob = base64.b64encode(key_id(name, raw_public(private)) + signature).decode("ascii")
    return f"{text}\n{SIGNATURE_PREFIX}{name} {blob}\n"


def sign(checkpoint: Checkpoint, private: Ed25519PrivateKey) -> str:
    """The signed note of ``checkpoint``, signed under the key name ``checkpoint.origin``.

    Raises:
        CheckpointError: the origin is not a valid key name and first line.
    """
    _check_origin(checkpoint.origin)
    return sign_note(checkpoint.body(), checkpoint.origin, private)


def parse(note: str | bytes) -> tuple[Checkpoint, list[tuple[str, bytes, bytes]]]:
    """The checkpoint a note carries and its signature lines as ``(name, key id, signature)``; nothing verified.

    Raises:
        CheckpointError: the note or the checkpoint in it is malformed (the message names the line).
    """
    if isinstance(note, bytes):
        if len(note) > MAX_NOTE_BYTES:
            raise CheckpointError(f"the checkpoint is {len(note)} bytes, more than the {MAX_NOTE_BYTES} allowed")
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CheckpointError(f"the checkpoint is not UTF-8 text: {exc}") from exc
    if len(note.encode("utf-8")) > MAX_NOTE_BYTES:
        raise CheckpointError(f"the checkpoint is more than the {MAX_NOTE_BYTES} bytes allowed")
    if any((ord(c) < 0x20 and c != "\n") or c == "\x7f" for c in note):
        raise CheckpointError("the checkpoint holds a control character (only newlines are allowed)")
    body, separator, signatures = note.partition("\n\n")
    if not separator:
        raise CheckpointError("the checkpoint has no signature block (no blank line after the body)")
    if not signatures.endswith("\n"):
        raise CheckpointError("the checkpoint's last signature line does not end with a newline")
    lines = body.split("\n")
    if len(lines) < 3:
        raise CheckpointError(f"the checkpoint body has {len(lines)} line(s); origin, size and root hash are required")
    origin, size_text, root_text = lines[:3]
    _check_origin(origin)
    if not _SIZE.fullmatch(size_text):
        raise CheckpointError(
            f"the checkpoint size {size_text!r} (line 2) is not a decimal number without leading zeros"
        )
    root_hash = _b64(root_text, "the root hash (line 3)")
    if len(root_hash) != HASH_SIZE:
        raise CheckpointError(f"the root hash (line 3) is {len(root_hash)} bytes, not {HASH_SIZE}")
    if any(not line for line in lines[3:]):
        raise CheckpointError("the checkpoint body has an empty extension line")
    parsed = []
    for number, line in enumerate(signatures[:-1].split("\n"), start=1):
        if not line.startswith(SIGNATURE_PREFIX):
            raise CheckpointError(f"signature line {number} does not start with an em dash and a space")
        name, space, blob = line[len(SIGNATURE_PREFIX) :].partition(" ")
        if not space or not name or " " in blob:
            raise CheckpointError(f"signature line {number} is not '— <key name> <base64 signature>'")
        raw = _b64(blob, f"signature line {number}")
        if len(raw) < 5:
            raise CheckpointError(f"signature line {number} is too short to hold a key id and a signature")
        parsed.append((name, raw[:4], raw[4:]))
    if not parsed:
        raise CheckpointError("the checkpoint carries no signature")
    if len(parsed) > MAX_SIGNATURES:
        raise CheckpointError(f"the checkpoint carries {len(parsed)} signatures, more than {MAX_SIGNATURES}")
    return Checkpoint(origin=origin, size=int(size_text), root_hash=root_hash), parsed


def verify(note: str | bytes, keys: Iterable[NoteKey]) -> tuple[Checkpoint, NoteKey]:
    """The checkpoint in ``note`` and the key that signed it, once a signature by a key in ``keys`` verifies.

    Only a signature under the key name equal to the origin counts: a log's key signs its own checkpoints.

    Raises:
        CheckpointError: malformed, or no signature by a known key verifies (the message names the key ids seen).
    """
    checkpoint, signatures = parse(note)
    text = note if isinstance(note, str) else note.decode("utf-8")
    body = text.partition("\n\n")[0].encode("utf-8") + b"\n"  # extension lines are signed too
    known = {key_id(checkpoint.origin, key.public): key for key in keys}
    for name, kid, signature in signatures:
        key = known.get(kid) if name == checkpoint.origin else None
        if key is None:
            continue
        if key.revoked:
            raise CheckpointError(f"the checkpoint is signed by revoked key {key.label!r}")
        try:
            Ed25519PublicKey.from_public_bytes(key.public).verify(signature, body)
        except InvalidSignature:
            raise CheckpointError(
                f"the checkpoint signature by key {key.label!r} does not verify: "
                "the checkpoint was changed after signing"
            ) from None
        return checkpoint, key
    seen = ", ".join(f"{name}+{kid.hex()}" for name, kid, _ in signatures)
    raise CheckpointError(
        f"the checkpoint is signed by no known key of log {checkpoint.origin!r} (signatures by {seen})"
    )


def _check_origin(origin: str) -> None:
    if not origin or any(c.isspace() for c in origin) or "+" in origin:
        raise CheckpointError(
            f"the checkpoint origin {origin!r} (line 1) must be a non-empty name without spaces or '+'"
        )


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise CheckpointError(f"{what} is not standard base64: {exc}") from exc
