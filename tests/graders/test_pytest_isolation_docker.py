"""Tamper-proof pytest grading, against the real Docker engine, over every built-in pytest task.

Each attack is code the candidate's module runs when the hidden tests import it:
patching pytest's report objects, the harness, ``builtins.__import__``,
``sys.exit``/``os._exit`` (forging a signed report with the harness's own
signer on the way out) or the rewritten test code. The rule: an attack earns
no check the same submission without the attack (the starter: its real
behaviour) does not earn. A task that declares ``isolation: shared-process``
keeps the in-process mode and is not covered (``pack validate`` warns); the
same attacks are shown to work there, so these tests can fail.
"""

from __future__ import annotations

import ast
import dataclasses
import re

import pytest

from engine import packs
from engine.grading import grade_submission
from engine.models import CheckStatus, RunStatus, Task, Verdict
from engine.public_tests import run_public_tests
from graders.pytest_grader import SEPARATE, SHARED, isolation
from runners import images
from tests.conftest import CATALOGUE

pytestmark = pytest.mark.docker

PYTEST_TASKS = [
    task
    for folder in sorted(CATALOGUE.iterdir())
    if (folder / "pack.yaml").is_file()
    for task in packs.load_pack(folder, environments=images.environments()).tasks
    if task.grader_kind == "pytest"
]
SEPARATE_TASKS = [t for t in PYTEST_TASKS if isolation(t) == SEPARATE]
RETRY = next(t for t in PYTEST_TASKS if t.id == "retry-backoff")

ATTACKS = {
    # pytest's report objects: every report says "passed".
    "report-objects": """
import _pytest.reports as _reports
_real_init = _reports.TestReport.__init__
def _passed(self, *args, **kwargs):
    _real_init(self, *args, **kwargs)
    self.outcome, self.longrepr = "passed", None
_reports.TestReport.__init__ = _passed
""",
    # The harness: its results table turns every outcome into a pass.
    "harness-module": """
import gc as _gc
class _Entry(dict):
    def __setitem__(self, key, value):
        dict.__setitem__(self, key, {"outcome": "pass", "message": ""}.get(key, value))
class _Results(dict):
    def setdefault(self, key, default=None):
        if key not in self:
            dict.__setitem__(self, key, _Entry(default or {}))
        return dict.__getitem__(self, key)
for _o in _gc.get_objects():
    if type(_o).__name__ == "Reporter" and isinstance(getattr(_o, "results", None), dict):
        _o.results = _Results()
""",
    # builtins.__import__: the next import anywhere makes pytest's test functions no-ops.
    "builtins-import": """
import builtins as _builtins, sys as _sys
_real_import = _builtins.__import__
def _import(name, *args, **kwargs):
    module = _real_import(name, *args, **kwargs)
    python = _sys.modules.get("_pytest.python")
    if python is not None:
        python.Function.runtest = lambda self: None
    return module
_builtins.__import__ = _import
__import__("os")
""",
    # sys.exit / os._exit / atexit: on the way out, mark everything passed and re-sign the report with the
    # harness's own signer (the harness resolves ``sys.exit`` before it runs pytest: atexit is the hook that fires).
    "exit-hooks": """
import atexit as _atexit, gc as _gc, os as _os, sys as _sys
_reporters = [o for o in _gc.get_objects() if type(o).__name__ == "Reporter" and hasattr(o, "collected")]
def _forge(*args):
    for o in _reporters:  # held from import time: by exit the harness has let go of it
        o.results = {n: {"outcome": "pass", "message": "", "duration": 0.0} for n in o.collected}
        o.collect_errors = {}
        o.pytest_sessionfinish(None, 0)
    _real_exit(0)
_real_exit = _os._exit
_sys.exit = _forge
_os._exit = _forge
_atexit.register(_forge)
""",
    # The rewritten tests: once the test module has run, every test function's (assert-rewritten) code is replaced.
    "assert-rewriting": """
import sys as _sys, inspect as _inspect
def _profile(frame, event, arg):
    if event == "return" and frame.f_code.co_name == "<module>" and "/grader/" in frame.f_code.co_filename:
        for name, value in list(frame.f_globals.items()):
            if name.startswith("test") and hasattr(value, "__code__"):
                scope = {}
                exec("def _noop(%s):\\n    return None" % ", ".join(_inspect.signature(value).parameters), scope)
                value.__code__ = scope["_noop"].__code__
        _sys.setprofile(None)
_sys.setprofile(_profile)
""",
}


def imported_names(task: Task) -> set[str]:
    """The top-level modules the hidden tests import."""
    names = set()
    for path in (task.root / "grader").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_bytes())):
            if isinstance(node, ast.Import):
                names |= {alias.name.partition(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.partition(".")[0])
    return names


SHADOW = (
    "\nimport sys as _s\n_s.modules.pop(__name__, None)\n_s.path[:] = [p for p in _s.path if p not in ('', '/workspace')]\n"
    "import importlib as _il\n_il.import_module(__name__)\n"
)


def attacked(task: Task, attack: str) -> dict[str, bytes]:
    """The starter with the attack run at import by every module of it the hidden tests import.

    A task whose tests import none of the candidate's modules (SQL files read from disk) gets a module
    that shadows one the tests import from the standard library and then loads the real one.
    """
    files = dict(packs.starter_files(task))
    payload = ATTACKS[attack]
    targets = [path for path in files if path.endswith(".py") and "/" not in path and path[:-3] in imported_names(task)]
    for path in targets:
        files[path] = payload.encode() + b"\n" + files[path]
    if not targets:
        shadowed = min(imported_names(task) & {"sqlite3", "random", "json", "decimal", "copy"})
        files[f"{shadowed}.py"] = (payload + SHADOW).encode()
    return files


_earned: dict[tuple[str, str], frozenset[str]] = {}


def earned(task: Task, submission: dict[str, bytes], runner, graders, *, label: str) -> frozenset[str]:
    key = (task.id + task.grader.get("isolation", ""), label)
    if key not in _earned:
        result = grade_submission(task, submission, runner=runner, grader=graders.for_task(task))
        assert result.status is not RunStatus.GRADER_ERROR, result.reason
        _earned[key] = frozenset(c.id for c in result.checks if c.status is CheckStatus.PASS)
    return _earned[key]


@pytest.mark.parametrize("task", PYTEST_TASKS, ids=lambda t: t.id)
def test_the_reference_solution_scores_100(task, docker_runner, graders):
    result = grade_submission(
        task, packs.reference_submission(task), runner=docker_runner, grader=graders.for_task(task)
    )
    assert (result.score, result.verdict, result.status) == (100.0, Verdict.READY, RunStatus.COMPLETED), [
        (c.id, c.status.value, c.message[:300]) for c in result.checks if c.status is not CheckStatus.PASS
    ]


@pytest.mark.parametrize("attack", sorted(ATTACKS))
@pytest.mark.parametrize("task", SEPARATE_TASKS, ids=lambda t: t.id)
def test_an_import_time_attack_earns_nothing_its_real_behaviour_does_not(task, attack, docker_runner, graders):
    honest = earned(task, dict(packs.starter_files(task)), docker_runner, graders, label="starter")
    cheating = earned(task, attacked(task, attack), docker_runner, graders, label=attack)
    assert cheating <= honest, f"{attack} earned {sorted(cheating - honest)}"


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_the_same_attacks_do_work_in_the_shared_process_mode(attack, docker_runner, graders):
    """Why the default is separate-sandbox, and proof that the attacks above are real."""
    shared = dataclasses.replace(RETRY, grader={**RETRY.grader, "isolation": SHARED})
    honest = earned(shared, dict(packs.starter_files(shared)), docker_runner, graders, label="starter")
    cheating = earned(shared, attacked(shared, attack), docker_runner, graders, label=attack)
    assert cheating - honest, f"{attack} earned nothing more in the shared-process mode: the attack is not real"


def test_the_candidates_sandbox_never_holds_the_hidden_tests(docker_runner, graders):
    """The candidate's code looks for the hidden tests and the report key; the tests' sandbox is out of its reach."""
    probe = """
import os
FOUND = []
for folder, subfolders, names in os.walk("/"):
    subfolders[:] = [s for s in subfolders if os.path.join(folder, s) not in ("/proc", "/sys", "/usr", "/dev")]
    FOUND += [os.path.join(folder, n) for n in names
              if n.startswith("test_retry") or n in ("report.json", "pytest_harness.py")]
def retry(*args, **kwargs):
    raise ValueError("FOUND:" + repr(sorted(FOUND)))
"""
    found = probe_report(probe, "FOUND", r"\[.*?\]", docker_runner, graders)
    assert found == "[]", found


@pytest.mark.parametrize("task", [t for t in PYTEST_TASKS if packs.starter_files(t)], ids=lambda t: t.id)
def test_the_starters_public_tests_still_run_with_plain_pytest(task, docker_runner):
    run = run_public_tests(task, packs.reference_submission(task), docker_runner)
    assert run is not None and run.command[:3] == ("python3", "-m", "pytest")
    assert run.passed, run.stdout[-2000:] + run.stderr[-2000:]


def test_the_candidates_code_shares_a_bare_loopback_where_only_its_own_bridge_listens(docker_runner, graders):
    """The tests' sandbox joins the candidate's network namespace: no interface but ``lo``, no route, and no
    listening socket but the candidate's own bridge (the harness only connects), so nothing there to reach."""
    probe = """
import socket
def _listening():
    ports = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6", "/proc/net/udp", "/proc/net/udp6"):
        with open(table) as fh:
            for line in fh.readlines()[1:]:
                fields = line.split()
                if fields[3] in ("0A", "07"):  # TCP LISTEN, UDP unconnected
                    ports.append(int(fields[1].rsplit(":", 1)[1], 16))
    return sorted(ports)
def retry(*args, **kwargs):
    raise ValueError("SEEN:" + repr([socket.if_nameindex(), open("/proc/net/route").read().count("\\n"), _listening()]))
"""
    seen = probe_report(probe, "SEEN", r"\[.*?\]\]", docker_runner, graders)
    assert seen == "[[(1, 'lo')], 1, [7919]]", seen


def probe_report(probe: str, marker: str, pattern: str, docker_runner, graders) -> str:
    """Grade ``probe`` as the candidate's ``retry.py``: what it reported from inside its sandbox (raised after
    ``marker:``, matching ``pattern``), read from the checks' messages."""
    result = grade_submission(RETRY, {"retry.py": probe.encode()}, runner=docker_runner, grader=graders.for_task(RETRY))
    messages = " ".join(c.message for c in result.checks)
    found = re.search(rf"{marker}:({pattern})", messages)
    assert found is not None, messages[:2000]
    return found.group(1)
