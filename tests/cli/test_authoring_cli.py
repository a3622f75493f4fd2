"""``tasktrial pack init`` and ``tasktrial pack import-exercism``: exit codes, output, what lands on disk."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from cli.main import app
from engine.authoring import SCAFFOLD_KINDS, SCAFFOLD_TASK
from tests.engine.test_authoring import write_exercise, write_track

WIDE = {"COLUMNS": "250"}  # rich wraps at the terminal's width; keep messages on one line


@pytest.fixture
def cli():
    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args], env=WIDE)


# -- pack init ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", SCAFFOLD_KINDS)
def test_init_creates_a_pack_that_validates(cli, tmp_path, kind):
    dest = tmp_path / "team-pack"

    result = cli("pack", "init", dest, "--kind", kind)

    assert result.exit_code == 0, result.output
    assert f"created pack team-pack in {dest}" in result.stdout
    assert yaml.safe_load((dest / "pack.yaml").read_text())["id"] == "team-pack"
    assert yaml.safe_load((dest / SCAFFOLD_TASK / "task.yaml").read_text())["grader"]["kind"] == kind
    validated = cli("pack", "validate", dest)
    assert validated.exit_code == 0, validated.output
    assert "1 task(s) valid" in validated.stdout


def test_init_defaults_to_the_pytest_kind_and_takes_an_id(cli, tmp_path):
    result = cli("pack", "init", tmp_path / "x", "--id", "chosen-id")

    assert result.exit_code == 0, result.output
    assert yaml.safe_load((tmp_path / "x" / "pack.yaml").read_text())["id"] == "chosen-id"
    assert (tmp_path / "x" / SCAFFOLD_TASK / "grader" / "tests" / "test_words.py").is_file()


def test_init_fills_an_empty_folder(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    assert cli("pack", "init", tmp_path / "empty").exit_code == 0
    assert (tmp_path / "empty" / "pack.yaml").is_file()


def test_init_refuses_a_folder_that_is_not_empty(cli, tmp_path):
    dest = tmp_path / "busy"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")

    result = cli("pack", "init", dest)

    assert result.exit_code == 2
    assert "is not empty; refusing to overwrite it" in result.stderr
    assert [p.name for p in dest.iterdir()] == ["keep.txt"]


@pytest.mark.parametrize("args", [["--kind", "junit"], ["--id", "Not An Id"]])
def test_init_refuses_bad_options_and_writes_nothing(cli, tmp_path, args):
    result = cli("pack", "init", tmp_path / "p", *args)

    assert result.exit_code == 2
    assert list(tmp_path.iterdir()) == []


# -- pack import-exercism ------------------------------------------------------------


def test_import_writes_a_valid_pack_and_lists_what_it_skipped(cli, tmp_path):
    out = tmp_path / "out"

    result = cli("pack", "import-exercism", write_track(tmp_path / "src"), out)

    assert result.exit_code == 0, result.output
    assert "wrote 3 task(s) to" in result.stdout
    assert "2 exercise(s) skipped" in result.stdout
    assert "skipped no-example: .meta/config.json names no example file" in result.stderr
    assert "skipped old-thing: deprecated" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["LICENSE", "leap", "pack.yaml", "reverse-string", "vowel-count"]
    validated = cli("pack", "validate", out)
    assert validated.exit_code == 0, validated.output
    assert "exercism-python 0.1.0: 3 task(s) valid" in validated.stdout
    assert [p.name for p in (tmp_path).iterdir() if p.name.startswith(".")] == [], "no staging folder left"


def test_import_json_report(cli, tmp_path):
    result = cli(
        "pack",
        "import-exercism",
        write_track(tmp_path / "src"),
        tmp_path / "out",
        "--exercise",
        "leap",
        "--exercise",
        "nope",
        "--id",
        "my-import",
        "--json",
    )

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["pack"] == "my-import"
    assert report["written"] is True
    assert report["imported"] == [
        {
            "slug": "leap",
            "task": "leap",
            "title": "Leap",
            "difficulty": "intro",
            "micro_skills": ["python.exercism.leap", "python.booleans", "python.conditionals"],
        }
    ]
    assert report["skipped"] == [{"slug": "nope", "reason": "there is no folder exercises/practice/nope"}]
    assert yaml.safe_load((tmp_path / "out" / "pack.yaml").read_text())["id"] == "my-import"


def test_import_with_nothing_convertible_exits_1_and_writes_nothing(cli, tmp_path):
    track = tmp_path / "src"
    write_exercise(track, "lonely", {"stub": "x = 1\n", "tests": {"lonely_test.py": "def test_x():\n    pass\n"}})

    result = cli("pack", "import-exercism", track, tmp_path / "out")

    assert result.exit_code == 1
    assert "skipped lonely: .meta/config.json names no example file" in result.stderr
    assert "nothing was written" in result.stderr
    assert not (tmp_path / "out").exists()


def test_import_refuses_a_folder_that_is_not_empty(cli, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("keep")

    result = cli("pack", "import-exercism", write_track(tmp_path / "src"), out)

    assert result.exit_code == 2
    assert "is not empty" in result.stderr
    assert [p.name for p in out.iterdir()] == ["old.txt"]


def test_import_refuses_a_folder_that_is_not_a_track(cli, tmp_path):
    result = cli("pack", "import-exercism", tmp_path, tmp_path / "out")

    assert result.exit_code == 2
    assert "has no exercises/practice folder" in result.stderr
    assert not (tmp_path / "out").exists()


def test_init_and_import_are_listed_under_pack(cli):
    result = cli("pack", "--help")
    assert result.exit_code == 0
    assert "init" in result.stdout
    assert "import-exercism" in result.stdout
