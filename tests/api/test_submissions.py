"""Submitting through the HTTP API: what is accepted, how it is stored, and what is refused.

Every refusal is checked to leave no trace: no submission, run, run event or
result row is added, and nothing is enqueued.
"""

from __future__ import annotations

import base64
import io
import itertools
import os
import stat
import tarfile
import warnings
import zipfile
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import func, select

from api.tables import ResultRow, Role, Run, RunEvent, RunState, Submission
from engine import archives
from engine.digest import tree_digest
from engine.trees import is_ignored
from tests.api.conftest import Api
from tests.api.helpers import RETRY
from tests.strategies import tricky_path

FILES = {"retry.py": b"def retry(call):\n    return call()\n", "helpers/backoff.py": b"DELAYS = [1, 2, 4]\n"}


# -- helpers ---------------------------------------------------------------


def snapshot(api: Api) -> tuple[tuple[int, ...], list[str]]:
    """What a refused request must not change: row counts of every per-submission table, and the queue."""
    with api.service.session() as session:
        counts = tuple(
            session.exec(select(func.count()).select_from(table)).one()
            for table in (Submission, Run, RunEvent, ResultRow)
        )
    return counts, list(api.queue.run_ids)


def upload(
    api: Api,
    headers: dict[str, str],
    data: bytes,
    *,
    task: str = RETRY,
    name: str = "solution.zip",
    version: str | None = None,
):
    form = {"task": task} | ({"version": version} if version else {})
    return api.client.post(
        "/v1/submissions", headers=headers, data=form, files={"archive": (name, data, "application/octet-stream")}
    )


def claimed_files(api: Api, run_id: str) -> dict[str, bytes]:
    """The files a worker receives for ``run_id``, unpacked exactly as the worker unpacks them (``api.jobs``)."""
    response = api.client.post(f"/v1/runs/{run_id}/claim", headers=api.token(Role.WORKER, "w"), json={"worker": "w1"})
    assert response.status_code == 200, response.text
    return archives.extract_stored(base64.b64decode(response.json()["archive"]))


def stored_submission(api: Api, submission_id: str) -> Submission:
    with api.service.session() as session:
        row = session.get(Submission, submission_id)
    assert row is not None
    return row


def _two_members_differing_in_case(tar: tarfile.TarFile) -> None:
    for name in ("Retry.py", "retry.py"):
        tar.addfile(tarfile.TarInfo(name), io.BytesIO(b""))


def tar_gz(build: Callable[[tarfile.TarFile], None], *, encoding: str = "utf-8") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.GNU_FORMAT, encoding=encoding) as tar:
        build(tar)
    return buf.getvalue()


def tar_member(name: str, body: bytes = b"x = 1\n", **attributes) -> Callable[[tarfile.TarFile], None]:
    def build(tar: tarfile.TarFile) -> None:
        tar.addfile(tarfile.TarInfo("retry.py"), io.BytesIO(b""))  # an innocent member first
        info = tarfile.TarInfo(name)
        info.size = 0 if attributes.get("type", tarfile.REGTYPE) != tarfile.REGTYPE else len(body)
        for key, value in attributes.items():
            setattr(info, key, value)
        tar.addfile(info, io.BytesIO(body) if info.size else None)

    return build


def zip_of(*entries: tuple[str, bytes, int]) -> bytes:
    """A zip by hand: ``(name, body, unix mode)`` per entry, the mode's file type included."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # duplicate names are built on purpose
        for name, body, mode in entries:
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = mode << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, body)
    return buf.getvalue()


REGULAR = stat.S_IFREG | 0o644


def non_utf8_zip() -> bytes:
    """A zip whose member name is Latin-1 bytes (no UTF-8 flag), patched in after writing."""
    data = zip_of(("retry.py", b"x = 1\n", REGULAR), ("cafX.py", b"y = 2\n", REGULAR))
    assert data.count(b"cafX.py") == 2  # the local header and the central directory
    return data.replace(b"cafX.py", b"caf\xe9.py")


# -- accepted --------------------------------------------------------------


def test_json_submission_is_accepted_and_stored_with_its_digest(api):
    candidate = api.token(Role.CANDIDATE, "alice")
    response = api.client.post(
        "/v1/submissions", headers=candidate, json={"task": RETRY, "files": {p: b.decode() for p, b in FILES.items()}}
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert response.headers["location"] == f"/v1/submissions/{body['id']}"
    assert body["state"] == "queued"
    assert api.queue.run_ids == [body["run_id"]]
    row = stored_submission(api, body["id"])
    assert row.submission_digest == tree_digest(FILES)
    assert (row.candidate, row.pack_id, row.task_id) == ("alice", "python-foundations", "retry-backoff")
    assert row.task_digest == api.service.pack_store.task("python-foundations", "retry-backoff").digest
    public = api.client.get(response.headers["location"], headers=candidate).json()
    assert public["submission_digest"] == tree_digest(FILES)
    assert public["state"] == "queued" and public["run_id"] == body["run_id"]
    assert claimed_files(api, body["run_id"]) == FILES


@pytest.mark.parametrize("make", [archives.make_zip, archives.make_tar_gz], ids=["zip", "tar.gz"])
def test_archive_submission_is_accepted_and_stored_with_its_digest(api, make):
    response = upload(api, api.token(Role.CANDIDATE, "alice"), make(FILES))
    assert response.status_code == 202, response.text
    body = response.json()
    assert response.headers["location"] == f"/v1/submissions/{body['id']}"
    assert api.queue.run_ids == [body["run_id"]]
    assert stored_submission(api, body["id"]).submission_digest == tree_digest(FILES)
    assert claimed_files(api, body["run_id"]) == FILES


@pytest.mark.parametrize("make", [archives.make_zip, archives.make_tar_gz], ids=["zip", "tar.gz"])
def test_an_archived_folder_is_stored_without_its_top_folder(api, make):
    files = {"retry.py": b"def retry(call):\n    return call()\n"}
    response = upload(api, api.token(Role.CANDIDATE, "alice"), make(files, prefix="mysolution"))
    assert response.status_code == 202, response.text
    body = response.json()
    assert claimed_files(api, body["run_id"]) == files
    assert stored_submission(api, body["id"]).submission_digest == tree_digest(files)


def test_a_hand_made_zip_with_folder_entries_and_litter_keeps_only_the_files(api):
    data = zip_of(
        ("mysolution/", b"", stat.S_IFDIR | 0o755),
        ("mysolution/retry.py", b"x = 1\n", REGULAR),
        ("mysolution/__pycache__/retry.cpython-312.pyc", b"\0\0", REGULAR),
        ("__MACOSX/mysolution/._retry.py", b"\0", REGULAR),
    )
    response = upload(api, api.token(Role.CANDIDATE, "alice"), data)
    assert response.status_code == 202, response.text
    assert claimed_files(api, response.json()["run_id"]) == {"retry.py": b"x = 1\n"}


# -- refused: nothing stored, nothing enqueued ------------------------------

HOSTILE = {
    "tar absolute path": (tar_gz(tar_member("/etc/cron.d/evil")), ["absolute", "/etc/cron.d/evil"]),
    "tar dot-dot": (tar_gz(tar_member("../evil.py")), ["'..'", "../evil.py"]),
    "tar symlink": (
        tar_gz(tar_member("link.py", type=tarfile.SYMTYPE, linkname="/etc/passwd")),
        ["symbolic link", "link.py"],
    ),
    "tar hard link": (
        tar_gz(tar_member("hard.py", type=tarfile.LNKTYPE, linkname="retry.py")),
        ["hard link", "hard.py"],
    ),
    "tar device": (tar_gz(tar_member("null", type=tarfile.CHRTYPE, devmajor=1, devminor=3)), ["device file", "null"]),
    "tar fifo": (tar_gz(tar_member("pipe", type=tarfile.FIFOTYPE)), ["fifo", "pipe"]),
    "tar setuid": (tar_gz(tar_member("suid.py", mode=0o4755)), ["setuid", "suid.py"]),
    "tar non-utf8 name": (tar_gz(tar_member("caf\xe9.py"), encoding="latin-1"), ["utf-8"]),
    "tar case collision": (tar_gz(_two_members_differing_in_case), ["collide", "'Retry.py'", "'retry.py'"]),
    "zip absolute path": (zip_of(("retry.py", b"", REGULAR), ("/abs.py", b"x", REGULAR)), ["absolute", "/abs.py"]),
    "zip dot-dot": (
        zip_of(("retry.py", b"", REGULAR), ("a/../../evil.py", b"x", REGULAR)),
        ["'..'", "a/../../evil.py"],
    ),
    "zip backslash": (
        zip_of(("retry.py", b"", REGULAR), ("..\\evil.py", b"x", REGULAR)),
        ["forward slashes", "evil.py"],
    ),
    "zip symlink": (
        zip_of(("retry.py", b"", REGULAR), ("link.py", b"/etc/passwd", stat.S_IFLNK | 0o777)),
        ["symbolic link", "link.py"],
    ),
    "zip device": (zip_of(("retry.py", b"", REGULAR), ("null", b"", stat.S_IFCHR | 0o666)), ["device file", "null"]),
    "zip bomb": (zip_of(("zeros.txt", b"\0" * 900_000, REGULAR)), ["bomb", "compression ratio"]),
    "zip non-utf8 name": (non_utf8_zip(), ["utf-8"]),
    "zip case collision": (
        zip_of(("retry.py", b"a", REGULAR), ("RETRY.py", b"b", REGULAR)),
        ["collide", "retry.py", "RETRY.py"],
    ),
    "zip duplicate member": (
        zip_of(("retry.py", b"a", REGULAR), ("retry.py", b"b", REGULAR)),
        ["more than once", "retry.py"],
    ),
}


@pytest.mark.parametrize(("data", "words"), list(HOSTILE.values()), ids=list(HOSTILE))
def test_a_hostile_archive_is_refused_naming_the_problem_and_leaves_no_trace(api, data, words):
    candidate = api.token(Role.CANDIDATE, "alice")
    before = snapshot(api)
    response = upload(api, candidate, data)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    for word in words:
        assert word.lower() in detail.lower(), f"{word!r} not named in {detail!r}"
    assert snapshot(api) == before


def test_a_file_that_is_no_archive_is_refused(api):
    before = snapshot(api)
    response = upload(api, api.token(Role.CANDIDATE, "alice"), b"def retry(): pass\n", name="retry.py")
    assert response.status_code == 422
    assert "not an archive" in response.json()["detail"]
    assert snapshot(api) == before


def test_a_corrupt_archive_is_refused(api):
    data = archives.make_zip(FILES)
    before = snapshot(api)
    response = upload(api, api.token(Role.CANDIDATE, "alice"), data[: len(data) // 2])
    assert response.status_code == 422
    assert "zip" in response.json()["detail"]
    assert snapshot(api) == before


def test_an_upload_over_the_size_limit_is_refused_with_413(api):
    cap = api.service.settings.max_upload_bytes
    incompressible = {"blob.bin": os.urandom(cap + 1024)}
    before = snapshot(api)
    response = upload(api, api.token(Role.CANDIDATE, "alice"), archives.make_zip(incompressible))
    assert response.status_code == 413
    assert str(cap) in response.json()["detail"]
    assert snapshot(api) == before


def test_a_streamed_body_over_the_size_limit_is_refused_with_413(api):
    """No Content-Length to trust: the body is counted as it arrives."""
    cap = api.service.settings.max_upload_bytes
    head = b'{"task": "python-foundations/retry-backoff", "files": {"retry.py": "'

    def chunks():
        yield head
        for _ in range(cap // 4096 + 2):
            yield b"x" * 4096
        yield b'"}}'

    headers = api.token(Role.CANDIDATE, "alice") | {"Content-Type": "application/json"}
    before = snapshot(api)
    response = api.client.post("/v1/submissions", headers=headers, content=chunks())
    assert response.status_code == 413
    assert snapshot(api) == before


@pytest.mark.parametrize(
    ("task", "version", "named"),
    [
        ("python-foundations/no-such-task", None, "no-such-task"),
        ("no-such-pack/retry-backoff", None, "no-such-pack"),
        (RETRY, "9.9.9", "9.9.9"),
    ],
)
def test_an_unknown_task_is_404(api, task, version, named):
    candidate = api.token(Role.CANDIDATE, "alice")
    before = snapshot(api)
    as_json = api.client.post(
        "/v1/submissions", headers=candidate, json={"task": task, "version": version, "files": {"retry.py": "x = 1\n"}}
    )
    as_archive = upload(api, candidate, archives.make_zip(FILES), task=task, version=version)
    for response in (as_json, as_archive):
        assert response.status_code == 404, response.text
        assert named in response.json()["detail"]
    assert snapshot(api) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"task": RETRY}, "files"),
        ({"files": {"retry.py": "x"}}, "task"),
        ({"task": RETRY, "files": ["retry.py"]}, "files"),
        ({"task": RETRY, "files": "retry.py"}, "files"),
        ({"task": RETRY, "files": {"retry.py": 3}}, "files"),
        ({"task": 7, "files": {"retry.py": "x"}}, "task"),
        ({"task": "retry-backoff", "files": {"retry.py": "x"}}, "task"),
    ],
    ids=[
        "no files",
        "no task",
        "files a list",
        "files a string",
        "content a number",
        "task a number",
        "task without pack",
    ],
)
def test_a_malformed_json_body_is_422_naming_the_field(api, body, field):
    before = snapshot(api)
    response = api.client.post("/v1/submissions", headers=api.token(Role.CANDIDATE, "alice"), json=body)
    assert response.status_code == 422, response.text
    assert any(error["loc"][0] == field for error in response.json()["detail"]), response.text
    assert snapshot(api) == before


@pytest.mark.parametrize(
    "content",
    [b"{not json", b'{"task": "a/b", "files": {"a.py": "\\ud800"}}', b"[]"],
    ids=["syntax", "lone surrogate", "not an object"],
)
def test_a_body_that_is_not_a_json_object_is_422(api, content):
    headers = api.token(Role.CANDIDATE, "alice") | {"Content-Type": "application/json"}
    before = snapshot(api)
    response = api.client.post("/v1/submissions", headers=headers, content=content)
    assert response.status_code == 422, response.text
    assert snapshot(api) == before


@pytest.mark.parametrize(
    ("files", "words"),
    [
        ({"../evil.py": "x"}, ["'..'", "../evil.py"]),
        ({"/etc/passwd": "x"}, ["relative", "/etc/passwd"]),
        ({"a\\b.py": "x"}, ["forward slashes"]),
        ({"bad\nname.py": "x"}, ["control characters"]),
        ({"retry.py": "a", "Retry.py": "b"}, ["collide"]),
        ({"retry.py": "a", "retry.py/x.py": "b"}, ["both a file and a folder"]),
    ],
    ids=["dot-dot", "absolute", "backslash", "control character", "case collision", "file and folder"],
)
def test_hostile_paths_in_a_json_body_are_refused_naming_the_path(api, files, words):
    before = snapshot(api)
    response = api.client.post(
        "/v1/submissions", headers=api.token(Role.CANDIDATE, "alice"), json={"task": RETRY, "files": files}
    )
    assert response.status_code == 422, response.text
    for word in words:
        assert word in response.json()["detail"]
    assert snapshot(api) == before


ZIP_PART = {"archive": ("s.zip", archives.make_zip(FILES), "application/zip")}
OTHER_PART = {"notes": ("notes.txt", b"x", "text/plain")}  # still multipart, just without the archive


@pytest.mark.parametrize(
    ("form", "files", "missing"),
    [({"task": RETRY}, OTHER_PART, "archive"), ({}, ZIP_PART, "task"), ({"task": "retry-backoff"}, ZIP_PART, "task")],
    ids=["no archive", "no task", "task without pack"],
)
def test_a_multipart_body_missing_a_part_is_422_naming_it(api, form, files, missing):
    before = snapshot(api)
    response = api.client.post("/v1/submissions", headers=api.token(Role.CANDIDATE, "alice"), data=form, files=files)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", missing]
    assert snapshot(api) == before


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/zip", None])
def test_a_wrong_content_type_is_415(api, content_type):
    headers = api.token(Role.CANDIDATE, "alice")
    if content_type:
        headers["Content-Type"] = content_type
    before = snapshot(api)
    response = api.client.post("/v1/submissions", headers=headers, content=archives.make_zip(FILES))
    assert response.status_code == 415, response.text
    assert "multipart/form-data" in response.json()["detail"]
    assert snapshot(api) == before


def test_a_refusal_does_not_disturb_an_earlier_accepted_submission(api):
    candidate = api.token(Role.CANDIDATE, "alice")
    accepted = upload(api, candidate, archives.make_zip(FILES)).json()
    upload(api, candidate, HOSTILE["zip symlink"][0])
    listed = api.client.get("/v1/submissions", headers=candidate).json()
    assert listed["count"] == 1
    assert [s["id"] for s in listed["data"]] == [accepted["id"]]
    assert listed["data"][0]["state"] == RunState.QUEUED.value


# -- one admission policy: every refusal at the API, never at the worker (issue 12) ------------


def test_a_file_beside_a_folder_of_the_same_name_in_another_case_is_refused_at_the_api(api):
    """Issue 12's reproduction: ``Src`` beside ``src/x.py`` got 202 here, then the worker's unpacking refused it
    and the run cycled through retries into a misleading engine error. Now: 422 naming the member, no trace."""
    candidate = api.token(Role.CANDIDATE, "alice")
    before = snapshot(api)
    for files in ({"Src": "print(1)\n", "src/x.py": "x = 1\n"}, {"src/x.py": "x = 1\n", "Src": "print(1)\n"}):
        response = api.client.post("/v1/submissions", headers=candidate, json={"task": RETRY, "files": files})
        assert response.status_code == 422, response.text
        body = response.json()
        assert body["member"] == "Src"
        assert "'Src' is both a file and a folder" in body["detail"] and "'src/x.py'" in body["detail"]
    as_archive = upload(api, candidate, archives.make_zip({"Src": b"print(1)\n", "src/x.py": b"x = 1\n"}))
    assert as_archive.status_code == 422 and as_archive.json()["member"] == "Src", as_archive.text
    assert snapshot(api) == before


def test_a_stored_submission_the_worker_cannot_unpack_ends_at_once_as_an_engine_error(api):
    """A row the API stored before a rule existed: the worker ends the run on its first attempt, naming the
    member, instead of raising (which sent the run round the reaper's retries)."""
    from api import jobs, storage
    from api.worker_client import WorkerApi
    from graders import GraderSet
    from runners.fake import FakeRunner

    task = api.service.pack_store.task(*RETRY.split("/"))
    legacy = {"Src": b"print(1)\n", "src/x.py": b"x = 1\n"}
    with api.service.session() as session:
        submission, run = storage.create_submission(
            session=session,
            candidate="alice",
            pack_id=task.pack_id,
            pack_version=task.pack_version,
            task_id=task.id,
            task_digest=task.digest,
            submission_digest=tree_digest(legacy),
            archive=archives.make_tar_gz(legacy),
        )
    secret = api.token(Role.WORKER, "workers")["Authorization"].removeprefix("Bearer ")
    worker_api = WorkerApi(api.client, token=secret, worker="host:1")

    def never_run(spec):
        raise AssertionError("nothing may run for a submission the worker cannot unpack")

    runner = FakeRunner(never_run)
    jobs.execute(
        run.id,
        api=worker_api,
        runner=runner,
        graders=GraderSet(runner),
        find_task=lambda pack_id, version, task_id: api.service.pack_store.task(pack_id, task_id, version),
    )
    document = api.client.get(
        f"/v1/submissions/{submission.id}/result", headers=api.token(Role.REVIEWER, "rita")
    ).json()
    assert (document["verdict"], document["status"]) == ("error", "engine_error")
    assert "cannot unpack the stored submission" in document["reason"] and "'Src'" in document["reason"]
    with api.service.session() as session:
        assert session.get(Run, run.id).attempts == 1


_candidates = itertools.count()


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=st.dictionaries(tricky_path, st.text(max_size=16), max_size=6))
def test_the_api_accepts_exactly_what_the_worker_unpacks(api, files):
    """Through HTTP: a JSON submission is either accepted and claimed by a worker as exactly the files sent
    (minus tool litter), or refused with 422 naming one of its members and leaving no trace."""
    candidate = api.token(Role.CANDIDATE, f"c{next(_candidates)}")  # one each: the rate limit stays out of it
    before = snapshot(api)
    response = api.client.post("/v1/submissions", headers=candidate, json={"task": RETRY, "files": files})
    if response.status_code == 202:
        sent = {
            path: text.encode() for path, text in files.items() if not any(is_ignored(part) for part in path.split("/"))
        }
        assert claimed_files(api, response.json()["run_id"]) == sent
        return
    assert response.status_code == 422, response.text
    member = response.json()["member"]
    assert repr(member) in response.json()["detail"]
    assert any(path == member or path.startswith(member + "/") for path in files)
    assert snapshot(api) == before
