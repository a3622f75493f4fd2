"""The service's signing keys over time: one active private key, and the public halves of the ones before.

A folder holds them::

    signing-key.json   the active private key (as engine.signing.load_or_create writes it)
    retired.json       {"keys": [public JWK + "status": "retired" | "revoked", ...]}

Rotation retires the active key (its public half stays published, so what it
signed still verifies) and makes a new one active. Revocation marks a retired
key ``revoked``: it stays published so a verifier can say which key it was, and
nothing it signed verifies any more. Rotation and revocation hold a lock on the
folder; a running service notices a new active key on its next signature.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from engine import signing
from engine.errors import ConfigurationError, NotFound
from engine.signing import ACTIVE, RETIRED, REVOKED, STATUS_MEMBER, SigningKey

ACTIVE_FILE = "signing-key.json"
RETIRED_FILE = "retired.json"
LOCK_FILE = ".keyring.lock"


class Keyring:
    def __init__(self, directory: Path):
        self.directory = directory
        self._active: SigningKey | None = None
        self._stamp: tuple[int, int, int] | None = None

    @property
    def active_path(self) -> Path:
        return self.directory / ACTIVE_FILE

    def active(self) -> SigningKey:
        """The key that signs now; re-read when the file changed (a rotation by ``tasktrial admin``).

        Raises:
            ConfigurationError: the key file cannot be read or created, or is not an Ed25519 private JWK.
        """
        stamp = _stamp(self.active_path)
        if self._active is None or stamp != self._stamp:
            self._active = signing.load_or_create(self.active_path)
            self._stamp = _stamp(self.active_path)
        return self._active

    def retired(self) -> list[dict[str, Any]]:
        """The public JWKs of former keys, each with its ``status``.

        Raises:
            ConfigurationError: the file is not the JSON this module writes.
        """
        path = self.directory / RETIRED_FILE
        try:
            data = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"cannot read the retired keys {path}: {exc}") from exc
        keys = data.get("keys") if isinstance(data, dict) else None
        if not isinstance(keys, list) or not all(isinstance(k, dict) and isinstance(k.get("kid"), str) for k in keys):
            raise ConfigurationError(f'the retired keys {path} are malformed: expected {{"keys": [JWK, ...]}}')
        return keys

    def jwks(self) -> dict[str, Any]:
        """Every key, active first, each marked with its ``status``: what ``/.well-known/jwks.json`` publishes."""
        active = self.active()
        keys = [{**active.public_jwk(), STATUS_MEMBER: ACTIVE}]
        keys += [entry for entry in self.retired() if entry["kid"] != active.kid]
        return {"keys": keys}

    def rotate(self) -> tuple[SigningKey, SigningKey]:
        """Retire the active key and make a new one active. Returns ``(retired, new)``.

        The retired key is published before the new key takes over, so no
        document is ever signed by a key the JWKS does not hold.
        """
        with self._locked():
            old = self.active()
            retired = [entry for entry in self.retired() if entry["kid"] != old.kid]
            retired.append({**old.public_jwk(), STATUS_MEMBER: RETIRED})
            self._write(RETIRED_FILE, json.dumps({"keys": retired}, indent=2), mode=0o644)
            new = SigningKey.generate()
            self._write(
                ACTIVE_FILE,
                json.dumps(new.jwk.as_dict(private=True, kid=new.kid, alg=signing.ALGORITHM, use="sig")),
                mode=0o600,
            )
            return old, self.active()

    def revoke(self, kid: str) -> None:
        """Mark a retired key revoked: nothing it signed verifies from now on.

        Raises:
            ConfigurationError: ``kid`` is the active key (rotate first).
            NotFound: no retired key has that id.
        """
        with self._locked():
            if kid == self.active().kid:
                raise ConfigurationError(
                    f"key {kid!r} is the active signing key: rotate it first "
                    "(`tasktrial admin rotate-key`), then revoke it"
                )
            retired = self.retired()
            for entry in retired:
                if entry["kid"] == kid:
                    entry[STATUS_MEMBER] = REVOKED
                    break
            else:
                known = ", ".join(repr(e["kid"]) for e in retired) or "none"
                raise NotFound(f"no retired key has id {kid!r}; retired keys: {known}")
            self._write(RETIRED_FILE, json.dumps({"keys": retired}, indent=2), mode=0o644)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(self.directory / LOCK_FILE, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _write(self, name: str, text: str, *, mode: int) -> None:
        """Replace ``name`` atomically: readers see the old file or the new one, never half of one."""
        fd, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=self.directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                os.fchmod(handle.fileno(), mode)
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.directory / name)
        except BaseException:
            os.unlink(temporary)
            raise


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return info.st_ino, info.st_mtime_ns, info.st_size
