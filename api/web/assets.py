"""Static assets under content-hashed names, served with year-long immutable cache headers.

Every file of ``static/`` and ``vendor/`` is read once at start-up: its URL
carries the first 12 hex digits of its SHA-256, so a changed file is a new
URL and a cached one never goes stale. A gzip copy is kept for clients that
accept it. A stylesheet's relative ``url(...)`` of a served file is rewritten to
that file's hashed name (as Django's manifest storage does), so the images Ace's
vendored CSS names are found, below a path too; the files on disk stay as vendored.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
FOLDERS = (HERE / "static", HERE / "vendor")
PREFIX = "/static/"
CACHE_FOREVER = "public, max-age=31536000, immutable"
SERVED_SUFFIXES = (".js", ".css", ".svg", ".png")
#: A stylesheet's relative reference: ``url("./main-1.png")``, ``url(../chrome-1.png)``.
CSS_URL = re.compile(r"""url\(\s*(["']?)(\.{1,2}/[^"')\s]+)\1\s*\)""")


@dataclass(frozen=True)
class Asset:
    name: str
    url: str
    body: bytes
    gzipped: bytes
    media_type: str


class Assets:
    """The served files, by logical name (``htmx.min.js``, ``ace/ace.js``) and by hashed URL."""

    def __init__(self, folders: tuple[Path, ...] = FOLDERS):
        self.by_name: dict[str, Asset] = {}
        self.by_path: dict[str, Asset] = {}
        files = {
            path.relative_to(folder).as_posix(): path
            for folder in folders
            for path in sorted(folder.rglob("*"))
            if path.is_file() and path.suffix in SERVED_SUFFIXES
        }
        # Stylesheets last: their references name the hashed files beside them.
        for name in sorted(files, key=lambda n: n.endswith(".css")):
            body = files[name].read_bytes()
            if name.endswith(".css"):
                body = self._hashed_references(name, body)
            self._add(name, body)

    def _add(self, name: str, body: bytes) -> None:
        digest = hashlib.sha256(body).hexdigest()[:12]
        hashed = _hashed(name, digest)
        media = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if media.startswith("text/") or media.endswith("javascript"):
            media += "; charset=utf-8"
        asset = Asset(
            name=name, url=PREFIX + hashed, body=body, gzipped=gzip.compress(body, 9, mtime=0), media_type=media
        )
        self.by_name[name] = asset
        self.by_path[hashed] = asset

    def _hashed_references(self, name: str, body: bytes) -> bytes:
        """``body`` of stylesheet ``name`` with each relative ``url()`` of a served file made its hashed name.

        The reference stays relative (the CSS and its images share ``/static/``), so it holds below a path.
        """
        text = body.decode("utf-8")

        def rewrite(match: re.Match[str]) -> str:
            reference = match.group(2)
            target = self.by_name.get(posixpath.normpath(posixpath.join(posixpath.dirname(name), reference)))
            if target is None:
                return match.group(0)
            return f'url("{posixpath.dirname(reference)}/{posixpath.basename(target.url)}")'

        return CSS_URL.sub(rewrite, text).encode("utf-8")

    def url(self, name: str) -> str:
        """The hashed URL of ``name``; a KeyError for an unknown name fails the page loudly, in tests too."""
        return self.by_name[name].url


def _hashed(name: str, digest: str) -> str:
    """``ace/ace.css`` -> ``ace/ace.<digest>.css``."""
    stem, dot, suffix = name.rpartition(".")
    return f"{stem}.{digest}{dot}{suffix}"
