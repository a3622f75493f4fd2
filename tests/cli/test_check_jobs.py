"""``pack check --jobs N`` and the warm sandboxes of ``pack check`` and ``grade``, against the real engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from tests import factories
from tests.conftest import CATALOGUE

FOUNDATIONS = CATALOGUE / "python-foundations"


def invoke(*args: str | Path):
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "250"})  # rich: no wrapping


@pytest.mark.parametrize("value", ["0", "-3"])
def test_jobs_below_one_exits_2_naming_the_option(value: str, tmp_path: Path):
    result = invoke("pack", "check", FOUNDATIONS, "--jobs", value, "--cache-dir", tmp_path / "cache")
    assert result.exit_code == 2
    assert "Invalid value for '--jobs'" in result.output and "greater than or equal to 1" in result.output


def test_jobs_that_is_not_a_number_exits_2(tmp_path: Path):
    result = invoke("pack", "check", FOUNDATIONS, "--jobs", "many", "--cache-dir", tmp_path / "cache")
    assert result.exit_code == 2 and "--jobs" in result.output


def verdicts(report: dict) -> list:
    return [
        (
            t["task"],
            t["ok"],
            t["problems"],
            [(r["verdict"], r["score"], r["status"]) for r in t["reference"]],
            [(r["verdict"], r["score"], r["status"]) for r in t["starter"]],
            {name: [(r["verdict"], r["score"]) for r in runs] for name, runs in t["wrong"].items()},
        )
        for t in report["tasks"]
    ]


def mixed_pack(root: Path) -> Path:
    """A pytest task, an io task with a counter-example, and an io task whose reference is wrong."""
    echo = "import sys\nsys.stdout.write(sys.stdin.read())\n"
    return factories.write_pack(
        root,
        {
            "adder": {"task": factories.pytest_task_yaml("adder"), "files": factories.pytest_task_files()},
            "upper": {
                "task": factories.io_task_yaml("upper", wrong=[{"name": "echo", "verdict": "not_ready"}]),
                "files": {**factories.io_task_files(), "wrong/echo/main.py": echo},
            },
            "broken": {
                "task": factories.io_task_yaml("broken"),
                "files": factories.io_task_files(**{"solution/main.py": echo}),
            },
        },
    )


@pytest.mark.docker
def test_a_parallel_check_reports_what_a_sequential_one_does(tmp_path: Path, docker_client):
    root = mixed_pack(tmp_path / "pack")
    sequential = invoke("pack", "check", root, "--jobs", "1", "--json", "--cache-dir", tmp_path / "one")
    parallel = invoke("pack", "check", root, "--jobs", "3", "--json", "--cache-dir", tmp_path / "three")
    assert sequential.exit_code == parallel.exit_code == 1, parallel.output  # "broken" fails in both
    first, second = json.loads(sequential.stdout), json.loads(parallel.stdout)
    assert verdicts(second) == verdicts(first)
    by_task = {t["task"]: t for t in second["tasks"]}
    assert list(by_task) == ["adder", "broken", "upper"]
    assert (by_task["adder"]["ok"], by_task["upper"]["ok"], by_task["broken"]["ok"]) == (True, True, False)
    assert by_task["upper"]["wrong"]["echo"][0]["verdict"] == "not_ready"
    assert any("reference run 1: not_ready" in p for p in by_task["broken"]["problems"])
    # the autouse fixture then proves that no sandbox, used or started ahead, is left behind


@pytest.mark.docker
def test_grade_with_a_sandbox_started_ahead_leaves_nothing_behind(tmp_path: Path, docker_client):
    solution = (FOUNDATIONS / "word-frequency" / "solution" / "top_words.py").read_text()
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "top_words.py").write_text(solution)
    for _ in range(2):  # a cold collection first, then from the cache
        result = invoke("grade", FOUNDATIONS, "word-frequency", folder, "--json", "--cache-dir", tmp_path / "cache")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["score"] == 100
