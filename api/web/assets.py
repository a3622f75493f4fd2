"""Static assets under content-hashed names, served with year-long immutable cache headers.

Every file of ``static/`` and ``vendor/`` is read once at start-up: its URL
carries the first 12 hex digits of its SHA-256, so a changed file is a new
URL and a cached one never goes stale. A gzip copy is kept for clients that
accept it.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
FOLDERS = (HERE / "static", HERE / "vendor")
PREFIX = "/static/"
CACHE_FOREVER = "public, max-age=31536000, immutable"
SERVED_SUFFIXES = (".js", ".css", ".svg")


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
        for folder in folders:
            for path in sorted(folder.rglob("*")):
                if not path.is_file() or path.suffix not in SERVED_SUFFIXES:
                    continue
                name = path.relative_to(folder).as_posix()
                body = path.read_bytes()
                digest = hashlib.sha256(body).hexdigest()[:12]
                stem, dot, suffix = name.rpartition(".")
                hashed = f"{stem}.{digest}{dot}{suffix}"
                media = mimetypes.guess_type(name)[0] or "application/octet-stream"
                if media.startswith("text/") or media.endswith("javascript"):
                    media += "; charset=utf-8"
                asset = Asset(
                    name=name, url=PREFIX + hashed, body=body, gzipped=gzip.compress(body, 9, mtime=0), media_type=media
                )
                self.by_name[name] = asset
                self.by_path[hashed] = asset

    def url(self, name: str) -> str:
        """The hashed URL of ``name``; a KeyError for an unknown name fails the page loudly, in tests too."""
        return self.by_name[name].url
