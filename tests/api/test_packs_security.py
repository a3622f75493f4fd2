"""Hostile pack uploads (issue 14, finding 3): short error bodies, validation off the event loop in a bounded child."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from api import packcheck
from api.packcheck import BoundedValidator
from api.tables import Role
from engine import archives, packs, yamlsafe
from engine.errors import PackError
from engine.trees import read_tree
from tests import factories
from tests.api.conftest import Api
from tests.api.test_packs import WORD_PACK, pack_files, packs_dir_entries, post_pack, stored_versions
from tests.conftest import CATALOGUE
from tests.engine.test_yamlsafe import alias_bomb


@pytest.fixture
def author(api) -> dict[str, str]:
    return api.token(Role.AUTHOR, "ada")


def test_an_alias_bomb_upload_is_a_short_422_naming_the_file(api: Api, author, tmp_path):
    files = pack_files(tmp_path)
    files["pack.yaml"] = alias_bomb(6).encode()  # today: a 6 MB body repeating the expanded value
    response = post_pack(api, author, archives.make_zip(files))
    assert response.status_code == 422, response.text[:500]
    assert len(response.content) < 20_000
    assert [(p["file"], "anchor &a0 refused" in p["message"]) for p in response.json()["problems"]] == [
        ("pack.yaml", True)
    ]
    assert stored_versions(api) == [] and packs_dir_entries(api) == []


@pytest.mark.parametrize(
    "body",
    [
        {"task": "python-foundations/word-frequency", "files": {"x" * 100_000: 1}},
        {"task": "python-foundations/word-frequency", "files": ["x" * 100_000]},
    ],
    ids=["huge key", "huge value"],
)
def test_a_rejected_submission_body_is_not_echoed_in_full(api: Api, body):
    response = api.client.post("/v1/submissions", headers=api.token(Role.CANDIDATE, "carol"), json=body)
    assert response.status_code == 422
    assert len(response.content) < 5_000 and "x" * 1000 not in response.text
    assert any("files" in error["loc"] for error in response.json()["detail"])


def test_a_request_validation_error_names_the_field_without_its_input(api: Api):
    worker = api.token(Role.WORKER, "w")
    response = api.client.post("/v1/runs/some-run/claim", headers=worker, json={"worker": ["x" * 100_000]})
    assert response.status_code == 422, response.text[:300]
    assert len(response.content) < 5_000 and "x" * 1000 not in response.text
    assert any("worker" in error["loc"] for error in response.json()["detail"])


def test_healthz_answers_while_an_upload_is_being_validated(api: Api, author, tmp_path, monkeypatch):
    """The upload's validation waits until /healthz has answered: on the event loop it would stall it."""
    validating, release = threading.Event(), threading.Event()
    load = api.service.pack_store._load

    def slow_load(root: Path):
        if root.name.startswith(".incoming-"):
            validating.set()
            release.wait(20)
        return load(root)

    monkeypatch.setattr(api.service.pack_store, "_load", slow_load)
    uploaded = []
    uploader = threading.Thread(
        target=lambda: uploaded.append(post_pack(api, author, archives.make_zip(pack_files(tmp_path))))
    )
    uploader.start()
    try:
        assert validating.wait(20), "the upload never reached validation"
        assert api.client.get("/healthz").status_code == 200
        assert uploader.is_alive(), "/healthz answered only after the upload's validation ended"
    finally:
        release.set()
        uploader.join(30)
    assert uploaded[0].status_code == 201, uploaded[0].text


# -- the bounded child ------------------------------------------------------------


def test_the_child_reports_the_same_problems_as_an_in_process_load(tmp_path):
    root = factories.write_pack(
        tmp_path / "bad",
        {
            "one": {
                "task": factories.pytest_task_yaml("one", difficulty="legendary"),
                "files": factories.pytest_task_files(),
            }
        },
    )
    with pytest.raises(PackError) as in_process:
        packcheck.loader()(root)
    with pytest.raises(PackError) as in_child:
        BoundedValidator()(root)
    assert in_child.value.problems == in_process.value.problems
    assert {(p.file, p.location) for p in in_child.value.problems} == {("one/task.yaml", "$.difficulty")}


def test_a_valid_pack_passes_the_child(tmp_path):
    files = pack_files(tmp_path)
    root = tmp_path / "ok"
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    BoundedValidator()(root)  # raises on any problem
    assert read_tree(root, packs.PACK_CAPS) == files


def test_a_validation_past_the_memory_cap_is_a_pack_problem_not_a_server_fault(tmp_path):
    """80 MB of address space validates a built-in pack (about 47 MB) but not the largest YAML the loader takes."""
    capped = BoundedValidator(memory_bytes=80 * 2**20)
    ordinary = tmp_path / "ordinary"
    shutil.copytree(CATALOGUE / "python-foundations", ordinary)
    capped(ordinary)  # raises on any problem
    hungry = factories.valid_pack(tmp_path / "hungry")
    items = (yamlsafe.MAX_BYTES - 20) // 3
    (hungry / "sample" / "task.yaml").write_text("cases: [" + "0, " * items + "0]\n")  # one node per 3 bytes
    with pytest.raises(PackError, match="needed more than 80 MB"):
        capped(hungry)


def test_a_validation_past_the_time_cap_is_a_pack_problem(tmp_path):
    with pytest.raises(PackError, match="took longer than"):
        BoundedValidator(seconds=0.01)(factories.valid_pack(tmp_path / "pack"))


def test_an_upload_is_validated_by_the_bounded_child(api: Api, author, tmp_path, monkeypatch):
    seen: list[Path] = []
    monkeypatch.setattr(BoundedValidator, "__call__", lambda self, root: seen.append(root))
    response = post_pack(api, author, archives.make_zip(pack_files(tmp_path)))
    assert response.status_code == 201, response.text
    assert [p.name.startswith(".incoming-") for p in seen] == [True]
    assert api.service.pack_store.pack(WORD_PACK).id == WORD_PACK
