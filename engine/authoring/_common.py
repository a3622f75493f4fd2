"""What the authoring tools share: their error, slugs, and the atomic pack write."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from engine.errors import SubmissionRejected, TaskTrialError
from engine.trees import check_collisions, check_name

SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
MAX_ID = 64


class AuthoringError(TaskTrialError):
    """Bad input to an authoring tool: a destination that is not empty, a folder that is not a track.

    The CLI maps it to exit code 2 (bad input).
    """


def slugify(text: str) -> str:
    """``text`` as a lowercase slug (``[a-z0-9]`` runs joined by ``-``); empty when nothing is left."""
    return "-".join(re.findall(r"[a-z0-9]+", text.lower()))


def is_id(text: str) -> bool:
    """Whether ``text`` is a valid pack or task id (see the schemas' ``id`` patterns)."""
    return bool(SLUG.match(text)) and len(text) <= MAX_ID


def check_destination(dest: Path) -> None:
    """Refuse a destination that exists and is anything but an empty folder.

    Raises:
        AuthoringError: naming ``dest`` and why it cannot be written.
    """
    if dest.is_symlink():
        raise AuthoringError(f"{dest} is a symbolic link; give a plain folder path")
    if not dest.exists():
        return
    if not dest.is_dir():
        raise AuthoringError(f"{dest} exists and is not a folder")
    if any(dest.iterdir()):
        raise AuthoringError(f"{dest} is not empty; refusing to overwrite it (choose a new or empty folder)")


def write_pack(files: Mapping[str, bytes], dest: Path, *, validate: Callable[[Path], object] | None = None) -> None:
    """Write ``files`` as the folder ``dest``, all or nothing.

    The tree is built in a temporary folder beside ``dest``, passed to
    ``validate`` (which raises to refuse it), then renamed into place; any
    failure removes the temporary folder, so ``dest`` is never half-written.
    ``dest`` may be missing or an empty folder; its parents are created.

    Raises:
        AuthoringError: ``dest`` is not empty, a path in ``files`` is unsafe, or the disk refused a write.
        Whatever ``validate`` raises (e.g. ``PackError``).
    """
    dest = Path(dest)
    check_destination(dest)
    try:
        for name in files:
            check_name(name)
        check_collisions(list(files))
    except SubmissionRejected as exc:
        raise AuthoringError(f"cannot write the pack: {exc}") from exc
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent))
    except OSError as exc:
        raise AuthoringError(f"cannot create a folder beside {dest}: {exc}") from exc
    try:
        try:
            for name, data in sorted(files.items()):
                path = staging / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            os.chmod(staging, 0o755)  # noqa: S103 - mkdtemp makes it private; a pack is meant to be shared
        except OSError as exc:
            raise AuthoringError(f"cannot write the pack beside {dest}: {exc}") from exc
        if validate is not None:
            validate(staging)
        check_destination(dest)  # again: something may have appeared while we wrote
        try:
            os.rename(staging, dest)  # replaces a missing or empty folder, atomically
        except OSError as exc:
            raise AuthoringError(f"cannot move the pack into {dest}: {exc}") from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
