"""The command line: exit codes and messages (0 done, 1 problems found, 2 bad input, 3 infrastructure)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from engine import schemas
from tests import factories
from tests.conftest import CATALOGUE

FOUNDATIONS = CATALOGUE / "python-foundations"


@pytest.fixture
def cli():
    return CliRunner()


def flat(text: str) -> str:
    """The output with rich's line wrapping undone."""
    return " ".join(text.split())


def invoke(cli: CliRunner, *args: str | Path):
    return cli.invoke(app, [str(a) for a in args])


def submission_folder(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "submission"
    for rel, text in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    folder.mkdir(exist_ok=True)
    return folder


# -- pack validate --------------------------------------------------------------------------------


def test_validating_a_good_pack_exits_0(cli):
    result = invoke(cli, "pack", "validate", FOUNDATIONS)
    assert result.exit_code == 0, result.output
    assert "python-foundations 1.0.0: 4 task(s) valid" in flat(result.stdout)


def test_validating_a_broken_pack_exits_1_and_prints_every_problem(cli, tmp_path: Path):
    io_files = factories.io_task_files()
    io_files["grader/cases/extra.in"] = "no answer\n"
    root = factories.write_pack(
        tmp_path / "pack",
        {
            "alpha": {
                "task": factories.pytest_task_yaml("alpha", limits={"memory_mb": 1}),
                "files": factories.pytest_task_files(),
            },
            "beta": {"task": factories.io_task_yaml("beta", environment="cobol"), "files": factories.io_task_files()},
            "gamma": {"task": factories.io_task_yaml("gamma"), "files": io_files},
        },
    )
    result = invoke(cli, "pack", "validate", root)
    assert result.exit_code == 1
    errors = flat(result.stderr)
    assert "alpha/task.yaml: $.limits.memory_mb" in errors
    assert "beta/task.yaml: $.environment: unknown environment 'cobol'" in errors
    assert "gamma/grader/cases/extra.in: has no matching extra.out" in errors
    assert "3 problem(s)" in errors
    assert result.stdout == ""


def test_validating_a_path_that_is_not_a_pack_exits_1(cli, tmp_path: Path):
    result = invoke(cli, "pack", "validate", tmp_path / "missing")
    assert result.exit_code == 1
    assert "is not a folder" in flat(result.stderr)


# -- grade: bad input -----------------------------------------------------------------------------


def test_grading_a_submission_that_is_not_a_folder_exits_2_naming_it(cli, tmp_path: Path):
    file = tmp_path / "answer.py"
    file.write_text("print(1)\n")
    result = invoke(cli, "grade", FOUNDATIONS, "word-frequency", file)
    assert result.exit_code == 2
    assert str(file) in flat(result.stderr) and "is not a folder" in flat(result.stderr)


def test_grading_an_unknown_task_exits_2(cli, tmp_path: Path):
    folder = submission_folder(tmp_path, {"top_words.py": "print()\n"})
    result = invoke(cli, "grade", FOUNDATIONS, "no-such-task", folder)
    assert result.exit_code == 2
    errors = flat(result.stderr)
    assert "'no-such-task'" in errors and "word-frequency" in errors


def test_a_symlink_leading_outside_the_submission_exits_2(cli, tmp_path: Path):
    folder = submission_folder(tmp_path, {"top_words.py": "print()\n"})
    (folder / "data.txt").symlink_to("/etc/passwd")
    result = invoke(cli, "grade", FOUNDATIONS, "word-frequency", folder)
    assert result.exit_code == 2
    errors = flat(result.stderr)
    assert "data.txt" in errors and "outside" in errors
    assert "root:" not in result.output


def test_an_unknown_backend_exits_2_listing_the_known_ones(cli, tmp_path: Path):
    folder = submission_folder(tmp_path, {"top_words.py": "print()\n"})
    result = invoke(cli, "grade", FOUNDATIONS, "word-frequency", folder, "--backend", "nope")
    assert result.exit_code == 2
    assert "unknown runner backend 'nope'" in flat(result.stderr) and "docker" in flat(result.stderr)


def test_grading_against_a_broken_pack_exits_2(cli, tmp_path: Path):
    root = factories.write_pack(
        tmp_path / "pack",
        {"sample": {"task": factories.pytest_task_yaml("other"), "files": factories.pytest_task_files()}},
    )
    folder = submission_folder(tmp_path, {"sample.py": "x = 1\n"})
    result = invoke(cli, "grade", root, "sample", folder)
    assert result.exit_code == 2
    assert "sample/task.yaml: $.id" in flat(result.stderr)


# -- against the real sandbox ---------------------------------------------------------------------


@pytest.mark.docker
def test_grade_json_prints_a_valid_result_document(cli, tmp_path: Path, docker_client):
    solution = (FOUNDATIONS / "word-frequency" / "solution" / "top_words.py").read_text()
    folder = submission_folder(tmp_path, {"top_words.py": solution})
    result = invoke(cli, "grade", FOUNDATIONS, "word-frequency", folder, "--json", "--cache-dir", tmp_path / "cache")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert schemas.problems("result", document) == []
    assert (document["score"], document["verdict"], document["task"]["id"]) == (100.0, "ready", "word-frequency")


@pytest.mark.docker
def test_grade_prints_a_human_summary(cli, tmp_path: Path, docker_client):
    starter = (FOUNDATIONS / "word-frequency" / "starter" / "top_words.py").read_text()
    folder = submission_folder(tmp_path, {"top_words.py": starter})
    result = invoke(cli, "grade", FOUNDATIONS, "word-frequency", folder, "--cache-dir", tmp_path / "cache")
    assert result.exit_code == 0, result.output  # a failing submission is a verdict, not an error
    text = flat(result.stdout)
    assert "python-foundations/word-frequency" in text and "not_ready" in text
    assert "micro-skills:" in text


@pytest.mark.docker
def test_pack_check_on_one_good_task_exits_0(cli, tmp_path: Path, docker_client):
    result = invoke(
        cli, "pack", "check", FOUNDATIONS, "--task", "word-frequency", "--json", "--cache-dir", tmp_path / "cache"
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True
    [task] = report["tasks"]
    assert task["task"] == "word-frequency" and task["problems"] == []
    assert task["reference"][0]["verdict"] == "ready" and task["starter"][0]["verdict"] == "not_ready"


@pytest.mark.docker
def test_pack_check_exits_1_when_a_reference_fails(cli, tmp_path: Path, docker_client):
    files = factories.io_task_files(**{"solution/main.py": "import sys\nsys.stdout.write(sys.stdin.read())\n"})
    root = factories.write_pack(tmp_path / "pack", {"sample": {"task": factories.io_task_yaml(), "files": files}})
    result = invoke(cli, "pack", "check", root, "--cache-dir", tmp_path / "cache")
    assert result.exit_code == 1
    errors = flat(result.stderr)
    assert "sample: reference run 1: not_ready, score 0" in errors
    assert "FAIL" in result.stdout


def broken_script_pack(tmp_path: Path) -> Path:
    """A script task whose grader crashes before writing results: the author's fault, never the candidate's."""
    files = {
        **factories.pytest_task_files(),
        "grader/grade.py": "import sys\nprint('Traceback: /grader/grade.py line 2: secret_expected = 42',"
        " file=sys.stderr)\nsys.exit(3)\n",
    }
    return factories.write_pack(tmp_path / "pack", {"sample": {"task": factories.script_task_yaml(), "files": files}})


@pytest.mark.docker
def test_a_crashing_grader_exits_4_and_shows_the_graders_output(cli, tmp_path: Path, docker_client):
    root = broken_script_pack(tmp_path)
    folder = submission_folder(tmp_path, {"sample.py": "def add(a, b):\n    return a + b\n"})
    result = invoke(cli, "grade", root, "sample", folder, "--cache-dir", tmp_path / "cache")
    assert result.exit_code == 4, result.output
    assert "grader_error" in flat(result.stdout) and "error" in flat(result.stdout)
    assert "secret_expected = 42" in flat(result.stderr)  # the author sees what the grader printed

    as_candidate = invoke(
        cli, "grade", root, "sample", folder, "--as-candidate", "--json", "--cache-dir", tmp_path / "cache"
    )
    assert as_candidate.exit_code == 4
    view = json.loads(as_candidate.stdout)
    assert (view["verdict"], view["status"], view["view"]) == ("error", "grader_error", "candidate")
    assert view["reason"] == "the grader failed; this attempt does not count"
    assert "/grader/" not in as_candidate.stdout and "secret_expected" not in as_candidate.stdout


def test_validate_says_when_javascript_could_not_be_syntax_checked(cli, monkeypatch):
    from engine import syntax

    monkeypatch.setattr(syntax, "javascript_checked", lambda: False)
    result = invoke(cli, "pack", "validate", CATALOGUE / "javascript-utilities")
    assert result.exit_code == 0, result.output
    assert "node is not installed here" in flat(result.stderr) and "were not syntax-checked" in flat(result.stderr)


def test_validate_reports_a_hidden_syntax_error_naming_file_and_line(cli, tmp_path: Path):
    files = factories.pytest_task_files(**{"grader/test_sample.py": "def test_bad(:\n    pass\n"})
    root = factories.write_pack(tmp_path / "p", {"sample": {"task": factories.pytest_task_yaml(), "files": files}})
    result = invoke(cli, "pack", "validate", root)
    assert result.exit_code == 1
    assert "sample/grader/test_sample.py: line 1: Python syntax error" in flat(result.stderr)


# -- admin create-token ----------------------------------------------------------------------------


def test_create_token_refuses_a_store_that_does_not_exist_and_writes_nothing(cli, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("TASKTRIAL_DATA_DIR", str(tmp_path / "nowhere"))
    monkeypatch.delenv("TASKTRIAL_DATABASE_URL", raising=False)
    result = invoke(cli, "admin", "create-token", "--role", "candidate", "--subject", "alice")
    assert result.exit_code == 2
    message = flat(result.stderr)
    assert str((tmp_path / "nowhere" / "tasktrial.db").resolve()) in "".join(result.stderr.split())
    assert "no tasktrial store at" in message
    assert "TASKTRIAL_DATA_DIR" in message and "--init" in message
    assert result.stdout == "" and not (tmp_path / "nowhere").exists()


def test_create_token_with_init_creates_the_store_and_says_where(cli, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("TASKTRIAL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("TASKTRIAL_DATABASE_URL", raising=False)
    database = (tmp_path / "data" / "tasktrial.db").resolve()
    first = invoke(cli, "admin", "create-token", "--role", "candidate", "--subject", "alice", "--init")
    assert first.exit_code == 0, first.output
    assert "created a candidate token for alice in" in flat(first.stderr)
    assert str(database) in "".join(first.stderr.split())
    token = first.stdout.strip()
    assert token.startswith("tt_") and "\n" not in token  # stdout is the token alone, for $(...)
    second = invoke(cli, "admin", "create-token", "--role", "author", "--subject", "ada")  # it exists now
    assert second.exit_code == 0, second.output

    from sqlmodel import Session

    from api import db, storage

    engine = db.make_engine(f"sqlite:///{database}")
    with Session(engine) as session:
        found = storage.find_token(session=session, secret=token)
        assert found is not None
        assert found.subject == "alice"
    engine.dispose()


def test_create_link_follows_the_same_store_rule(cli, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("TASKTRIAL_DATA_DIR", str(tmp_path / "nowhere"))
    monkeypatch.delenv("TASKTRIAL_DATABASE_URL", raising=False)
    monkeypatch.setenv("TASKTRIAL_PUBLIC_URL", "https://tt.example")
    refused = invoke(cli, "admin", "create-link", "--role", "candidate", "--subject", "alice")
    assert refused.exit_code == 2 and "no tasktrial store at" in flat(refused.stderr)
    assert refused.stdout == "" and not (tmp_path / "nowhere").exists()
    made = invoke(cli, "admin", "create-link", "--role", "candidate", "--subject", "alice", "--init")
    assert made.exit_code == 0, made.output
    assert made.stdout.strip().startswith("https://tt.example/signin/")
