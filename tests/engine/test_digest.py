"""Content digests of file trees and of tasks."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from engine.digest import tree_digest
from engine.packs import load_pack
from tests import factories
from tests.strategies import file_tree, relative_path

DIGEST_PATTERN = r"^sha256:[0-9a-f]{64}$"


@given(file_tree)
def test_the_digest_is_a_sha256_name(tree):
    import re

    assert re.match(DIGEST_PATTERN, tree_digest(tree))


@given(file_tree, st.randoms(use_true_random=False))
def test_the_digest_does_not_depend_on_dict_order(tree, rnd):
    items = list(tree.items())
    rnd.shuffle(items)
    assert tree_digest(dict(items)) == tree_digest(tree)


@given(file_tree.filter(bool), st.data())
def test_changing_any_content_changes_the_digest(tree, data):
    path = data.draw(st.sampled_from(sorted(tree)))
    changed = data.draw(st.binary(max_size=256).filter(lambda b: b != tree[path]))
    assert tree_digest({**tree, path: changed}) != tree_digest(tree)


@given(file_tree.filter(bool), st.data())
def test_renaming_any_file_changes_the_digest(tree, data):
    path = data.draw(st.sampled_from(sorted(tree)))
    new_path = data.draw(relative_path.filter(lambda p: p not in tree))
    renamed = {new_path if p == path else p: content for p, content in tree.items()}
    assert tree_digest(renamed) != tree_digest(tree)


@given(file_tree, relative_path, st.binary(max_size=64))
def test_adding_or_removing_a_file_changes_the_digest(tree, path, content):
    assume(path not in tree)
    assert tree_digest({**tree, path: content}) != tree_digest(tree)


@given(relative_path, st.binary(min_size=1, max_size=64), st.integers(min_value=1, max_value=64))
def test_moving_bytes_between_a_path_and_its_content_changes_the_digest(path, content, cut):
    cut = min(cut, len(content))
    moved = content[:cut].decode("utf-8", "ignore")
    assume(moved and "/" not in moved and "\0" not in moved)
    longer_name = {path + moved: content[len(moved.encode()) :]}
    assert tree_digest(longer_name) != tree_digest({path: content})


def test_moving_bytes_between_two_files_changes_the_digest():
    assert tree_digest({"a": b"xy", "b": b"z"}) != tree_digest({"a": b"x", "b": b"yz"})
    assert tree_digest({"a": b"b\0c"}) != tree_digest({"a": b"", "b": b"c"})


# -- a task's digest covers every file of its folder ------------------------------------------------

TASK_FILES = factories.pytest_task_files()


def _digest(root: Path) -> str:
    return load_pack(root, environments=["python"]).task("sample").digest


@pytest.fixture
def pack_root(tmp_path: Path) -> Path:
    return factories.valid_pack(tmp_path / "pack")


@pytest.mark.parametrize("rel", ["task.yaml", *TASK_FILES])
def test_a_task_digest_changes_when_any_of_its_files_changes(pack_root: Path, rel: str):
    before = _digest(pack_root)
    path = pack_root / "sample" / rel
    path.write_bytes(path.read_bytes() + b"\n# edited\n")
    assert _digest(pack_root) != before


def test_a_task_digest_changes_when_a_file_is_added(pack_root: Path):
    before = _digest(pack_root)
    (pack_root / "sample" / "grader" / "data.txt").write_text("more")
    assert _digest(pack_root) != before


def test_a_task_digest_is_stable_when_nothing_changes(pack_root: Path):
    assert _digest(pack_root) == _digest(pack_root)


def test_a_task_digest_ignores_tool_litter(pack_root: Path):
    before = _digest(pack_root)
    (pack_root / "sample" / "grader" / "__pycache__").mkdir()
    (pack_root / "sample" / "grader" / "__pycache__" / "test_sample.cpython-311.pyc").write_bytes(b"\0")
    assert _digest(pack_root) == before
