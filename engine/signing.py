"""Signed results: an Ed25519 JWS over the RFC 8785 canonical JSON of each field.

The signature travels inside the result document as its ``signature`` member:
a JWS compact serialization whose protected header names the key (``kid``, the
RFC 7638 thumbprint of the public key) and whose payload lists every other
top-level field with the sha256 digest of that field's canonical JSON. Signing
field by field, rather than the whole document at once, lets ``verify`` say
exactly which field was changed, added or removed after signing.

The algorithm is ``Ed25519`` as RFC 9864 names it: the same signature as
RFC 8037's ``EdDSA`` with the curve fixed by the name (joserfc deprecates the
polymorphic ``EdDSA``). Only that algorithm is ever accepted.

Nothing here touches the network: fetching a JWKS is the caller's job.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

from engine.errors import ConfigurationError, TaskTrialError

ALGORITHM = "Ed25519"
CURVE: Final = "Ed25519"
SIGNATURE_FIELD = "signature"
PAYLOAD_TYPE = "tasktrial-result-fields"
PAYLOAD_VERSION = 1
#: A JWKS member of our own on each key: ``active`` (the default), ``retired`` (no longer signs;
#: what it signed still verifies) or ``revoked`` (nothing it signed verifies).
STATUS_MEMBER = "status"
ACTIVE, RETIRED, REVOKED = "active", "retired", "revoked"


@dataclass(frozen=True, repr=False)
class SigningKey:
    """A private Ed25519 key and its id (the RFC 7638 thumbprint of its public half)."""

    jwk: OKPKey = field(compare=False)
    kid: str

    @property
    def private_key(self) -> Ed25519PrivateKey:
        """The Ed25519 private key that signs (every ``SigningKey`` holds one)."""
        key = self.jwk.private_key
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigurationError(f"the signing key {self.kid} holds no Ed25519 private key")
        return key

    @classmethod
    def generate(cls) -> SigningKey:
        return cls.from_jwk(OKPKey.generate_key(CURVE, private=True))

    @classmethod
    def from_jwk(cls, jwk: OKPKey) -> SigningKey:
        return cls(jwk=jwk, kid=jwk.thumbprint())

    def public_jwk(self) -> dict[str, Any]:
        """The public half as a JWK, without ``d``."""
        return dict(self.jwk.as_dict(private=False, kid=self.kid, alg=ALGORITHM, use="sig"))

    def __repr__(self) -> str:
        return f"SigningKey(kid={self.kid!r})"


def load_or_create(path: Path) -> SigningKey:
    """The key stored at ``path``, creating it (mode 0600) if there is none.

    Creation is atomic and never overwrites: the key is written in full to a
    private temporary file beside ``path`` and published with a hard link,
    which fails if ``path`` exists. When several processes start at once, one
    link wins and every caller returns the key it published.

    Raises:
        ConfigurationError: the file exists but does not hold an Ed25519
            private JWK, or it cannot be read or written.
    """
    try:
        return _load(path)
    except FileNotFoundError:
        pass
    candidate = SigningKey.generate()
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _publish(path, json.dumps(candidate.jwk.as_dict(private=True, kid=candidate.kid, alg=ALGORITHM, use="sig")))
    except FileExistsError:
        pass  # another process published first: its key is the key
    except OSError as exc:
        raise ConfigurationError(f"cannot create the signing key {path}: {exc}") from exc
    try:
        return _load(path)
    except FileNotFoundError as exc:
        raise ConfigurationError(f"the signing key {path} vanished while it was being created") from exc


def _publish(path: Path, text: str) -> None:
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temporary, path)
    finally:
        os.unlink(temporary)


def _load(path: Path) -> SigningKey:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read the signing key {path}: {exc}") from exc
    try:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("kty") != "OKP" or data.get("crv") != CURVE or "d" not in data:
            raise ValueError("not an Ed25519 private JWK")
        private = OKPKey.import_key({k: data[k] for k in ("kty", "crv", "x", "d")}).private_key
        if private is None:
            raise ValueError("no private key")
        jwk = OKPKey.import_key(private)  # x derived from d, not trusted from the file
    except (JoseError, ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(f"the signing key {path} is not an Ed25519 private JWK: {exc}") from exc
    if jwk["x"] != data["x"]:
        raise ConfigurationError(f"the signing key {path} is corrupt: its public half 'x' does not match 'd'")
    key = SigningKey.from_jwk(jwk)
    if data.get("kid", key.kid) != key.kid:
        raise ConfigurationError(f"the signing key {path} names kid {data['kid']!r} but its thumbprint is {key.kid!r}")
    return key


def public_jwks(keys: Iterable[SigningKey]) -> dict[str, Any]:
    """The JWKS to publish at ``/.well-known/jwks.json``: public halves only."""
    return {"keys": [key.public_jwk() for key in keys]}


def field_digests(document: Mapping[str, Any]) -> dict[str, str]:
    """``sha256:<hex>`` of the RFC 8785 canonical JSON of each top-level field but ``signature``.

    Raises:
        TaskTrialError: a field holds something JSON cannot carry exactly
            (NaN, an integer beyond 2**53, a non-JSON type); the message names it.
    """
    digests = {}
    for name, value in document.items():
        if name == SIGNATURE_FIELD:
            continue
        if not isinstance(name, str):
            raise TaskTrialError(f"field {name!r} cannot be signed: top-level names must be strings")
        try:
            digests[name] = _digest(value)
        except rfc8785.CanonicalizationError as exc:
            raise TaskTrialError(f"field {name!r} cannot be signed: {exc}") from exc
    return digests


def _digest(value: Any) -> str:
    return "sha256:" + hashlib.sha256(rfc8785.dumps(value)).hexdigest()


def sign(document: Mapping[str, Any], key: SigningKey) -> dict[str, Any]:
    """A copy of ``document`` with a ``signature`` member (replacing any it had).

    Raises:
        TaskTrialError: a field cannot be canonicalised (see ``field_digests``).
    """
    payload: dict[str, Any] = {"typ": PAYLOAD_TYPE, "v": PAYLOAD_VERSION, "fields": field_digests(document)}
    token = jws.serialize_compact(
        {"alg": ALGORITHM, "kid": key.kid}, rfc8785.dumps(payload), key.jwk, algorithms=[ALGORITHM]
    )
    signed = {name: value for name, value in document.items() if name != SIGNATURE_FIELD}
    signed[SIGNATURE_FIELD] = token
    return signed


@dataclass(frozen=True)
class Verification:
    """What ``verify`` found. ``ok`` exactly when ``problems`` is empty."""

    ok: bool
    kid: str | None
    problems: list[str]


def verify(document: Mapping[str, Any], jwks: Mapping[str, Any]) -> Verification:
    """Check a signed result against the public keys in ``jwks``.

    Never raises for a bad document: every way it fails to verify is a
    problem in the answer (no signature, an unknown key, a signature that
    does not verify, each field changed, added or removed after signing).
    Fields are compared only once the signature is proven good.

    Raises:
        ConfigurationError: ``jwks`` is malformed or holds no Ed25519 key.
    """
    keys = _public_keys(jwks)
    if not isinstance(document, Mapping):
        return _failed(None, "the result is not a JSON object")
    token = document.get(SIGNATURE_FIELD)
    if token is None:
        return _failed(None, "no signature")
    if not isinstance(token, str):
        return _failed(
            None, f"the signature is malformed: a JWS compact string was expected, found {_json_type(token)}"
        )
    try:
        signed = jws.extract_compact(token.encode("utf-8"))
    except (JoseError, ValueError) as exc:
        return _failed(None, f"the signature is malformed: {_jose_message(exc)}")
    headers = signed.headers()
    kid = headers.get("kid")
    if not isinstance(kid, str) or not kid:
        return _failed(None, "the signature names no key (no 'kid' in its header)")
    if headers.get("alg") != ALGORITHM:
        return _failed(kid, f"the signature uses algorithm {headers.get('alg')!r}; only {ALGORITHM!r} is accepted")
    if kid not in keys:
        known = ", ".join(repr(k) for k in sorted(keys))
        return _failed(kid, f"signed by unknown key {kid!r}; known keys: {known}")
    if key_statuses(jwks).get(kid) == REVOKED:
        return _failed(kid, f"signed by revoked key {kid!r}: the issuer withdrew it, so nothing it signed is trusted")
    try:
        good = jws.validate_compact(signed, keys[kid], algorithms=[ALGORITHM])
    except (JoseError, ValueError) as exc:
        return _failed(kid, f"the signature does not verify: {_jose_message(exc)}")
    if not good:
        return _failed(kid, f"the signature does not verify with key {kid!r}")
    signed_fields = _signed_fields(signed.payload)
    if signed_fields is None:
        return _failed(kid, "the signed payload is not a tasktrial result signature")
    problems = _field_problems(document, signed_fields)
    return Verification(ok=not problems, kid=kid, problems=problems)


def _field_problems(document: Mapping[str, Any], signed_fields: Mapping[str, str]) -> list[str]:
    problems = []
    for name, digest in signed_fields.items():
        if name not in document:
            problems.append(f"field {name!r} was removed after signing")
            continue
        try:
            now = _digest(document[name])
        except rfc8785.CanonicalizationError as exc:
            problems.append(f"field {name!r} was changed after signing (it is no longer canonical JSON: {exc})")
            continue
        if now != digest:
            problems.append(f"field {name!r} was changed after signing")
    for name in document:
        if name != SIGNATURE_FIELD and name not in signed_fields:
            problems.append(f"field {name!r} was added after signing")
    return problems


def _signed_fields(payload: bytes) -> dict[str, str] | None:
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("typ") != PAYLOAD_TYPE or data.get("v") != PAYLOAD_VERSION:
        return None
    fields = data.get("fields")
    if not isinstance(fields, dict) or not all(isinstance(v, str) for v in fields.values()):
        return None
    return fields


def key_statuses(jwks: Mapping[str, Any]) -> dict[str, str]:
    """kid -> ``active``, ``retired`` or ``revoked`` for each Ed25519 key of a well-formed JWKS."""
    keys = _public_keys(jwks)
    statuses = {}
    for entry in jwks["keys"]:
        kid = entry.get("kid") if isinstance(entry, Mapping) else None
        if kid in keys:
            status = entry.get(STATUS_MEMBER, ACTIVE)
            statuses[kid] = status if status in (ACTIVE, RETIRED) else REVOKED  # unknown status: trust nothing
    return statuses


def raw_public_keys(jwks: Mapping[str, Any]) -> dict[str, bytes]:
    """kid -> the raw 32-byte Ed25519 public key, for other signature formats (checkpoint notes).

    Raises:
        ConfigurationError: as ``verify``.
    """
    return {kid: key.public_key.public_bytes_raw() for kid, key in _public_keys(jwks).items()}


def _public_keys(jwks: Mapping[str, Any]) -> dict[str, OKPKey]:
    """kid -> public Ed25519 key. Keys of other types are ignored (RFC 7517 §5); a key without kid gets its thumbprint."""
    if not isinstance(jwks, Mapping) or not isinstance(jwks.get("keys"), list):
        raise ConfigurationError("the JWKS is malformed: expected an object with a 'keys' list")
    keys: dict[str, OKPKey] = {}
    for index, entry in enumerate(jwks["keys"]):
        if not isinstance(entry, Mapping):
            raise ConfigurationError(f"the JWKS is malformed: keys[{index}] is {_json_type(entry)}, not an object")
        if entry.get("kty") != "OKP" or entry.get("crv") != CURVE:
            continue
        try:
            key = OKPKey.import_key({"kty": "OKP", "crv": CURVE, "x": entry["x"]})
        except (JoseError, ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(
                f"the JWKS is malformed: keys[{index}] is not an Ed25519 public key: {_jose_message(exc)}"
            ) from exc
        kid = entry.get("kid", key.thumbprint())
        if not isinstance(kid, str) or not kid:
            raise ConfigurationError(f"the JWKS is malformed: keys[{index}] has a kid that is not a string")
        if kid in keys and keys[kid] != key:
            raise ConfigurationError(f"the JWKS is malformed: two different keys share kid {kid!r}")
        keys[kid] = key
    if not keys:
        raise ConfigurationError("the JWKS holds no Ed25519 key")
    return keys


def _failed(kid: str | None, problem: str) -> Verification:
    return Verification(ok=False, kid=kid, problems=[problem])


def _jose_message(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


def _json_type(value: Any) -> str:
    names = {
        dict: "an object",
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }
    return names.get(type(value), type(value).__name__)
