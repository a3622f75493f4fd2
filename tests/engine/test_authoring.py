"""Authoring tools: the pack scaffold, the Exercism importer and the atomic pack write.

Every Exercism exercise here is written by these tests, in the Python track's
layout; no third-party exercise is committed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine import packs
from engine.authoring import (
    IMPORT_LIMITS,
    IMPORT_PASS_THRESHOLD,
    SCAFFOLD_KINDS,
    SCAFFOLD_TASK,
    AuthoringError,
    difficulty_for,
    import_exercism,
    scaffold_pack,
    write_pack,
)
from engine.checking import check_task
from engine.errors import PackError
from engine.models import Difficulty, Pack, ResourceLimits, Verdict
from graders import GraderSet
from runners.fake import FakeRunner

ENVIRONMENTS = ("bash", "node", "python")

# -- small exercises in Exercism's Python-track layout ---------------------------

LEAP = {
    "stub": "def leap_year(year):\n    pass\n",
    "example": "def leap_year(year):\n    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)\n",
    "tests": {
        "leap_test.py": (
            "import unittest\n\nfrom leap import leap_year\n\n\n"
            "class LeapTest(unittest.TestCase):\n"
            "    def test_not_divisible_by_4(self):\n        self.assertIs(leap_year(2015), False)\n\n"
            "    def test_divisible_by_4_not_by_100(self):\n        self.assertIs(leap_year(1996), True)\n\n"
            "    def test_divisible_by_100_not_by_400(self):\n        self.assertIs(leap_year(1900), False)\n\n"
            "    def test_divisible_by_400(self):\n        self.assertIs(leap_year(2000), True)\n"
        ),
    },
}

REVERSE = {
    "stub": "def reverse(text):\n    pass\n",
    "example": "def reverse(text):\n    return text[::-1]\n",
    "tests": {
        "reverse_string_test.py": (
            "from reverse_string import reverse\n\n\n"
            "def test_empty_string():\n    assert reverse('') == ''\n\n\n"
            "def test_a_word():\n    assert reverse('robot') == 'tobor'\n\n\n"
            "def test_a_sentence():\n    assert reverse('I am here') == 'ereh ma I'\n"
        ),
    },
}

# Uses an "editor" file: read-only helpers the tests and the solution both import.
VOWELS = {
    "stub": "from alphabet import VOWELS\n\n\ndef count_vowels(text):\n    raise NotImplementedError\n",
    "example": "from alphabet import VOWELS\n\n\ndef count_vowels(text):\n"
    "    return sum(1 for c in text.lower() if c in VOWELS)\n",
    "editor": {"alphabet.py": 'VOWELS = frozenset("aeiou")\n'},
    "tests": {
        "vowel_count_test.py": (
            "from alphabet import VOWELS\nfrom vowel_count import count_vowels\n\n\n"
            "def test_no_vowels():\n    assert count_vowels('rhythm') == 0\n\n\n"
            "def test_mixed_case():\n    assert count_vowels('AbEcI') == 3\n\n\n"
            "def test_every_vowel():\n    assert count_vowels(''.join(sorted(VOWELS))) == 5\n"
        ),
    },
}

TRACK_CONFIG = {
    "language": "Python",
    "slug": "python",
    "exercises": {
        "concept": [],
        "practice": [
            {
                "slug": "leap",
                "name": "Leap",
                "practices": ["booleans", "Conditionals"],
                "prerequisites": ["bools"],
                "difficulty": 1,
                "status": "active",
            },
            {"slug": "reverse-string", "name": "Reverse String", "practices": ["strings"], "difficulty": 5},
            {"slug": "vowel-count", "name": "Vowel Count", "practices": [], "difficulty": 8},
            {"slug": "no-example", "name": "No Example", "practices": [], "difficulty": 2},
            {"slug": "old-thing", "name": "Old Thing", "practices": [], "difficulty": 2, "status": "deprecated"},
        ],
    },
}

MIT = "MIT License\n\nCopyright (c) Somebody\n\nPermission is hereby granted, free of charge, to any person ...\n"


def module(slug: str) -> str:
    return slug.replace("-", "_")


def write_exercise(
    track: Path,
    slug: str,
    spec: dict[str, Any],
    *,
    config: dict[str, Any] | None = None,
    docs: dict[str, str] | None = None,
) -> Path:
    """One exercise folder: stub, tests, .meta/example.py, .meta/config.json, .docs/."""
    folder = track / "exercises" / "practice" / slug
    (folder / ".meta").mkdir(parents=True)
    (folder / ".docs").mkdir()
    solution = f"{module(slug)}.py"
    (folder / solution).write_text(spec["stub"])
    for name, text in spec["tests"].items():
        (folder / name).write_text(text)
    for name, text in spec.get("editor", {}).items():
        (folder / name).write_text(text)
    if "example" in spec:
        (folder / ".meta" / "example.py").write_text(spec["example"])
    meta = (
        config
        if config is not None
        else {
            "authors": ["tester"],
            "blurb": f"The {slug} exercise, written for tests.",
            "files": {
                "solution": [solution],
                "test": list(spec["tests"]),
                "example": [".meta/example.py"] if "example" in spec else [],
                **({"editor": list(spec["editor"])} if "editor" in spec else {}),
            },
            "source": "tasktrial's tests",
        }
    )
    (folder / ".meta" / "config.json").write_text(json.dumps(meta, indent=2))
    for name, text in (docs if docs is not None else {"instructions.md": f"# Instructions\n\nSolve {slug}.\n"}).items():
        (folder / ".docs" / name).write_text(text)
    return folder


def write_track(root: Path, *, config: dict[str, Any] | None = TRACK_CONFIG, licence: str | None = MIT) -> Path:
    """A track with leap, reverse-string, vowel-count, a deprecated exercise and one without an example."""
    track = root / "python"
    track.mkdir(parents=True)
    if config is not None:
        (track / "config.json").write_text(json.dumps(config))
    if licence is not None:
        (track / "LICENSE").write_text(licence)
    write_exercise(
        track,
        "leap",
        LEAP,
        docs={
            "introduction.md": "# Introduction\n\nA leap year has an extra day.\n",
            "instructions.md": "# Instructions\n\nReport whether a year is a leap year.\n",
        },
    )
    write_exercise(
        track,
        "reverse-string",
        REVERSE,
        docs={
            "instructions.md": "# Instructions\n\nReverse a string.\n",
            "instructions.append.md": "# Instructions append\n\nSlicing is allowed.\n",
        },
    )
    write_exercise(track, "vowel-count", VOWELS)
    write_exercise(track, "old-thing", REVERSE)
    write_exercise(track, "no-example", {key: value for key, value in REVERSE.items() if key != "example"})
    return track


def validator() -> GraderSet:
    def never(spec):  # pragma: no cover - validation runs nothing
        raise AssertionError("validation must not run anything")

    return GraderSet(FakeRunner(never))


def load(root: Path) -> Pack:
    return packs.load_pack(root, environments=ENVIRONMENTS, task_checks=validator().problems)


def written(files: dict[str, bytes], dest: Path) -> Pack:
    write_pack(files, dest, validate=load)
    return load(dest)


# -- pack init -------------------------------------------------------------------


@pytest.mark.parametrize("kind", SCAFFOLD_KINDS)
def test_scaffold_is_a_valid_pack_with_one_task_of_the_kind(tmp_path, kind):
    pack = written(scaffold_pack(kind, pack_id="my-pack"), tmp_path / "pack")

    assert pack.id == "my-pack"
    assert [t.id for t in pack.tasks] == [SCAFFOLD_TASK]
    task = pack.tasks[0]
    assert task.grader_kind == kind
    assert task.environment == "python"
    starter, reference = packs.starter_files(task), packs.reference_submission(task)
    assert set(starter) == set(reference), "the solution replaces starter files, it adds none"
    assert all(starter[name] != reference[name] for name in starter), "every starter file is a stub"
    assert b"NotImplementedError" in b"".join(starter.values())


@pytest.mark.parametrize("kind", SCAFFOLD_KINDS)
def test_scaffold_keeps_grader_and_solution_out_of_the_starter(kind):
    files = scaffold_pack(kind, pack_id="p")
    hidden = {
        name: data
        for name, data in files.items()
        if name.startswith((f"{SCAFFOLD_TASK}/grader/", f"{SCAFFOLD_TASK}/solution/"))
    }
    starter = b"".join(data for name, data in files.items() if name.startswith(f"{SCAFFOLD_TASK}/starter/"))
    assert hidden
    assert all(data not in starter for data in hidden.values())


def test_scaffold_refuses_an_unknown_kind_and_a_bad_id():
    with pytest.raises(AuthoringError, match=r"unknown grader kind 'junit'.*pytest, io, script"):
        scaffold_pack("junit", pack_id="p")
    with pytest.raises(AuthoringError, match="'My Pack' is not a valid pack id"):
        scaffold_pack("pytest", pack_id="My Pack")


# -- write_pack ------------------------------------------------------------------


def test_write_pack_refuses_a_folder_that_is_not_empty(tmp_path):
    dest = tmp_path / "pack"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine")
    with pytest.raises(AuthoringError, match="is not empty; refusing to overwrite"):
        write_pack({"pack.yaml": b"x"}, dest)
    assert [p.name for p in dest.iterdir()] == ["notes.txt"]
    assert (dest / "notes.txt").read_text() == "mine"


def test_write_pack_refuses_a_file(tmp_path):
    dest = tmp_path / "pack"
    dest.write_text("a file")
    with pytest.raises(AuthoringError, match="exists and is not a folder"):
        write_pack({"pack.yaml": b"x"}, dest)
    assert dest.read_text() == "a file"


def test_write_pack_fills_an_empty_folder_and_creates_parents(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    write_pack({"a/b.txt": b"1"}, empty)
    write_pack({"c.txt": b"2"}, tmp_path / "new" / "deeper")
    assert (empty / "a" / "b.txt").read_bytes() == b"1"
    assert (tmp_path / "new" / "deeper" / "c.txt").read_bytes() == b"2"
    assert os.stat(empty).st_mode & 0o777 == 0o755


def test_a_failed_validation_leaves_nothing_behind(tmp_path):
    files = scaffold_pack("pytest", pack_id="p")
    files[f"{SCAFFOLD_TASK}/task.yaml"] = b"id: count-words\n"  # most required fields missing
    with pytest.raises(PackError, match="title"):
        write_pack(files, tmp_path / "pack", validate=load)
    assert list(tmp_path.iterdir()) == []


def test_write_pack_refuses_unsafe_names_before_writing(tmp_path):
    with pytest.raises(AuthoringError, match=r"'\.\.' segments"):
        write_pack({"ok.txt": b"1", "../escape.txt": b"2"}, tmp_path / "pack")
    assert list(tmp_path.iterdir()) == []


# -- import-exercism: what each exercise becomes ------------------------------------


def test_imports_every_convertible_exercise_and_lists_the_rest(tmp_path):
    result = import_exercism(write_track(tmp_path))

    assert [e.slug for e in result.imported] == ["leap", "reverse-string", "vowel-count"]
    skipped = {s.slug: s.reason for s in result.skipped}
    assert set(skipped) == {"no-example", "old-thing"}
    assert "names no example file" in skipped["no-example"]
    assert "deprecated" in skipped["old-thing"]
    assert result.pack_id == "exercism-python"
    assert result.warnings == ()


def test_an_exercise_becomes_starter_grader_and_solution(tmp_path):
    track = write_track(tmp_path)
    files = import_exercism(track).files

    assert files["leap/starter/leap.py"] == LEAP["stub"].encode()
    assert files["leap/solution/leap.py"] == LEAP["example"].encode()
    assert files["leap/grader/tests/leap_test.py"] == LEAP["tests"]["leap_test.py"].encode()
    assert not [name for name in files if name.startswith("leap/") and "example" in name]
    assert files["vowel-count/starter/alphabet.py"] == VOWELS["editor"]["alphabet.py"].encode()
    assert files["vowel-count/grader/tests/alphabet.py"] == VOWELS["editor"]["alphabet.py"].encode()
    assert "vowel-count/solution/alphabet.py" not in files
    assert files["LICENSE"] == MIT.encode()


def test_a_test_the_track_always_skips_is_left_out_with_a_warning(tmp_path):
    """Exercism does not count an always-skipped test (alphametics' "extra-credit"); here it would earn nothing."""
    track = tmp_path / "track"
    skipped = LEAP["tests"]["leap_test.py"] + (
        "\n    @unittest.skip(\"extra-credit\")\n    def test_the_hard_one(self):\n        self.fail('slow')\n\n"
        "    @unittest.skipIf(False, 'never')\n    def test_kept(self):\n        self.assertIs(leap_year(4), True)\n"
    )
    write_exercise(track, "leap", {**LEAP, "tests": {"leap_test.py": skipped}})
    result = import_exercism(track)
    tests = result.files["leap/grader/tests/leap_test.py"].decode()
    assert "test_the_hard_one" not in tests and "extra-credit" not in tests
    assert "def test_kept" in tests and "def test_divisible_by_400" in tests
    compile(tests, "leap_test.py", "exec")
    assert any("leap: left out test_the_hard_one of leap_test.py" in w for w in result.warnings)


def test_a_helper_beside_the_tests_that_the_config_does_not_name_goes_with_the_hidden_tests(tmp_path):
    """Exercism's runner gets the whole folder (error-handling's tests import test_utils.py)."""
    track = tmp_path / "track"
    folder = write_exercise(track, "leap", LEAP)
    (folder / "test_utils.py").write_text("HELPER = 1\n")
    files = import_exercism(track).files
    assert files["leap/grader/tests/test_utils.py"] == b"HELPER = 1\n"
    assert "leap/starter/test_utils.py" not in files and "leap/solution/test_utils.py" not in files


def test_statements_join_the_docs_in_exercisms_order(tmp_path):
    files = import_exercism(write_track(tmp_path)).files

    leap = files["leap/statement.md"].decode()
    assert leap.startswith("# Leap\n")
    assert leap.index("A leap year has an extra day.") < leap.index("Report whether a year is a leap year.")
    assert "`leap.py`" in leap
    assert "exercise `leap`; authors: tester; source: tasktrial's tests" in leap
    reverse = files["reverse-string/statement.md"].decode()
    assert reverse.index("Reverse a string.") < reverse.index("Slicing is allowed.")


def test_statement_headings_sit_below_the_title_except_in_code(tmp_path):
    track = tmp_path / "track"
    write_exercise(
        track,
        "reverse-string",
        REVERSE,
        docs={"instructions.md": "# Instructions\n\n## Details\n\n```python\n# a comment, not a heading\n```\n"},
    )
    statement = import_exercism(track).files["reverse-string/statement.md"].decode()
    assert [line for line in statement.splitlines() if line.startswith("#")] == [
        "# Reverse String",
        "## Instructions",
        "### Details",
        "# a comment, not a heading",
        "## Your submission",
    ]


def test_imported_pack_loads_with_the_tasks_metadata(tmp_path):
    pack = written(import_exercism(write_track(tmp_path)).files, tmp_path / "out")

    assert pack.id == "exercism-python"
    assert pack.license == "MIT"
    leap, reverse, vowels = (pack.task(t) for t in ("leap", "reverse-string", "vowel-count"))
    assert leap.title == "Leap"
    assert leap.summary == "The leap exercise, written for tests."
    assert leap.micro_skills == ("python.exercism.leap", "python.booleans", "python.conditionals")
    assert reverse.micro_skills == ("python.exercism.reverse-string", "python.strings")
    assert (leap.difficulty, reverse.difficulty, vowels.difficulty) == (
        Difficulty.INTRO,
        Difficulty.CORE,
        Difficulty.ADVANCED,
    )
    for task in pack.tasks:
        assert task.grader == {"kind": "pytest", "tests": "tests"}
        assert task.limits == ResourceLimits.from_mapping(IMPORT_LIMITS)
        assert task.pass_threshold == IMPORT_PASS_THRESHOLD


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, Difficulty.INTRO),
        (3, Difficulty.INTRO),
        (4, Difficulty.CORE),
        (6, Difficulty.CORE),
        (7, Difficulty.ADVANCED),
        (10, Difficulty.ADVANCED),
        (None, Difficulty.CORE),
        (0, Difficulty.CORE),
        (11, Difficulty.CORE),
        ("3", Difficulty.CORE),
        (True, Difficulty.CORE),
    ],
)
def test_difficulty_mapping(value, expected):
    assert difficulty_for(value) is expected


def test_without_a_track_config_every_exercise_takes_defaults(tmp_path):
    track = write_track(tmp_path, config=None, licence=None)
    result = import_exercism(track)

    assert {e.slug for e in result.imported} == {"leap", "reverse-string", "vowel-count", "old-thing"}
    reverse = next(e for e in result.imported if e.slug == "reverse-string")
    assert reverse.title == "Reverse String"
    assert reverse.difficulty is Difficulty.CORE
    assert reverse.micro_skills == ("python.exercism.reverse-string",)
    assert result.pack_id == "exercism-python"  # from the folder's name
    assert any("no config.json" in w for w in result.warnings)
    assert any("no LICENSE" in w for w in result.warnings)
    assert "LICENSE" not in result.files
    assert written(result.files, tmp_path / "out").license.startswith("unknown")


def test_an_unreadable_track_config_is_a_warning_not_a_failure(tmp_path):
    track = write_track(tmp_path)
    (track / "config.json").write_text("{not json")
    result = import_exercism(track)
    assert {e.slug for e in result.imported} >= {"leap", "reverse-string"}
    assert any("config.json is not readable JSON" in w for w in result.warnings)


def test_only_the_named_exercises_are_imported(tmp_path):
    track = write_track(tmp_path)
    result = import_exercism(track, slugs=["reverse-string", "old-thing", "missing-one", "../leap"])

    assert [e.slug for e in result.imported] == ["reverse-string", "old-thing"]  # named: deprecated or not
    reasons = {s.slug: s.reason for s in result.skipped}
    assert "no folder exercises/practice/missing-one" in reasons["missing-one"]
    assert "not an exercise slug" in reasons["../leap"]
    assert {name.split("/")[0] for name in result.files} == {"reverse-string", "old-thing", "pack.yaml", "LICENSE"}


def test_nothing_convertible_gives_no_files(tmp_path):
    result = import_exercism(write_track(tmp_path), slugs=["no-example"])
    assert result.imported == ()
    assert result.files == {}
    assert [s.slug for s in result.skipped] == ["no-example"]


def test_a_folder_that_is_not_a_track_is_refused(tmp_path):
    with pytest.raises(AuthoringError, match="has no exercises/practice folder"):
        import_exercism(tmp_path)


def test_a_bad_pack_id_is_refused(tmp_path):
    with pytest.raises(AuthoringError, match="not a valid pack id"):
        import_exercism(write_track(tmp_path), pack_id="Not_An_Id")


def test_a_listed_exercise_without_a_folder_is_reported(tmp_path):
    config = json.loads(json.dumps(TRACK_CONFIG))
    config["exercises"]["practice"].append({"slug": "ghost", "difficulty": 3})
    result = import_exercism(write_track(tmp_path, config=config))
    reasons = {s.slug: s.reason for s in result.skipped}
    assert reasons["ghost"] == "there is no folder exercises/practice/ghost (it is listed in the track's config.json)"


# -- import-exercism: each way an exercise can be broken -------------------------------


def _meta(**files: Any) -> dict[str, Any]:
    base = {"solution": ["bad.py"], "test": ["bad_test.py"], "example": [".meta/example.py"]}
    return {"blurb": "broken", "files": {**base, **files}}


BAD = {
    "stub": "def f():\n    pass\n",
    "example": "def f():\n    return 1\n",
    "tests": {"bad_test.py": "from bad import f\n\n\ndef test_f():\n    assert f() == 1\n"},
}


def _break_meta_json(folder: Path) -> None:
    (folder / ".meta" / "config.json").write_text('{"files": ')


def _remove_meta(folder: Path) -> None:
    (folder / ".meta" / "config.json").unlink()


def _remove_instructions(folder: Path) -> None:
    (folder / ".docs" / "instructions.md").unlink()


def _remove_test_file(folder: Path) -> None:
    (folder / "bad_test.py").unlink()


def _link_example(folder: Path) -> None:
    (folder / ".meta" / "example.py").unlink()
    (folder / ".meta" / "example.py").symlink_to("/etc/passwd")


def _meta_as_list(folder: Path) -> None:
    (folder / ".meta" / "config.json").write_text("[]")


def _write_meta(meta: dict[str, Any]):
    def apply(folder: Path) -> None:
        (folder / ".meta" / "config.json").write_text(json.dumps(meta))

    return apply


BROKEN = {
    "unreadable-json": (_break_meta_json, ".meta/config.json is not readable JSON"),
    "json-not-an-object": (_meta_as_list, ".meta/config.json is not a JSON object"),
    "no-meta": (_remove_meta, "it has no .meta/config.json"),
    "no-instructions": (_remove_instructions, "it has no .docs/instructions.md"),
    "missing-test-file": (_remove_test_file, "missing file(s) named in .meta/config.json: bad_test.py"),
    "linked-example": (_link_example, ".meta/example.py is a symbolic link"),
    "no-files": (_write_meta({"blurb": "x"}), ".meta/config.json has no files object"),
    "files-not-a-list": (_write_meta(_meta(test="bad_test.py")), "files.test is not a list of file names"),
    "no-solution": (_write_meta(_meta(solution=[])), "names no solution file"),
    "no-test": (_write_meta(_meta(test=[])), "names no test file"),
    "non-python": (_write_meta(_meta(solution=["bad.js"])), "non-Python file name(s): bad.js"),
    "unsafe-name": (_write_meta(_meta(test=["../other/bad_test.py"])), "'..' segments are not allowed"),
    "absolute-name": (_write_meta(_meta(example=["/etc/example.py"])), "paths must be relative"),
    "uncollectable-test": (_write_meta(_meta(test=["checks.py"])), "test file(s) pytest would not collect: checks.py"),
    "unmatched-examples": (
        _write_meta(_meta(example=[".meta/example.py", ".meta/helper.py"])),
        "cannot tell which solution file the example .meta/example.py replaces",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_exercise_is_listed_with_its_reason(tmp_path, case):
    damage, reason = BROKEN[case]
    track = tmp_path / "track"
    write_exercise(track, "reverse-string", REVERSE)
    folder = write_exercise(track, "bad", BAD)
    (folder / ".meta" / "helper.py").write_text("X = 1\n")
    damage(folder)

    result = import_exercism(track)

    assert [e.slug for e in result.imported] == ["reverse-string"]
    assert len(result.skipped) == 1
    assert result.skipped[0].slug == "bad"
    assert reason in result.skipped[0].reason
    assert not [name for name in result.files if name.startswith("bad/")]


def test_examples_map_to_solution_files_by_name(tmp_path):
    track = tmp_path / "track"
    folder = write_exercise(
        track, "bad", BAD, config=_meta(solution=["bad.py", "helper.py"], example=[".meta/bad.py", ".meta/helper.py"])
    )
    (folder / "helper.py").write_text("X = None\n")
    (folder / ".meta" / "bad.py").write_text(BAD["example"])
    (folder / ".meta" / "helper.py").write_text("X = 1\n")

    files = import_exercism(track).files

    assert files["bad/solution/bad.py"] == BAD["example"].encode()
    assert files["bad/solution/helper.py"] == b"X = 1\n"
    assert files["bad/starter/helper.py"] == b"X = None\n"


# -- real sandbox: the imported and scaffolded packs pass `pack check` ---------------------


@pytest.mark.docker
def test_imported_examples_are_ready_and_stubs_are_not(tmp_path, docker_runner, graders):
    pack = written(import_exercism(write_track(tmp_path)).files, tmp_path / "out")

    assert len(pack.tasks) == 3
    for task in pack.tasks:
        report = check_task(task, runner=docker_runner, grader=graders.for_task(task), repeat=1)
        assert report.problems == [], task.id
        (reference,), (starter,) = report.reference, report.starter
        assert (reference.verdict, reference.score) == (Verdict.READY, 100), task.id
        assert starter.verdict is Verdict.NOT_READY, task.id
        assert len(reference.checks) == len(starter.checks) >= 3


@pytest.mark.docker
@pytest.mark.parametrize("kind", SCAFFOLD_KINDS)
def test_scaffolded_pack_passes_pack_check(tmp_path, docker_runner, graders, kind):
    task = written(scaffold_pack(kind, pack_id="p"), tmp_path / "pack").task(SCAFFOLD_TASK)

    report = check_task(task, runner=docker_runner, grader=graders.for_task(task), repeat=1)

    assert report.problems == []
    (reference,), (starter,) = report.reference, report.starter
    assert (reference.verdict, reference.score) == (Verdict.READY, 100)
    assert starter.verdict is Verdict.NOT_READY
    assert starter.score == 0
    assert len(reference.checks) >= 3


def test_imported_exercises_are_graded_across_the_boundary_unless_their_tests_reach_into_the_candidate(tmp_path):
    """Plain calls and values cross the pytest bridge (tamper-proof); tests that patch the candidate's
    globals or builtins with mocks cannot, so that exercise keeps the in-process mode (and is warned about)."""
    track = write_track(tmp_path)
    tests = "from unittest import mock\n" + LEAP["tests"]["leap_test.py"].replace("from leap", "from patched_leap")
    write_exercise(track, "patched-leap", {**LEAP, "tests": {"patched_leap_test.py": tests}})
    files = import_exercism(track).files
    assert yaml.safe_load(files["leap/task.yaml"])["grader"] == {"kind": "pytest", "tests": "tests"}
    patched = yaml.safe_load(files["patched-leap/task.yaml"])["grader"]
    assert patched == {"kind": "pytest", "tests": "tests", "isolation": "shared-process"}
