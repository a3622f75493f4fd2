"""Reading a file tree (a submission folder, a task's starter) into memory, safely.

The result is a plain ``{relative posix path: bytes}`` map: runners and
graders never touch the host path again. Reading never follows a link and
counts what it reads, so a hostile tree cannot point us at host files or
exhaust memory.
"""

from __future__ import annotations

import os
import stat
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from engine.errors import SubmissionRejected

# Tool and editor litter a candidate's folder may hold; never part of a submission.
IGNORED_NAMES = frozenset(
    {".git", ".hg", ".svn", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache",
     "node_modules", ".venv", ".DS_Store", ".idea", ".vscode"}
)
IGNORED_SUFFIXES = (".pyc", ".pyo")


@dataclass(frozen=True)
class TreeCaps:
    """How much one tree may hold."""

    max_files: int = 500
    max_file_bytes: int = 1024 * 1024
    max_total_bytes: int = 8 * 1024 * 1024
    max_depth: int = 16


def check_name(path: str) -> None:
    """Reject a relative path that is unsafe or ambiguous anywhere we may write it.

    Raises:
        SubmissionRejected: naming the path and the rule it breaks.
    """
    if not path or path.startswith("/") or "\\" in path or (len(path) > 1 and path[1] == ":"):
        raise SubmissionRejected(f"{path!r}: paths must be relative, with forward slashes")
    parts = path.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise SubmissionRejected(f"{path!r}: empty, '.' or '..' segments are not allowed")
    if any(ord(c) < 32 or ord(c) == 127 for c in path):
        raise SubmissionRejected(f"{path!r}: control characters are not allowed in names")
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        raise SubmissionRejected(f"{path!r}: names must be valid UTF-8") from None


def fold(path: str) -> str:
    """The key under which two names would collide on a case-insensitive or normalising file system."""
    return unicodedata.normalize("NFC", path).casefold()


def check_collisions(paths: list[str]) -> None:
    """Reject names that collide after case folding or Unicode normalisation."""
    seen: dict[str, str] = {}
    for path in paths:
        key = fold(path)
        if key in seen and seen[key] != path:
            raise SubmissionRejected(f"{seen[key]!r} and {path!r} collide after case folding or Unicode normalisation")
        seen[key] = path


def is_ignored(name: str) -> bool:
    return name in IGNORED_NAMES or name.endswith(IGNORED_SUFFIXES)


def read_tree(root: Path, caps: TreeCaps = TreeCaps(), *, what: str = "submission") -> dict[str, bytes]:
    """Read every regular file below ``root``.

    Never follows a symbolic link: a link is rejected, with a message saying
    whether it leads outside the tree. Ignores tool litter (``IGNORED_NAMES``).

    Raises:
        SubmissionRejected: ``root`` is not a folder, or a file breaks a rule or a cap.
    """
    if not root.is_dir() or root.is_symlink():
        raise SubmissionRejected(f"{what} path {str(root)!r} is not a folder")
    files: dict[str, bytes] = {}
    total = 0
    real_root = root.resolve()

    def walk(folder: Path, prefix: str, depth: int) -> None:
        nonlocal total
        if depth > caps.max_depth:
            raise SubmissionRejected(f"{prefix.rstrip('/')!r}: nested deeper than {caps.max_depth} folders")
        with os.scandir(folder) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                rel = prefix + _decoded(entry.name, prefix)
                if is_ignored(entry.name):
                    continue
                check_name(rel)
                mode = entry.stat(follow_symlinks=False).st_mode
                if stat.S_ISLNK(mode):
                    target = Path(os.path.realpath(entry.path))
                    if target != real_root and real_root not in target.parents:
                        raise SubmissionRejected(f"{rel!r} is a symbolic link to a path outside the {what}")
                    raise SubmissionRejected(f"{rel!r} is a symbolic link; links are not accepted, copy the file instead")
                if stat.S_ISDIR(mode):
                    walk(Path(entry.path), rel + "/", depth + 1)
                    continue
                if not stat.S_ISREG(mode):
                    raise SubmissionRejected(f"{rel!r} is not a regular file (device, FIFO or socket)")
                if mode & (stat.S_ISUID | stat.S_ISGID):
                    raise SubmissionRejected(f"{rel!r} has the setuid or setgid bit")
                if len(files) >= caps.max_files:
                    raise SubmissionRejected(f"the {what} has more than {caps.max_files} files")
                data = _read_capped(Path(entry.path), rel, caps.max_file_bytes)
                total += len(data)
                if total > caps.max_total_bytes:
                    raise SubmissionRejected(f"the {what} is larger than {caps.max_total_bytes} bytes")
                files[rel] = data

    walk(root, "", 0)
    check_collisions(list(files))
    return files


def _decoded(name: str, prefix: str) -> str:
    try:
        os.fsencode(name).decode("utf-8")
    except UnicodeDecodeError:
        raise SubmissionRejected(f"a name in {prefix or './'!r} is not valid UTF-8: {name!r}") from None
    return name


def _read_capped(path: Path, rel: str, cap: int) -> bytes:
    """Read at most ``cap`` bytes, refusing a file swapped for a link since we looked."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(cap + 1)
    if len(data) > cap:
        raise SubmissionRejected(f"{rel!r} is larger than the {cap}-byte cap for one file")
    return data


def overlay(base: Mapping[str, bytes], top: Mapping[str, bytes]) -> dict[str, bytes]:
    """``base`` with every file of ``top`` written over it (the starter plus a solution)."""
    merged = dict(base)
    merged.update(top)
    return merged


def from_mapping(files: Mapping[str, bytes], caps: TreeCaps = TreeCaps(), *, what: str = "submission") -> dict[str, bytes]:
    """Check a ``{path: bytes}`` tree given directly (e.g. a JSON upload) by the same rules as a folder.

    Raises:
        SubmissionRejected: a name breaks a rule, or the tree passes a cap.
    """
    if len(files) > caps.max_files:
        raise SubmissionRejected(f"the {what} has more than {caps.max_files} files")
    total = 0
    kept: dict[str, bytes] = {}
    for path, data in files.items():
        check_name(path)
        if any(is_ignored(part) for part in path.split("/")):
            continue
        if path.count("/") > caps.max_depth:
            raise SubmissionRejected(f"{path!r}: nested deeper than {caps.max_depth} folders")
        if len(data) > caps.max_file_bytes:
            raise SubmissionRejected(f"{path!r} is larger than the {caps.max_file_bytes}-byte cap for one file")
        total += len(data)
        if total > caps.max_total_bytes:
            raise SubmissionRejected(f"the {what} is larger than {caps.max_total_bytes} bytes")
        kept[path] = data
    folders = {"/".join(parts[:i]) for parts in (p.split("/") for p in kept) for i in range(1, len(parts))}
    clash = folders & kept.keys()
    if clash:
        raise SubmissionRejected(f"{min(clash)!r} is both a file and a folder")
    check_collisions(list(kept))
    return kept
