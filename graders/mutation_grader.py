"""The ``mutation`` kind: the candidate writes tests; hidden buggy variants judge them.

Layout of the grader folder::

    grader/reference/<module files>        the correct implementation
    grader/variants/NAME/<module files>    one buggy variant per folder; it lists
                                           only the files it changes

The candidate's tests (``test_*.py`` or ``*_test.py`` anywhere in the
submission) run with the pytest harness, once against the reference and, if
they all pass there, once against each variant. The implementation's files
overwrite whatever the submission holds at those paths.

Checks: ``reference-passes`` is a gate with weight 0: when it fails, every
``caught-NAME`` check fails with that reason and the score is 0. A variant
is caught when the tests do not all pass on it (a failure, an error, a
timeout or a crash). Weights of ``caught-*`` come from ``grader.checks``.

What keeps the score honest, and what does not:

- every implementation runs in a fresh sandbox of its own with the same
  paths and the same command, so no file name, argument, leftover process,
  ``/tmp`` state, PID counter or cgroup counter tells the tests which one
  they face, and the other variants are never in the same container;
- a random comment is appended to every ``.py`` implementation file per
  run, so a test that compares a hash of the module's file with the known
  reference fails the gate;
- a variant's check message gives counts only, never test ids or failure
  text, which the tests could fill with the variant's source.

What it cannot prevent: the tests run in-process with the implementation
and can introspect it (``inspect.getsource`` of a function, its bytecode)
and compare it with the reference they were given. That is not testing,
and only a reviewer reading the tests will see it.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from engine import packs
from engine.errors import Problem
from engine.models import WORKSPACE, Check, CheckStatus, RunOutcome, RunSpec, Step, Task
from engine.ports import GraderRun, Grading, Runner
from engine.trees import overlay, read_tree
from graders._common import make_check, tail
from graders._harness import PYTEST, REPORT, ReportKeys, harness_files, harness_path, new_key, no_report, read_report

REFERENCE_DIR = "reference"
VARIANTS_DIR = "variants"
GATE = "reference-passes"
SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
NOT_JUDGED = "not judged: your tests must pass on the reference implementation first"
FAILURE_CHARS = 1500


@dataclass(frozen=True)
class _TestRun:
    """What one run of the candidate's tests showed; ``report`` is None when the harness did not report."""

    passed: int
    failed: tuple[str, ...]
    total: int
    report: dict | None

    @property
    def all_passed(self) -> bool:
        return self.report is not None and self.report.get("exitstatus") == 0 and self.passed > 0 and not self.failed


def reference_files(task: Task) -> dict[str, bytes]:
    return read_tree(task.root / "grader" / REFERENCE_DIR, packs.PACK_CAPS, what="reference")


def variant_files(task: Task) -> dict[str, dict[str, bytes]]:
    """Each variant's complete implementation (the reference with the variant's files over it), by name."""
    folder = task.root / "grader" / VARIANTS_DIR
    reference = reference_files(task)
    return {
        entry.name: overlay(reference, read_tree(entry, packs.PACK_CAPS, what="variant"))
        for entry in sorted(folder.iterdir())
        if entry.is_dir()
    }


class MutationGrader:
    """Grades test-writing tasks.

    ``grade`` runs the variants itself, each in its own sandbox with the
    candidate's tests.
    """

    kind = "mutation"

    def __init__(self, runner: Runner, *, cache_dir: Path | None = None):
        """Takes the registry's one signature (``graders.GraderFactory``); it keeps no cache."""
        self._runner = runner
        self._keys = ReportKeys()

    def problems(self, task: Task) -> list[Problem]:
        grader = task.root / "grader"
        reference, variants = grader / REFERENCE_DIR, grader / VARIANTS_DIR
        if not reference.is_dir() or not any(p.is_file() for p in reference.rglob("*")):
            return [
                Problem(
                    f"{task.id}/grader/{REFERENCE_DIR}",
                    "",
                    "is missing: a mutation task needs the reference implementation there",
                )
            ]
        if not variants.is_dir() or not any(p.is_dir() for p in variants.iterdir()):
            return [Problem(f"{task.id}/grader/{VARIANTS_DIR}", "", "holds no variant folder (grader/variants/NAME/)")]
        problems = []
        known = reference_files(task)
        for entry in sorted(p for p in variants.iterdir() if p.is_dir()):
            label = f"{task.id}/grader/{VARIANTS_DIR}/{entry.name}"
            files = read_tree(entry, packs.PACK_CAPS, what="variant")
            if not SLUG.match(entry.name):
                problems.append(Problem(label, "", "variant names are lower-case words joined by '-'"))
            extra = sorted(set(files) - set(known))
            if extra:
                problems.append(
                    Problem(
                        label,
                        "",
                        f"{', '.join(extra)} not in grader/{REFERENCE_DIR}: a variant only replaces reference files",
                    )
                )
            elif not files or all(known[path] == data for path, data in files.items()):
                problems.append(Problem(label, "", "does not differ from the reference implementation"))
        return problems

    def static_check_ids(self, task: Task) -> tuple[tuple[str, ...], bool] | None:
        """The gate and one ``caught-NAME`` per variant folder."""
        folder = task.root / "grader" / VARIANTS_DIR
        if not folder.is_dir():
            return None
        return (GATE, *(f"caught-{p.name}" for p in sorted(folder.iterdir()) if p.is_dir())), False

    def build_run(self, task: Task, submission: Mapping[str, bytes]) -> RunSpec:
        return self._spec(task, submission, reference_files(task), key=self._reference_key(task, submission))

    def grade(self, task: Task, submission: Mapping[str, bytes], outcome: RunOutcome) -> Grading:
        variants = variant_files(task)
        reference = _test_run(outcome, self._reference_key(task, submission))
        gate_passed, gate_message = _judge_reference(task, outcome, reference)
        checks: list[Check] = [_gate(task, gate_passed, gate_message)]
        runs: list[GraderRun] = []
        if not gate_passed:
            checks += [make_check(task, f"caught-{name}", CheckStatus.FAIL, message=NOT_JUDGED) for name in variants]
        else:
            for name, files in variants.items():
                key = new_key()
                run = self._runner.run(self._spec(task, submission, files, key=key))
                runs.append(GraderRun(f"variant {name}", run))
                caught, message = _judge_variant(task, run, _test_run(run, key))
                checks.append(
                    make_check(
                        task,
                        f"caught-{name}",
                        CheckStatus.PASS if caught else CheckStatus.FAIL,
                        message=message,
                        duration=run.wall_seconds,
                    )
                )
        crashed = ""
        if reference.report is None and not (outcome.timed_out or outcome.oom_killed):
            crashed = no_report(outcome.exit_code)
        return Grading(tuple(checks), crashed, runs=tuple(runs))

    def _reference_key(self, task: Task, submission: Mapping[str, bytes]) -> bytes:
        return self._keys.derive(task, submission, purpose="reference")

    def _spec(
        self, task: Task, submission: Mapping[str, bytes], implementation: Mapping[str, bytes], *, key: bytes
    ) -> RunSpec:
        argv = ("python3", "-I", harness_path("pytest_harness.py"), "run", REPORT, WORKSPACE)
        return RunSpec(
            environment=task.environment,
            limits=task.limits,
            steps=(Step(argv, stdin=key + b"\n"),),
            workspace=overlay(submission, _salted(implementation)),
            grader_files=harness_files(PYTEST),
            collect=(REPORT,),
        )


def _salted(files: Mapping[str, bytes]) -> dict[str, bytes]:
    """The implementation with a random comment at the end of each ``.py`` file: same code, unpredictable bytes."""
    salt = secrets.token_hex(8).encode()
    return {path: (data + b"\n# " + salt + b"\n") if path.endswith(".py") else data for path, data in files.items()}


def _test_run(outcome: RunOutcome, key: bytes) -> _TestRun:
    report = read_report(outcome, key)
    if report is None:
        return _TestRun(0, (), 0, None)
    results = report["results"]
    passed = sum(1 for entry in results.values() if isinstance(entry, dict) and entry.get("outcome") == "pass")
    failed = tuple(
        _short_id(nodeid)
        for nodeid, entry in results.items()
        if not isinstance(entry, dict) or entry.get("outcome") in ("fail", "error")
    )
    failed += tuple(_short_id(where) for where in report.get("collect_errors", {}) or {})
    return _TestRun(passed, failed, len(results), report)


def _judge_reference(task: Task, outcome: RunOutcome, run: _TestRun) -> tuple[bool, str]:
    limits = task.limits
    if outcome.timed_out:
        return False, f"your tests did not finish within {limits.time_seconds:g} s on the reference implementation"
    if outcome.oom_killed:
        return False, f"your tests used more than {limits.memory_mb} MB on the reference implementation"
    if run.report is None:
        return False, f"your test run ended (exit {outcome.exit_code}) before reporting any result"
    if run.all_passed:
        return True, f"all {run.passed} of your tests pass on the reference implementation"
    if run.total == 0 and not run.failed:
        return False, "no tests were found: write test_*.py files with test_* functions"
    if not run.failed:
        return False, "none of your tests passed on the reference implementation (all skipped?)"
    details = [
        str(entry.get("message", ""))
        for entry in run.report.get("results", {}).values()
        if isinstance(entry, dict) and entry.get("outcome") in ("fail", "error")
    ]
    details += [str(error) for error in (run.report.get("collect_errors") or {}).values()]
    first = tail(details[0].encode(), FAILURE_CHARS) if details else ""
    return False, (
        f"{len(run.failed)} of your tests fail on the reference implementation, so they would "
        f"also fail on correct code: {', '.join(run.failed[:10])}" + (f"\n{first}" if first else "")
    )


def _judge_variant(task: Task, outcome: RunOutcome, run: _TestRun) -> tuple[bool, str]:
    """Counts only: the tests ran beside hidden code, so their ids and messages could carry it out."""
    if outcome.timed_out:
        return True, f"caught: your tests did not finish within {task.limits.time_seconds:g} s"
    if outcome.oom_killed:
        return True, "caught: your tests ran out of memory"
    if run.report is None:
        return True, "caught: your test run ended before reporting"
    if run.all_passed:
        return False, f"not caught: all {run.passed} of your tests passed"
    return True, f"caught: {len(run.failed)} of {max(run.total, len(run.failed))} of your tests failed"


def _gate(task: Task, passed: bool, message: str) -> Check:
    """The gate check: it decides whether anything counts, and is worth nothing itself."""
    check = make_check(task, GATE, CheckStatus.PASS if passed else CheckStatus.FAIL, message=message)
    return replace(check, weight=0.0)


def _short_id(nodeid: str) -> str:
    """A test id relative to the workspace (the harness's root is the grader folder)."""
    for prefix in ("../workspace/", "workspace/", f"{WORKSPACE}/"):
        if nodeid.startswith(prefix):
            return nodeid[len(prefix) :]
    return nodeid
