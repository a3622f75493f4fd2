"""Open Badges 3.0 credentials secured with a W3C Data Integrity ``eddsa-rdfc-2022`` proof.

An award becomes an ``OpenBadgeCredential`` (VC Data Model 2.0): the issuer is
the service's stable ``did:web`` (from its public URL), whose DID document lists
every signing key as a ``Multikey`` verification method ``did:web:...#KID`` (the
JWKS kid): the active and retired ones as assertion methods, revoked ones not.
So a credential signed before a key rotation still verifies, and its status
list (signed by the new key) has the same issuer. The DID document is handed to
``verify`` by the caller: nothing here fetches. (Credentials signed by a
``did:key`` still verify, resolved from the identifier itself.) The subject is
a salted SHA-256 identity hash, the achievement aligns to the micro-skills it
certifies, and the evidence points at the signed results by URL and digest.

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pyld import jsonld

from engine import signing, statuslist
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
        raise jsonld.JsonLdError(
            f"the JSON-LD document {url} is not bundled with tasktrial and is never fetched",
            "jsonld.LoadDocumentError",
            code="loading document failed",
        )
    if url not in _CONTEXTS:
        _CONTEXTS[url] = json.loads((CONTEXTS_DIR / CONTEXT_FILES[url]).read_text("utf-8"))
    return {"contextUrl": None, "documentUrl": url, "document": copy.deepcopy(_CONTEXTS[url])}


def canonical(document: Mapping[str, Any]) -> str:
    """RDFC-1.0 canonical N-Quads of a JSON-LD document.

    Raises:
        CredentialError: the document is not valid JSON-LD or names a context that is not bundled.
    """
    try:
        quads: str = jsonld.normalize(
            dict(document),
            {"algorithm": "URDNA2015", "format": "application/n-quads", "documentLoader": document_loader},
        )
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
        raise CredentialError(
            f"the proof's verificationMethod {method!r} is not a did:key "
            "(nothing else is resolved: no URL is ever fetched)"
        )
    did, _, fragment = method.partition("#")
    identifier = did.removeprefix("did:key:")
    if fragment and fragment != identifier:
        raise CredentialError(f"the verificationMethod {method!r} names a fragment that is not its own key")
    raw = from_base58btc(identifier[1:])
    if not raw.startswith(ED25519_MULTICODEC) or len(raw) != 34:
        raise CredentialError(f"the verificationMethod {method!r} is not an Ed25519 did:key")
    return raw[2:]


# -- did:web -------------------------------------------------------------------------

DID_V1 = "https://www.w3.org/ns/did/v1"
MULTIKEY_V1 = "https://w3id.org/security/multikey/v1"


#: Where the DID document of a did:web is read below its URL: at a bare host, and below a path.
DID_DOCUMENT_AT_ROOT = "/.well-known/did.json"
DID_DOCUMENT_BELOW_PATH = "/did.json"


def did_web(public_url: str) -> str:
    """The ``did:web`` of a service at ``public_url``: its host (a port's colon percent-encoded as ``%3A``)
    and its path segments, each percent-encoded once (``https://example.org/tasktrial`` gives
    ``did:web:example.org:tasktrial``), so a resolver reads the document at ``did_document_path``.

    Raises:
        CredentialError: the URL has no host.
    """
    parts = urlsplit(public_url)
    if not parts.hostname:
        raise CredentialError(f"the public URL {public_url!r} has no host, so it names no did:web")
    host = parts.netloc.rpartition("@")[2].lower().replace(":", "%3A")
    # A segment of the URL is already percent-encoded: decoded first, so "%20" is not encoded twice; "~"
    # is not a DID character (ALPHA, DIGIT, ".", "-", "_" or pct-encoded), so it is encoded too.
    path = [quote(unquote(segment), safe="").replace("~", "%7E") for segment in _segments(public_url)]
    return ":".join(["did:web", host, *path])


def did_document_path(public_url: str) -> str:
    """The path below ``public_url`` where the did:web spec has a resolver read the service's DID document.

    ``/.well-known/did.json`` for a URL without a path; ``/did.json`` below one
    (``did:web:example.org:tasktrial`` resolves at ``https://example.org/tasktrial/did.json``).
    """
    return DID_DOCUMENT_BELOW_PATH if _segments(public_url) else DID_DOCUMENT_AT_ROOT


def _segments(public_url: str) -> list[str]:
    return [segment for segment in urlsplit(public_url).path.split("/") if segment]


def multikey(public: bytes) -> str:
    """An Ed25519 public key as a Multikey ``publicKeyMultibase`` (``z6Mk...``, as a did:key identifier)."""
    return "z" + base58btc(ED25519_MULTICODEC + public)


def did_document(did: str, keys: Sequence[tuple[str, bytes, bool]]) -> dict[str, Any]:
    """The DID document of ``did`` over ``keys`` = ``(kid, raw public key, revoked)``, active key first.

    Every key is a verification method ``DID#KID``; only keys not revoked are assertion methods,
    so a verifier (ours, Digital Bazaar's) refuses what a revoked key signed, naming it.
    """
    methods = [
        {"id": f"{did}#{kid}", "type": "Multikey", "controller": did, "publicKeyMultibase": multikey(raw)}
        for kid, raw, _ in keys
    ]
    return {
        "@context": [DID_V1, MULTIKEY_V1],
        "id": did,
        "verificationMethod": methods,
        "assertionMethod": [f"{did}#{kid}" for kid, _, revoked in keys if not revoked],
    }


def resolve(method: Any, did_documents: Mapping[str, Any] | None = None) -> bytes:
    """The raw Ed25519 key a proof's ``verificationMethod`` names, if it may assert credentials.

    A did:key resolves from itself; a did:web only through ``did_documents`` (DID -> its document,
    which the caller got from the configured service: nothing named in a credential is fetched).

    Raises:
        CredentialError: an unresolvable, unknown or revoked method, naming it.
    """
    if isinstance(method, str) and method.startswith("did:key:"):
        return public_from_verification_method(method)
    if not isinstance(method, str) or not method.startswith("did:web:") or "#" not in method:
        raise CredentialError(
            f"the proof's verificationMethod {method!r} is neither a did:key nor a did:web key "
            "(DID#KEY): nothing else is resolved, and no URL is ever fetched"
        )
    did, _, kid = method.partition("#")
    document = (did_documents or {}).get(did)
    if not isinstance(document, Mapping) or document.get("id") != did:
        raise CredentialError(
            f"the issuer {did} is not the configured service's DID, so its key {kid!r} is not "
            "resolved (no URL named in a credential is fetched)"
        )
    methods = document.get("verificationMethod")
    found = (
        next((m for m in methods if isinstance(m, Mapping) and m.get("id") == method), None)
        if isinstance(methods, list)
        else None
    )
    if found is None:
        raise CredentialError(f"signed by unknown key {kid!r}: {did} publishes no such key")
    assertion = document.get("assertionMethod")
    if not isinstance(assertion, list) or method not in assertion:
        raise CredentialError(f"signed by revoked key {kid!r}: the issuer withdrew it, so nothing it signed is trusted")
    value = found.get("publicKeyMultibase")
    raw = from_base58btc(value[1:]) if isinstance(value, str) and value.startswith("z") else b""
    if found.get("type") != "Multikey" or not raw.startswith(ED25519_MULTICODEC) or len(raw) != 34:
        raise CredentialError(f"the key {method!r} in the DID document is not an Ed25519 Multikey")
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


def open_badge(award: Award, public: bytes | None = None, *, issuer: str | None = None) -> dict[str, Any]:
    """The unsigned ``OpenBadgeCredential`` of an award, issued by ``issuer`` (a DID; default: the did:key of
    ``public``)."""
    if not issuer:
        if public is None:
            raise CredentialError("an award needs an issuer DID or the issuer's public key")
        issuer = did_key(public)
    achievement: dict[str, Any] = {
        "id": award.achievement_id,
        "type": ["Achievement"],
        "name": award.name,
        "description": award.description,
        "criteria": {"narrative": award.criteria},
        "alignment": [
            {"type": ["Alignment"], "targetName": skill, "targetUrl": url, "targetType": "ceterms:Skill"}
            for skill, url in award.skills
        ],
    }
    if award.image:
        achievement["image"] = {"id": award.image, "type": "Image"}
    return {
        "@context": [VC_V2, OB_V3],
        "id": award.credential_id,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": award.name,
        "issuer": {"id": issuer, "type": ["Profile"], "name": award.issuer_name, "url": award.issuer_url},
        "validFrom": _timestamp(award.valid_from),
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [
                {
                    "type": "IdentityObject",
                    "identityHash": award.subject_hash,
                    "identityType": award.identity_type,
                    "hashed": True,
                    "salt": award.subject_salt,
                }
            ],
            "achievement": achievement,
        },
        "evidence": [
            {
                "id": e.url,
                "type": ["Evidence"],
                "name": e.name,
                "description": f"signed tasktrial result, digest {e.digest}",
            }
            for e in award.evidence
        ],
    }


def subject_identity(email: str, salt: str | None = None) -> tuple[str, str]:
    """``(identityHash, salt)`` for OB 3.0's hashed IdentityObject: ``sha256$`` of ``email + salt``."""
    salt = salt if salt is not None else uuid.uuid4().hex
    return "sha256$" + hashlib.sha256((email + salt).encode("utf-8")).hexdigest(), salt


# -- eddsa-rdfc-2022 -------------------------------------------------------------


def sign(
    credential: Mapping[str, Any],
    private: Ed25519PrivateKey,
    *,
    created: datetime | None = None,
    verification_method: str | None = None,
) -> dict[str, Any]:
    """A copy of ``credential`` with a ``DataIntegrityProof`` (eddsa-rdfc-2022) by ``private``, named as
    ``verification_method`` (``DID#KID``; default: the did:key of ``private``).

    Raises:
        CredentialError: the credential is not valid JSON-LD with the bundled contexts.
    """
    unsecured = {k: v for k, v in credential.items() if k != "proof"}
    identifier = did_key(raw_public(private)).removeprefix("did:key:")
    options = {
        "type": "DataIntegrityProof",
        "cryptosuite": CRYPTOSUITE,
        "created": _timestamp(created or datetime.now(UTC)),
        "verificationMethod": verification_method or f"did:key:{identifier}#{identifier}",
        "proofPurpose": "assertionMethod",
    }
    signature = private.sign(_hash_data(unsecured, options))
    return {**unsecured, "proof": {**options, "proofValue": "z" + base58btc(signature)}}


def verify(credential: Any, did_documents: Mapping[str, Any] | None = None) -> list[str]:
    """Every reason ``credential`` does not verify; empty when its eddsa-rdfc-2022 proof holds.

    ``did_documents``: DID -> DID document, for did:web issuers (see ``resolve``).
    Never raises for a bad credential and never fetches anything.
    """
    if not isinstance(credential, Mapping):
        return ["the credential is not a JSON object"]
    proof = credential.get("proof")
    if not isinstance(proof, Mapping):
        return ["the credential has no proof (a single proof object was expected)"]
    problems = []
    if proof.get("type") != "DataIntegrityProof" or proof.get("cryptosuite") != CRYPTOSUITE:
        problems.append(
            f"the proof is {proof.get('type')!r}/{proof.get('cryptosuite')!r}; only "
            f"DataIntegrityProof/{CRYPTOSUITE} is accepted"
        )
    if proof.get("proofPurpose") != "assertionMethod":
        problems.append(f"the proof's purpose is {proof.get('proofPurpose')!r}, not 'assertionMethod'")
    value = proof.get("proofValue")
    if not isinstance(value, str) or not value.startswith("z"):
        problems.append("the proofValue is not a base58btc multibase string")
    if problems or not isinstance(value, str):  # the second only narrows: a non-string value is a problem above
        return problems
    try:
        public = resolve(proof.get("verificationMethod"), did_documents)
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
    return (
        hashlib.sha256(canonical(config).encode("utf-8")).digest()
        + hashlib.sha256(canonical(unsecured).encode("utf-8")).digest()
    )


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


# -- checking a credential as its reader does ------------------------------------------


def service_did_document(public_url: str, jwks: Mapping[str, Any]) -> dict[str, Any]:
    """The DID document of the service at ``public_url`` whose keys ``jwks`` publishes (with statuses).

    What the service serves at ``/.well-known/did.json`` and what a verifier rebuilds from the JWKS it
    trusts: one construction, so both agree. Raises ``ConfigurationError`` for a malformed JWKS.
    """
    statuses = signing.key_statuses(jwks)
    keys = [(kid, raw, statuses.get(kid) == signing.REVOKED) for kid, raw in signing.raw_public_keys(jwks).items()]
    return did_document(did_web(public_url), keys)


@dataclass(frozen=True)
class CredentialReport:
    """What ``check`` found, for a person to read: ``ok`` exactly when ``problems`` is empty."""

    ok: bool
    problems: list[str]
    #: What the credential claims (whatever it is worth when ``ok`` is False).
    issuer: str | None = None
    issuer_name: str | None = None
    key: str | None = None
    achievement: str | None = None
    description: str | None = None
    criteria: str | None = None
    skills: tuple[str, ...] = ()
    evidence: tuple[tuple[str, str], ...] = ()
    subject: str | None = None
    valid_from: str | None = None
    #: ``not revoked``, ``revoked``, ``no status entry`` or ``not checked``.
    status: str = "not checked"


def check(
    credential: Any, *, service_url: str, jwks: Mapping[str, Any], status_list: Callable[[str], Any]
) -> CredentialReport:
    """Check an OpenBadgeCredential as ``tasktrial verify`` and the public verification page do.

    The proof (eddsa-rdfc-2022), that the issuer is the service at ``service_url`` (its did:web;
    or a did:key of one of its keys, for credentials issued before did:web) with a key ``jwks``
    publishes and has not revoked, then revocation: the status list must be at ``service_url``
    (``status_list(url)`` fetches it: the only URL ever followed), signed by the same issuer.

    Raises:
        ConfigurationError: ``jwks`` is malformed.
    """
    if not isinstance(credential, Mapping):
        return CredentialReport(ok=False, problems=["the credential is not a JSON object"])
    claims = _claims(credential)
    service = service_url.rstrip("/")
    try:
        document = service_did_document(service, jwks)
    except CredentialError as exc:
        return CredentialReport(ok=False, problems=[str(exc)], **claims)
    documents = {document["id"]: document}
    problems = verify(credential, documents)
    if not problems:
        problems = _did_key_problems(credential, document)
    if problems:
        return CredentialReport(ok=False, problems=problems, **claims)
    status = credential.get("credentialStatus")
    if status is None:
        return CredentialReport(ok=True, problems=[], status="no status entry", **claims)
    problems, revoked = _status(status, service, credential, documents, status_list)
    state = "revoked" if revoked else "not checked" if problems else "not revoked"
    return CredentialReport(ok=not problems, problems=problems, status=state, **claims)


def _did_key_problems(credential: Mapping[str, Any], document: Mapping[str, Any]) -> list[str]:
    """A did:key credential (issued before did:web) must be signed by one of the service's keys, not revoked."""
    method = credential["proof"]["verificationMethod"]
    if not method.startswith("did:key:"):
        return []
    published = multikey(public_from_verification_method(method))
    for entry in document["verificationMethod"]:
        if entry["publicKeyMultibase"] == published:
            kid = entry["id"].partition("#")[2]
            if entry["id"] not in document["assertionMethod"]:
                return [f"signed by revoked key {kid!r}: the issuer withdrew it, so nothing it signed is trusted"]
            return []
    return [f"signed by unknown key {method.partition('#')[0]!r}: it is not among the service's keys"]


def _status(
    status: Any, service: str, credential: Mapping[str, Any], documents: Mapping[str, Any], fetch: Callable[[str], Any]
) -> tuple[list[str], bool]:
    if not isinstance(status, Mapping) or status.get("type") != "BitstringStatusListEntry":
        return ["the credentialStatus is not a BitstringStatusListEntry"], False
    url, index = status.get("statusListCredential"), status.get("statusListIndex")
    if not isinstance(index, str) or not index.isdigit():
        return [f"the statusListIndex {index!r} is not a decimal string"], False
    if not service or not isinstance(url, str) or not url.startswith(service + "/"):
        return [
            (
                f"revocation not checked: the status list {url!r} is not at the configured service "
                f"({service or 'none configured'}); nothing named in a credential is fetched elsewhere"
            )
        ], False
    listing = fetch(url)
    problems = verify(listing, documents)
    if problems:
        return [f"the status list at {url} does not verify: {problems[0]}"], False
    # The service's DID, or the credential's own issuer (a did:key already found to be a service key).
    if _issuer_id(listing) not in (*documents, _issuer_id(credential)):
        return [f"the status list at {url} is issued by {_issuer_id(listing)!r}, not by the credential's issuer"], False
    subject = listing.get("credentialSubject")
    try:
        revoked = statuslist.is_set(subject.get("encodedList") if isinstance(subject, Mapping) else None, int(index))
    except statuslist.StatusListError as exc:
        return [f"the status list at {url} is unusable: {exc}"], False
    return ([f"the credential is revoked (status list {url}, index {index})"], True) if revoked else ([], False)


def _issuer_id(credential: Any, default: Any = None) -> Any:
    issuer = credential.get("issuer") if isinstance(credential, Mapping) else None
    found = issuer.get("id") if isinstance(issuer, Mapping) else issuer
    return found if isinstance(found, str) else default


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _claims(credential: Mapping[str, Any]) -> dict[str, Any]:
    def text(value: Any) -> str | None:
        return value if isinstance(value, str) else None

    issuer = credential.get("issuer")
    subject = credential.get("credentialSubject")
    subject = subject if isinstance(subject, Mapping) else {}
    achievement = _mapping(subject.get("achievement"))
    criteria = _mapping(achievement.get("criteria"))
    alignment = _list(achievement.get("alignment"))
    identifier = _list(subject.get("identifier"))
    evidence = _list(credential.get("evidence"))
    proof = _mapping(credential.get("proof"))
    return {
        "issuer": _issuer_id(credential),
        "issuer_name": text(issuer.get("name")) if isinstance(issuer, Mapping) else None,
        "key": text(proof.get("verificationMethod")),
        "achievement": text(achievement.get("name")),
        "description": text(achievement.get("description")),
        "criteria": text(criteria.get("narrative")),
        "skills": tuple(
            a["targetName"] for a in alignment if isinstance(a, Mapping) and isinstance(a.get("targetName"), str)
        ),
        "evidence": tuple(
            (e["id"], text(e.get("description")) or "")
            for e in evidence
            if isinstance(e, Mapping) and isinstance(e.get("id"), str)
        ),
        "subject": next(
            (
                i["identityHash"]
                for i in identifier
                if isinstance(i, Mapping) and isinstance(i.get("identityHash"), str)
            ),
            None,
        ),
        "valid_from": text(credential.get("validFrom")),
    }
