"""Uploaded archives (zip, tar.gz, tar) in and out of memory, safely.

``extract`` turns an upload into the same ``{relative posix path: bytes}`` map
``engine.trees.read_tree`` returns, so everything downstream treats an upload
and a folder alike. It never writes to disk, never trusts a size written in a
header (bytes are counted as they are decompressed, and reading stops as soon
as a cap is passed), and rejects the whole archive on the first hostile member
rather than skipping it: a candidate learns what was wrong instead of being
graded on half an upload.

``make_tar_gz`` and ``make_zip`` build byte-for-byte reproducible archives, so
the same starter always downloads as the same bytes (and the same digest).
"""

from __future__ import annotations

import copy
import gzip
import io
import stat
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import IO, Any, cast

from engine.errors import SubmissionRejected
from engine.trees import Admission, TreeCaps, check_name

ACCEPTED_FORMATS = "zip, tar.gz (gzip-compressed tar) or plain tar"

# Room for one tar member's header block, a pax/GNU long-name record and data padding.
_TAR_MEMBER_OVERHEAD = 2048
_TAR_END_OVERHEAD = 2 * tarfile.RECORDSIZE
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o644
_UNBOUNDED = 1 << 62
_NO_LINKS = "links are not accepted, include the file itself"

# What the stdlib parsers raise on corrupt input; translated to SubmissionRejected at the seam.
_CORRUPT = (
    tarfile.TarError,
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    struct.error,
    NotImplementedError,
    OverflowError,
)


@dataclass(frozen=True)
class ArchiveCaps:
    """How much one uploaded archive may hold.

    ``max_files``, ``max_file_bytes``, ``max_total_bytes`` and ``max_depth``
    mean what they mean in ``TreeCaps`` and apply to the files kept.
    ``max_archive_bytes`` caps the upload itself; ``max_ratio`` caps the bytes
    kept per byte uploaded (zip and gzip bombs). ``max_members`` caps every
    entry the archive lists, folders and ignored litter included, so a
    hostile directory listing is refused before its entries are parsed.
    """

    max_files: int = TreeCaps.max_files
    max_file_bytes: int = TreeCaps.max_file_bytes
    max_total_bytes: int = TreeCaps.max_total_bytes
    max_depth: int = TreeCaps.max_depth
    max_archive_bytes: int = 16 * 1024 * 1024
    max_ratio: float = 100
    max_members: int = 4 * TreeCaps.max_files

    @classmethod
    def from_tree_caps(cls, caps: TreeCaps, **overrides: Any) -> ArchiveCaps:
        """Archive caps matching a folder's caps (e.g. ``PACK_CAPS``), so an upload holds what a folder may."""
        base = cls(
            max_files=caps.max_files,
            max_file_bytes=caps.max_file_bytes,
            max_total_bytes=caps.max_total_bytes,
            max_depth=caps.max_depth,
            max_members=4 * caps.max_files,
        )
        return replace(base, **overrides)


def extract(
    data: bytes, *, caps: ArchiveCaps = ArchiveCaps(), what: str = "submission", strip_top_folder: bool = True
) -> dict[str, bytes]:
    """Read every regular file of an uploaded archive into memory.

    The format is recognised from its first bytes, never from a file name.
    Every member passes ``engine.trees.Admission``, the rules a folder and a
    JSON upload pass too: tool litter (``engine.trees.IGNORED_NAMES`` in any
    segment) is dropped; folders are implied by files, so empty folders
    vanish. A leading ``./`` (as ``tar -C dir .`` writes) is removed. When
    every kept file sits inside the same top-level folder (people archive
    their folder, not its contents), that folder is removed.

    Args:
        data: the uploaded bytes.
        caps: limits on the upload and on what it unpacks to.
        what: how messages name the upload ("submission", "pack", ...).
        strip_top_folder: pass False when the expected layout itself may be
            one folder (e.g. a starter whose files all live in ``src/``):
            contents archived without their folder would otherwise lose it.

    Returns:
        ``{relative posix path: bytes}``, as ``engine.trees.read_tree`` returns.

    Raises:
        SubmissionRejected: the bytes are no accepted archive, are corrupt, or
            a member breaks a rule or a cap; the message names the member and
            the rule (and ``member`` holds it).
    """
    if len(data) > caps.max_archive_bytes:
        raise SubmissionRejected(f"the {what} archive is {len(data)} bytes; the cap is {caps.max_archive_bytes}")
    collector = _Collector(caps, what, compressed_size=len(data))
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        _guard(_read_zip, data, collector, fmt="zip")
    elif data.startswith(b"\x1f\x8b"):
        _guard(
            _read_tar,
            _CappedReader(gzip.GzipFile(fileobj=io.BytesIO(data), mode="rb"), collector),
            collector,
            fmt="tar.gz",
        )
    elif data[257:262] == b"ustar":
        _guard(_read_tar, _CappedReader(io.BytesIO(data), collector), collector, fmt="tar")
    else:
        raise SubmissionRejected(f"the {what} is not an archive this service accepts; upload a {ACCEPTED_FORMATS}")
    return collector.finish(strip_top_folder=strip_top_folder)


#: Caps for an archive this service wrote itself (``make_tar_gz`` of a tree ``Admission`` admitted): the
#: tree's rules and caps as for any upload, but no compression ratio cap, which guards against a
#: stranger's bomb and which our own gzip of repetitive text may exceed.
STORED_CAPS = ArchiveCaps(max_ratio=float("inf"))


def extract_stored(data: bytes) -> dict[str, bytes]:
    """The files of a stored submission (``make_tar_gz`` of admitted files), exactly as they were admitted.

    What the API admitted this always returns unchanged: the API admits no
    tree a worker would refuse here.

    Raises:
        SubmissionRejected: the stored bytes break the rules (stored before a rule existed, or damaged).
    """
    return extract(data, caps=STORED_CAPS, strip_top_folder=False)


def make_tar_gz(files: Mapping[str, bytes], *, prefix: str | None = None) -> bytes:
    """A reproducible ``.tar.gz`` of ``files``: same files in, same bytes out.

    Members are sorted, owned by uid/gid 0, mode 0644, mtime 0; the gzip
    header carries mtime 0 and no file name. Folders are implied, not listed.

    Args:
        files: ``{relative posix path: bytes}``.
        prefix: a folder to put everything under (e.g. the task's name).

    Raises:
        SubmissionRejected: a path or the prefix is not a safe relative name.
    """
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT, encoding="utf-8") as tar:
        for name, body in _members(files, prefix):
            info = tarfile.TarInfo(name)
            info.size = len(body)
            info.mode = _FILE_MODE
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(body))
    return gzip.compress(buf.getvalue(), compresslevel=9, mtime=0)


def make_zip(files: Mapping[str, bytes], *, prefix: str | None = None) -> bytes:
    """A reproducible ``.zip`` of ``files``: same files in, same bytes out.

    Members are sorted, deflated, dated 1980-01-01 (the earliest zip can
    express), Unix mode 0644. Folders are implied, not listed.

    Args:
        files: ``{relative posix path: bytes}``.
        prefix: a folder to put everything under (e.g. the task's name).

    Raises:
        SubmissionRejected: a path or the prefix is not a safe relative name.
    """
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, mode="w") as zf:
        for name, body in _members(files, prefix):
            info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so readers honour the mode below
            info.external_attr = (stat.S_IFREG | _FILE_MODE) << 16
            zf.writestr(info, body, compresslevel=9)
    return buf.getvalue()


def _members(files: Mapping[str, bytes], prefix: str | None) -> list[tuple[str, bytes]]:
    if prefix is not None:
        check_name(prefix)
    for path in files:
        check_name(path)
    lead = f"{prefix}/" if prefix else ""
    return [(lead + path, files[path]) for path in sorted(files)]


def _guard(read: Callable[[Any, _Collector], None], source: object, collector: _Collector, *, fmt: str) -> None:
    try:
        read(source, collector)
    except UnicodeDecodeError as exc:
        raise SubmissionRejected(f"a member name in the {collector.what} is not valid UTF-8: {exc.object!r}") from exc
    except _CORRUPT as exc:
        raise SubmissionRejected(f"the {collector.what} is not a valid {fmt} archive: {exc}") from exc


class _Collector(Admission):
    """``Admission``'s rules, plus what only an archive can break (entries listed twice, bombs), in one pass."""

    size_note = " unpacked"

    def __init__(self, caps: ArchiveCaps, what: str, *, compressed_size: int):
        super().__init__(
            TreeCaps(
                max_files=caps.max_files,
                max_file_bytes=caps.max_file_bytes,
                max_total_bytes=caps.max_total_bytes,
                max_depth=caps.max_depth,
            ),
            what=what,
            max_members=caps.max_members,
        )
        self.archive_caps = caps
        self.compressed_size = compressed_size
        self.folders: set[str] = set()

    def admit(self, raw: str, *, is_dir: bool) -> str | None:
        """The member's normalised path, or None when it is litter or the archive's own root."""
        self.listed()
        if raw.startswith("/"):
            raise SubmissionRejected(f"{raw!r}: absolute paths are not allowed", member=raw)
        name = raw.rstrip("/") if is_dir else raw
        while name.startswith("./"):
            name = name[2:]
        if is_dir and name in ("", "."):
            return None
        if self.name(name) is None:
            return None
        if name in self.files or name in self.folders:
            raise SubmissionRejected(f"{name!r} appears more than once in the {self.what} archive", member=name)
        return name

    def add_folder(self, name: str) -> None:
        self.folders.add(name)

    def counted(self, path: str) -> None:
        ratio = self.archive_caps.max_ratio
        if self.total > ratio * self.compressed_size:
            raise SubmissionRejected(
                f"the {self.what} unpacks to more than {ratio:g} times its {self.compressed_size} "
                "compressed bytes (compression ratio cap); refusing a possible archive bomb"
            )


class _CappedReader:
    """A read-only stream that refuses to yield more than the tar layer can legitimately need.

    tarfile reads pax and GNU long-name records whole and skips ignored
    members by reading through them; this bounds that work for a gzip bomb.
    """

    def __init__(self, raw: io.BufferedIOBase, collector: _Collector):
        self.raw = raw
        self.collector = collector
        caps = collector.archive_caps
        self.limit = caps.max_total_bytes + caps.max_members * _TAR_MEMBER_OVERHEAD + _TAR_END_OVERHEAD
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self.limit + 1 - self.count
        chunk = self.raw.read(min(size, self.limit + 1 - self.count))
        self.count += len(chunk)
        if self.count > self.limit:
            raise SubmissionRejected(
                f"the {self.collector.what} unpacks to more than {self.limit} bytes "
                "(tar headers and ignored files such as .git count too)"
            )
        return chunk


_TAR_FILE_TYPES = (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE)


def _read_tar(stream: _CappedReader, collector: _Collector) -> None:
    # Stream mode ("r|"): members are read strictly in order, nothing seeks back.
    # typeshed asks every fileobj to seek and write; stream mode only ever calls read()
    fileobj = cast(IO[bytes], stream)
    with tarfile.open(fileobj=fileobj, mode="r|", encoding="utf-8", errors="surrogateescape") as tar:
        for member in tar:
            name = collector.admit(member.name, is_dir=member.isdir())
            if name is None:
                continue
            if member.issym():
                raise SubmissionRejected(f"{name!r} is a symbolic link; {_NO_LINKS}")
            if member.islnk():
                raise SubmissionRejected(f"{name!r} is a hard link; {_NO_LINKS}")
            if member.ischr() or member.isblk() or member.isfifo():
                raise SubmissionRejected(f"{name!r} is a device file or FIFO; only regular files are accepted")
            if member.isdir():
                collector.add_folder(name)
                continue
            if member.type not in _TAR_FILE_TYPES:
                raise SubmissionRejected(
                    f"{name!r} has tar member type {member.type!r}; only regular files and folders are accepted"
                )
            if member.mode & (stat.S_ISUID | stat.S_ISGID):
                raise SubmissionRejected(f"{name!r} has the setuid or setgid bit")
            body = tar.extractfile(member)
            assert body is not None  # a regular member always has a body
            collector.add(name, body, declared_size=member.size)


def _read_zip(data: bytes, collector: _Collector) -> None:
    caps = collector.archive_caps
    # Each central-directory entry starts with this signature; counting them bounds the
    # work (and memory) zipfile spends parsing the directory before we see any entry.
    if data.count(b"PK\x01\x02") > caps.max_members:
        raise SubmissionRejected(
            f"the {collector.what} archive lists more than {caps.max_members} entries "
            "(folders and ignored files such as .git count too)"
        )
    # metadata_encoding: names without zip's UTF-8 flag must be UTF-8 too, not cp437 guesses.
    with zipfile.ZipFile(io.BytesIO(data), metadata_encoding="utf-8") as zf:
        for info in zf.infolist():
            mode = info.external_attr >> 16
            kind = stat.S_IFMT(mode)
            is_dir = info.orig_filename.endswith("/") or kind == stat.S_IFDIR
            # orig_filename: zipfile silently cuts a name at a NUL byte; we reject it instead.
            name = collector.admit(info.orig_filename, is_dir=is_dir)
            if name is None:
                continue
            if kind == stat.S_IFLNK:
                raise SubmissionRejected(f"{name!r} is a symbolic link; {_NO_LINKS}")
            if kind in (stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO, stat.S_IFSOCK):
                raise SubmissionRejected(f"{name!r} is a device file, FIFO or socket; only regular files are accepted")
            if is_dir:
                collector.add_folder(name)
                continue
            if mode & (stat.S_ISUID | stat.S_ISGID):
                raise SubmissionRejected(f"{name!r} has the setuid or setgid bit")
            if info.flag_bits & 0x1:
                raise SubmissionRejected(f"{name!r} is encrypted; upload an archive without a password")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise SubmissionRejected(
                    f"{name!r} uses zip compression method {info.compress_type}; only stored and deflate are accepted"
                )
            # zipfile stops reading at the size the header declares (and then checks the CRC);
            # lift that limit so the decompressed bytes themselves are counted against the caps.
            reading = copy.copy(info)
            reading.file_size = _UNBOUNDED
            with zf.open(reading) as body:
                collector.add(name, body, declared_size=info.file_size)
