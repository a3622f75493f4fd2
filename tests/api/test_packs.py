"""Pack uploads by authors, and the rule that no endpoint ever serves grader or solution files."""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import tempfile
import zipfile
from pathlib import Path

import pytest
import yaml
from sqlmodel import select

from api.tables import PackVersion, Role
from engine import archives, packs
from engine.trees import read_tree
from tests import factories
from tests.api.conftest import Api
from tests.conftest import CATALOGUE

WORD_PACK = "word-pack"
GRADER_MARK = "GRADER-SECRET-7f3a"
SOLUTION_MARK = "SOLUTION-SECRET-91c2"


def pack_files(
    root: Path,
    pack_id: str = WORD_PACK,
    version: str = "1.0.0",
    *,
    statement: str | None = None,
) -> dict[str, bytes]:
    """A small valid pack: the example word-frequency task under a new pack id, as ``{path: bytes}``."""
    folder = Path(tempfile.mkdtemp(prefix=f"{pack_id}-{version}-", dir=root))
    shutil.copytree(CATALOGUE / "python-foundations" / "word-frequency", folder / "word-frequency")
    (folder / "pack.yaml").write_text(yaml.safe_dump({**factories.PACK_YAML, "id": pack_id, "version": version}))
    if statement is not None:
        (folder / "word-frequency" / "statement.md").write_text(statement)
    return read_tree(folder, packs.PACK_CAPS, what="pack")


def secret_pack_files(root: Path, pack_id: str = "secret-pack") -> dict[str, bytes]:
    """An io pack whose hidden files carry marker strings, so any leak of them is easy to see."""
    files = factories.io_task_files(
        {"hidden-case-name": (f"{GRADER_MARK} input\n", f"{GRADER_MARK} INPUT\n")},
        **{
            "solution/main.py": f"# {SOLUTION_MARK}\nimport sys\nsys.stdout.write(sys.stdin.read().upper())\n",
            "grader/notes-for-graders.txt": f"{GRADER_MARK}: the expected output is upper case\n",
        },
    )
    folder = factories.write_pack(
        root / pack_id,
        {"upper": {"task": factories.io_task_yaml("upper"), "files": files}},
        pack={**factories.PACK_YAML, "id": pack_id},
    )
    return read_tree(folder, packs.PACK_CAPS, what="pack")


def post_pack(api: Api, headers: dict[str, str], data: bytes, name: str = "pack.zip", *, check: bool | None = True):
    """Upload a pack; then, unless ``check`` is None, play the workers' pack check (passing or failing)."""
    response = api.client.post(
        "/v1/packs", headers=headers, files={"archive": (name, data, "application/octet-stream")}
    )
    if check is not None and response.status_code in (200, 201) and response.json()["state"] == "checking":
        finish_check(api, response.json()["id"], response.json()["version"], ok=check)
    return response


def version_id(api: Api, pack_id: str, version: str) -> str:
    with api.service.session() as session:
        return (
            session.exec(select(PackVersion).where(PackVersion.pack_id == pack_id, PackVersion.version == version))
            .one()
            .id
        )


def finish_check(api: Api, pack_id: str, version: str, *, ok: bool, problems: list[str] | None = None):
    """Post the workers' report for an upload, as a worker would."""
    report = {
        "pack": pack_id,
        "version": version,
        "ok": ok,
        "problems": [],
        "tasks": [{"task": "word-frequency", "ok": ok, "problems": problems or []}],
    }
    response = api.client.post(
        f"/v1/pack-checks/{version_id(api, pack_id, version)}", headers=api.token(Role.WORKER, "w"), json=report
    )
    assert response.status_code == 200, response.text
    return response.json()["state"]


def packs_dir_entries(api: Api) -> list[str]:
    """Every ``<id>/<version>`` folder in the data dir's packs/, and any hidden leftover (``.incoming-*``)."""
    root = api.service.settings.packs_dir
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.glob("*/*")) + sorted(
        p.name for p in root.iterdir() if p.name.startswith(".")
    )


def stored_versions(api: Api) -> list[tuple[str, str, str | None]]:
    with api.service.session() as session:
        return sorted((r.pack_id, r.version, r.owner) for r in session.exec(select(PackVersion)).all())


@pytest.fixture
def author(api) -> dict[str, str]:
    return api.token(Role.AUTHOR, "ada")


# -- uploads ---------------------------------------------------------------


def test_a_valid_pack_is_stored_and_its_tasks_are_listed(api, author, tmp_path):
    files = pack_files(tmp_path)
    response = post_pack(api, author, archives.make_zip(files, prefix=WORD_PACK))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body == {
        "id": WORD_PACK,
        "version": "1.0.0",
        "digest": body["digest"],
        "created": True,
        "tasks": ["word-frequency"],
        "state": "checking",
        "links": {"self": f"/v1/packs/{WORD_PACK}/versions/1.0.0"},
    }
    assert body["digest"].startswith("sha256:")
    candidate = api.token(Role.CANDIDATE, "carol")
    tasks = api.client.get("/v1/tasks", headers=candidate).json()["data"]
    assert {(t["pack"], t["id"]) for t in tasks} >= {
        (WORD_PACK, "word-frequency"),
        ("python-foundations", "word-frequency"),
    }
    detail = api.client.get(f"/v1/tasks/{WORD_PACK}/word-frequency", headers=candidate)
    assert detail.status_code == 200
    assert detail.json()["statement"] == files["word-frequency/statement.md"].decode()
    assert stored_versions(api) == [(WORD_PACK, "1.0.0", "ada")]
    assert packs_dir_entries(api) == [f"{WORD_PACK}/1.0.0"]
    # The stored folder is a loadable pack: a fresh load from disk serves the same task.
    digest = detail.json()["task_digest"]
    api.service.pack_store.refresh()
    assert api.client.get(f"/v1/tasks/{WORD_PACK}/word-frequency", headers=candidate).json()["task_digest"] == digest


def test_a_candidate_can_submit_to_an_uploaded_task(api, author, tmp_path):
    post_pack(api, author, archives.make_tar_gz(pack_files(tmp_path)))
    response = api.client.post(
        "/v1/submissions",
        headers=api.token(Role.CANDIDATE, "carol"),
        json={"task": f"{WORD_PACK}/word-frequency", "files": {"top_words.py": "pass\n"}},
    )
    assert response.status_code == 202, response.text
    assert api.queue.run_ids == [response.json()["run_id"]]


def test_the_same_archive_again_is_200_not_created(api, author, tmp_path):
    files = pack_files(tmp_path)
    first = post_pack(api, author, archives.make_zip(files))
    again = post_pack(api, author, archives.make_zip(files))
    as_tar = post_pack(api, author, archives.make_tar_gz(files, prefix="my-pack"), name="pack.tar.gz")
    assert first.status_code == 201
    for response in (again, as_tar):
        assert response.status_code == 200, response.text
        assert response.json()["created"] is False
        assert response.json()["digest"] == first.json()["digest"]
    assert stored_versions(api) == [(WORD_PACK, "1.0.0", "ada")]
    assert packs_dir_entries(api) == [f"{WORD_PACK}/1.0.0"]


def test_the_same_version_with_different_content_is_409_and_changes_nothing(api, author, tmp_path):
    original = pack_files(tmp_path)
    assert post_pack(api, author, archives.make_zip(original)).status_code == 201
    changed = pack_files(tmp_path, statement="# Different\n\nA changed statement.\n")
    response = post_pack(api, author, archives.make_zip(changed))
    assert response.status_code == 409, response.text
    assert f"{WORD_PACK}@1.0.0" in response.json()["detail"]
    statement = api.client.get(f"/v1/tasks/{WORD_PACK}/word-frequency", headers=author).json()["statement"]
    assert statement == original["word-frequency/statement.md"].decode()
    assert stored_versions(api) == [(WORD_PACK, "1.0.0", "ada")]
    assert packs_dir_entries(api) == [f"{WORD_PACK}/1.0.0"]


def test_the_owner_publishes_a_new_version_which_becomes_the_latest(api, author, tmp_path):
    post_pack(api, author, archives.make_zip(pack_files(tmp_path)))
    response = post_pack(api, author, archives.make_zip(pack_files(tmp_path, version="1.1.0", statement="# v1.1\n")))
    assert response.status_code == 201, response.text
    assert api.client.get(f"/v1/packs/{WORD_PACK}", headers=author).json()["version"] == "1.1.0"
    old = api.client.get(f"/v1/tasks/{WORD_PACK}/word-frequency", params={"version": "1.0.0"}, headers=author)
    assert old.status_code == 200 and old.json()["pack_version"] == "1.0.0"
    assert packs_dir_entries(api) == [f"{WORD_PACK}/1.0.0", f"{WORD_PACK}/1.1.0"]


def test_a_malformed_pack_is_422_listing_every_problem(api, author, tmp_path):
    one = factories.pytest_task_files()
    del one["statement.md"]
    root = factories.write_pack(
        tmp_path / "bad",
        {
            "one": {"task": factories.pytest_task_yaml("one", difficulty="legendary"), "files": one},
            "two": {
                "task": factories.pytest_task_yaml("wrong-id", environment="cobol"),
                "files": factories.pytest_task_files(),
            },
        },
        pack={k: v for k, v in factories.PACK_YAML.items() if k != "license"} | {"id": "bad-pack"},
    )
    response = post_pack(api, author, archives.make_zip(read_tree(root, packs.PACK_CAPS)))
    assert response.status_code == 422, response.text
    problems = response.json()["problems"]
    assert all(set(p) == {"file", "location", "message"} for p in problems)
    found = {(p["file"], p["location"]) for p in problems}
    assert found == {
        ("pack.yaml", "$"),
        ("one/task.yaml", "$.difficulty"),
        ("one/statement.md", ""),
        ("two/task.yaml", "$.id"),
        ("two/task.yaml", "$.environment"),
    }
    messages = " | ".join(p["message"] for p in problems)
    for word in ("license", "legendary", "is missing", "wrong-id", "cobol"):
        assert word in messages
    assert stored_versions(api) == []
    assert packs_dir_entries(api) == []


def unsafe_tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("pack.yaml")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tar.addfile(info)
    return buf.getvalue()


def dot_dot_zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, body in files.items():
            zf.writestr(name, body)
        zf.writestr("../../outside.txt", b"escaped")
    return buf.getvalue()


@pytest.mark.parametrize("kind", ["symlink", "dot-dot", "not an archive"])
def test_an_unsafe_archive_is_422_and_leaves_nothing(api, author, tmp_path, kind):
    data = {
        "symlink": unsafe_tar,
        "dot-dot": lambda: dot_dot_zip(pack_files(tmp_path)),
        "not an archive": lambda: b"id: word-pack\n",
    }[kind]()
    response = post_pack(api, author, data)
    assert response.status_code == 422, response.text
    assert {"symlink": "symbolic link", "dot-dot": "'..'", "not an archive": "not an archive"}[kind] in response.json()[
        "detail"
    ]
    assert stored_versions(api) == []
    assert packs_dir_entries(api) == []
    assert not (tmp_path / "outside.txt").exists() and not (api.service.settings.data_dir / "outside.txt").exists()


def test_an_archive_over_the_size_limit_is_413(api, author, tmp_path):
    files = pack_files(tmp_path) | {
        "word-frequency/starter/blob.bin": os.urandom(api.service.settings.max_upload_bytes)
    }
    response = post_pack(api, author, archives.make_zip(files))
    assert response.status_code == 413, response.text
    assert packs_dir_entries(api) == []


def test_another_author_cannot_publish_a_version_of_someone_elses_pack(api, author, tmp_path):
    assert post_pack(api, author, archives.make_zip(pack_files(tmp_path))).status_code == 201
    mallory = api.token(Role.AUTHOR, "mallory")
    for version in ("1.1.0", "1.0.0"):
        response = post_pack(api, mallory, archives.make_zip(pack_files(tmp_path, version=version, statement="# x\n")))
        assert response.status_code == 403, response.text
        assert WORD_PACK in response.json()["detail"]
    assert stored_versions(api) == [(WORD_PACK, "1.0.0", "ada")]
    assert packs_dir_entries(api) == [f"{WORD_PACK}/1.0.0"]
    assert api.client.get(f"/v1/packs/{WORD_PACK}", headers=mallory).json()["version"] == "1.0.0"


@pytest.mark.parametrize("version", ["9.0.0", "1.0.0"])
def test_an_author_cannot_upload_over_a_built_in_pack_id(api, author, tmp_path, version):
    response = post_pack(api, author, archives.make_zip(pack_files(tmp_path, "python-foundations", version)))
    assert response.status_code == 403, response.text
    assert "python-foundations" in response.json()["detail"]
    assert stored_versions(api) == []
    assert packs_dir_entries(api) == []
    assert api.client.get("/v1/packs/python-foundations", headers=author).json()["version"] == "1.0.0"


# -- no endpoint serves grader or solution files -----------------------------

VIEWERS = [
    (Role.CANDIDATE, "carol"),
    (Role.AUTHOR, "ada"),
    (Role.AUTHOR, "mallory"),
    (Role.REVIEWER, "rita"),
    (Role.ADMIN, "root"),
    (Role.WORKER, "w"),
]


def served_parts(response) -> list[tuple[str, bytes]]:
    """(name, bytes) of everything in a response: archive members unpacked, JSON strings decoded."""
    kind = response.headers["content-type"]
    if kind.startswith("application/gzip"):
        with tarfile.open(fileobj=io.BytesIO(response.content), mode="r:gz") as tar:
            return [
                (m.name, f.read() if m.isfile() and (f := tar.extractfile(m)) is not None else b"")
                for m in tar.getmembers()
            ]
    if kind.startswith("application/zip"):
        with zipfile.ZipFile(io.BytesIO(response.content)) as zf:
            return [(info.filename, zf.read(info)) for info in zf.infolist()]
    strings: list[str] = []

    def walk(value) -> None:
        if isinstance(value, str):
            strings.append(value)
        elif isinstance(value, dict):
            for key, item in value.items():
                strings.append(key)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(json.loads(response.content))
    return [("<body>", response.content), ("<strings>", "\n".join(strings).encode())]


def hidden_material(task_root: Path) -> tuple[set[str], set[bytes]]:
    """Names and contents from grader/ and solution/ that nothing public (starter, statement) also holds."""
    starter = read_tree(task_root / "starter", packs.PACK_CAPS) if (task_root / "starter").is_dir() else {}
    public_text = b"\n".join(
        [*starter.values(), *(p.encode() for p in starter), (task_root / "statement.md").read_bytes()]
    )
    names: set[str] = set()
    contents: set[bytes] = set()
    for folder in ("grader", "solution"):
        for rel, body in read_tree(task_root / folder, packs.PACK_CAPS).items():
            names.add(f"{folder}/{rel}")
            for name in (rel, rel.rsplit("/", 1)[-1]):
                if name.encode() not in public_text:
                    names.add(name)
            if len(body.strip()) >= 16 and body.strip() not in public_text:
                contents.add(body.strip())
    return names, contents


def test_no_catalogue_endpoint_serves_grader_or_solution_files_to_any_role(api, author, tmp_path):
    assert post_pack(api, author, archives.make_zip(secret_pack_files(tmp_path))).status_code == 201
    tasks = [t for p in api.service.pack_store.packs() for t in p.tasks]
    assert {(t.pack_id, t.id) for t in tasks} >= {("secret-pack", "upper"), ("python-foundations", "retry-backoff")}
    forbidden_names: set[str] = set()
    forbidden_contents: set[bytes] = set()
    for task in tasks:
        names, contents = hidden_material(task.root)
        forbidden_names |= names
        forbidden_contents |= contents
    # The check is not vacuous: the markers and the real packs' hidden files are all looked for.
    assert any(GRADER_MARK.encode() in c for c in forbidden_contents)
    assert any(SOLUTION_MARK.encode() in c for c in forbidden_contents)
    assert "hidden-case-name.in" in forbidden_names and "grader/tests/test_retry.py" in forbidden_names
    assert len(forbidden_contents) >= 2 * len(tasks)

    paths = ["/v1/packs", "/v1/tasks"]
    for pack in api.service.pack_store.packs():
        paths += [f"/v1/packs/{pack.id}", f"/v1/packs/{pack.id}?version={pack.version}"]
        for task in pack.tasks:
            base = f"/v1/tasks/{pack.id}/{task.id}"
            paths += [base, f"{base}/starter.tar.gz", f"{base}/starter.zip"]
    for role, subject in VIEWERS:
        headers = api.token(role, subject)
        for path in paths:
            response = api.client.get(path, headers=headers)
            assert response.status_code == 200, (role, path, response.text)
            for name, data in served_parts(response):
                member = name if name.startswith("<") else name.split("/", 1)[-1]  # the task-name prefix
                assert not member.startswith(("grader/", "solution/")), (role, path, name)
                for hidden in forbidden_names:
                    assert hidden.encode() not in data and hidden != member, (role, path, name, hidden)
                for hidden in forbidden_contents:
                    assert hidden not in data, (role, path, name, hidden[:60])


def test_starter_archives_hold_exactly_the_starter_files(api, author):
    task = api.service.pack_store.task("python-foundations", "retry-backoff")
    starter = packs.starter_files(task)
    for suffix in ("tar.gz", "zip"):
        response = api.client.get(f"/v1/tasks/python-foundations/retry-backoff/starter.{suffix}", headers=author)
        assert archives.extract(response.content) == starter
