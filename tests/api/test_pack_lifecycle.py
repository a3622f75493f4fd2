"""An upload goes live only once the workers' pack check passes; a live version can be retired."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient

from api import storage
from api.serve import build
from api.settings import Settings
from api.tables import Role
from engine import archives, packs, signing
from engine.trees import read_tree
from tests import factories
from tests.api.conftest import Api
from tests.api.helpers import work
from tests.api.test_packs import WORD_PACK, finish_check, pack_files, post_pack, version_id

TASK = f"{WORD_PACK}/word-frequency"


@pytest.fixture
def author(api) -> dict[str, str]:
    return api.token(Role.AUTHOR, "ada")


def candidate_sees(api: Api, task: str = TASK) -> bool:
    carol = api.token(Role.CANDIDATE, "carol")
    listed = {f"{t['pack']}/{t['id']}" for t in api.client.get("/v1/tasks", headers=carol).json()["data"]}
    detail = api.client.get(f"/v1/tasks/{task}", headers=carol).status_code
    starter = api.client.get(f"/v1/tasks/{task}/starter.tar.gz", headers=carol).status_code
    assert (task in listed) == (detail == 200) == (starter == 200)
    return task in listed


def submit(api: Api, version: str | None = None):
    body = {"task": TASK, "files": {"top_words.py": "pass\n"}}
    if version:
        body["version"] = version
    return api.client.post("/v1/submissions", headers=api.token(Role.CANDIDATE, "carol"), json=body)


def test_an_upload_is_checking_and_unseen_until_the_workers_check_passes(api, author, tmp_path):
    response = post_pack(api, author, archives.make_zip(pack_files(tmp_path)), check=None)
    assert response.status_code == 201 and response.json()["state"] == "checking"
    assert api.queue.pack_check_ids == [version_id(api, WORD_PACK, "1.0.0")]  # an id through the queue seam
    assert not candidate_sees(api)
    assert submit(api).status_code == 404
    assert finish_check(api, WORD_PACK, "1.0.0", ok=True) == "live"
    assert candidate_sees(api)
    assert submit(api).status_code == 202


def test_a_failed_check_leaves_no_live_version_and_its_author_reads_why(api, author, tmp_path):
    post_pack(api, author, archives.make_zip(pack_files(tmp_path)), check=None)
    assert finish_check(api, WORD_PACK, "1.0.0", ok=False, problems=["reference run 1: not_ready"]) == "rejected"
    assert not candidate_sees(api)
    assert submit(api, "1.0.0").status_code == 404
    detail = api.client.get(f"/v1/packs/{WORD_PACK}/versions/1.0.0", headers=author).json()
    assert detail["state"] == "rejected"
    assert detail["report"]["tasks"][0]["problems"] == ["reference run 1: not_ready"]
    assert (
        api.client.get(f"/v1/packs/{WORD_PACK}/versions/1.0.0", headers=api.token(Role.AUTHOR, "bob")).status_code
        == 404
    )
    listed = api.client.get("/v1/authoring/packs", headers=author).json()
    assert [(v["pack_id"], v["version"], v["state"]) for v in listed["data"]] == [(WORD_PACK, "1.0.0", "rejected")]


def test_the_first_report_stands(api, author, tmp_path):
    post_pack(api, author, archives.make_zip(pack_files(tmp_path)), check=None)
    finish_check(api, WORD_PACK, "1.0.0", ok=False)
    again = api.client.post(
        f"/v1/pack-checks/{version_id(api, WORD_PACK, '1.0.0')}", headers=api.token(Role.WORKER, "w"), json={"ok": True}
    )
    assert again.status_code == 409


def test_uploading_a_rejected_version_again_checks_it_again(api, author, tmp_path):
    files = pack_files(tmp_path)
    post_pack(api, author, archives.make_zip(files), check=False)
    again = post_pack(api, author, archives.make_zip(files), check=None)
    assert again.status_code == 200 and again.json()["state"] == "checking"
    assert len(api.queue.pack_check_ids) == 2
    assert finish_check(api, WORD_PACK, "1.0.0", ok=True) == "live"


def test_the_latest_live_version_is_served_while_a_newer_one_is_checked(api, author, tmp_path):
    post_pack(api, author, archives.make_zip(pack_files(tmp_path)))
    post_pack(api, author, archives.make_zip(pack_files(tmp_path, version="1.1.0", statement="# new\n")), check=None)
    carol = api.token(Role.CANDIDATE, "carol")
    assert api.client.get(f"/v1/packs/{WORD_PACK}", headers=carol).json()["version"] == "1.0.0"
    assert api.client.get(f"/v1/packs/{WORD_PACK}", headers=carol, params={"version": "1.1.0"}).status_code == 404


def test_a_retired_version_takes_no_submissions_and_its_results_stay_valid(api, author, tmp_path):
    post_pack(api, author, archives.make_zip(pack_files(tmp_path)))
    carol = api.token(Role.CANDIDATE, "carol")
    accepted = submit(api).json()
    work(api, accepted["run_id"])
    retired = api.client.post(f"/v1/packs/{WORD_PACK}/versions/1.0.0/retire", headers=author)
    assert retired.status_code == 200 and retired.json()["state"] == "retired"

    refused = submit(api, "1.0.0")
    assert refused.status_code == 409
    assert "retired" in refused.json()["detail"] and "no new submissions" in refused.json()["detail"]
    assert submit(api).status_code == 404  # no live version left to default to
    assert not candidate_sees(api)
    result = api.client.get(f"/v1/submissions/{accepted['id']}/result", headers=carol)
    assert result.status_code == 200
    assert signing.verify(result.json(), api.client.get("/.well-known/jwks.json").json()).ok
    assert api.client.get(f"/v1/tasks/{TASK}", headers=carol, params={"version": "1.0.0"}).status_code == 200
    again = api.client.post(f"/v1/packs/{WORD_PACK}/versions/1.0.0/retire", headers=author)
    assert again.status_code == 409 and "only a live version" in again.json()["detail"]


def test_only_the_author_or_an_admin_retires(api, author, tmp_path):
    post_pack(api, author, archives.make_zip(pack_files(tmp_path)))
    path = f"/v1/packs/{WORD_PACK}/versions/1.0.0/retire"
    assert api.client.post(path, headers=api.token(Role.AUTHOR, "bob")).status_code == 404
    assert api.client.post(path, headers=api.token(Role.REVIEWER, "rita")).status_code == 403
    assert api.client.post(path, headers=api.token(Role.ADMIN, "root")).json()["state"] == "retired"


def test_authors_see_statistics_of_their_packs_results(api, author, tmp_path):
    post_pack(api, author, archives.make_zip(pack_files(tmp_path)))
    for passed in (True, False, False):
        work(api, submit(api).json()["run_id"], passed=passed)
    stats = api.client.get(f"/v1/packs/{WORD_PACK}/stats", headers=author)
    assert stats.status_code == 200, stats.text
    task = stats.json()["tasks"]["word-frequency"]
    assert task["attempts"] == 3 and task["verdicts"] == {"ready": 1, "not_ready": 2}
    assert task["score_distribution"]["100"] == 1 and task["score_distribution"]["0-9"] == 2
    assert task["failed_most"][0]["failed"] == 2 and task["failed_most"][0]["rate"] == pytest.approx(0.667)
    assert api.client.get(f"/v1/packs/{WORD_PACK}/stats", headers=api.token(Role.AUTHOR, "bob")).status_code == 404
    assert api.client.get(f"/v1/packs/{WORD_PACK}/stats", headers=api.token(Role.CANDIDATE, "c")).status_code == 403


# -- for real: the embedded pool checks uploads in the Docker sandbox -------------------------------


def small_pack(root, pack_id: str, **overrides: str) -> bytes:
    files = factories.io_task_files(**overrides)
    folder = factories.write_pack(
        root / pack_id,
        {"upper": {"task": factories.io_task_yaml("upper"), "files": files}},
        pack={**factories.PACK_YAML, "id": pack_id},
    )
    return archives.make_tar_gz(read_tree(folder, packs.PACK_CAPS, what="pack"))


@pytest.mark.docker
def test_the_embedded_workers_publish_a_good_upload_and_reject_a_broken_one(tmp_path, docker_client, small_catalogue):
    settings = Settings(data_dir=tmp_path / "data", embedded_workers=1, catalogue_dirs=[small_catalogue])
    holder: dict[str, TestClient] = {}

    class Lazy:  # the embedded worker reaches the app through the TestClient, once it exists
        def __getattr__(self, name):
            return getattr(holder["http"], name)

    app, service = build(settings, client=Lazy())
    with TestClient(app) as http:
        holder["http"] = http
        with service.session() as session:
            headers = {
                "Authorization": "Bearer "
                + storage.create_token(session=session, name="a", role=Role.AUTHOR, subject="ada")
            }
        good = small_pack(tmp_path, "good-pack")
        broken = small_pack(tmp_path, "broken-pack", **{"solution/main.py": "import sys\nsys.stdout.write('nope')\n"})
        for data in (good, broken):
            response = http.post("/v1/packs", headers=headers, files={"archive": ("p.tar.gz", data)})
            assert response.status_code == 201 and response.json()["state"] == "checking", response.text
        deadline = time.monotonic() + 120
        while True:
            states = {
                pack_id: http.get(f"/v1/packs/{pack_id}/versions/1.0.0", headers=headers).json()["state"]
                for pack_id in ("good-pack", "broken-pack")
            }
            if set(states.values()) <= {"live", "rejected"} or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert states == {"good-pack": "live", "broken-pack": "rejected"}
        report = http.get("/v1/packs/broken-pack/versions/1.0.0", headers=headers).json()["report"]
        assert report["ok"] is False
        assert any("reference run 1: not_ready" in p for p in report["tasks"][0]["problems"]), json.dumps(report)
        listed = {t["pack"] for t in http.get("/v1/tasks", headers=headers).json()["data"]}
        assert "good-pack" in listed and "broken-pack" not in listed
    service.engine.dispose()


def test_the_reaper_queues_a_check_again_when_its_message_was_lost(api, author, tmp_path):
    from datetime import timedelta

    from api.tables import utcnow

    post_pack(api, author, archives.make_zip(pack_files(tmp_path)), check=None)
    [queued] = api.queue.pack_check_ids
    api.service.reap_once()
    assert api.queue.pack_check_ids == [queued]  # not yet: the check may simply be under way
    later = utcnow() + timedelta(seconds=api.service.settings.pack_check_requeue_seconds + 1)
    assert api.service.requeue_pack_checks(later) == 1
    assert api.service.requeue_pack_checks(later) == 0  # once per wait, not at every pass
    assert api.queue.pack_check_ids == [queued, queued]
    finish_check(api, WORD_PACK, "1.0.0", ok=True)
    assert api.service.requeue_pack_checks(later + timedelta(days=1)) == 0
