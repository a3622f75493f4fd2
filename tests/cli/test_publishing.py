"""The author's commands against the real API, in-process: publish, list, show, retire, stats;
and add-task and schema on the author's machine."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api import storage
from api.app import create_app
from api.queue import FakeQueue
from api.service import build_service
from api.settings import Settings
from api.tables import Role
from cli import client, config, main
from engine import schemas
from tests import factories
from tests.api.helpers import work
from tests.conftest import CATALOGUE

URL = "http://tasktrial.test"
runner = CliRunner()


def cli(*args: str | Path):
    return runner.invoke(main.app, [str(a) for a in args])


def flat(text: str) -> str:
    return " ".join(text.split())


class CheckingQueue(FakeQueue):
    """Plays the workers' pack check: posts a passing or failing report, from another thread, as a worker would."""

    def __init__(self) -> None:
        super().__init__()
        self.http: TestClient | None = None
        self.token = ""
        self.passes = True
        self.threads: list[threading.Thread] = []

    def enqueue_pack_check(self, version_id: str) -> None:
        super().enqueue_pack_check(version_id)
        report = {
            "ok": self.passes,
            "problems": [],
            "tasks": [
                {
                    "task": "word-frequency",
                    "ok": self.passes,
                    "problems": [] if self.passes else ["reference run 1: not_ready, score 40"],
                    "reference": [
                        {
                            "verdict": "ready" if self.passes else "not_ready",
                            "score": 100 if self.passes else 40,
                            "status": "completed",
                            "wall_seconds": 0.1,
                        }
                    ],
                    "reference_skills": {"python.text.tokenising": {"score": 100, "verdict": "ready"}},
                    "starter": [{"verdict": "not_ready", "score": 0, "status": "completed", "wall_seconds": 0.1}],
                    "wrong": {},
                }
            ],
        }
        http = self.http
        assert http is not None, "the fixture sets the client before anything is queued"
        thread = threading.Thread(
            target=lambda: http.post(
                f"/v1/pack-checks/{version_id}", json=report, headers={"Authorization": f"Bearer {self.token}"}
            )
        )
        self.threads.append(thread)
        thread.start()


@pytest.fixture
def server(tmp_path, monkeypatch):
    catalogue = tmp_path / "catalogue"
    shutil.copytree(CATALOGUE / "python-foundations", catalogue / "python-foundations")
    settings = Settings(data_dir=tmp_path / "data", catalogue_dirs=[catalogue], max_upload_bytes=1024 * 1024)
    queue = CheckingQueue()
    service = build_service(settings, queue)
    app = create_app(service, reaper=False)
    with TestClient(app, base_url=URL) as http:
        queue.http = http
        with service.session() as session:
            queue.token = storage.create_token(session=session, name="w", role=Role.WORKER, subject="w")
            author = storage.create_token(session=session, name="a", role=Role.AUTHOR, subject="ada")
        monkeypatch.setattr(client, "open_http", lambda base_url, timeout: TestClient(app, base_url=base_url))
        monkeypatch.setenv(config.URL_VARIABLE, URL)
        monkeypatch.setenv(config.TOKEN_VARIABLE, author)
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
        yield queue, service
        for thread in queue.threads:
            thread.join(timeout=30)
    service.engine.dispose()


def word_pack(root: Path, version: str = "1.0.0") -> Path:
    folder = root / f"word-pack-{version}"
    shutil.copytree(CATALOGUE / "python-foundations" / "word-frequency", folder / "word-frequency")
    (folder / "pack.yaml").write_text(yaml.safe_dump({**factories.PACK_YAML, "id": "word-pack", "version": version}))
    return folder


def test_publish_uploads_waits_for_the_servers_check_and_the_version_goes_live(server, tmp_path):
    queue, _ = server
    result = cli("pack", "publish", word_pack(tmp_path))
    assert result.exit_code == 0, result.output
    text = flat(result.stdout)
    assert "uploaded word-pack@1.0.0 digest sha256:" in text
    assert "word-pack@1.0.0 live" in text and "python.text.tokenising 100" in text
    assert len(queue.pack_check_ids) == 1


def test_publish_exits_1_with_the_servers_report_when_the_check_rejects_it(server, tmp_path):
    queue, _ = server
    queue.passes = False
    result = cli("pack", "publish", word_pack(tmp_path), "--json")
    assert result.exit_code == 1, result.output
    shown = json.loads(result.stdout)
    assert shown["state"] == "rejected"
    assert shown["report"]["tasks"][0]["problems"] == ["reference run 1: not_ready, score 40"]


def test_publish_refuses_an_invalid_pack_before_uploading_anything(server, tmp_path):
    queue, _ = server
    folder = word_pack(tmp_path)
    (folder / "word-frequency" / "statement.md").unlink()
    result = cli("pack", "publish", folder)
    assert result.exit_code == 1
    assert "word-frequency/statement.md: is missing" in flat(result.stderr)
    assert queue.pack_check_ids == []


def test_list_show_retire_and_stats(server, tmp_path):
    _, service = server
    assert cli("pack", "publish", word_pack(tmp_path)).exit_code == 0
    listed = cli("pack", "list", "--json")
    assert listed.exit_code == 0, listed.output
    assert [(v["pack_id"], v["version"], v["state"]) for v in json.loads(listed.stdout)["data"]] == [
        ("word-pack", "1.0.0", "live")
    ]
    assert "word-pack@1.0.0 live" in flat(cli("pack", "show", "word-pack").stdout)
    assert "word-pack@1.0.0 live" in flat(cli("pack", "show", "word-pack@1.0.0").stdout)

    from tests.api.conftest import Api

    api = Api(client=server[0].http, app=None, service=service, queue=server[0])
    candidate = api.token(Role.CANDIDATE, "carol")
    accepted = api.client.post(
        "/v1/submissions",
        headers=candidate,
        json={"task": "word-pack/word-frequency", "files": {"top_words.py": "pass\n"}},
    ).json()
    work(api, accepted["run_id"], passed=False)
    stats = cli("pack", "stats", "word-pack")
    assert stats.exit_code == 0, stats.output
    assert "word-frequency 1 attempt(s) (not_ready 1)" in flat(stats.stdout) and "failed 100%" in flat(stats.stdout)

    retired = cli("pack", "retire", "word-pack@1.0.0")
    assert retired.exit_code == 0, retired.output
    assert "is retired" in flat(retired.stdout)
    again = cli("pack", "retire", "word-pack@1.0.0")
    assert again.exit_code == 2 and "only a live version can be retired" in flat(again.stderr)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("pack", "retire", "word-pack"), "write it as ID@VERSION"),
        (("pack", "show", "nobody-pack@1.0.0"), "you have no uploaded pack version nobody-pack@1.0.0"),
    ],
)
def test_bad_references_exit_2_naming_what_to_write(server, args, message):
    result = cli(*args)
    assert result.exit_code == 2
    assert message in flat(result.stderr)


def test_a_candidates_token_is_told_to_use_an_authors(server, monkeypatch):
    _, service = server
    with service.session() as session:
        monkeypatch.setenv(
            config.TOKEN_VARIABLE, storage.create_token(session=session, name="c", role=Role.CANDIDATE, subject="c")
        )
    result = cli("pack", "list")
    assert result.exit_code == 2 and "an author's token" in flat(result.stderr)


# -- on the author's machine ------------------------------------------------------


def test_add_task_adds_a_working_task_to_a_pack_that_still_validates(tmp_path):
    pack = tmp_path / "my-pack"
    assert cli("pack", "init", pack, "--kind", "pytest").exit_code == 0
    added = cli("pack", "add-task", pack, "--kind", "io", "--id", "second-task")
    assert added.exit_code == 0, added.output
    assert yaml.safe_load((pack / "second-task" / "task.yaml").read_text())["id"] == "second-task"
    assert cli("pack", "validate", pack).exit_code == 0
    again = cli("pack", "add-task", pack, "--kind", "io", "--id", "second-task")
    assert again.exit_code == 2 and "already exists" in flat(again.stderr)
    bad = cli("pack", "add-task", pack, "--kind", "io", "--id", "Bad_Id")
    assert bad.exit_code == 2 and "not a valid task id" in flat(bad.stderr)
    assert not (pack / "Bad_Id").exists()


def test_the_generated_readme_points_at_what_an_installed_tasktrial_has(tmp_path):
    pack = tmp_path / "my-pack"
    assert cli("pack", "init", pack).exit_code == 0
    texts = [
        (pack / "README.md").read_text(),
        (pack / "pack.yaml").read_text(),
        (pack / "count-words" / "task.yaml").read_text(),
    ]
    assert not any("engine/schemas" in text for text in texts)
    assert all("tasktrial pack schema" in text for text in texts)
    shown = cli("pack", "schema", "task")
    assert shown.exit_code == 0 and json.loads(shown.stdout) == schemas.schema("task")
    assert cli("pack", "schema", "nope").exit_code == 2


@pytest.mark.docker
def test_publish_check_runs_pack_check_here_first_and_uploads_nothing_when_it_fails(server, tmp_path, docker_client):
    queue, _ = server
    files = factories.io_task_files(**{"solution/main.py": "import sys\nsys.stdout.write(sys.stdin.read())\n"})
    root = factories.write_pack(tmp_path / "p", {"sample": {"task": factories.io_task_yaml(), "files": files}})
    result = cli("pack", "publish", root, "--check")
    assert result.exit_code == 1, result.output
    assert "sample: reference run 1: not_ready" in flat(result.stderr) and "nothing was uploaded" in flat(result.stderr)
    assert queue.pack_check_ids == []
