"""Open Badges 3.0 credentials secured with a W3C Data Integrity ``eddsa-rdfc-2022`` proof.

An award becomes an ``OpenBadgeCredential`` (VC Data Model 2.0): the issuer is a
``did:key`` of the service's Ed25519 key (resolved here from the identifier
itself, never fetched), the subject is a salted SHA-256 identity hash, the
achievement aligns to the micro-skills it certifies, and the evidence points at
the signed results by URL and digest.

The proof follows the eddsa-rdfc-2022 cryptosuite: the document and the proof
options are each canonicalised with RDFC-1.0 (pyld's URDNA2015, the same
algorithm), hashed with SHA-256, and the concatenation ``hash(proof options) ||
hash(document)`` is signed with Ed25519; ``proofValue`` is base58btc multibase.

JSON-LD processing never touches the network: the only documents the loader
knows are the contexts bundled in ``engine/contexts`` (VC 2.0, OB 3.0.3); any
other URL is refused.
"""

from __future__ import annotations

import copy
import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pyld import jsonld

from engine.checkpoints import raw_public
from engine.errors import TaskTrialError

VC_V2 = "https://www.w3.org/ns/credentials/v2"
OB_V3 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
CONTEXTS_DIR = Path(__file__).resolve().parent / "contexts"
CONTEXT_FILES = {VC_V2: "credentials-v2.json", OB_V3: "ob-v3p0-context-3.0.3.json"}
CRYPTOSUITE = "eddsa-rdfc-2022"
ED25519_MULTICODEC = b"\xed\x01"
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


class CredentialError(TaskTrialError):
    """A credential cannot be secured or verified; the message says which check failed."""


# -- the frozen document loader ------------------------------------------------


_CONTEXTS: dict[str, Any] = {}


def document_loader(url: str, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """pyld's document loader over the bundled contexts only: any other URL is an error, never a fetch."""
    if url not in CONTEXT_FILES:
        raise jsonld.JsonLdError(f"the JSON-LD document {url} is not bundled with tasktrial and is never fetched",
                                 "jsonld.LoadDocumentError", code="loading document failed")
    if url not in _CONTEXTS:
        _CONTEXTS[url] = json.loads((CONTEXTS_DIR / CONTEXT_FILES[url]).read_text("utf-8"))
    return {"contextUrl": None, "documentUrl": url, "document": copy.deepcopy(_CONTEXTS[url])}


def canonical(document: Mapping[str, Any]) -> str:
    """RDFC-1.0 canonical N-Quads of a JSON-LD document.

    Raises:
        CredentialError: the document is not valid JSON-LD or names a context that is not bundled.
    """
    try:
        quads: str = jsonld.normalize(dict(document), {"algorithm": "URDNA2015", "format": "application/n-quads",
                                                       "documentLoader": document_loader})
        return quads
    except jsonld.JsonLdError as exc:
        raise CredentialError(f"the credential is not valid JSON-LD here: {_jsonld_message(exc)}") from exc


def _jsonld_message(exc: BaseException) -> str:
    """The innermost cause's message: pyld wraps the real reason (e.g. a refused URL) in generic errors."""
    while (inner := exc.__cause__ or exc.__context__) is not None:
        exc = inner
    return str(exc.args[0]) if exc.args else type(exc).__name__


# -- did:key ---------------------------------------------------------------------


def base58btc(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    text = ""
    while number:
        number, digit = divmod(number, 58)
        text = _B58[digit] + text
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + text


def from_base58btc(text: str) -> bytes:
    number = 0
    for char in text:
        index = _B58.find(char)
        if index < 0:
            raise CredentialError(f"{text[:20]!r}... is not base58btc (character {char!r})")
        number = number * 58 + index
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * (len(text) - len(text.lstrip("1"))) + body


def did_key(public: bytes) -> str:
    """The ``did:key`` of a raw Ed25519 public key (multicodec 0xed, base58btc)."""
    return "did:key:z" + base58btc(ED25519_MULTICODEC + public)


def public_from_verification_method(method: Any) -> bytes:
    """The raw key a ``did:key:z6Mk...#z6Mk...`` verification method names; only did:key is resolved.

    Raises:
        CredentialError: any other kind of verification method, or a malformed one.
    """
    if not isinstance(method, str) or not method.startswith("did:key:z"):
        raise CredentialError(f"the proof's verificationMethod {method!r} is not a did:key "
                              "(nothing else is resolved: no URL is ever fetched)")
    did, _, fragment = method.partition("#")
    identifier = did.removeprefix("did:key:")
    if fragment and fragment != identifier:
        raise CredentialError(f"the verificationMethod {method!r} names a fragment that is not its own key")
    raw = from_base58btc(identifier[1:])
    if not raw.startswith(ED25519_MULTICODEC) or len(raw) != 34:
        raise CredentialError(f"the verificationMethod {method!r} is not an Ed25519 did:key")
    return raw[2:]


# -- building an Open Badge ------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    """One signed result that met a criterion: where to fetch it and the digest that pins it."""

    url: str
    digest: str
    name: str


@dataclass(frozen=True)
class Award:
    credential_id: str
    name: str
    description: str
    criteria: str
    achievement_id: str
    image: str | None
    skills: Sequence[tuple[str, str]]  # (skill id, URL describing it)
    subject_hash: str  # "sha256$<hex>" of salt + identity, as OB 3.0's IdentityObject carries it
    subject_salt: str
    evidence: Sequence[Evidence]
    issuer_name: str
    issuer_url: str
    valid_from: datetime
    identity_type: str = "emailAddress"


def open_badge(award: Award, public: bytes) -> dict[str, Any]:
    """The unsigned ``OpenBadgeCredential`` of an award, issued by the did:key of ``public``."""
    achievement: dict[str, Any] = {
        "id": award.achievement_id, "type": ["Achievement"], "name": award.name,
        "description": award.description, "criteria": {"narrative": award.criteria},
        "alignment": [{"type": ["Alignment"], "targetName": skill, "targetUrl": url, "targetType": "ceterms:Skill"}
                      for skill, url in award.skills],
    }
    if award.image:
        achievement["image"] = {"id": award.image, "type": "Image"}
    return {
        "@context": [VC_V2, OB_V3],
        "id": award.credential_id,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": award.name,
        "issuer": {"id": did_key(public), "type": ["Profile"], "name": award.issuer_name, "url": award.issuer_url},
        "validFrom": _timestamp(award.valid_from),
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [{"type": "IdentityObject", "identityHash": award.subject_hash,
                            "identityType": award.identity_type, "hashed": True, "salt": award.subject_salt}],
            "achievement": achievement,
        },
        "evidence": [{"id": e.url, "type": ["Evidence"], "name": e.name,
                      "description": f"signed tasktrial result, digest {e.digest}"} for e in award.evidence],
    }


def subject_identity(email: str, salt: str | None = None) -> tuple[str, str]:
    """``(identityHash, salt)`` for OB 3.0's hashed IdentityObject: ``sha256$`` of ``email + salt``."""
    salt = salt if salt is not None else uuid.uuid4().hex
    return "sha256$" + hashlib.sha256((email + salt).encode("utf-8")).hexdigest(), salt


# -- eddsa-rdfc-2022 -------------------------------------------------------------


def sign(credential: Mapping[str, Any], private: Ed25519PrivateKey, *, created: datetime | None = None) -> dict[str, Any]:
    """A copy of ``credential`` with a ``DataIntegrityProof`` (eddsa-rdfc-2022) by the did:key of ``private``.

    Raises:
        CredentialError: the credential is not valid JSON-LD with the bundled contexts.
    """
    unsecured = {k: v for k, v in credential.items() if k != "proof"}
    identifier = did_key(raw_public(private)).removeprefix("did:key:")
    options = {"type": "DataIntegrityProof", "cryptosuite": CRYPTOSUITE,
               "created": _timestamp(created or datetime.now(UTC)),
               "verificationMethod": f"did:key:{identifier}#{identifier}", "proofPurpose": "assertionMethod"}
    signature = private.sign(_hash_data(unsecured, options))
    return {**unsecured, "proof": {**options, "proofValue": "z" + base58btc(signature)}}


def verify(credential: Any) -> list[str]:
    """Every reason ``credential`` does not verify; empty when its eddsa-rdfc-2022 proof holds.

    Never raises for a bad credential and never fetches anything.
    """
    if not isinstance(credential, Mapping):
        return ["the credential is not a JSON object"]
    proof = credential.get("proof")
    if not isinstance(proof, Mapping):
        return ["the credential has no proof (a single proof object was expected)"]
    problems = []
    if proof.get("type") != "DataIntegrityProof" or proof.get("cryptosuite") != CRYPTOSUITE:
        problems.append(f"the proof is {proof.get('type')!r}/{proof.get('cryptosuite')!r}; only "
                        f"DataIntegrityProof/{CRYPTOSUITE} is accepted")
    if proof.get("proofPurpose") != "assertionMethod":
        problems.append(f"the proof's purpose is {proof.get('proofPurpose')!r}, not 'assertionMethod'")
    value = proof.get("proofValue")
    if not isinstance(value, str) or not value.startswith("z"):
        problems.append("the proofValue is not a base58btc multibase string")
    if problems or not isinstance(value, str):  # the second only narrows: a non-string value is a problem above
        return problems
    try:
        public = public_from_verification_method(proof.get("verificationMethod"))
        issuer = credential.get("issuer")
        issuer_id = issuer.get("id") if isinstance(issuer, Mapping) else issuer
        if issuer_id != proof["verificationMethod"].partition("#")[0]:
            return [f"the proof's key {proof['verificationMethod']!r} is not the issuer's ({issuer_id!r})"]
        signature = from_base58btc(value[1:])
        options = {k: v for k, v in proof.items() if k != "proofValue"}
        unsecured = {k: v for k, v in credential.items() if k != "proof"}
        Ed25519PublicKey.from_public_bytes(public).verify(signature, _hash_data(unsecured, options))
    except CredentialError as exc:
        return [str(exc)]
    except (InvalidSignature, ValueError):
        return ["the proof does not verify: the credential was changed after signing, or signed by another key"]
    return []


def _hash_data(unsecured: Mapping[str, Any], options: Mapping[str, Any]) -> bytes:
    config = {**options, "@context": unsecured.get("@context")}
    return (hashlib.sha256(canonical(config).encode("utf-8")).digest()
            + hashlib.sha256(canonical(unsecured).encode("utf-8")).digest())


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
