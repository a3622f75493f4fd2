"""Hostile packs (issue 14): YAML bombs and duplicates, capped problem reports, paths that leave the pack."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import packs
from engine.errors import MAX_PROBLEMS, PROBLEM_CHARS, PackError, Problem
from graders import GraderSet
from graders.http_grader import HttpGrader
from runners.fake import FakeRunner
from tests import factories
from tests.engine.test_yamlsafe import alias_bomb

ENVIRONMENTS = ("bash", "python")


def never_runs(spec):
    raise AssertionError("validating a pack must not run anything")


def problems_of(root: Path) -> tuple[Problem, ...]:
    with pytest.raises(PackError) as raised:
        packs.load_pack(root, environments=ENVIRONMENTS, task_checks=GraderSet(FakeRunner(never_runs)).problems)
    return raised.value.problems


def one_task_pack(tmp_path: Path, task: dict, files: dict[str, str]) -> Path:
    return factories.write_pack(tmp_path / "pack", {"sample": {"task": task, "files": files}})


# -- finding 3: YAML alias bomb, capped messages --------------------------------


def test_an_alias_bomb_in_pack_yaml_is_refused_with_a_short_problem(tmp_path):
    root = factories.valid_pack(tmp_path / "pack")
    (root / "pack.yaml").write_text(alias_bomb(6))  # 10**6 "lol"s once expanded; today's error repeated them all
    [problem] = problems_of(root)
    assert problem.file == "pack.yaml"
    assert "anchor &a0 refused" in problem.message
    assert len(str(problem)) < 300


def test_an_alias_in_an_http_tasks_checks_file_is_refused(tmp_path):
    task = factories.task(root=tmp_path, grader={"kind": "http", "start": ["python3", "s.py"], "port": 8080})
    (tmp_path / "grader").mkdir()
    (tmp_path / "grader" / "checks.yaml").write_text(
        "- &c {name: one, request: {method: GET, path: /}, expect: {status: 200}}\n- *c\n"
    )
    [problem] = HttpGrader(FakeRunner(never_runs)).problems(task)
    assert problem.file == "sample/grader/checks.yaml" and "anchor &c refused" in problem.message


def test_a_problem_quoting_a_huge_value_is_capped(tmp_path):
    root = one_task_pack(tmp_path, factories.pytest_task_yaml(title="x" * 200_000), factories.pytest_task_files())
    [problem] = problems_of(root)
    assert problem.location == "$.title"
    assert len(problem.message) <= PROBLEM_CHARS + 40 and problem.message.endswith("more characters]")


def test_a_pack_error_lists_at_most_the_cap_and_counts_the_rest():
    error = PackError([Problem("f", "", f"problem {i}") for i in range(MAX_PROBLEMS + 50)])
    assert len(error.problems) == MAX_PROBLEMS
    assert error.problems[-1].message == "and 51 more problem(s) not listed"
    assert str(error).startswith(f"the pack has {MAX_PROBLEMS + 50} problem(s)")


# -- finding 10: duplicates -------------------------------------------------------


def test_a_duplicate_key_in_task_yaml_is_refused_naming_the_file_and_key(tmp_path):
    root = factories.valid_pack(tmp_path / "pack")
    task_yaml = root / "sample" / "task.yaml"
    task_yaml.write_text(task_yaml.read_text() + "title: A second title\n")
    [problem] = problems_of(root)
    assert problem.file == "sample/task.yaml"
    assert "duplicate key 'title'" in problem.message


def test_a_duplicate_key_in_pack_yaml_is_refused(tmp_path):
    root = factories.valid_pack(tmp_path / "pack")
    (root / "pack.yaml").write_text((root / "pack.yaml").read_text() + "version: 9.9.9\n")
    [problem] = problems_of(root)
    assert problem.file == "pack.yaml" and "duplicate key 'version'" in problem.message


def test_an_inline_io_case_defined_twice_is_refused(tmp_path):
    cases = [{"name": "again", "stdin": "a\n", "expected": "A\n"}, {"name": "again", "stdin": "b\n", "expected": "B\n"}]
    task = factories.io_task_yaml(grader={"kind": "io", "command": ["python3", "main.py"], "cases": cases})
    [problem] = problems_of(one_task_pack(tmp_path, task, factories.io_task_files()))
    assert (problem.file, problem.location) == ("sample/task.yaml", "$.grader.cases[1].name")
    assert "'again' is defined twice" in problem.message


def test_an_io_case_defined_inline_and_as_files_is_refused(tmp_path):
    cases = [{"name": "one", "stdin": "other\n", "expected": "OTHER\n"}]
    task = factories.io_task_yaml(grader={"kind": "io", "command": ["python3", "main.py"], "cases": cases})
    [problem] = problems_of(one_task_pack(tmp_path, task, factories.io_task_files()))
    assert (problem.file, problem.location) == ("sample/task.yaml", "$.grader.cases[0].name")
    assert "grader/cases/one.in" in problem.message


# -- finding 8: every path field resolves inside the pack -------------------------


@pytest.fixture
def host_tests(tmp_path) -> Path:
    """A host folder outside the pack that holds a test file, as /root or /etc might."""
    folder = tmp_path / "host-folder"
    folder.mkdir()
    (folder / "test_host.py").write_text("def test_x():\n    pass\n")
    return folder


def test_an_absolute_pytest_tests_folder_is_refused_without_looking_at_it(tmp_path, host_tests):
    task = factories.pytest_task_yaml(grader={"kind": "pytest", "tests": str(host_tests)})
    [problem] = problems_of(one_task_pack(tmp_path, task, factories.pytest_task_files()))
    assert (problem.file, problem.location) == ("sample/task.yaml", "$.grader.tests")
    assert "must be a folder inside grader/" in problem.message


@pytest.mark.parametrize("tests", ["..", "tests/../../solution", "tests\\x", "C:tests"])
def test_an_escaping_pytest_tests_folder_is_refused(tmp_path, tests):
    task = factories.pytest_task_yaml(grader={"kind": "pytest", "tests": tests})
    [problem] = problems_of(one_task_pack(tmp_path, task, factories.pytest_task_files()))
    assert (problem.file, problem.location) == ("sample/task.yaml", "$.grader.tests")


@pytest.mark.parametrize("tests", ["tests", "tests/", "./tests"])
def test_a_pytest_tests_folder_inside_grader_still_loads(tmp_path, tests):
    files = {**factories.pytest_task_files(), "grader/tests/test_more.py": "def test_y():\n    pass\n"}
    task = factories.pytest_task_yaml(grader={"kind": "pytest", "tests": tests})
    pack = packs.load_pack(
        one_task_pack(tmp_path, task, files),
        environments=ENVIRONMENTS,
        task_checks=GraderSet(FakeRunner(never_runs)).problems,
    )
    assert pack.task("sample").grader["tests"] == tests


def escaping(host_file: Path) -> str:
    return "/grader/" + "../" * 30 + str(host_file).lstrip("/")


def test_a_script_command_escaping_the_grader_folder_is_refused(tmp_path, host_tests):
    host_file = host_tests / "test_host.py"
    task = factories.script_task_yaml(grader={"kind": "script", "command": ["python3", escaping(host_file)]})
    files = {**factories.pytest_task_files(), "grader/grade.py": "pass\n"}
    [problem] = problems_of(one_task_pack(tmp_path, task, files))
    assert (problem.file, problem.location) == ("sample/task.yaml", "$.grader.command")
    assert "must name a file inside grader/" in problem.message


@pytest.mark.parametrize(
    "argument, message",
    [
        ("/grader/" + "../" * 30 + "etc/hostname", "must name a file inside grader/"),
        ("/grader/missing.py", "/grader/missing.py is not a file in grader/"),
    ],
)
def test_a_checker_command_must_name_a_file_inside_the_grader_folder(tmp_path, argument, message):
    grader = {
        "kind": "io",
        "command": ["python3", "main.py"],
        "comparator": {"type": "checker", "command": ["python3", argument]},
    }
    files = {**factories.io_task_files(), "grader/check.py": "pass\n"}
    [problem] = problems_of(one_task_pack(tmp_path, factories.io_task_yaml(grader=grader), files))
    assert (problem.file, problem.location) == ("sample/task.yaml", "$.grader.comparator.command")
    assert message in problem.message


def test_a_checker_command_naming_a_grader_file_loads(tmp_path):
    grader = {
        "kind": "io",
        "command": ["python3", "main.py"],
        "comparator": {"type": "checker", "command": ["python3", "/grader/check.py"]},
    }
    files = {**factories.io_task_files(), "grader/check.py": "pass\n"}
    pack = packs.load_pack(
        one_task_pack(tmp_path, factories.io_task_yaml(grader=grader), files),
        environments=ENVIRONMENTS,
        task_checks=GraderSet(FakeRunner(never_runs)).problems,
    )
    assert pack.task("sample").grader["comparator"]["command"] == ["python3", "/grader/check.py"]
