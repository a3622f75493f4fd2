"""Runs inside the sandbox: hidden pytest tests against the candidate's code.

Started as ``python3 -I pytest_harness.py MODE REPORT TESTS [HOST:PORT]``. Isolated mode
keeps ``PYTHON*`` variables, the user site and the script's folder off
``sys.path``; an explicit ``-c`` config, ``--rootdir`` and ``--confcutdir``
mean a ``conftest.py``, ``pytest.ini`` or ``pyproject.toml`` shipped in the
submission changes nothing. The report goes to a file the host reads back;
the candidate's stdout is never the results channel.

The report is authenticated: the first line of stdin carries a per-run key,
read before any candidate code loads, and the report is an HMAC-SHA256 of its
body under that key. A submission that writes a report file of its own, or
leaves a process behind to rewrite ours, produces one the host rejects. (Code
running in this very process could still dig the key out of memory: in-process
tests raise the bar, they are not a wall.)

With ``HOST:PORT`` (the default isolation, ``separate-sandbox``) this process
runs in a grader sandbox the candidate's code never enters: ``/workspace``
here is a copy of the submission's files that nothing runs from, it is not
on ``sys.path``, and the candidate's modules are proxies to the candidate's
own sandbox (``pytest_bridge.py``). Nothing the candidate's code does can
reach pytest, this harness or the report. This file is copied into the
sandbox as data: it must only use the standard library and pytest.
"""

import gc
import hashlib
import hmac
import json
import os
import sys
import time

#: When each phase began (seconds since the epoch; the host's clock): ``bench/profile_isolation.py`` reads them.
TIMINGS = {"started": time.time()}
MODE, REPORT, TESTS = sys.argv[1], sys.argv[2], sys.argv[3]
CANDIDATE = sys.argv[4] if len(sys.argv) > 4 else None
HERE = os.path.dirname(os.path.abspath(__file__))
MESSAGE_CAP = 4000


def _read_key():
    key = sys.stdin.buffer.readline().strip()
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)  # nothing else is left on stdin for the candidate's code
    os.close(null)
    return key


import pytest  # noqa: E402  (after argv parsing: nothing of the candidate's is importable yet)

TIMINGS["pytest imported"] = time.time()


class Reporter:
    def __init__(self, sign):
        self._sign = sign
        self.collected = []
        self.results = {}
        self.collect_errors = {}

    def pytest_collection_finish(self, session):
        self.collected = [item.nodeid for item in session.items]
        TIMINGS["collected"] = time.time()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        # Before a failure report is built, collect leftover objects (e.g. asyncio tasks):
        # finalizers running mid-report crash Python 3.11.2's AST constructor. Passing tests skip it.
        if call.excinfo is not None:
            gc.collect()
        yield

    def pytest_collectreport(self, report):
        if report.failed:
            self.collect_errors[report.nodeid] = str(report.longreprtext)[:MESSAGE_CAP]

    def pytest_runtest_logreport(self, report):
        entry = self.results.setdefault(report.nodeid, {"outcome": "pass", "message": "", "duration": 0.0})
        entry["duration"] += float(report.duration or 0.0)
        if report.when == "call":
            if report.failed:
                entry["outcome"] = "fail"
            elif report.skipped:
                entry["outcome"] = "skipped"
        elif report.failed:
            entry["outcome"] = "error"
        elif report.skipped and report.when == "setup":
            entry["outcome"] = "skipped"
        if report.failed or report.skipped:
            entry["message"] = (entry["message"] + str(report.longreprtext))[:MESSAGE_CAP]

    def pytest_sessionfinish(self, session, exitstatus):
        TIMINGS["finished"] = time.time()
        document = {
            "mode": MODE,
            "collected": self.collected,
            "results": self.results,
            "collect_errors": self.collect_errors,
            "exitstatus": int(exitstatus),
            "timings": TIMINGS,
        }
        body = json.dumps(document).encode("utf-8")
        with open(REPORT, "w", encoding="utf-8") as fh:
            json.dump({"mac": self._sign(body), "body": body.decode("utf-8")}, fh)


def _load_bridge():
    """The bridge module beside this file, loaded by path (this folder is not on ``sys.path``)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("tasktrial_bridge", os.path.join(HERE, "pytest_bridge.py"))
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {HERE}/pytest_bridge.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def main():
    key = _read_key()
    reporter = Reporter(lambda body: hmac.new(key, body, hashlib.sha256).hexdigest())
    # A submission could ship a *.dist-info declaring a pytest plugin: load none automatically.
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    os.chdir("/workspace")
    if CANDIDATE is None:
        sys.path.insert(0, "/workspace")
    else:
        bridge = _load_bridge()
        host, _, port = CANDIDATE.rpartition(":")
        bridge.install_finder(bridge.connect(host, int(port)), "/workspace")
        TIMINGS["connected"] = time.time()
    args = [
        TESTS,
        "-c",
        os.path.join(HERE, "pytest.ini"),
        "--rootdir=/grader",
        "--confcutdir=/grader",
        "-p",
        "no:cacheprovider",
        "-q",
        "--no-header",
        "-rN",
        "--tb=short",
    ]
    if MODE == "collect":
        args.append("--collect-only")
    return pytest.main(args, plugins=[reporter])


if __name__ == "__main__":
    sys.exit(main())
