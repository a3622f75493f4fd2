"""Reading a file tree (a submission folder, a task's starter) into memory, safely.

The result is a plain ``{relative posix path: bytes}`` map: runners and
graders never touch the host path again. Reading never follows a link and
counts what it reads, so a hostile tree cannot point us at host files or
exhaust memory.

Which files a tree may hold is decided in one place, ``Admission``, whatever
the source: a folder (``read_tree``), a mapping (``from_mapping``) or an
archive (``engine.archives.extract``).
"""

from __future__ import annotations

import io
import os
import stat
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from engine.errors import SubmissionRejected

# Tool and editor litter a candidate's folder may hold; never part of a submission. ``__MACOSX`` is what
# macOS's Archive Utility adds to a zip (and unzipping leaves on disk): litter in every source alike.
IGNORED_NAMES = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "__pycache__",
        ".pytest_cache",
        ".mypy_cache",
        ".ruff_cache",
        "node_modules",
        ".venv",
        ".DS_Store",
        ".idea",
        ".vscode",
        "__MACOSX",
    }
)
IGNORED_SUFFIXES = (".pyc", ".pyo")
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class TreeCaps:
    """How much one tree may hold."""

    max_files: int = 500
    max_file_bytes: int = 1024 * 1024
    max_total_bytes: int = 8 * 1024 * 1024
    max_depth: int = 16


#: The longest name of one path segment, in UTF-8 bytes: NAME_MAX of Linux file systems, so every
#: admitted file can be written into a sandbox.
MAX_SEGMENT_BYTES = 255
#: The longest relative path, in UTF-8 bytes: far below PATH_MAX (4096) under any sandbox folder, and
#: small enough that an archive's long-name records stay within what ``engine.archives`` reads per member.
MAX_PATH_BYTES = 1024


def check_name(path: str) -> None:
    """Reject a relative path that is unsafe or ambiguous anywhere we may write it.

    Raises:
        SubmissionRejected: naming the path and the rule it breaks.
    """
    if not path or path.startswith("/") or "\\" in path or (len(path) > 1 and path[1] == ":"):
        raise SubmissionRejected(f"{path!r}: paths must be relative, with forward slashes", member=path)
    parts = path.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise SubmissionRejected(f"{path!r}: empty, '.' or '..' segments are not allowed", member=path)
    if any(ord(c) < 32 or ord(c) == 127 for c in path):
        raise SubmissionRejected(f"{path!r}: control characters are not allowed in names", member=path)
    try:
        size = len(path.encode("utf-8"))
    except UnicodeEncodeError:
        raise SubmissionRejected(f"{path!r}: names must be valid UTF-8", member=path) from None
    if size > MAX_PATH_BYTES:
        raise SubmissionRejected(f"{path!r}: the path is {size} bytes long; the cap is {MAX_PATH_BYTES}", member=path)
    long = next((p for p in parts if len(p.encode("utf-8")) > MAX_SEGMENT_BYTES), None)
    if long is not None:
        raise SubmissionRejected(f"{path!r}: the name {long!r} is longer than {MAX_SEGMENT_BYTES} bytes", member=path)


def fold(path: str) -> str:
    """The key under which two names would collide on a case-insensitive or normalising file system."""
    return unicodedata.normalize("NFC", path).casefold()


def check_collisions(paths: list[str]) -> None:
    """Reject names that collide after case folding or Unicode normalisation."""
    seen: dict[str, str] = {}
    for path in paths:
        key = fold(path)
        if key in seen and seen[key] != path:
            raise SubmissionRejected(
                f"{seen[key]!r} and {path!r} collide after case folding or Unicode normalisation", member=path
            )
        seen[key] = path


def is_ignored(name: str) -> bool:
    return name in IGNORED_NAMES or name.endswith(IGNORED_SUFFIXES)


class Admission:
    """The one rule book for which files a tree may hold, fed one member at a time.

    ``read_tree`` (a folder), ``from_mapping`` (a JSON upload) and
    ``engine.archives.extract`` (an uploaded archive) all hand their members to
    one of these, so a tree is admitted or refused alike wherever it comes
    from, and the API refuses exactly what a worker could not unpack. Only what
    belongs to one source stays with it: links and special files on disk, tar
    and zip member types, archive bombs. Every refusal names the member (also
    as ``SubmissionRejected.member``).
    """

    #: Said after a size ("larger than N bytes unpacked") where the source is packed.
    size_note = ""

    def __init__(self, caps: TreeCaps = TreeCaps(), *, what: str = "submission", max_members: int | None = None):
        self.caps = caps
        self.what = what
        #: Entries a source may list, folders and ignored litter included (default: four per file allowed).
        self.max_members = 4 * caps.max_files if max_members is None else max_members
        self.members = 0
        self.files: dict[str, bytes] = {}
        self.total = 0

    def listed(self, count: int = 1) -> None:
        """Count entries a source lists, before reading them: a flood of litter is refused unread."""
        self.members += count
        if self.members > self.max_members:
            raise SubmissionRejected(
                f"the {self.what} lists more than {self.max_members} entries "
                "(folders and ignored files such as .git count too)"
            )

    def name(self, path: str) -> str | None:
        """``path`` if its file is kept; None for tool litter (``IGNORED_NAMES`` in any segment).

        Every name is checked, litter included: a hostile name is hostile anywhere.

        Raises:
            SubmissionRejected: the name breaks a rule of ``check_name``.
        """
        check_name(path)
        return None if any(is_ignored(part) for part in path.split("/")) else path

    def add(self, path: str, body: bytes | IO[bytes], *, declared_size: int | None = None) -> None:
        """Keep one file (a name ``name`` returned), reading a stream in chunks and stopping at the first cap passed.

        ``declared_size`` is what an archive's header claims; it may fail a file
        early but never lets one through: the bytes read are what count.

        Raises:
            SubmissionRejected: one file too many, a file or the tree too large.
        """
        caps = self.caps
        if len(self.files) >= caps.max_files:
            raise SubmissionRejected(
                f"the {self.what} has more than {caps.max_files} files ({path!r} is one too many)", member=path
            )
        if declared_size is not None and declared_size > caps.max_file_bytes:
            raise SubmissionRejected(
                f"{path!r} is larger than the {caps.max_file_bytes}-byte cap for one file", member=path
            )
        stream = io.BytesIO(body) if isinstance(body, bytes) else body
        chunks: list[bytes] = []
        size = 0
        while chunk := stream.read(_CHUNK):
            size += len(chunk)
            self.total += len(chunk)
            if size > caps.max_file_bytes:
                raise SubmissionRejected(
                    f"{path!r} is larger than the {caps.max_file_bytes}-byte cap for one file", member=path
                )
            if self.total > caps.max_total_bytes:
                raise SubmissionRejected(
                    f"the {self.what} is larger than {caps.max_total_bytes} bytes{self.size_note} (at {path!r})",
                    member=path,
                )
            self.counted(path)
            chunks.append(chunk)
        if declared_size is not None and size != declared_size:
            raise SubmissionRejected(
                f"{path!r}: the archive header says {declared_size} bytes but it holds {size}", member=path
            )
        self.files[path] = b"".join(chunks)

    def counted(self, path: str) -> None:
        """Called after every chunk of ``path`` is counted; a packed source checks its own caps here."""

    def finish(self, *, strip_top_folder: bool = False) -> dict[str, bytes]:
        """The admitted tree, sorted by path, once the rules over the whole tree hold.

        Args:
            strip_top_folder: when every file sits in the same top-level
                folder, remove it (people archive their folder, not its contents).

        Raises:
            SubmissionRejected: a file nested too deep, a name that is both a
                file and a folder (compared case-folded and normalised, as on
                a case-insensitive file system), or names that collide.
        """
        files = _strip_common_folder(self.files) if strip_top_folder else self.files
        folders: dict[str, str] = {}  # folded folder -> a file inside it
        for path in files:
            parts = path.split("/")
            for i in range(1, len(parts)):
                folders.setdefault(fold("/".join(parts[:i])), path)
        for path in files:
            if path.count("/") > self.caps.max_depth:
                raise SubmissionRejected(f"{path!r}: nested deeper than {self.caps.max_depth} folders", member=path)
            inside = folders.get(fold(path))
            if inside is not None:
                raise SubmissionRejected(
                    f"{path!r} is both a file and a folder in the {self.what} ({inside!r} is inside it)", member=path
                )
        check_collisions(list(files))
        return dict(sorted(files.items()))


def _strip_common_folder(files: dict[str, bytes]) -> dict[str, bytes]:
    tops = {path.split("/", 1)[0] for path in files}
    if len(tops) != 1 or not all("/" in path for path in files):
        return files
    return {path.split("/", 1)[1]: body for path, body in files.items()}


def read_tree(root: Path, caps: TreeCaps = TreeCaps(), *, what: str = "submission") -> dict[str, bytes]:
    """Read every regular file below ``root`` under the rules of ``Admission``.

    Never follows a symbolic link: a link is rejected, with a message saying
    whether it leads outside the tree. Ignores tool litter (``IGNORED_NAMES``).

    Raises:
        SubmissionRejected: ``root`` is not a folder, or a file breaks a rule or a cap.
    """
    if not root.is_dir() or root.is_symlink():
        raise SubmissionRejected(f"{what} path {str(root)!r} is not a folder")
    admission = Admission(caps, what=what)
    real_root = root.resolve()

    def walk(folder: Path, prefix: str, depth: int) -> None:
        if depth > caps.max_depth:  # before descending: a hostile tree cannot make us recurse without end
            raise SubmissionRejected(
                f"{prefix.rstrip('/')!r}: nested deeper than {caps.max_depth} folders", member=prefix.rstrip("/")
            )
        with os.scandir(folder) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                rel = admission.name(prefix + _decoded(entry.name, prefix))
                if rel is None:
                    continue
                mode = entry.stat(follow_symlinks=False).st_mode
                if stat.S_ISLNK(mode):
                    target = Path(os.path.realpath(entry.path))
                    if target != real_root and real_root not in target.parents:
                        raise SubmissionRejected(f"{rel!r} is a symbolic link to a path outside the {what}", member=rel)
                    raise SubmissionRejected(
                        f"{rel!r} is a symbolic link; links are not accepted, copy the file instead", member=rel
                    )
                if stat.S_ISDIR(mode):
                    walk(Path(entry.path), rel + "/", depth + 1)
                    continue
                if not stat.S_ISREG(mode):
                    raise SubmissionRejected(f"{rel!r} is not a regular file (device, FIFO or socket)", member=rel)
                if mode & (stat.S_ISUID | stat.S_ISGID):
                    raise SubmissionRejected(f"{rel!r} has the setuid or setgid bit", member=rel)
                # O_NOFOLLOW: refuse a file swapped for a link since we looked.
                with os.fdopen(os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW), "rb") as body:
                    admission.add(rel, body)

    walk(root, "", 0)
    return admission.finish()


def _decoded(name: str, prefix: str) -> str:
    try:
        os.fsencode(name).decode("utf-8")
    except UnicodeDecodeError:
        raise SubmissionRejected(f"a name in {prefix or './'!r} is not valid UTF-8: {name!r}") from None
    return name


def overlay(base: Mapping[str, bytes], top: Mapping[str, bytes]) -> dict[str, bytes]:
    """``base`` with every file of ``top`` written over it (the starter plus a solution)."""
    merged = dict(base)
    merged.update(top)
    return merged


def from_mapping(
    files: Mapping[str, bytes], caps: TreeCaps = TreeCaps(), *, what: str = "submission"
) -> dict[str, bytes]:
    """Check a ``{path: bytes}`` tree given directly (e.g. a JSON upload) under the rules of ``Admission``.

    Raises:
        SubmissionRejected: a name breaks a rule, or the tree passes a cap.
    """
    admission = Admission(caps, what=what)
    admission.listed(len(files))
    for path, data in files.items():
        name = admission.name(path)
        if name is not None:
            admission.add(name, data)
    return admission.finish()
