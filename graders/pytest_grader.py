"""The ``pytest`` kind: hidden test files run against the submission.

Where the tests run is the task's ``grader.isolation``:

- ``separate-sandbox`` (the default): pytest, the hidden tests and the
  harness run in a grader sandbox the candidate's code never enters; the
  candidate's modules are served from the candidate's own sandbox over a
  private network and reach the tests as proxies (``harness/pytest_bridge.py``).
  Monkey-patching pytest, the harness, ``builtins`` or ``sys.exit`` at import
  time changes only the candidate's own process: the verdict is out of reach.
- ``shared-process``: today's shape, for tests that cannot work across a
  process boundary (asyncio code driven by the test's event loop, tests that
  read the candidate's printed output or patch its modules' globals). The
  tests import the candidate's module in the process that writes the report;
  the report is authenticated, but code running at import time can still
  change the outcome. ``pack validate`` warns about every such task.

Before any candidate's run, the expected tests are collected once per
grader digest (the hidden files, the harness, the tests folder, the
environment and the reference solution they are collected with; see
``grader_digest``), from ``grader/`` with the reference solution, in the
sandbox. A run of the reference solution itself reports what it collected,
so ``pack check`` (which grades the reference first) needs no separate
collection sandbox; any other edit of the task (statement, weights, a new
pack version) keeps the list.
Grading then reads the harness's report file (never the candidate's
stdout); an expected test that did not report is a failed check, so exiting
early, crashing the interpreter or printing fake results earns nothing.
"""

from __future__ import annotations

import ast
import json
import posixpath
import secrets
import threading
from collections.abc import Mapping
from pathlib import Path

from engine import packs
from engine.digest import tree_digest
from engine.errors import GraderError, Problem, SubmissionRejected
from engine.models import GRADER_DIR, SERVICE_HOST, CheckStatus, RunOutcome, RunSpec, Service, Step, Task
from engine.ports import GraderRun, Grading, Runner
from graders._common import make_check, tail
from graders._harness import (
    BRIDGE,
    PYTEST,
    REPORT,
    ReportKeys,
    harness_files,
    harness_path,
    new_key,
    no_report,
    read_report,
)

#: Stands for a parametrised test's parameters in ids read statically.
PARAMETRISED = "..."
SEPARATE = "separate-sandbox"
SHARED = "shared-process"
#: The port the candidate's sandbox serves its modules on (its private network reaches nothing else).
BRIDGE_PORT = 7919
BRIDGE_READY_SECONDS = 10.0
STATUS = {
    "pass": CheckStatus.PASS,
    "fail": CheckStatus.FAIL,
    "error": CheckStatus.ERROR,
    "skipped": CheckStatus.SKIPPED,
}


def isolation(task: Task) -> str:
    """The task's ``grader.isolation``: ``separate-sandbox`` unless the author chose ``shared-process``."""
    return str(task.grader.get("isolation", SEPARATE))


def runs_a_service(task: Task) -> bool:
    """Does grading ``task`` make a service run (two sandboxes on a network of their own)?"""
    return task.grader_kind == "http" or (task.grader_kind == "pytest" and isolation(task) == SEPARATE)


def tamper_warnings(task: Task) -> list[str]:
    """Why this task's grading is not tamper-proof, for ``pack validate`` (empty when it is)."""
    if task.grader_kind != "pytest" or isolation(task) != SHARED:
        return []
    return [
        (
            f"{task.id}: grader.isolation is {SHARED}: the hidden tests import the candidate's code into the "
            "process that decides the result, so code run at import time can change it (not tamper-proof)"
        )
    ]


class PytestGrader:
    kind = "pytest"

    def __init__(self, runner: Runner, *, cache_dir: Path | None = None):
        self._runner = runner
        self._keys = ReportKeys()
        self._cache_dir = cache_dir
        self._expected: dict[str, tuple[str, ...]] = {}
        self._lock = threading.Lock()
        #: One lock per grader digest: gradings of other tasks never wait for this one's collection.
        self._collecting: dict[str, threading.Lock] = {}
        #: Per task digest (which covers every file of the task): its grader digest and its reference's digest.
        self._digests: dict[str, tuple[str, str]] = {}

    def problems(self, task: Task) -> list[Problem]:
        relative = task.grader.get("tests", ".")
        try:
            tests = packs.inside(task.root / "grader", relative)
        except SubmissionRejected as exc:
            return [
                Problem(
                    f"{task.id}/task.yaml", "$.grader.tests", f"{relative!r} must be a folder inside grader/: {exc}"
                )
            ]
        label = posixpath.normpath(f"{task.id}/grader/{relative}")
        if not tests.is_dir():
            return [Problem(label, "", "the tests folder named by grader.tests is missing")]
        if not any(tests.rglob("test_*.py")) and not any(tests.rglob("*_test.py")):
            return [Problem(label, "", "holds no test_*.py or *_test.py file")]
        return []

    def build_run(self, task: Task, submission: Mapping[str, bytes]) -> RunSpec:
        key = self._keys.derive(task, submission)
        if isolation(task) == SHARED:
            return self._spec(task, submission, mode="run", key=key)
        return self._separate_spec(task, submission, key=key)

    def static_check_ids(self, task: Task) -> tuple[tuple[str, ...], bool] | None:
        """The hidden tests' ids read from their source without running it, and whether any is parametrised.

        A parametrised test's id is given as ``file::name[`` + ``PARAMETRISED``; None if a file does not parse
        or ``grader.tests`` leads outside ``grader/``.
        """
        root = task.root / "grader"
        try:
            folder = packs.inside(root, task.grader.get("tests", "."))
        except SubmissionRejected:
            return None  # the kind's problems name the path
        ids: list[str] = []
        parametrised = False
        files = sorted({*folder.rglob("test_*.py"), *folder.rglob("*_test.py")}) if folder.is_dir() else []
        for path in files:
            try:
                tree = ast.parse(path.read_bytes(), filename=str(path))
            except (SyntaxError, ValueError):
                return None  # the syntax check reports it
            relative = path.relative_to(root).as_posix()
            for node in tree.body:
                scopes = [(f"{relative}::", node)]
                if isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                    scopes = [(f"{relative}::{node.name}::", item) for item in node.body]
                for prefix, item in scopes:
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name.startswith("test"):
                        marked = any("parametrize" in ast.unparse(d) for d in item.decorator_list)
                        parametrised |= marked
                        ids.append(prefix + item.name + (f"[{PARAMETRISED}]" if marked else ""))
        return tuple(ids), parametrised

    def grade(self, task: Task, submission: Mapping[str, bytes], outcome: RunOutcome) -> Grading:
        tests = outcome.client if outcome.client is not None else outcome  # the grader's sandbox in a separate run
        report = read_report(tests, self._keys.derive(task, submission))
        if report is not None and tree_digest(submission) == self._task_digests(task)[1]:
            self._offer(task, report)  # the reference's own run is a collection: no sandbox of its own
        expected, collection = self._expected_tests(task)
        results = report.get("results", {}) if report else {}
        unserved = _unserved(outcome)
        checks = []
        for nodeid in expected:
            entry = results.get(nodeid)
            if entry is None:
                reason = unserved or _missing_reason(nodeid, report, outcome)
                checks.append(make_check(task, nodeid, CheckStatus.FAIL, name=_name(nodeid), message=reason))
                continue
            checks.append(
                make_check(
                    task,
                    nodeid,
                    STATUS.get(entry.get("outcome"), CheckStatus.ERROR),
                    name=_name(nodeid),
                    message=str(entry.get("message", "")),
                    duration=float(entry.get("duration", 0.0)),
                )
            )
        crashed = ""
        if not (outcome.timed_out or _oom(outcome)):
            if unserved:  # the candidate's process died (exit at import, a crash) before the tests were done
                crashed = unserved
            elif report is None:
                crashed = no_report(tests.exit_code)
        return Grading(tuple(checks), crashed, runs=collection)

    def expected_tests(self, task: Task) -> tuple[str, ...]:
        """The hidden tests' ids, collected with the reference solution; cached per grader digest.

        Raises:
            GraderError: the hidden tests do not collect with the reference solution.
        """
        return self._expected_tests(task)[0]

    def _expected_tests(self, task: Task) -> tuple[tuple[str, ...], tuple[GraderRun, ...]]:
        """``expected_tests`` and the collection run this call started (none when the list was known)."""
        digest = self._task_digests(task)[0]
        with self._lock:
            if digest in self._expected:
                return self._expected[digest], ()
            lock = self._collecting.setdefault(digest, threading.Lock())
        with lock:  # one collection per digest; others wait for it, other digests do not
            with self._lock:
                if digest in self._expected:
                    return self._expected[digest], ()
            expected, runs = self._load_or_collect(task, digest)
            with self._lock:
                self._expected[digest] = expected
            return expected, runs

    def _offer(self, task: Task, report: dict) -> None:
        """Keep what the reference's own run collected, unless the list is known or that run did not collect."""
        if report.get("collect_errors") or not report.get("collected"):
            return  # ``expected_tests`` collects on its own and reports the failure as the grader's
        digest = self._task_digests(task)[0]
        with self._lock:
            if digest in self._expected:
                return
        expected = tuple(report["collected"])
        self._store(digest, expected)
        with self._lock:
            self._expected.setdefault(digest, expected)

    def _task_digests(self, task: Task) -> tuple[str, str]:
        """``(grader_digest, reference digest)``, read from disk once per task digest."""
        with self._lock:
            known = self._digests.get(task.digest)
        if known is None:
            known = (grader_digest(task), tree_digest(packs.reference_submission(task)))
            with self._lock:
                self._digests[task.digest] = known
        return known

    def _cache_file(self, digest: str) -> Path | None:
        return self._cache_dir / f"pytest-{digest.removeprefix('sha256:')}.json" if self._cache_dir else None

    def _load_or_collect(self, task: Task, digest: str) -> tuple[tuple[str, ...], tuple[GraderRun, ...]]:
        cache = self._cache_file(digest)
        if cache is not None and cache.is_file():
            return tuple(json.loads(cache.read_text("utf-8"))), ()
        key = new_key()
        outcome = self._runner.run(self._spec(task, packs.reference_submission(task), mode="collect", key=key))
        runs = (GraderRun("collection", outcome),)
        report = read_report(outcome, key)
        if report is None or report.get("collect_errors") or not report.get("collected"):
            step = outcome.steps[-1] if outcome.steps else None
            printed = tail(step.stdout + step.stderr, 3000) if step else ""
            errors = "\n".join(
                f"{where}:\n{error}" for where, error in (report or {}).get("collect_errors", {}).items()
            )
            detail = "no test was collected" if report and not errors else (errors or printed or "no report")
            raise GraderError(
                f"task {task.id!r}: collecting the hidden tests with the reference solution failed: "
                f"{tail(detail.encode(), 3000)}",
                output=printed,
                runs=runs,
            )
        expected = tuple(report["collected"])
        self._store(digest, expected)
        return expected, runs

    def _store(self, digest: str, expected: tuple[str, ...]) -> None:
        cache = self._cache_file(digest)
        if cache is None:
            return
        cache.parent.mkdir(parents=True, exist_ok=True)
        temporary = cache.with_name(f"{cache.name}.{secrets.token_hex(4)}.tmp")  # concurrent writers never mix
        temporary.write_text(json.dumps(expected), "utf-8")
        temporary.replace(cache)

    def _spec(self, task: Task, submission: Mapping[str, bytes], *, mode: str, key: bytes) -> RunSpec:
        argv = ("python3", "-I", harness_path("pytest_harness.py"), mode, REPORT, _tests_path(task))
        return RunSpec(
            environment=task.environment,
            limits=task.limits,
            steps=(Step(argv, stdin=key + b"\n"),),
            workspace=submission,
            grader_files={**packs.grader_files(task), **harness_files(PYTEST)},
            collect=(REPORT,),
        )

    def _separate_spec(self, task: Task, submission: Mapping[str, bytes], *, key: bytes) -> RunSpec:
        """Two sandboxes on a private network: the candidate's serves its modules, the grader's runs pytest.

        The grader's sandbox gets a copy of the submission's files in ``/workspace`` (tests may read them)
        that nothing of the candidate's runs from; the candidate's gets the bridge and nothing hidden.
        """
        candidate = f"{SERVICE_HOST}:{BRIDGE_PORT}"
        argv = ("python3", "-I", harness_path("pytest_harness.py"), "run", REPORT, _tests_path(task), candidate)
        client = RunSpec(
            environment=task.environment,
            limits=task.limits,
            steps=(Step(argv, stdin=key + b"\n"),),
            workspace=submission,
            grader_files={**packs.grader_files(task), **harness_files(PYTEST)},
            collect=(REPORT,),
        )
        serve = (
            "python3",
            "-I",
            "-u",
            harness_path("pytest_bridge.py"),
            "serve",
            str(BRIDGE_PORT),
            "/workspace",
        )  # unbuffered: what the candidate printed is kept though the sandbox is killed
        return RunSpec(
            environment=task.environment,
            limits=task.limits,
            steps=(),
            workspace=submission,
            grader_files=harness_files(BRIDGE),
            # The harness connects, retrying, over the loopback both sandboxes share (it listens on nothing itself).
            service=Service(serve, BRIDGE_PORT, BRIDGE_READY_SECONDS, probe=False, loopback=True),
            client=client,
        )


def grader_digest(task: Task) -> str:
    """What the expected list depends on: the hidden files, the harness, the tests folder, the
    environment and the reference solution. A change to any of them re-collects; nothing else does."""
    files = {f"grader/{path}": data for path, data in packs.grader_files(task).items()}
    files |= {f"harness/{path}": data for path, data in harness_files(PYTEST).items()}
    files |= {f"reference/{path}": data for path, data in packs.reference_submission(task).items()}
    files["collection"] = f"v2\0{task.environment}\0{_tests_path(task)}".encode()
    return tree_digest(files)


def _oom(outcome: RunOutcome) -> bool:
    return outcome.oom_killed or (outcome.client is not None and outcome.client.oom_killed)


def _unserved(outcome: RunOutcome) -> str:
    """Why the candidate's modules were never served to the tests (empty when they were, or in a shared run)."""
    service = outcome.service
    if service is None or service.ready:
        return ""
    if service.exit_code is not None:
        return (
            f"the candidate's code stopped (exit {service.exit_code}) before reporting to the tests: "
            "its sandbox ended while they still needed it"
        )
    return "the candidate's sandbox did not start serving its code in time"


def _tests_path(task: Task) -> str:
    return posixpath.normpath(f"{GRADER_DIR}/{task.grader.get('tests', '.')}")


def _missing_reason(nodeid: str, report: dict | None, outcome: RunOutcome) -> str:
    if outcome.timed_out:
        return "did not report: the run hit its time limit"
    if _oom(outcome):
        return "did not report: the run was killed for using too much memory"
    if report:
        for where, error in report.get("collect_errors", {}).items():
            if nodeid.startswith(where):
                return f"could not be collected:\n{error}"
    return "did not report a result"


def _name(nodeid: str) -> str:
    return nodeid.rsplit("::", 1)[-1]
