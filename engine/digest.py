"""Content digests: a result names exactly the task and submission it came from."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping


def tree_digest(files: Mapping[str, bytes]) -> str:
    """``sha256:`` over sorted relative paths and contents, framed so no two trees collide.

    Each file contributes ``path NUL length NUL content``; the length framing
    means moving bytes between a name and a body changes the digest.
    """
    h = hashlib.sha256()
    for path in sorted(files):
        data = files[path]
        h.update(path.encode("utf-8"))
        h.update(b"\0%d\0" % len(data))
        h.update(data)
    return "sha256:" + h.hexdigest()
