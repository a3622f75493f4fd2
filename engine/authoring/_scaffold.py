"""``pack init``: a new pack holding one working example task of a chosen grader kind.

The example is the same small problem in each kind (count the words of a
text), so an author can compare how the kinds are written. As generated,
it validates and passes ``pack check``: the reference solution is ready
with 100, the starter (a stub that raises) is not ready.
"""

from __future__ import annotations

from typing import Any

from engine.authoring._common import AuthoringError, is_id

SCAFFOLD_KINDS = ("pytest", "io", "script")
SCAFFOLD_TASK = "count-words"

PACK_YAML = """\
# The pack's identity. Every field: `tasktrial pack schema pack` (JSON Schema, with descriptions).
id: {pack_id}
version: 0.1.0
title: {title}
description: >
  A new tasktrial pack. Say here what its tasks assess and for whom.
authors: [Your Name]   # one author may be written without the list: authors: Your Name
license: Apache-2.0   # the licence you publish the pack under
"""

README = """\
# {title}

A tasktrial pack. Each folder is one task:

- `task.yaml`: id, title, micro-skills, difficulty, environment, limits, grader, pass threshold
  (every field: `tasktrial pack schema task`);
- `statement.md`: what the candidate reads;
- `starter/`: the files the candidate receives;
- `grader/`: hidden; how submissions are graded;
- `solution/`: hidden; laid over the starter it is the reference submission;
- `wrong/NAME/` (optional): hidden plausible wrong answers, declared under `wrong` in `task.yaml`;
  `pack check` proves the grader fails them as declared.

Shorthands (made canonical when the pack loads): a command as one string, split as a shell
would but never run by one (`command: python3 main.py`); a bare comparator or grader kind
(`comparator: exact`, `grader: pytest`); one item without its list (`micro_skills: python.text`,
`authors: Your Name`, a single `checks` rule or `cases` entry).

The example task `{task}` uses the `{kind}` grader kind. Try:

    tasktrial pack validate .
    tasktrial pack check .
    tasktrial pack add-task . --kind io --id another-task
    tasktrial pack publish .        # upload; it goes live once the server's check passes
"""

STATEMENT = """\
# Count the words in a text

A word is a run of characters between whitespace (spaces, tabs, newlines).
{how}

Examples: `the quick brown fox` holds 4 words; `one\\ttwo\\nthree` holds 3;
an empty text, or one of whitespace only, holds 0.
"""

LIMITS = "limits: {time_seconds: 10, memory_mb: 128, cpus: 1, pids: 64, disk_mb: 16, output_kb: 64}"

TASK_HEAD = """\
# One task. Every field: `tasktrial pack schema task` (JSON Schema, with descriptions).
id: {task_id}                 # must equal the folder name
title: Count the words in a text
summary: {summary}
micro_skills:                   # what passing this task is evidence of (dotted slugs; one needs no list)
  - python.text.splitting
  - python.text.edge-cases
difficulty: intro               # intro | core | advanced
environment: python             # a runtime image: see `tasktrial images list`
{limits}
scoring:
  pass_threshold: 75            # the score (0-100) at which a candidate is ready
"""

# -- pytest: hidden unit tests import the candidate's module ------------------

PYTEST_GRADER = """\
grader:
  kind: pytest
  tests: tests                  # grader/tests/test_*.py, run against the submission
  checks:                       # optional metadata per check, by glob over test ids
    - match: "*empty*"
      micro_skill: python.text.edge-cases
      visible: true             # the candidate may read this check's message
    - match: "*whitespace*"
      micro_skill: python.text.edge-cases
      visible: true
    - match: "*"
      micro_skill: python.text.splitting
      weight: 2                 # the core behaviour counts double
      visible: true
"""

PYTEST_STARTER = '''\
"""Count the words of a text."""


def count_words(text: str) -> int:
    """Return how many words ``text`` holds; words are separated by any whitespace."""
    raise NotImplementedError("count_words is not written yet")
'''

PYTEST_SOLUTION = '''\
"""Count the words of a text."""


def count_words(text: str) -> int:
    """Return how many words ``text`` holds; words are separated by any whitespace."""
    return len(text.split())
'''

PYTEST_TESTS = '''\
"""Hidden tests: they import the candidate's words.py from the submission."""

from words import count_words


def test_counts_words_separated_by_spaces():
    assert count_words("the quick brown fox") == 4


def test_counts_a_single_word():
    assert count_words("hello") == 1


def test_tabs_and_newlines_separate_words():
    assert count_words("one\\ttwo\\nthree") == 3


def test_runs_of_whitespace_count_once():
    assert count_words("  spaced   out  ") == 2


def test_empty_text_has_no_words():
    assert count_words("") == 0
'''

# -- io: the candidate's program reads stdin; its stdout is compared -----------

IO_GRADER = """\
grader:
  kind: io
  command: [python3, count_words.py]   # run in /workspace, once per case, fed the case's input;
                                       # or one string, split as a shell would (no shell runs it)
  comparator: {type: whitespace}       # exact | whitespace | numeric | regex | checker; or a bare name
  checks:
    - match: "empty"
      micro_skill: python.text.edge-cases
      visible: true
    - match: "whitespace-only"
      micro_skill: python.text.edge-cases
      visible: true
    - match: "*"
      micro_skill: python.text.splitting
  cases:                               # inline cases, beside grader/cases/NAME.in + NAME.out
    - name: empty
      stdin: ""
      expected: "0\\n"
"""

IO_STARTER = '''\
"""Read a text on standard input and print how many words it holds."""

import sys


def main() -> None:
    text = sys.stdin.read()
    raise NotImplementedError(f"count the words of the {len(text)} characters read and print the count")


if __name__ == "__main__":
    main()
'''

IO_SOLUTION = '''\
"""Read a text on standard input and print how many words it holds."""

import sys


def main() -> None:
    print(len(sys.stdin.read().split()))


if __name__ == "__main__":
    main()
'''

IO_CASES = {
    "grader/cases/sentence.in": "the quick brown fox jumps over the lazy dog\n",
    "grader/cases/sentence.out": "9\n",
    "grader/cases/lines-and-tabs.in": "one\ttwo\nthree\n\n  four  five\n",
    "grader/cases/lines-and-tabs.out": "5\n",
    "grader/cases/whitespace-only.in": " \t\n\n",
    "grader/cases/whitespace-only.out": "0\n",
}

# -- script: the author's program grades and writes /grader/results.json ------

SCRIPT_GRADER = """\
grader:
  kind: script
  command: [python3, /grader/grade.py]   # writes /grader/results.json
  checks:
    - match: "counts-blank"
      micro_skill: python.text.edge-cases
    - match: "*"
      micro_skill: python.text.splitting
"""

SCRIPT_STARTER = '''\
"""Print how many words the text file named on the command line holds.

Usage: python3 count_words.py FILE
"""

import sys


def main() -> None:
    path = sys.argv[1]
    raise NotImplementedError(f"read {path}, count its words and print the count")


if __name__ == "__main__":
    main()
'''

SCRIPT_SOLUTION = '''\
"""Print how many words the text file named on the command line holds.

Usage: python3 count_words.py FILE
"""

import sys


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as fh:
        print(len(fh.read().split()))


if __name__ == "__main__":
    main()
'''

SCRIPT_GRADE = '''\
"""Hidden grader: runs the candidate's count_words.py on each data file.

It reports only through /grader/results.json (tasktrial's subset of
Gradescope's results.json): one test per data file, scored 0 or 1. The
candidate's program runs as a child process, so its output is data here,
never results.
"""

import contextlib
import json
import os
import signal
import subprocess

CASES = {"poem": 10, "blank": 0, "columns": 6}  # data file -> expected word count


def count(name):
    """What the candidate's program printed for one data file, or why it failed."""
    try:
        proc = subprocess.run(["python3", "count_words.py", f"/grader/data/{name}.txt"], cwd="/workspace",
                              capture_output=True, text=True, timeout=5)
    except subprocess.TimeoutExpired:
        return None, "count_words.py took longer than 5 s"
    if proc.returncode != 0:
        return None, f"count_words.py exited with code {proc.returncode}: {proc.stderr[-300:]}"
    return proc.stdout.strip(), ""


def main():
    tests = []
    for name, expected in CASES.items():
        printed, problem = count(name)
        ok = printed == str(expected)
        tests.append({"name": f"counts-{name}", "score": 1 if ok else 0, "max_score": 1,
                      "status": "passed" if ok else "failed",
                      "output": "" if ok else problem or f"printed {printed!r}, expected {expected}"})
    # The candidate's program ran as this user: stop anything it left behind before writing,
    # so no leftover process can rewrite the results.
    with contextlib.suppress(ProcessLookupError):  # nothing was left running
        os.kill(-1, signal.SIGKILL)
    with open("/grader/results.json", "w", encoding="utf-8") as fh:
        json.dump({"tests": tests}, fh)


if __name__ == "__main__":
    main()
'''

SCRIPT_DATA = {
    "grader/data/poem.txt": "Tyger Tyger, burning bright,\nIn the forests of the night;\n",
    "grader/data/blank.txt": "\n   \n\t\n",
    "grader/data/columns.txt": "a\tb\tc\n1\t2\t3\n",
}

KIND_PARTS: dict[str, dict[str, Any]] = {
    "pytest": {
        "how": "Write the function `count_words(text)` in `words.py`; it returns the count.",
        "summary": "Write a function that counts the words of a text.",
        "grader": PYTEST_GRADER,
        "files": {
            "starter/words.py": PYTEST_STARTER,
            "solution/words.py": PYTEST_SOLUTION,
            "grader/tests/test_words.py": PYTEST_TESTS,
        },
    },
    "io": {
        "how": "Write the program `count_words.py`: it reads the text on standard input and prints the count.",
        "summary": "Write a command-line filter that prints how many words its input holds.",
        "grader": IO_GRADER,
        "files": {"starter/count_words.py": IO_STARTER, "solution/count_words.py": IO_SOLUTION, **IO_CASES},
    },
    "script": {
        "how": "Write the program `count_words.py FILE`: it reads the text file FILE and prints the count.",
        "summary": "Write a program that prints how many words a text file holds.",
        "grader": SCRIPT_GRADER,
        "files": {
            "starter/count_words.py": SCRIPT_STARTER,
            "solution/count_words.py": SCRIPT_SOLUTION,
            "grader/grade.py": SCRIPT_GRADE,
            **SCRIPT_DATA,
        },
    },
}


def scaffold_pack(kind: str, *, pack_id: str) -> dict[str, bytes]:
    """The files of a new pack: ``pack.yaml``, a README and the example task ``count-words``.

    Raises:
        AuthoringError: ``kind`` is not one of ``SCAFFOLD_KINDS`` or ``pack_id`` is not a valid id.
    """
    if kind not in KIND_PARTS:
        raise AuthoringError(f"unknown grader kind {kind!r}; known: {', '.join(SCAFFOLD_KINDS)}")
    if not is_id(pack_id):
        raise AuthoringError(
            f"{pack_id!r} is not a valid pack id: lowercase letters and digits in "
            "dash-separated words, at most 64 characters"
        )
    title = pack_id.replace("-", " ").capitalize()
    texts = {
        "pack.yaml": PACK_YAML.format(pack_id=pack_id, title=title),
        "README.md": README.format(title=title, task=SCAFFOLD_TASK, kind=kind),
    }
    files = {name: text.encode("utf-8") for name, text in texts.items()}
    return {**files, **scaffold_task(kind, task_id=SCAFFOLD_TASK)}


def scaffold_task(kind: str, *, task_id: str) -> dict[str, bytes]:
    """The files of one working example task of ``kind``, under the folder ``task_id/``.

    Raises:
        AuthoringError: ``kind`` is not one of ``SCAFFOLD_KINDS`` or ``task_id`` is not a valid id.
    """
    if kind not in KIND_PARTS:
        raise AuthoringError(f"unknown grader kind {kind!r}; known: {', '.join(SCAFFOLD_KINDS)}")
    if not is_id(task_id):
        raise AuthoringError(
            f"{task_id!r} is not a valid task id: lowercase letters and digits in "
            "dash-separated words, at most 64 characters"
        )
    parts = KIND_PARTS[kind]
    task = f"{task_id}/"
    texts = {
        task + "task.yaml": TASK_HEAD.format(summary=parts["summary"], limits=LIMITS, task_id=task_id)
        + parts["grader"],
        task + "statement.md": STATEMENT.format(how=parts["how"]),
        **{task + name: text for name, text in parts["files"].items()},
    }
    return {name: text.encode("utf-8") for name, text in texts.items()}
