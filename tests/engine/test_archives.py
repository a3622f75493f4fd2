"""Uploaded archives: round trips, reproducible downloads, and every hostile construct refused."""

from __future__ import annotations

import contextlib
import gzip
import io
import random
import re
import stat
import struct
import tarfile
import tracemalloc
import warnings
import zipfile
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.archives import ArchiveCaps, extract, extract_stored, make_tar_gz, make_zip
from engine.errors import SubmissionRejected
from engine.packs import PACK_CAPS
from engine.trees import TreeCaps, is_ignored
from tests.strategies import safe_file_tree, tricky_body, tricky_path

FORMATS = ("tar.gz", "tar", "zip")
BIG = 100 * 1024 * 1024


@dataclass(frozen=True)
class Entry:
    """One archive member, described independently of the format."""

    name: str
    data: bytes = b""
    kind: str = "file"  # file, dir, symlink, hardlink, chr, blk, fifo, or a raw tar type byte
    mode: int = 0o644
    target: str = ""


_TAR_TYPES = {
    "file": tarfile.REGTYPE,
    "dir": tarfile.DIRTYPE,
    "symlink": tarfile.SYMTYPE,
    "hardlink": tarfile.LNKTYPE,
    "chr": tarfile.CHRTYPE,
    "blk": tarfile.BLKTYPE,
    "fifo": tarfile.FIFOTYPE,
}
_ZIP_KINDS = {
    "file": stat.S_IFREG,
    "dir": stat.S_IFDIR,
    "symlink": stat.S_IFLNK,
    "chr": stat.S_IFCHR,
    "blk": stat.S_IFBLK,
    "fifo": stat.S_IFIFO,
}


def build(fmt: str, entries: list[Entry]) -> bytes:
    return build_zip(entries) if fmt == "zip" else build_tar(entries, gz=fmt == "tar.gz")


def build_tar(entries: list[Entry], *, gz: bool = True) -> bytes:
    buf = io.BytesIO()
    # GNU format writes names as raw bytes, so surrogate-escaped (invalid UTF-8) names survive.
    with tarfile.open(
        fileobj=buf, mode="w", format=tarfile.GNU_FORMAT, encoding="utf-8", errors="surrogateescape"
    ) as tar:
        for e in entries:
            info = tarfile.TarInfo(e.name)
            info.type = _TAR_TYPES[e.kind] if e.kind in _TAR_TYPES else e.kind.encode()
            info.mode = e.mode
            info.linkname = e.target
            if e.data:
                info.size = len(e.data)
            tar.addfile(info, io.BytesIO(e.data))
    raw = buf.getvalue()
    return gzip.compress(raw, mtime=0) if gz else raw


def build_zip(entries: list[Entry], *, compress_type: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns on duplicate names; we want them
        with zipfile.ZipFile(buf, "w") as zf:
            for e in entries:
                name = e.name + "/" if e.kind == "dir" and not e.name.endswith("/") else e.name
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                info.create_system = 3
                info.compress_type = compress_type
                info.external_attr = (_ZIP_KINDS[e.kind] | e.mode) << 16
                zf.writestr(info, e.target.encode() if e.kind == "symlink" else e.data)
    return buf.getvalue()


def with_flags(data: bytes, flag_bits: int) -> bytes:
    """Set general-purpose flag bits on every member (zipfile resets them when writing)."""
    out = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = out.find(signature)
        while at >= 0:
            flags = struct.unpack_from("<H", out, at + offset)[0]
            struct.pack_into("<H", out, at + offset, flags | flag_bits)
            at = out.find(signature, at + 4)
    return bytes(out)


def patched(data: bytes, old: bytes, new: bytes) -> bytes:
    """Swap a same-length byte string everywhere (a zip member name sits in two headers)."""
    assert len(old) == len(new) and data.count(old) == 2
    return data.replace(old, new)


def without_litter(tree: dict[str, bytes]) -> dict[str, bytes]:
    return {p: b for p, b in tree.items() if not any(is_ignored(part) for part in p.split("/"))}


def rejected(data: bytes, match: str, **kwargs) -> SubmissionRejected:
    with pytest.raises(SubmissionRejected, match=match) as info:
        extract(data, **kwargs)
    return info.value


# --- round trips and reproducible archives -------------------------------------------------

MAKERS = pytest.mark.parametrize("make", [make_tar_gz, make_zip], ids=["tar.gz", "zip"])


@MAKERS
@given(tree=safe_file_tree)
def test_round_trip_under_a_prefix(make, tree):
    assert extract(make(tree, prefix="starter")) == without_litter(tree)


@MAKERS
@given(tree=safe_file_tree)
def test_round_trip_without_stripping(make, tree):
    assert extract(make(tree), strip_top_folder=False) == without_litter(tree)


@MAKERS
@given(tree=safe_file_tree)
def test_make_is_deterministic_and_independent_of_order(make, tree):
    assert make(tree) == make(dict(reversed(list(tree.items())))) == make(dict(tree))


def test_tar_gz_carries_no_time_owner_or_host_details():
    data = make_tar_gz({"b.py": b"b", "a/x.py": b"x"}, prefix="starter")
    assert data[4:8] == b"\0\0\0\0"  # gzip mtime
    assert data[3] & 0x08 == 0  # no original file name stored
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["starter/a/x.py", "starter/b.py"]
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname, m.mode, m.type) for m in members} == {
        (0, 0, 0, "", "", 0o644, tarfile.REGTYPE)
    }


def test_zip_carries_fixed_dates_and_modes():
    data = make_zip({"b.py": b"b", "a/x.py": b"x"}, prefix="starter")
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = zf.infolist()
    assert [i.filename for i in infos] == ["starter/a/x.py", "starter/b.py"]
    assert {(i.date_time, i.external_attr >> 16, i.compress_type) for i in infos} == {
        ((1980, 1, 1, 0, 0, 0), stat.S_IFREG | 0o644, zipfile.ZIP_DEFLATED)
    }


@MAKERS
def test_make_refuses_unsafe_names(make):
    with pytest.raises(SubmissionRejected, match=r"'\.\.'"):
        make({"../x": b""})
    with pytest.raises(SubmissionRejected, match="relative"):
        make({"a": b""}, prefix="/abs")


# --- layout: litter, folders, the common top folder ----------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_single_top_folder_is_stripped(fmt):
    data = build(fmt, [Entry("proj", kind="dir", mode=0o755), Entry("proj/a.py", b"a"), Entry("proj/sub/b.py", b"b")])
    assert extract(data) == {"a.py": b"a", "sub/b.py": b"b"}
    assert extract(data, strip_top_folder=False) == {"proj/a.py": b"a", "proj/sub/b.py": b"b"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_top_folder_is_kept_when_anything_sits_beside_it(fmt):
    data = build(fmt, [Entry("proj/a.py", b"a"), Entry("README.md", b"r")])
    assert extract(data) == {"proj/a.py": b"a", "README.md": b"r"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_litter_and_empty_folders_are_dropped(fmt):
    data = build(
        fmt,
        [
            Entry("a.py", b"a"),
            Entry(".git/config", b"[core]"),
            Entry("pkg/__pycache__/m.cpython-311.pyc", b"\0"),
            Entry(".DS_Store", b"\0"),
            Entry("__MACOSX/._a.py", b"\0"),
            Entry("empty", kind="dir", mode=0o755),
            Entry("pkg/m.py", b"m"),
        ],
    )
    assert extract(data) == {"a.py": b"a", "pkg/m.py": b"m"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_litter_is_skipped_whatever_it_is_but_its_names_are_still_checked(fmt):
    data = build(fmt, [Entry("a.py", b"a"), Entry("node_modules/.bin/tool", kind="symlink", target="/etc/passwd")])
    assert extract(data) == {"a.py": b"a"}
    rejected(build(fmt, [Entry("a.py"), Entry("node_modules/../../etc/x")]), r"node_modules/\.\./\.\./etc/x")


def test_leading_dot_slash_from_tar_c_is_removed():
    data = build_tar(
        [
            Entry(".", kind="dir", mode=0o755),
            Entry("./a.py", b"a"),
            Entry("./sub", kind="dir"),
            Entry("./sub/b.py", b"b"),
            Entry("./c.py", b"c"),
        ]
    )
    assert extract(data) == {"a.py": b"a", "c.py": b"c", "sub/b.py": b"b"}


@pytest.mark.parametrize("fmt", ["tar.gz", "zip"])
def test_empty_archive_is_an_empty_tree(fmt):
    assert extract(build(fmt, [])) == {}


def test_plain_tar_and_tar_gz_read_the_same():
    entries = [Entry("a.py", b"a" * 600), Entry("b/c.txt", bytes(range(256)))]
    assert (
        extract(build_tar(entries, gz=False))
        == extract(build_tar(entries))
        == {"a.py": b"a" * 600, "b/c.txt": bytes(range(256))}
    )


# --- hostile members ----------------------------------------------------------------------

HOSTILE = [
    ("absolute", FORMATS, [Entry("/etc/x")], r"'/etc/x': absolute"),
    ("dotdot", FORMATS, [Entry("../x")], r"'\.\./x'.*'\.\.' segments"),
    ("dotdot-inside", FORMATS, [Entry("a/../../x")], r"'a/\.\./\.\./x'.*'\.\.' segments"),
    ("backslash", FORMATS, [Entry("a\\b")], r"'a\\\\b'.*forward slashes"),
    ("drive-letter", FORMATS, [Entry("C:x")], r"'C:x'.*relative"),
    ("control-char", FORMATS, [Entry("a\x01b.py")], r"control characters"),
    ("symlink", FORMATS, [Entry("a.py", kind="symlink", target="/etc/passwd")], r"'a.py' is a symbolic link"),
    ("symlink-dir", FORMATS, [Entry("lib", kind="symlink", target="/"), Entry("x.py")], r"'lib' is a symbolic link"),
    (
        "hardlink",
        ("tar.gz", "tar"),
        [Entry("x.py"), Entry("a.py", kind="hardlink", target="x.py")],
        r"'a.py' is a hard link",
    ),
    ("chr-device", FORMATS, [Entry("null", kind="chr")], r"'null' is a device file"),
    ("blk-device", FORMATS, [Entry("sda", kind="blk")], r"'sda' is a device file"),
    ("fifo", FORMATS, [Entry("pipe", kind="fifo")], r"'pipe' is a device file.*FIFO"),
    ("setuid", FORMATS, [Entry("run", b"#!/bin/sh", mode=0o4755)], r"'run' has the setuid or setgid bit"),
    ("setgid", FORMATS, [Entry("run", b"#!/bin/sh", mode=0o2755)], r"'run' has the setuid or setgid bit"),
    ("case-collision", FORMATS, [Entry("a.py"), Entry("A.py")], r"'a.py' and 'A.py' collide"),
    ("nfc-collision", FORMATS, [Entry("caf\u00e9.py"), Entry("cafe\u0301.py")], r"collide after case folding"),
    ("duplicate", FORMATS, [Entry("a.py", b"1"), Entry("a.py", b"2")], r"'a.py' appears more than once"),
    ("file-and-folder", FORMATS, [Entry("a", b"1"), Entry("a/b.py", b"2")], r"'a' is both a file and a folder"),
    ("file-and-folder-folded", FORMATS, [Entry("a", b"1"), Entry("A/b.py", b"2")], r"'a' is both a file and a folder"),
    ("tar-volume-type", ("tar.gz", "tar"), [Entry("v", b"x", kind="V")], r"'v' has tar member type b'V'"),
]


@pytest.mark.parametrize(
    ("fmt", "entries", "match"),
    [
        pytest.param(fmt, entries, match, id=f"{name}-{fmt}")
        for name, formats, entries, match in HOSTILE
        for fmt in formats
    ],
)
def test_hostile_member_rejects_the_whole_archive(fmt, entries, match):
    rejected(build(fmt, [Entry("fine.py", b"ok"), *entries]), match)


def test_tar_name_that_is_not_utf8_is_rejected():
    rejected(build_tar([Entry("\udcff\udcfe.py", b"x")]), r"'\\udcff\\udcfe.py': names must be valid UTF-8")


@pytest.mark.parametrize("flag", [0, 0x800], ids=["no-utf8-flag", "utf8-flag"])
def test_zip_name_that_is_not_utf8_is_rejected(flag):
    data = patched(with_flags(build_zip([Entry("XX.py", b"x")]), flag), b"XX.py", b"\xff\xfe.py")
    rejected(data, r"not valid UTF-8: b'\\xff\\xfe.py'")


def test_zip_name_with_nul_is_rejected_not_truncated():
    data = patched(build_zip([Entry("a_b.py", b"x")]), b"a_b.py", b"a\0b.py")
    rejected(data, r"'a\\x00b.py': control characters")


def test_zip_encrypted_member_is_rejected():
    rejected(with_flags(build_zip([Entry("a.py", b"x")]), 0x1), r"'a.py' is encrypted")


def test_zip_compression_other_than_deflate_is_rejected():
    rejected(
        build_zip([Entry("a.py", b"x" * 100)], compress_type=zipfile.ZIP_BZIP2),
        r"'a.py' uses zip compression method 12; only stored and deflate",
    )


def test_zip_stored_members_are_read():
    assert extract(build_zip([Entry("a.py", b"stored")], compress_type=zipfile.ZIP_STORED)) == {"a.py": b"stored"}


# --- caps -------------------------------------------------------------------------------


def noise(n: int, seed: int = 0) -> bytes:
    """Incompressible bytes, so only the cap under test can trip."""
    return random.Random(seed).randbytes(n)


CAPPED = [
    ("files", [Entry(f"f{i}.py") for i in range(4)], ArchiveCaps(max_files=3), r"more than 3 files"),
    ("depth", [Entry("top.py"), Entry("a/b/c/d.py")], ArchiveCaps(max_depth=2), r"'a/b/c/d.py': nested deeper than 2"),
    (
        "file-bytes",
        [Entry("big.bin", noise(101))],
        ArchiveCaps(max_file_bytes=100),
        r"'big.bin' is larger than the 100-byte cap for one file",
    ),
    (
        "total-bytes",
        [Entry("a.bin", noise(100, 1)), Entry("b.bin", noise(100, 2))],
        ArchiveCaps(max_total_bytes=150),
        r"the submission is larger than 150 bytes unpacked",
    ),
    (
        "members",
        [Entry("d1", kind="dir"), Entry("d2", kind="dir"), Entry("d3", kind="dir"), Entry("x.py")],
        ArchiveCaps(max_members=3),
        r"lists more than 3 entries",
    ),
    (
        "archive-bytes",
        [Entry("a.py", noise(2000))],
        ArchiveCaps(max_archive_bytes=1000),
        r"the submission archive is \d+ bytes; the cap is 1000",
    ),
]


@pytest.mark.parametrize(
    ("fmt", "entries", "caps", "match"),
    [
        pytest.param(fmt, entries, caps, match, id=f"{name}-{fmt}")
        for name, entries, caps, match in CAPPED
        for fmt in FORMATS
    ],
)
def test_caps_reject_the_archive(fmt, entries, caps, match):
    rejected(build(fmt, entries), match, caps=caps)


@pytest.mark.parametrize("fmt", FORMATS)
def test_depth_is_measured_after_the_top_folder_is_stripped(fmt):
    data = build(fmt, [Entry("proj/a/b/c.py", b"c")])
    assert extract(data, caps=ArchiveCaps(max_depth=2)) == {"a/b/c.py": b"c"}


def test_what_names_the_upload_in_messages():
    rejected(
        build_zip([Entry(f"f{i}") for i in range(3)]),
        r"the pack has more than 2 files",
        caps=ArchiveCaps(max_files=2),
        what="pack",
    )


def test_caps_default_to_tree_caps_and_can_follow_other_tree_caps():
    caps, tree = ArchiveCaps(), TreeCaps()
    assert (caps.max_files, caps.max_file_bytes, caps.max_total_bytes, caps.max_depth) == (
        tree.max_files,
        tree.max_file_bytes,
        tree.max_total_bytes,
        tree.max_depth,
    )
    assert (caps.max_archive_bytes, caps.max_ratio) == (16 * 1024 * 1024, 100)
    pack = ArchiveCaps.from_tree_caps(PACK_CAPS, max_archive_bytes=64 * 1024 * 1024)
    assert (pack.max_files, pack.max_file_bytes, pack.max_total_bytes, pack.max_members, pack.max_archive_bytes) == (
        PACK_CAPS.max_files,
        PACK_CAPS.max_file_bytes,
        PACK_CAPS.max_total_bytes,
        4 * PACK_CAPS.max_files,
        64 * 1024 * 1024,
    )


# --- bombs and lying headers -------------------------------------------------------------

ZERO_BOMB = 50 * 1024 * 1024


class Zeros(io.RawIOBase):
    """``size`` zero bytes, produced on demand so building a bomb allocates nothing big."""

    def __init__(self, size: int):
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        n = min(len(buf), self.left)
        buf[:n] = bytes(n)
        self.left -= n
        return n


def zip_bomb(name: str = "zeros.bin") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf, zf.open(name, "w") as member:
        zeros = Zeros(ZERO_BOMB)
        while chunk := zeros.read(1024 * 1024):
            member.write(chunk)
    return buf.getvalue()


def gzip_bomb(name: str = "zeros.bin") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo(name)
        info.size = ZERO_BOMB
        tar.addfile(info, Zeros(ZERO_BOMB))
    return buf.getvalue()


def peak_bytes_while_rejected(data: bytes, match: str, caps: ArchiveCaps) -> int:
    tracemalloc.start()
    try:
        rejected(data, match, caps=caps)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


LOOSE = ArchiveCaps(max_file_bytes=BIG, max_total_bytes=BIG)
RATIO = r"unpacks to more than 100 times its \d+ compressed bytes \(compression ratio cap\)"


@pytest.mark.parametrize("bomb", [zip_bomb, gzip_bomb], ids=["zip", "tar.gz"])
def test_bomb_is_stopped_by_the_ratio_cap_without_unpacking_it(bomb):
    data = bomb()
    assert len(data) < ZERO_BOMB / 200  # really a bomb
    # Stopping at 100x the input means a few MB read; unpacking it all would hold 50 MB.
    assert peak_bytes_while_rejected(data, RATIO, LOOSE) < 16 * 1024 * 1024


@pytest.mark.parametrize("bomb", [zip_bomb, gzip_bomb], ids=["zip", "tar.gz"])
def test_bomb_is_stopped_by_the_default_file_cap(bomb):
    peak_bytes_while_rejected(bomb(), r"'zeros.bin' is larger than the 1048576-byte cap", ArchiveCaps())


def test_gzip_bomb_hidden_in_ignored_litter_is_still_stopped():
    # The member is never kept, but its bytes must still be decompressed to reach the next header.
    data = gzip_bomb(".git/objects/zeros")
    peak = peak_bytes_while_rejected(
        data, r"unpacks to more than \d+ bytes \(tar headers and ignored files", ArchiveCaps()
    )
    assert peak < 16 * 1024 * 1024


def _set_sizes(data: bytes, declared: int) -> bytes:
    """Rewrite the uncompressed size in the zip's local header (offset 22) and central directory (offset 24)."""
    out = bytearray(data)
    local, central = out.index(b"PK\x03\x04"), out.index(b"PK\x01\x02")
    struct.pack_into("<I", out, local + 22, declared)
    struct.pack_into("<I", out, central + 24, declared)
    return bytes(out)


def test_zip_header_claiming_a_small_size_still_hits_the_cap():
    data = _set_sizes(build_zip([Entry("big.bin", noise(300_000))]), 10)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.getinfo("big.bin").file_size == 10  # the lie is in place
    rejected(data, r"'big.bin' is larger than the 100000-byte cap", caps=ArchiveCaps(max_file_bytes=100_000))


def test_zip_header_size_that_disagrees_with_the_data_is_rejected():
    data = build_zip([Entry("a.bin", noise(50))])
    rejected(_set_sizes(data, 10), r"'a.bin': the archive header says 10 bytes but it holds 50")
    rejected(_set_sizes(data, 5000), r"'a.bin': the archive header says 5000")


def test_zip_central_directory_flood_is_refused_before_parsing():
    data = build_zip([Entry(f"d{i}", kind="dir") for i in range(30)])
    rejected(data, r"lists more than 20 entries", caps=ArchiveCaps(max_members=20))


# --- not an archive, corrupt archives, fuzzing ----------------------------------------------


@pytest.mark.parametrize(
    "data",
    [b"", b"print('hello')\n", b"%PDF-1.7\n", bytes(1024), b"BZh91AY&SY"],
    ids=["empty", "text", "pdf", "zeros", "bzip2"],
)
def test_non_archive_is_rejected_listing_the_accepted_formats(data):
    rejected(data, r"not an archive this service accepts; upload a zip, tar\.gz \(gzip-compressed tar\) or plain tar")


def test_gzip_that_is_not_a_tar_is_rejected():
    text = b"just some text, long enough to fill a tar header block" * 20
    rejected(gzip.compress(text), r"not a valid tar\.gz archive")


@pytest.mark.parametrize("make", [make_tar_gz, make_zip], ids=["tar.gz", "zip"])
def test_truncated_archive_is_rejected(make):
    data = make({"a.py": noise(4000)})
    rejected(data[: len(data) // 2], r"not a valid (zip|tar\.gz) archive")


@given(st.binary(max_size=4096))
def test_arbitrary_bytes_only_ever_raise_submission_rejected(data):
    with contextlib.suppress(SubmissionRejected):
        assert isinstance(extract(data), dict)


@given(st.sampled_from([b"PK\x03\x04", b"PK\x05\x06", b"\x1f\x8b\x08\x00"]), st.binary(max_size=2048))
def test_bytes_behind_an_archive_signature_only_ever_raise_submission_rejected(magic, rest):
    with contextlib.suppress(SubmissionRejected):
        assert isinstance(extract(magic + rest), dict)


@given(
    tree=safe_file_tree,
    fmt=st.sampled_from(FORMATS),
    flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), min_size=1, max_size=8),
    cut=st.integers(min_value=0),
)
def test_damaged_archives_only_ever_raise_submission_rejected(tree, fmt, flips, cut):
    data = bytearray(build(fmt, [Entry(p, b) for p, b in tree.items()]))
    for where, value in flips:
        data[where % len(data)] = value
    with contextlib.suppress(SubmissionRejected):
        assert isinstance(extract(bytes(data[: max(1, cut % (len(data) + 1))])), dict)


# --- one admission policy: an upload the API admits is what a worker unpacks --------------

#: Refusals of the archive as a whole, which no single member causes.
ARCHIVE_LEVEL = r"not an archive this service accepts|compression ratio cap|lists more than \d+ entries|unpacks to more than \d+ bytes"

archive_entry = st.one_of(
    st.builds(
        Entry,
        name=st.one_of(tricky_path, tricky_path.map("./".__add__), tricky_path.map("/".__add__)),
        data=tricky_body,
    ),
    st.builds(Entry, name=tricky_path, kind=st.just("dir")),
)


@given(entries=st.lists(archive_entry, max_size=8), fmt=st.sampled_from(FORMATS))
def test_an_archive_the_api_admits_unpacks_unchanged_on_the_worker(entries, fmt):
    """The API's multipart path (``extract`` with its caps, then ``make_tar_gz``) against the worker's
    ``extract_stored``: admitted files arrive unchanged; a refusal names a member or an archive-wide cap."""
    data = build(fmt, entries)
    try:
        admitted = extract(data, caps=ArchiveCaps(max_archive_bytes=8 * 1024 * 1024))  # api/settings.py's default
    except SubmissionRejected as exc:
        if exc.member is None:
            assert re.search(ARCHIVE_LEVEL, str(exc)), str(exc)
        else:
            assert repr(exc.member) in str(exc) and any(exc.member in e.name for e in entries), (str(exc), exc.member)
        return
    assert extract_stored(make_tar_gz(admitted)) == admitted
