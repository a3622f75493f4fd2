"""Counter-examples (``wrong/NAME/``): declared in task.yaml, validated, and proven by ``pack check``."""

from __future__ import annotations

from pathlib import Path

from engine import packs
from engine.checking import check_task
from engine.models import Verdict
from graders.io_grader import IoGrader
from tests import factories
from tests.engine.test_packs import has, load, problems_of

SKILLS = ["python.text.upper", "python.text.edge-cases"]
CHECKS = [{"match": "two", "micro_skill": SKILLS[1]}, {"match": "*", "micro_skill": SKILLS[0]}]
#: Upper-cases only input starting with "a": passes case "one" (abc), fails case "two" (x y).
HALF_RIGHT = "import sys\ntext = sys.stdin.read()\nprint(text.upper() if text.startswith('a') else text, end='')\n"


def pack(root: Path, wrong: list[dict], folders: dict[str, str]) -> Path:
    task = factories.io_task_yaml(
        micro_skills=SKILLS, wrong=wrong, grader={"kind": "io", "command": ["python3", "main.py"], "checks": CHECKS}
    )
    files = {**factories.io_task_files(), **{f"wrong/{name}/main.py": text for name, text in folders.items()}}
    return factories.write_pack(root, {"sample": {"task": task, "files": files}})


def test_a_counter_example_is_the_starter_overlaid_with_its_folder(tmp_path: Path):
    root = pack(tmp_path / "p", [{"name": "half-right", "verdict": "not_ready"}], {"half-right": HALF_RIGHT})
    task = load(root).task("sample")
    assert task.counter_examples[0].name == "half-right" and task.counter_examples[0].verdict is Verdict.NOT_READY
    assert packs.wrong_submission(task, "half-right") == {"main.py": HALF_RIGHT.encode()}
    assert "wrong/half-right/main.py" not in packs.starter_files(task)


def test_declarations_and_folders_must_agree_and_name_the_tasks_skills(tmp_path: Path):
    root = pack(
        tmp_path / "p",
        [{"name": "missing", "verdict": "not_ready", "must_not_earn": ["python.text.nope"]}],
        {"undeclared": HALF_RIGHT},
    )
    found = problems_of(root)
    assert has(found, "sample/task.yaml", "$.wrong[0].name", "there is no folder sample/wrong/missing/")
    assert has(found, "sample/task.yaml", "$.wrong[0].must_not_earn", "'python.text.nope' is not one of")
    assert has(found, "sample/wrong/undeclared", "", "is not declared")


def test_a_bad_declaration_is_a_schema_problem(tmp_path: Path):
    root = pack(
        tmp_path / "p", [{"name": "half-right", "verdict": "maybe", "max_score": 101}], {"half-right": HALF_RIGHT}
    )
    found = problems_of(root)
    assert has(found, "sample/task.yaml", "$.wrong[0].verdict") and has(
        found, "sample/task.yaml", "$.wrong[0].max_score"
    )


def run_check(root: Path):
    task = load(root).task("sample")

    def answer(spec):  # a program upper-casing input that starts with "a", echoing the rest
        files = dict(spec.workspace)
        program = files["main.py"].decode()
        steps = []
        for step in spec.steps:
            text = step.stdin.decode()
            if "upper()" in program and ("startswith" not in program or text.startswith("a")):
                text = text.upper()
            steps.append(factories.step(0, text.encode()))
        return factories.outcome(*steps)

    runner = factories.harness_runner(answer)
    return check_task(task, runner=runner, grader=IoGrader(runner))


def test_pack_check_proves_a_counter_example_that_fails_as_declared(tmp_path: Path):
    root = pack(
        tmp_path / "p",
        [{"name": "half-right", "verdict": "not_ready", "max_score": 50, "must_not_earn": [SKILLS[1]]}],
        {"half-right": HALF_RIGHT},
    )
    report = run_check(root)
    assert report.ok, report.problems
    [run] = report.wrong["half-right"]
    assert (run.verdict, run.score) == (Verdict.NOT_READY, 50.0)
    assert report.to_document()["wrong"]["half-right"][0]["skills"][SKILLS[1]]["verdict"] == "not_ready"


def test_pack_check_fails_when_the_grader_cannot_tell_a_wrong_answer_apart(tmp_path: Path):
    """The naive answer that passes: the grader is too weak, and pack check says which promise broke."""
    lucky = "import sys\nprint(sys.stdin.read().upper(), end='')\n"
    root = pack(
        tmp_path / "p",
        [{"name": "lucky", "verdict": "not_ready", "max_score": 40, "must_not_earn": [SKILLS[1]]}],
        {"lucky": lucky},
    )
    problems = run_check(root).problems
    assert any("counter-example lucky run 1: ready with score 100; it must be not_ready" in p for p in problems)
    assert any("score 100 is above its max_score 40" in p for p in problems)
    assert any(f"earned {SKILLS[1]}, which it must not" in p for p in problems)
