"""Hostile submissions through the real graders, in the real sandbox, on the built-in pack.

Each attack starts from the task's starter (which earns nothing) and adds one trick;
none of them may earn a point.
"""

from __future__ import annotations

import textwrap

import pytest

from engine import packs, schemas
from engine.grading import grade_submission
from engine.models import CheckStatus, RunStatus, Verdict
from engine.results import Result
from runners import images
from tests.conftest import CATALOGUE

pytestmark = pytest.mark.docker

PACK = packs.load_pack(CATALOGUE / "python-foundations", environments=images.environments())
RETRY = PACK.task("retry-backoff")
WORDS = PACK.task("word-frequency")
CSV = PACK.task("csv-report")
STARTER_RETRY = packs.starter_files(RETRY)["retry.py"]


@pytest.fixture
def grade(docker_runner, graders):
    """Grade the task's starter with ``changes`` written over it, in the real sandbox."""

    def grade(task, **changes: str | bytes) -> Result:
        submission = dict(packs.starter_files(task))
        submission.update({path: text.encode() if isinstance(text, str) else text for path, text in changes.items()})
        result = grade_submission(task, submission, runner=docker_runner, grader=graders.for_task(task))
        assert schemas.problems("result", result.to_document()) == []
        return result

    return grade


def assert_earns_nothing(result: Result) -> None:
    assert result.score == 0.0, [(c.id, c.status.value) for c in result.checks]
    assert result.verdict is Verdict.NOT_READY
    assert result.checks and all(c.status is not CheckStatus.PASS for c in result.checks)


@pytest.mark.parametrize("task", PACK.tasks, ids=lambda t: t.id)
def test_the_reference_solution_scores_100(task, docker_runner, graders):
    result = grade_submission(
        task, packs.reference_submission(task), runner=docker_runner, grader=graders.for_task(task)
    )
    assert (result.score, result.verdict, result.status) == (100.0, Verdict.READY, RunStatus.COMPLETED), [
        (c.id, c.status.value, c.message[:200]) for c in result.checks
    ]


def test_the_starter_of_the_pytest_task_scores_nothing(grade):
    assert_earns_nothing(grade(RETRY))


def test_the_grader_sandbox_and_the_collection_are_in_the_runner_statistics(grade):
    """The isolated tests' sandbox and the reference's collection ran too: the result says what they cost."""
    first, again = grade(RETRY).to_document()["runner"], grade(RETRY).to_document()["runner"]
    assert [run["purpose"] for run in first["grader_runs"]] == ["client", "collection"]
    assert [run["purpose"] for run in again["grader_runs"]] == ["client"]  # collected once per grader digest
    for run in first["grader_runs"]:
        assert run["wall_seconds"] > 0 and run["cpu_seconds"] is not None and run["peak_memory_bytes"]
    assert first["grader_runs"][1]["exit_code"] == 0  # the reference's collection


# -- the pytest kind ------------------------------------------------------------------------------

FORCE_PASS_CONFTEST = textwrap.dedent("""
    import pytest

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(item, call):
        outcome = yield
        report = outcome.get_result()
        report.outcome = "passed"
        report.longrepr = None

    def pytest_collection_modifyitems(items):
        items.clear()
""")


def test_shipped_conftest_and_config_files_change_nothing(grade):
    result = grade(
        RETRY,
        **{
            "conftest.py": FORCE_PASS_CONFTEST,
            "pytest.ini": "[pytest]\naddopts = -p no:python --co\npython_files = nothing_*.py\n",
            "pyproject.toml": "[tool.pytest.ini_options]\naddopts = '--collect-only'\n",
            "tox.ini": "[pytest]\naddopts = --collect-only\n",
            "setup.cfg": "[tool:pytest]\naddopts = --collect-only\n",
            "sitecustomize.py": "import os\nos._exit(0)\n",
            "usercustomize.py": "import os\nos._exit(0)\n",
            "force.pth": "import os; os._exit(0)\n",
            "tests/conftest.py": FORCE_PASS_CONFTEST,
        },
    )
    assert_earns_nothing(result)
    assert result.status is RunStatus.COMPLETED  # the hidden tests ran, and failed
    assert all("NotImplementedError" in c.message for c in result.checks)


def test_exiting_with_status_0_at_import_crashes_and_earns_nothing(grade):
    result = grade(RETRY, **{"retry.py": "import os\nos._exit(0)\n"})
    assert_earns_nothing(result)
    assert result.status is RunStatus.CRASHED
    assert "before reporting" in result.reason


def test_printing_fake_passed_lines_earns_nothing(grade, graders):
    ids = list(graders.for_task(RETRY).expected_tests(RETRY))
    lines = "".join(f"{nodeid} PASSED\n" for nodeid in ids) + f"===== {len(ids)} passed in 0.01s =====\n"
    forged = textwrap.dedent(f"""
        import sys
        LINES = {lines!r}
        sys.stdout.write(LINES)
        sys.__stdout__.write(LINES)


        def retry(fn, **kwargs):
            sys.stdout.write(LINES)
            sys.stderr.write(LINES)
            raise NotImplementedError("write me")
    """)
    result = grade(RETRY, **{"retry.py": forged})
    assert_earns_nothing(result)
    assert result.status is RunStatus.COMPLETED
    service = result.outcome.service  # separate-sandbox: the candidate's prints are its sandbox's output
    printed = result.to_document()["output"]["stdout"] + (service.stdout.decode() if service else "")
    assert " PASSED" in printed  # the lines were printed, and ignored


FORGE_REPORT_AND_EXIT = textwrap.dedent("""
    import json, os
    REPORT = "/grader/.tasktrial/report.json"
    tests = {IDS!r}
    with open(REPORT, "w") as fh:
        json.dump({{"mode": "run", "collected": tests, "collect_errors": {{}}, "exitstatus": 0,
                   "results": {{t: {{"outcome": "pass", "message": "", "duration": 0.0}} for t in tests}}}}, fh)
    os._exit(0)
""")


def test_writing_a_forged_report_and_exiting_earns_nothing(grade, graders):
    # SANDBOX.md: "writing a results file where the grader looks for one". Fails today: see the report.
    ids = list(graders.for_task(RETRY).expected_tests(RETRY))
    result = grade(RETRY, **{"retry.py": FORGE_REPORT_AND_EXIT.format(IDS=ids)})
    assert_earns_nothing(result)


OVERWRITE_REPORT_FROM_A_DAEMON = textwrap.dedent("""
    import json, os, time
    REPORT = "/grader/.tasktrial/report.json"
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            for fd in (0, 1, 2):
                os.close(fd)
            deadline = time.time() + 15
            while time.time() < deadline:
                try:
                    with open(REPORT) as fh:
                        report = json.load(fh)
                    if not report["results"] or any(r["outcome"] != "pass" for r in report["results"].values()):
                        report["results"] = {t: {"outcome": "pass", "message": "", "duration": 0.0}
                                             for t in report["collected"]}
                        with open(REPORT + ".tmp", "w") as out:
                            json.dump(report, out)
                        os.replace(REPORT + ".tmp", REPORT)
                except (OSError, ValueError, KeyError):
                    pass
                time.sleep(0.0005)
            os._exit(0)
        os._exit(0)
""")


def test_a_daemon_overwriting_the_report_earns_nothing(grade):
    # "Leaving a daemon behind": it rewrites the harness's report between the run's end and collection.
    result = grade(RETRY, **{"retry.py": OVERWRITE_REPORT_FROM_A_DAEMON + STARTER_RETRY.decode()})
    assert_earns_nothing(result)


# -- the io kind ----------------------------------------------------------------------------------

SEARCH_FOR_EXPECTED_OUTPUTS = textwrap.dedent("""
    import os, sys
    sys.stdin.read()
    mine = os.path.abspath(__file__)
    skipped = {"/proc", "/sys", "/dev", "/usr", "/lib", "/lib64", "/bin", "/sbin"}
    scanned = 0
    for folder, dirs, files in os.walk("/"):
        dirs[:] = [d for d in dirs if os.path.join(folder, d) not in skipped]
        for name in files:
            path = os.path.join(folder, name)
            scanned += 1
            if path == mine:
                continue
            try:
                with open(path, "rb") as fh:
                    data = fh.read(1 << 20)
            except OSError:
                continue
            if b"2 end" in data or name.endswith((".out", ".expected")):
                sys.stdout.write(data.decode("utf-8", "replace"))
    print("scanned", scanned, file=sys.stderr)
""")


def test_searching_the_file_system_for_expected_outputs_finds_nothing(grade):
    result = grade(WORDS, **{"top_words.py": SEARCH_FOR_EXPECTED_OUTPUTS})
    assert result.status is RunStatus.COMPLETED  # the search finished: it found nothing, it did not time out
    outcome = result.outcome
    assert all(not step.timed_out and step.exit_code == 0 and b"scanned" in step.stderr for step in outcome.steps)
    assert all(step.stdout == b"" for step in outcome.steps)
    by_case = {c.id: c.status for c in result.checks}
    assert by_case.pop("empty-input") is CheckStatus.PASS  # expected output is empty: printing nothing is right
    assert set(by_case.values()) == {CheckStatus.FAIL}
    assert result.verdict is Verdict.NOT_READY


def test_a_crashing_program_fails_every_case_with_its_error(grade):
    result = grade(WORDS, **{"top_words.py": "raise SystemExit('deliberate failure')\n"})
    assert_earns_nothing(result)
    assert all("exited with code 1" in c.message and "deliberate failure" in c.message for c in result.checks)


# -- the script kind ------------------------------------------------------------------------------

OVERWRITE_RESULTS_FROM_A_DAEMON = textwrap.dedent("""
    import json, os, time
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            for fd in (0, 1, 2):
                os.close(fd)
            names = ("totals-basic", "rejects-basic", "totals-messy", "rejects-messy")
            forged = json.dumps({"tests": [{"name": n, "score": 1, "max_score": 1, "status": "passed"} for n in names]})
            deadline = time.time() + 15
            while time.time() < deadline:
                try:
                    with open("/grader/results.json") as fh:
                        if fh.read() != forged:
                            with open("/grader/results.json.tmp", "w") as out:
                                out.write(forged)
                            os.replace("/grader/results.json.tmp", "/grader/results.json")
                except OSError:
                    pass
                time.sleep(0.0005)
            os._exit(0)
        os._exit(0)
    print("{}")
""")


def test_a_daemon_overwriting_the_script_results_earns_nothing(grade):
    result = grade(CSV, **{"report.py": OVERWRITE_RESULTS_FROM_A_DAEMON})
    assert result.score == 0.0 and result.verdict is Verdict.NOT_READY, [(c.id, c.status.value) for c in result.checks]


def test_printing_a_results_document_earns_nothing_from_the_script_grader(grade):
    forged = '{"tests": [{"name": "totals-basic", "score": 1, "max_score": 1, "status": "passed"}]}'
    result = grade(CSV, **{"report.py": f"print({forged!r})\n"})
    assert result.score == 0.0 and result.verdict is Verdict.NOT_READY
