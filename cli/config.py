"""Where the candidate CLI finds the service: a URL and an API token.

``tasktrial login`` stores both in ``$XDG_CONFIG_HOME/tasktrial/config.json``
(``~/.config/...`` without XDG), readable by its owner only.
``TASKTRIAL_URL`` and ``TASKTRIAL_TOKEN`` override what is stored, one by one.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from engine.errors import ConfigurationError

URL_VARIABLE = "TASKTRIAL_URL"
TOKEN_VARIABLE = "TASKTRIAL_TOKEN"
#: Where ``tasktrial serve`` listens by default.
DEFAULT_URL = "http://127.0.0.1:8000"
LOGIN_HINT = f"set {TOKEN_VARIABLE} or run `tasktrial login`"


@dataclass(frozen=True)
class ClientConfig:
    """The service URL (no trailing slash) and the token, if any; ``path`` is the file consulted."""

    url: str
    token: str | None
    path: Path


def config_path(environ: Mapping[str, str] = os.environ) -> Path:
    """The config file's path (it need not exist)."""
    base = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "tasktrial" / "config.json"


def load(environ: Mapping[str, str] = os.environ) -> ClientConfig:
    """The stored settings with the environment's laid over them.

    Raises:
        ConfigurationError: the file exists but is unreadable or not the
            expected JSON object, or the URL is not an http(s) URL.
    """
    path = config_path(environ)
    stored = _read(path)
    url = environ.get(URL_VARIABLE) or stored.get("url") or DEFAULT_URL
    token = environ.get(TOKEN_VARIABLE) or stored.get("token") or None
    return ClientConfig(url=check_url(url), token=token, path=path)


def check_url(url: str) -> str:
    """``url`` without trailing slashes.

    Raises:
        ConfigurationError: it is not an ``http://`` or ``https://`` URL.
    """
    url = url.strip()
    if not url.startswith(("http://", "https://")) or len(url.split("://", 1)[1].strip("/")) == 0:
        raise ConfigurationError(
            f"the server URL {url!r} is not an http:// or https:// URL; set {URL_VARIABLE} or run `tasktrial login`"
        )
    return url.rstrip("/")


def save(url: str, token: str, environ: Mapping[str, str] = os.environ) -> Path:
    """Store ``url`` and ``token``, replacing the file atomically; it is created with mode 0600.

    The token is written to a private temporary file beside the config and
    renamed over it, so no reader ever sees a half-written file and the token
    is never readable by others, not even for a moment.

    Raises:
        ConfigurationError: the file cannot be written.
    """
    path = config_path(environ)
    text = json.dumps({"url": check_url(url), "token": token}, indent=2) + "\n"
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=".config.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                os.fchmod(handle.fileno(), 0o600)
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError as exc:
        raise ConfigurationError(f"cannot write the tasktrial config {path}: {exc.strerror or exc}") from exc
    return path


def _read(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read the tasktrial config {path}: {exc}") from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigurationError(
            f"the tasktrial config {path} is not valid JSON ({exc}); run `tasktrial login` to rewrite it"
        ) from exc
    if not isinstance(data, dict) or not all(isinstance(data.get(k, ""), str) for k in ("url", "token")):
        raise ConfigurationError(
            f"the tasktrial config {path} must be a JSON object with string 'url' and 'token'; "
            "run `tasktrial login` to rewrite it"
        )
    return data
