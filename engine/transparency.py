"""What the transparency log holds for a result, and the offline check of a result's inclusion.

A leaf is the 32-byte SHA-256 of the RFC 8785 canonical JSON of a whole signed
result document, signature included. The log never holds the document, so it
holds no personal data; anyone who holds the document can recompute its leaf.
Every signed view of a result (the full one and the candidate's) is a leaf of
its own, so each reader can prove the view they hold.

An inclusion bundle is what a reader saves and checks offline::

    {"result": <signed document>,
     "log": {"origin", "log_index", "tree_size", "leaf_digest", "inclusion_proof": [base64 hashes]}}
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from typing import Any

import rfc8785

from engine import merkle, signing
from engine.checkpoints import Checkpoint, NoteKey
from engine.merkle import ProofError

DIGEST_PREFIX = "sha256:"
MAX_PROOF_HASHES = 64  # a tree of 2**64 leaves needs no more


def document_digest(document: Mapping[str, Any]) -> str:
    """``sha256:<hex>`` of the canonical JSON of the whole signed document.

    Raises:
        ProofError: the document cannot be canonicalised (NaN, huge integers, non-JSON values).
    """
    try:
        return DIGEST_PREFIX + hashlib.sha256(rfc8785.dumps(document)).hexdigest()
    except rfc8785.CanonicalizationError as exc:
        raise ProofError(f"the result cannot be canonicalised, so it cannot be in the log: {exc}") from exc


def leaf_hash(digest: str) -> bytes:
    """The Merkle leaf hash of the entry whose data is the 32 bytes ``digest`` names.

    Raises:
        ProofError: ``digest`` is not ``sha256:`` and 64 hex digits.
    """
    raw = digest.removeprefix(DIGEST_PREFIX) if isinstance(digest, str) and digest.startswith(DIGEST_PREFIX) else None
    try:
        data = bytes.fromhex(raw) if raw is not None else b""
    except ValueError:
        data = b""
    if raw is None or len(data) != merkle.HASH_SIZE or raw != raw.lower():
        raise ProofError(f"the leaf digest {digest!r} is not 'sha256:' followed by 64 lower-case hex digits")
    return merkle.leaf_hash(data)


def encode_proof(proof: list[bytes]) -> list[str]:
    return [base64.b64encode(item).decode("ascii") for item in proof]


def decode_proof(value: Any, what: str) -> list[bytes]:
    """Base64 hashes from JSON; ``what`` names the proof in every error.

    Raises:
        ProofError: not a list of base64 strings (length is checked by the verifier).
    """
    if not isinstance(value, list) or len(value) > MAX_PROOF_HASHES:
        raise ProofError(f"the {what} must be a list of at most {MAX_PROOF_HASHES} base64 hashes")
    decoded = []
    for position, item in enumerate(value):
        try:
            decoded.append(base64.b64decode(item.encode("ascii"), validate=True))
        except (AttributeError, UnicodeEncodeError, binascii.Error) as exc:
            raise ProofError(f"hash {position} of the {what} is not standard base64") from exc
    return decoded


def _count(log: Mapping[str, Any], name: str) -> int:
    value = log.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ProofError(f"the bundle's '{name}' must be a non-negative integer, not {value!r}")
    return value


def verify_inclusion(document: Mapping[str, Any], log: Any, checkpoint: Checkpoint) -> int:
    """Check that ``document`` is in the log ``checkpoint`` commits to, by the proof in ``log``. Returns its index.

    The checkpoint must already be verified (signature) by the caller.

    Raises:
        ProofError: the bundle is malformed, is for another log or size, or the proof fails.
    """
    if not isinstance(log, Mapping):
        raise ProofError("the 'log' member of the bundle must be an object")
    index, size = _count(log, "log_index"), _count(log, "tree_size")
    if log.get("origin", checkpoint.origin) != checkpoint.origin:
        raise ProofError(
            f"the inclusion proof is for log {log.get('origin')!r}, the checkpoint for log {checkpoint.origin!r}"
        )
    if size != checkpoint.size:
        raise ProofError(
            f"the inclusion proof is for tree size {size} but the checkpoint has size "
            f"{checkpoint.size}: fetch the proof against this checkpoint "
            f"(GET /v1/results/ID/inclusion?size={checkpoint.size})"
        )
    digest = document_digest(document)
    if log.get("leaf_digest", digest) != digest:
        raise ProofError(
            f"the result's digest is {digest}, but the proof was made for the entry "
            f"{log.get('leaf_digest')!r}: the result changed or belongs to another entry"
        )
    merkle.verify_inclusion(
        leaf=leaf_hash(digest),
        index=index,
        size=size,
        proof=decode_proof(log.get("inclusion_proof"), "inclusion proof"),
        root_hash=checkpoint.root_hash,
    )
    return index


def note_keys(jwks: Mapping[str, Any]) -> list[NoteKey]:
    """The JWKS's Ed25519 keys as checkpoint verifiers, labelled by kid; revoked keys marked.

    Raises:
        ConfigurationError: the JWKS is malformed (see ``engine.signing.verify``).
    """
    statuses = signing.key_statuses(jwks)
    return [
        NoteKey(label=kid, public=raw, revoked=statuses.get(kid) == signing.REVOKED)
        for kid, raw in signing.raw_public_keys(jwks).items()
    ]
