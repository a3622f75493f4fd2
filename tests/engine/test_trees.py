"""Reading a submission folder safely: no links, no special files, caps on everything."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.errors import SubmissionRejected
from engine.trees import TreeCaps, read_tree


def write(root: Path, files: dict[str, bytes | str]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "submission"
    folder.mkdir()
    return folder


def test_reads_every_regular_file_by_relative_posix_path(root: Path):
    write(root, {"main.py": "print(1)\n", "pkg/util.py": b"\x00\xff", "pkg/deep/data.txt": ""})
    assert read_tree(root) == {"main.py": b"print(1)\n", "pkg/util.py": b"\x00\xff", "pkg/deep/data.txt": b""}


def test_an_empty_folder_is_an_empty_tree(root: Path):
    assert read_tree(root) == {}


def test_a_path_that_is_not_a_folder_is_rejected(tmp_path: Path):
    file = write(tmp_path, {"file.txt": "x"}) / "file.txt"
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
    secret = write(tmp_path, {"secret.txt": "host secret"}) / "secret.txt"
    (root / "notes.txt").symlink_to(secret)
    with pytest.raises(SubmissionRejected, match="outside") as raised:
        read_tree(root)
    assert "notes.txt" in str(raised.value)


def test_a_symlink_to_an_absolute_host_file_is_rejected(root: Path):
    (root / "passwd").symlink_to("/etc/passwd")
    with pytest.raises(SubmissionRejected, match="outside"):
        read_tree(root)


def test_a_symlink_inside_the_tree_is_rejected_too(root: Path):
    write(root, {"real.py": "x = 1\n"})
    (root / "alias.py").symlink_to(root / "real.py")
    with pytest.raises(SubmissionRejected, match="symbolic link") as raised:
        read_tree(root)
    assert "alias.py" in str(raised.value)
    assert "outside" not in str(raised.value)


def test_a_symlinked_folder_is_rejected(tmp_path: Path, root: Path):
    outside = tmp_path / "outside"
    write(outside, {"a.txt": "a"})
    (root / "dir").symlink_to(outside, target_is_directory=True)
    with pytest.raises(SubmissionRejected, match="outside"):
        read_tree(root)


def test_a_fifo_is_rejected(root: Path):
    os.mkfifo(root / "pipe")
    with pytest.raises(SubmissionRejected, match="not a regular file") as raised:
        read_tree(root)
    assert "pipe" in str(raised.value)


def test_a_setuid_file_is_rejected(root: Path):
    path = write(root, {"tool": "x"}) / "tool"
    path.chmod(0o4755)
    with pytest.raises(SubmissionRejected, match="setuid"):
        read_tree(root)


def test_too_many_files_are_rejected(root: Path):
    write(root, {f"f{i}.txt": "x" for i in range(4)})
    assert len(read_tree(root, TreeCaps(max_files=4))) == 4
    with pytest.raises(SubmissionRejected, match="more than 3 files"):
        read_tree(root, TreeCaps(max_files=3))


def test_a_file_over_the_per_file_cap_is_rejected(root: Path):
    write(root, {"ok.bin": b"x" * 10, "big.bin": b"x" * 11})
    with pytest.raises(SubmissionRejected, match="10-byte cap") as raised:
        read_tree(root, TreeCaps(max_file_bytes=10))
    assert "big.bin" in str(raised.value)


def test_a_file_exactly_at_the_cap_is_accepted(root: Path):
    write(root, {"ok.bin": b"x" * 10})
    assert read_tree(root, TreeCaps(max_file_bytes=10)) == {"ok.bin": b"x" * 10}


def test_the_total_size_cap_is_enforced(root: Path):
    write(root, {"a.bin": b"x" * 6, "b.bin": b"x" * 6})
    assert len(read_tree(root, TreeCaps(max_total_bytes=12))) == 2
    with pytest.raises(SubmissionRejected, match="larger than 11 bytes"):
        read_tree(root, TreeCaps(max_total_bytes=11))


def test_the_depth_cap_is_enforced(root: Path):
    write(root, {"a/b/c/file.txt": "deep"})
    assert read_tree(root, TreeCaps(max_depth=3)) == {"a/b/c/file.txt": b"deep"}
    with pytest.raises(SubmissionRejected, match="nested deeper than 2"):
        read_tree(root, TreeCaps(max_depth=2))


@pytest.mark.parametrize("litter", [".git/config", "__pycache__/m.cpython-311.pyc", "pkg/__pycache__/x.pyc",
                                    "node_modules/x/index.js", ".venv/bin/python", "stale.pyc", ".DS_Store"])
def test_tool_litter_is_skipped(root: Path, litter: str):
    write(root, {"main.py": "x", litter: "litter"})
    assert read_tree(root) == {"main.py": b"x"}


def test_litter_is_skipped_even_when_it_would_break_a_rule(root: Path):
    write(root, {"main.py": "x"})
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


@pytest.mark.parametrize(("first", "second"), [("Readme.md", "README.md"), ("src/Main.py", "SRC/main.py"),
                                               ("caf\u00e9.txt", "cafe\u0301.txt")])
def test_names_that_collide_after_case_folding_or_normalisation_are_rejected(root: Path, first: str, second: str):
    write(root, {first: "1", second: "2"})
    with pytest.raises(SubmissionRejected, match="collide") as raised:
        read_tree(root)
    assert first in str(raised.value) or second in str(raised.value)


def test_a_control_character_in_a_name_is_rejected(root: Path):
    write(root, {"bad\nname.txt": "x"})
    with pytest.raises(SubmissionRejected, match="control characters"):
        read_tree(root)


def test_the_label_names_what_was_read(tmp_path: Path):
    with pytest.raises(SubmissionRejected, match=r"^starter path"):
        read_tree(tmp_path / "missing", what="starter")
