"""The pack store the service serves from: built-in packs plus uploaded, immutable pack versions.

Uploaded packs are stored as folders ``<packs_dir>/<id>/<version>/``, written
to a temporary folder first and renamed into place, so a failed upload leaves
nothing behind. Workers read the same folders (a shared volume), which is why
no endpoint ever needs to serve grader or solution files.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from engine import archives, packs
from engine.digest import tree_digest
from engine.errors import Conflict, NotFound
from engine.models import Pack, Task
from engine.trees import read_tree

Loader = Callable[[Path], Pack]
#: A pack version's state (``api.tables.PackState`` values); built-in packs are always live.
StateOf = Callable[[Pack], str]
LIVE, RETIRED = "live", "retired"


def pack_digest(root: Path) -> str:
    return tree_digest(read_tree(root, packs.PACK_CAPS, what="pack"))


class PackStore:
    """Every pack version the service knows, loaded and validated once."""

    def __init__(
        self,
        *,
        builtin_dirs: list[Path],
        packs_dir: Path,
        loader: Loader,
        validate_upload: Callable[[Path], None] | None = None,
    ):
        """``validate_upload`` vets an uploaded pack before ``loader`` reads it in this process
        (``api.packcheck.BoundedValidator``: a child process with memory and time caps)."""
        self._builtin_dirs = builtin_dirs
        self._packs_dir = packs_dir
        self._load = loader
        self._validate_upload = validate_upload
        self._lock = threading.Lock()
        self._versions: dict[tuple[str, str], Pack] = {}
        self._builtin: set[tuple[str, str]] = set()

    def refresh(self) -> None:
        """(Re)load every pack from disk. A broken built-in pack is an error, not a skip."""
        found: dict[tuple[str, str], Pack] = {}
        builtin: set[tuple[str, str]] = set()
        for folder in self._builtin_dirs:
            for root in sorted(p for p in folder.iterdir() if (p / packs.PACK_FILE).is_file()):
                pack = self._load(root)
                found[(pack.id, pack.version)] = pack
                builtin.add((pack.id, pack.version))
        if self._packs_dir.is_dir():
            for root in sorted(self._packs_dir.glob(f"*/*/{packs.PACK_FILE}")):
                pack = self._load(root.parent)
                found[(pack.id, pack.version)] = pack
        with self._lock:
            self._versions, self._builtin = found, builtin

    def packs(self, state: StateOf | None = None) -> list[Pack]:
        """The latest version of each pack; with ``state``, the latest ``live`` one."""
        latest: dict[str, Pack] = {}
        for (pack_id, _), pack in sorted(self._versions.items(), key=lambda kv: _semver_key(kv[0][1])):
            if state is None or state(pack) == LIVE:
                latest[pack_id] = pack
        return [latest[k] for k in sorted(latest)]

    def pack(self, pack_id: str, version: str | None = None, state: StateOf | None = None) -> Pack:
        """A pack version. With ``state``: a named version must be live or retired (its results
        stay readable), and no version means the latest live one; others are as if absent."""
        if version is not None:
            pack = self._versions.get((pack_id, version))
            if pack is None or (state is not None and state(pack) not in (LIVE, RETIRED)):
                raise NotFound(f"unknown pack version {pack_id}@{version}")
            return pack
        for pack in self.packs(state):
            if pack.id == pack_id:
                return pack
        raise NotFound(f"unknown pack {pack_id!r}")

    def task(self, pack_id: str, task_id: str, version: str | None = None, state: StateOf | None = None) -> Task:
        return self.pack(pack_id, version, state).task(task_id)

    def all_versions(self) -> list[Pack]:
        """Every loaded version, whatever its state (authors and workers), by id then version."""
        return [p for _, p in sorted(self._versions.items(), key=lambda kv: (kv[0][0], _semver_key(kv[0][1])))]

    def is_builtin(self, pack: Pack) -> bool:
        return (pack.id, pack.version) in self._builtin

    def add(self, archive: bytes, *, max_bytes: int, authorise: Callable[[Pack], None]) -> tuple[Pack, str, bool]:
        """Validate an uploaded pack archive and store it as an immutable version.

        Blocking (extraction, a validating child process): call it from a worker thread.

        Returns ``(pack, digest, created)``; ``created`` is False when the very
        same content was already stored. ``authorise`` sees the validated pack
        before anything is stored and raises to refuse it.

        Raises:
            SubmissionRejected: the archive is unsafe or too large.
            PackError: the pack is malformed (every problem listed).
            PackConflict: this id and version exist with different content.
        """
        files = archives.extract(
            archive,
            caps=archives.ArchiveCaps(
                max_archive_bytes=max_bytes,
                max_files=packs.PACK_CAPS.max_files,
                max_file_bytes=packs.PACK_CAPS.max_file_bytes,
                max_total_bytes=packs.PACK_CAPS.max_total_bytes,
            ),
            what="pack",
        )
        self._packs_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=self._packs_dir))
        try:
            for rel, data in files.items():
                path = staging / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            if self._validate_upload is not None:
                self._validate_upload(staging)
            pack = self._load(staging)
            authorise(pack)
            digest = tree_digest(files)
            existing = self._versions.get((pack.id, pack.version))
            if existing is not None:
                if pack_digest(existing.root) == digest:
                    return existing, digest, False
                raise PackConflict(
                    f"pack {pack.id}@{pack.version} already exists with different content; bump the version"
                )
            target = self._packs_dir / pack.id / pack.version
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                staging.rename(target)
            except OSError as exc:
                raise PackConflict(f"pack {pack.id}@{pack.version} is being uploaded concurrently") from exc
            stored = self._load(target)
            with self._lock:
                self._versions[(stored.id, stored.version)] = stored
            return stored, digest, True
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)


class PackConflict(Conflict):
    """An upload names an existing pack version with different content."""


def _semver_key(version: str) -> tuple:
    core = version.split("+", 1)[0]
    main, _, pre = core.partition("-")
    numbers = tuple(int(p) if p.isdigit() else 0 for p in main.split("."))
    return numbers + ((1,) if not pre else (0, pre))
