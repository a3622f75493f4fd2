"""``pack validate`` reports every problem of every layer in one run, and compiles hidden files without running them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine import syntax
from tests import factories
from tests.engine.test_packs import has, problems_of


def test_one_run_reports_schema_environment_files_case_pairs_and_mappings_together(tmp_path: Path):
    files = factories.io_task_files()
    files["grader/cases/orphan.in"] = "no answer\n"
    del files["statement.md"]
    task = factories.io_task_yaml(
        difficulty="impossible",
        environment="cobol",
        grader={
            "kind": "io",
            "command": ["python3", "main.py"],
            "checks": [{"match": "nothing-*"}, {"match": "one", "micro_skill": "python.basics.typo"}],
        },
    )
    root = factories.write_pack(tmp_path / "p", {"sample": {"task": task, "files": files}})
    found = problems_of(root)
    assert has(found, "sample/task.yaml", "$.difficulty")  # schema
    assert has(found, "sample/task.yaml", "$.environment", "unknown environment 'cobol'")  # environments
    assert has(found, "sample/statement.md", "", "is missing")  # files
    assert has(found, "sample/grader/cases/orphan.in", "", "has no matching orphan.out")  # case pairs
    assert has(found, "sample/task.yaml", "$.grader.checks[0].match", "matches no check")  # mappings
    assert has(found, "sample/task.yaml", "$.grader.checks[1].micro_skill", "is not one of")


def test_a_hidden_python_test_with_a_syntax_error_is_reported_with_its_line(tmp_path: Path):
    files = factories.pytest_task_files(
        **{"grader/test_sample.py": "def test_ok():\n    pass\n\ndef test_bad(:\n    pass\n"}
    )
    root = factories.write_pack(tmp_path / "p", {"sample": {"task": factories.pytest_task_yaml(), "files": files}})
    found = problems_of(root)
    assert has(found, "sample/grader/test_sample.py", "line 4", "Python syntax error")


def test_a_broken_shell_script_is_reported_by_bash_n_and_never_run(tmp_path: Path):
    marker = tmp_path / "ran"
    script = f"touch {marker}\nif then fi\n"
    files = {**factories.pytest_task_files(), "grader/grade.sh": script}
    root = factories.write_pack(
        tmp_path / "p",
        {
            "sample": {
                "task": factories.script_task_yaml(grader={"kind": "script", "command": ["bash", "/grader/grade.sh"]}),
                "files": files,
            }
        },
    )
    found = problems_of(root)
    assert any(p.file == "sample/grader/grade.sh" and "shell syntax error" in p.message for p in found), found
    assert not marker.exists()


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed on this machine")
def test_broken_javascript_is_reported_by_node_check(tmp_path: Path):
    files = {**factories.pytest_task_files(), "grader/grade.js": "const x = ;\n"}
    root = factories.write_pack(
        tmp_path / "p",
        {
            "sample": {
                "task": factories.script_task_yaml(
                    environment="python", grader={"kind": "script", "command": ["node", "/grader/grade.js"]}
                ),
                "files": files,
            }
        },
    )
    found = problems_of(root)
    assert any(p.file == "sample/grader/grade.js" and "JavaScript syntax error" in p.message for p in found), found


def test_the_starter_may_be_broken_on_purpose(tmp_path: Path):
    files = factories.pytest_task_files(**{"starter/sample.py": "def add(a, b:\n"})
    root = factories.write_pack(tmp_path / "p", {"sample": {"task": factories.pytest_task_yaml(), "files": files}})
    assert syntax.syntax_problems(root / "sample", "sample") == []
