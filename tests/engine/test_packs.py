"""Loading and validating task packs: every problem, each naming its file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import packs
from engine.errors import NotFound, PackError, Problem
from engine.models import Difficulty, ResourceLimits
from graders import GraderSet
from runners import images
from runners.fake import FakeRunner
from tests import factories
from tests.conftest import CATALOGUE

ENVIRONMENTS = ("bash", "python")


def never_runs(spec):
    raise AssertionError("validating a pack must not run anything")


def load(root: Path):
    checker = GraderSet(FakeRunner(never_runs))
    return packs.load_pack(root, environments=ENVIRONMENTS, task_checks=checker.problems)


def problems_of(root: Path) -> tuple[Problem, ...]:
    with pytest.raises(PackError) as raised:
        load(root)
    return raised.value.problems


def has(problems, file: str, location: str = "", text: str = "") -> bool:
    return any(p.file == file and p.location == location and text in p.message for p in problems)


def test_the_built_in_pack_loads():
    checker = GraderSet(FakeRunner(never_runs))
    pack = packs.load_pack(
        CATALOGUE / "python-foundations", environments=images.environments(), task_checks=checker.problems
    )
    assert pack.id == "python-foundations"
    assert {t.id for t in pack.tasks} == {"csv-report", "log-errors", "retry-backoff", "word-frequency"}
    retry = pack.task("retry-backoff")
    assert retry.grader_kind == "pytest"
    assert retry.pack_id == "python-foundations" and retry.pack_version == pack.version
    assert retry.limits == ResourceLimits(time_seconds=20, memory_mb=256, cpus=1, pids=64, disk_mb=32, output_kb=64)
    assert retry.difficulty is Difficulty.CORE
    assert retry.rule_for("tests/test_retry.py::test_deadline_stops").micro_skill == "python.resilience.deadlines"
    assert "checks" not in retry.grader  # rules are lifted out of the grader block
    assert retry.digest.startswith("sha256:")
    assert len({t.digest for t in pack.tasks}) == 4


def test_a_minimal_pack_loads_with_defaults(tmp_path: Path):
    pack = load(factories.valid_pack(tmp_path / "pack"))
    task = pack.task("sample")
    assert task.limits == ResourceLimits()
    assert task.pass_threshold == 80.0
    assert task.statement.startswith("# Add")


def test_asking_for_an_unknown_task_lists_the_known_ones(tmp_path: Path):
    pack = load(factories.valid_pack(tmp_path / "pack"))
    with pytest.raises(NotFound, match=r"'nope'.*sample"):
        pack.task("nope")


def test_every_problem_in_every_file_is_reported(tmp_path: Path):
    files = factories.pytest_task_files()
    without_statement = {k: v for k, v in files.items() if k != "statement.md"}
    root = factories.write_pack(
        tmp_path / "pack",
        {
            "alpha": {"task": factories.pytest_task_yaml("alpha", limits={"memory_mb": 1}), "files": files},
            "beta": {"task": factories.pytest_task_yaml("beta", difficulty="impossible", extra="x"), "files": files},
            "gamma": {"task": factories.pytest_task_yaml("gamma"), "files": without_statement},
        },
        pack={**factories.PACK_YAML, "version": "one"},
    )
    found = problems_of(root)
    assert has(found, "pack.yaml", "$.version")
    assert has(found, "alpha/task.yaml", "$.limits.memory_mb")
    assert has(found, "beta/task.yaml", "$.difficulty")
    assert has(found, "beta/task.yaml", "$", "extra")
    assert has(found, "gamma/statement.md", "", "missing")
    assert len(found) == 5, found


def test_the_error_message_lists_every_problem(tmp_path: Path):
    root = factories.write_pack(
        tmp_path / "pack",
        {
            "alpha": {
                "task": factories.pytest_task_yaml("alpha", limits={"memory_mb": 1, "pids": 1}),
                "files": factories.pytest_task_files(),
            },
        },
    )
    with pytest.raises(PackError) as raised:
        load(root)
    message = str(raised.value)
    assert "2 problem(s)" in message
    assert "alpha/task.yaml: $.limits.memory_mb" in message and "alpha/task.yaml: $.limits.pids" in message


def test_an_unknown_environment_names_the_known_ones(tmp_path: Path):
    root = factories.write_pack(
        tmp_path / "pack",
        {
            "sample": {"task": factories.pytest_task_yaml(environment="cobol"), "files": factories.pytest_task_files()},
        },
    )
    [problem] = problems_of(root)
    assert (problem.file, problem.location) == ("sample/task.yaml", "$.environment")
    assert "'cobol'" in problem.message and "bash, python" in problem.message


def test_a_missing_grader_folder_is_reported(tmp_path: Path):
    files = {k: v for k, v in factories.pytest_task_files().items() if not k.startswith("grader/")}
    root = factories.write_pack(tmp_path / "pack", {"sample": {"task": factories.pytest_task_yaml(), "files": files}})
    assert has(problems_of(root), "sample/grader", "", "missing")


def test_a_missing_solution_folder_is_reported(tmp_path: Path):
    files = {k: v for k, v in factories.pytest_task_files().items() if not k.startswith("solution/")}
    root = factories.write_pack(tmp_path / "pack", {"sample": {"task": factories.pytest_task_yaml(), "files": files}})
    assert has(problems_of(root), "sample/solution", "", "missing")


def test_a_task_id_different_from_its_folder_is_reported(tmp_path: Path):
    root = factories.write_pack(
        tmp_path / "pack",
        {
            "sample": {"task": factories.pytest_task_yaml("other"), "files": factories.pytest_task_files()},
        },
    )
    [problem] = problems_of(root)
    assert (problem.file, problem.location) == ("sample/task.yaml", "$.id")
    assert "'other'" in problem.message and "'sample'" in problem.message


def test_a_yaml_syntax_error_is_reported_with_its_file(tmp_path: Path):
    root = factories.valid_pack(tmp_path / "pack")
    (root / "sample" / "task.yaml").write_text("id: sample\ntitle: [unclosed\n")
    [problem] = problems_of(root)
    assert problem.file == "sample/task.yaml"
    assert "not valid YAML" in problem.message


def test_a_yaml_document_that_is_not_a_mapping_is_reported(tmp_path: Path):
    root = factories.valid_pack(tmp_path / "pack")
    (root / "pack.yaml").write_text("- just\n- a list\n")
    assert has(problems_of(root), "pack.yaml", "$", "object")


def test_a_missing_task_yaml_is_reported(tmp_path: Path):
    root = factories.write_pack(tmp_path / "pack", {"sample": {"files": factories.pytest_task_files()}})
    assert has(problems_of(root), "sample/task.yaml", "", "missing")


def test_a_pack_without_tasks_is_reported(tmp_path: Path):
    root = factories.write_pack(tmp_path / "pack", {})
    assert has(problems_of(root), "pack.yaml", "", "no task folders")


def test_a_pack_path_that_is_not_a_folder_is_reported(tmp_path: Path):
    [problem] = problems_of(tmp_path / "missing")
    assert "is not a folder" in problem.message


def test_a_symlink_inside_a_pack_is_rejected(tmp_path: Path):
    root = factories.valid_pack(tmp_path / "pack")
    (root / "sample" / "grader" / "passwd").symlink_to("/etc/passwd")
    [problem] = problems_of(root)
    assert problem.file == "sample"
    assert "grader/passwd" in problem.message and "symbolic link" in problem.message


def test_a_symlink_between_files_of_the_pack_is_rejected_too(tmp_path: Path):
    root = factories.valid_pack(tmp_path / "pack")
    (root / "sample" / "starter" / "copy.py").symlink_to(root / "sample" / "solution" / "sample.py")
    [problem] = problems_of(root)
    assert "starter/copy.py" in problem.message


def test_an_io_case_without_its_expected_output_is_reported(tmp_path: Path):
    files = factories.io_task_files()
    files["grader/cases/three.in"] = "lonely\n"
    root = factories.write_pack(tmp_path / "pack", {"sample": {"task": factories.io_task_yaml(), "files": files}})
    [problem] = problems_of(root)
    assert problem.file == "sample/grader/cases/three.in"
    assert "three.out" in problem.message


def test_an_io_task_without_cases_is_reported(tmp_path: Path):
    files = {k: v for k, v in factories.io_task_files().items() if "/cases/" not in k}
    files["grader/README"] = "no cases here"
    root = factories.write_pack(tmp_path / "pack", {"sample": {"task": factories.io_task_yaml(), "files": files}})
    assert has(problems_of(root), "sample/task.yaml", "$.grader", "needs cases")


def test_a_pytest_tests_folder_without_tests_is_reported(tmp_path: Path):
    files = factories.pytest_task_files()
    del files["grader/test_sample.py"]
    files["grader/tests/helpers.py"] = "VALUE = 1\n"
    task = factories.pytest_task_yaml(grader={"kind": "pytest", "tests": "tests"})
    root = factories.write_pack(tmp_path / "pack", {"sample": {"task": task, "files": files}})
    [problem] = problems_of(root)
    assert problem.file == "sample/grader/tests"
    assert "test_*.py" in problem.message


def test_a_pytest_tests_folder_that_does_not_exist_is_reported(tmp_path: Path):
    task = factories.pytest_task_yaml(grader={"kind": "pytest", "tests": "missing"})
    root = factories.write_pack(tmp_path / "pack", {"sample": {"task": task, "files": factories.pytest_task_files()}})
    assert has(problems_of(root), "sample/grader/missing", "", "missing")


def test_a_pytest_tests_folder_outside_the_grader_is_reported(tmp_path: Path):
    task = factories.pytest_task_yaml(grader={"kind": "pytest", "tests": "../solution"})
    root = factories.write_pack(tmp_path / "pack", {"sample": {"task": task, "files": factories.pytest_task_files()}})
    assert has(problems_of(root), "sample/task.yaml", "$.grader.tests", "inside grader/")


def test_a_script_command_naming_a_missing_grader_file_is_reported(tmp_path: Path):
    files = {**factories.pytest_task_files(), "grader/other.py": "pass\n"}
    root = factories.write_pack(tmp_path / "pack", {"sample": {"task": factories.script_task_yaml(), "files": files}})
    assert has(problems_of(root), "sample/task.yaml", "$.grader.command", "/grader/grade.py")


def test_kind_specific_problems_of_several_tasks_are_all_reported(tmp_path: Path):
    io_files = factories.io_task_files()
    io_files["grader/cases/orphan.out"] = "x\n"
    pytest_files = factories.pytest_task_files()
    pytest_files["grader/test_sample.py"] = "# renamed away\n"
    pytest_files = {("grader/check.py" if k == "grader/test_sample.py" else k): v for k, v in pytest_files.items()}
    root = factories.write_pack(
        tmp_path / "pack",
        {
            "one": {"task": factories.io_task_yaml("one"), "files": io_files},
            "two": {"task": factories.pytest_task_yaml("two"), "files": pytest_files},
        },
    )
    found = problems_of(root)
    assert has(found, "one/grader/cases/orphan.out", "", "orphan.in")
    assert has(found, "two/grader", "", "test_*.py")


def test_starter_and_reference_submission(tmp_path: Path):
    files = {**factories.pytest_task_files(), "starter/data.txt": "kept"}
    root = factories.write_pack(tmp_path / "pack", {"sample": {"task": factories.pytest_task_yaml(), "files": files}})
    task = load(root).task("sample")
    assert packs.starter_files(task) == {"sample.py": files["starter/sample.py"].encode(), "data.txt": b"kept"}
    assert packs.reference_submission(task) == {"sample.py": files["solution/sample.py"].encode(), "data.txt": b"kept"}
    assert "test_sample.py" in packs.grader_files(task)
