"""Reading a submission folder safely: no links, no special files, caps on everything."""

from __future__ import annotations

import gzip
import io
import os
import random
import tarfile
from pathlib import Path

import pytest
from hypothesis import assume, given

from engine.archives import extract_stored, make_tar_gz
from engine.errors import SubmissionRejected
from engine.trees import MAX_PATH_BYTES, TreeCaps, check_name, from_mapping, is_ignored, read_tree
from tests.factories import write_files
from tests.strategies import tricky_tree


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "submission"
    folder.mkdir()
    return folder


def test_reads_every_regular_file_by_relative_posix_path(root: Path):
    write_files(root, {"main.py": "print(1)\n", "pkg/util.py": b"\x00\xff", "pkg/deep/data.txt": ""})
    assert read_tree(root) == {"main.py": b"print(1)\n", "pkg/util.py": b"\x00\xff", "pkg/deep/data.txt": b""}


def test_an_empty_folder_is_an_empty_tree(root: Path):
    assert read_tree(root) == {}


def test_a_path_that_is_not_a_folder_is_rejected(tmp_path: Path):
    file = write_files(tmp_path, {"file.txt": "x"}) / "file.txt"
    for path in (file, tmp_path / "missing"):
        with pytest.raises(SubmissionRejected, match="is not a folder") as raised:
            read_tree(path)
        assert str(path) in str(raised.value)


def test_a_symlinked_root_is_rejected(tmp_path: Path, root: Path):
    link = tmp_path / "link"
    link.symlink_to(root)
    with pytest.raises(SubmissionRejected, match="is not a folder"):
        read_tree(link)


def test_a_symlink_pointing_outside_is_rejected_and_says_so(tmp_path: Path, root: Path):
    secret = write_files(tmp_path, {"secret.txt": "host secret"}) / "secret.txt"
    (root / "notes.txt").symlink_to(secret)
    with pytest.raises(SubmissionRejected, match="outside") as raised:
        read_tree(root)
    assert "notes.txt" in str(raised.value)


def test_a_symlink_to_an_absolute_host_file_is_rejected(root: Path):
    (root / "passwd").symlink_to("/etc/passwd")
    with pytest.raises(SubmissionRejected, match="outside"):
        read_tree(root)


def test_a_symlink_inside_the_tree_is_rejected_too(root: Path):
    write_files(root, {"real.py": "x = 1\n"})
    (root / "alias.py").symlink_to(root / "real.py")
    with pytest.raises(SubmissionRejected, match="symbolic link") as raised:
        read_tree(root)
    assert "alias.py" in str(raised.value)
    assert "outside" not in str(raised.value)


def test_a_symlinked_folder_is_rejected(tmp_path: Path, root: Path):
    outside = tmp_path / "outside"
    write_files(outside, {"a.txt": "a"})
    (root / "dir").symlink_to(outside, target_is_directory=True)
    with pytest.raises(SubmissionRejected, match="outside"):
        read_tree(root)


def test_a_fifo_is_rejected(root: Path):
    os.mkfifo(root / "pipe")
    with pytest.raises(SubmissionRejected, match="not a regular file") as raised:
        read_tree(root)
    assert "pipe" in str(raised.value)


def test_a_setuid_file_is_rejected(root: Path):
    path = write_files(root, {"tool": "x"}) / "tool"
    path.chmod(0o4755)
    with pytest.raises(SubmissionRejected, match="setuid"):
        read_tree(root)


def test_too_many_files_are_rejected(root: Path):
    write_files(root, {f"f{i}.txt": "x" for i in range(4)})
    assert len(read_tree(root, TreeCaps(max_files=4))) == 4
    with pytest.raises(SubmissionRejected, match="more than 3 files"):
        read_tree(root, TreeCaps(max_files=3))


def test_a_file_over_the_per_file_cap_is_rejected(root: Path):
    write_files(root, {"ok.bin": b"x" * 10, "big.bin": b"x" * 11})
    with pytest.raises(SubmissionRejected, match="10-byte cap") as raised:
        read_tree(root, TreeCaps(max_file_bytes=10))
    assert "big.bin" in str(raised.value)


def test_a_file_exactly_at_the_cap_is_accepted(root: Path):
    write_files(root, {"ok.bin": b"x" * 10})
    assert read_tree(root, TreeCaps(max_file_bytes=10)) == {"ok.bin": b"x" * 10}


def test_the_total_size_cap_is_enforced(root: Path):
    write_files(root, {"a.bin": b"x" * 6, "b.bin": b"x" * 6})
    assert len(read_tree(root, TreeCaps(max_total_bytes=12))) == 2
    with pytest.raises(SubmissionRejected, match="larger than 11 bytes"):
        read_tree(root, TreeCaps(max_total_bytes=11))


def test_the_depth_cap_is_enforced(root: Path):
    write_files(root, {"a/b/c/file.txt": "deep"})
    assert read_tree(root, TreeCaps(max_depth=3)) == {"a/b/c/file.txt": b"deep"}
    with pytest.raises(SubmissionRejected, match="nested deeper than 2"):
        read_tree(root, TreeCaps(max_depth=2))


@pytest.mark.parametrize(
    "litter",
    [
        ".git/config",
        "__pycache__/m.cpython-311.pyc",
        "pkg/__pycache__/x.pyc",
        "node_modules/x/index.js",
        ".venv/bin/python",
        "stale.pyc",
        ".DS_Store",
    ],
)
def test_tool_litter_is_skipped(root: Path, litter: str):
    write_files(root, {"main.py": "x", litter: "litter"})
    assert read_tree(root) == {"main.py": b"x"}


def test_litter_is_skipped_even_when_it_would_break_a_rule(root: Path):
    write_files(root, {"main.py": "x"})
    (root / ".git").mkdir()
    os.mkfifo(root / ".git" / "fifo")
    (root / "__pycache__").symlink_to("/etc")
    assert read_tree(root) == {"main.py": b"x"}


def test_a_name_that_is_not_utf8_is_rejected(root: Path):
    fd = os.open(os.fsencode(root) + b"/bad-\xff-name.py", os.O_WRONLY | os.O_CREAT, 0o644)
    os.close(fd)
    with pytest.raises(SubmissionRejected, match="not valid UTF-8"):
        read_tree(root)


def test_a_folder_name_that_is_not_utf8_is_rejected(root: Path):
    os.mkdir(os.fsencode(root) + b"/\xfe\xfe")
    fd = os.open(os.fsencode(root) + b"/\xfe\xfe/ok.py", os.O_WRONLY | os.O_CREAT, 0o644)
    os.close(fd)
    with pytest.raises(SubmissionRejected, match="not valid UTF-8"):
        read_tree(root)


@pytest.mark.parametrize(
    ("first", "second"),
    [("Readme.md", "README.md"), ("src/Main.py", "SRC/main.py"), ("caf\u00e9.txt", "cafe\u0301.txt")],
)
def test_names_that_collide_after_case_folding_or_normalisation_are_rejected(root: Path, first: str, second: str):
    write_files(root, {first: "1", second: "2"})
    with pytest.raises(SubmissionRejected, match="collide") as raised:
        read_tree(root)
    assert first in str(raised.value) or second in str(raised.value)


def test_a_control_character_in_a_name_is_rejected(root: Path):
    write_files(root, {"bad\nname.txt": "x"})
    with pytest.raises(SubmissionRejected, match="control characters"):
        read_tree(root)


def test_the_label_names_what_was_read(tmp_path: Path):
    with pytest.raises(SubmissionRejected, match=r"^starter path"):
        read_tree(tmp_path / "missing", what="starter")


# -- one admission policy: the API admits exactly what a worker unpacks ------------------


def without_litter(tree: dict[str, bytes]) -> dict[str, bytes]:
    return {p: b for p, b in tree.items() if not any(is_ignored(part) for part in p.split("/"))}


def tar_gz_as_given(tree: dict[str, bytes]) -> bytes:
    """A tar.gz holding ``tree`` under exactly its names, unchecked (``make_tar_gz`` refuses unsafe names)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT, encoding="utf-8") as tar:
        for name, body in tree.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return gzip.compress(buf.getvalue(), mtime=0)


def names_read_back(archive: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        return tar.getnames()


def _safe_to_write(path: str) -> bool:
    try:
        check_name(path)
    except SubmissionRejected:
        return False
    return True


def names_a_member(exc: SubmissionRejected, paths) -> bool:
    """The refusal names a path of the tree, or a folder of one."""
    member = exc.member
    return (
        member is not None
        and repr(member) in str(exc)
        and any(p == member or p.startswith(member + "/") for p in paths)
    )


@given(tree=tricky_tree)
def test_a_mapping_is_admitted_exactly_when_the_worker_unpacks_it_unchanged(tree):
    """``from_mapping`` (the API's JSON submissions) against ``extract_stored`` (what a worker runs).

    Admitted: the stored archive unpacks to exactly the admitted files, which are
    the files sent minus litter. Refused: the message names a member, and a worker
    given the same names would refuse them too (the API is not stricter either).
    """
    assume(not any(path.startswith("./") for path in tree))  # a tar's "./" prefix, never a JSON name
    sent = tar_gz_as_given(tree)
    # tarfile reads a PAX path without its trailing "/" ({'É/'} comes back as {'É'}): a tar cannot carry such a
    # name to a worker, so there is nothing to compare it with.
    assume(names_read_back(sent) == list(tree))
    try:
        admitted = from_mapping(tree)
    except SubmissionRejected as exc:
        assert names_a_member(exc, tree), (str(exc), exc.member)
        with pytest.raises(SubmissionRejected):
            extract_stored(sent)
        return
    assert admitted == without_litter(tree)
    assert extract_stored(make_tar_gz(admitted)) == admitted
    assert extract_stored(sent) == admitted


@given(tree=tricky_tree)
def test_a_folder_is_admitted_exactly_when_the_same_mapping_is(tree, tmp_path_factory):
    """``read_tree`` (the CLI's submit, packs) follows the same rules as ``from_mapping``."""
    try:
        expected = from_mapping(tree)
    except SubmissionRejected:
        expected = None
    assume(all(_safe_to_write(path) for path in tree))  # never "..", "/x" or a name a folder cannot hold
    root = tmp_path_factory.mktemp("tree")
    try:
        write_files(root, tree)
    except OSError:  # names this file system cannot hold side by side (a file and a folder at once)
        assume(False)
    try:
        read = read_tree(root)
    except SubmissionRejected as exc:
        assert expected is None, f"read_tree refused what from_mapping admits: {exc}"
        assert exc.member is not None and repr(exc.member) in str(exc)
        return
    assert read == expected


def test_a_file_and_a_folder_differing_only_in_case_are_refused_from_every_source(root: Path):
    """Issue 12's reproduction: ``Src`` beside ``src/x.py`` was admitted from JSON and refused by the worker."""
    tree = {"Src": b"print(1)\n", "src/x.py": b"x = 1\n"}
    write_files(root, tree)
    for admit in (lambda: from_mapping(tree), lambda: read_tree(root), lambda: extract_stored(make_tar_gz(tree))):
        with pytest.raises(SubmissionRejected, match=r"'Src' is both a file and a folder") as raised:
            admit()
        assert raised.value.member == "Src"
        assert "'src/x.py' is inside it" in str(raised.value)


def test_the_largest_admitted_tree_still_unpacks_on_the_worker():
    """500 files with 1024-byte names holding 8 MiB of incompressible bytes: every cap at once."""
    caps = TreeCaps()
    name = "/".join(["\u00e9" * 127] * 4)  # 4 segments of 254 bytes, 1019 bytes with the slashes
    body_size = caps.max_total_bytes // caps.max_files
    rng = random.Random(0)
    tree = {f"{i:03d}{name[3:]}": rng.randbytes(body_size) for i in range(caps.max_files)}
    assert all(len(path.encode()) <= MAX_PATH_BYTES for path in tree)
    admitted = from_mapping(tree)
    assert extract_stored(make_tar_gz(admitted)) == admitted


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("a" * 256 + ".py", ["longer than 255 bytes"]),
        ("\u00e9" * 128, ["longer than 255 bytes"]),
        ("/".join(["d" * 200] * 6), ["1205 bytes long", "the cap is 1024"]),
    ],
)
def test_names_a_sandbox_cannot_hold_are_refused(path: str, words: list[str]):
    with pytest.raises(SubmissionRejected) as raised:
        from_mapping({path: b""})
    assert raised.value.member == path
    for word in words:
        assert word in str(raised.value)


def test_every_cap_refusal_names_the_member_that_passed_it():
    for tree, caps, member in [
        ({"a": b"x", "b": b"x", "c": b"x"}, TreeCaps(max_files=2), "c"),
        ({"a": b"xx", "b": b"xx"}, TreeCaps(max_total_bytes=3), "b"),
        ({"a/b/c": b""}, TreeCaps(max_depth=1), "a/b/c"),
    ]:
        with pytest.raises(SubmissionRejected) as raised:
            from_mapping(tree, caps)
        assert raised.value.member == member and repr(member) in str(raised.value)
