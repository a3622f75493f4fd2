"""The host's side of ``graders/harness/``: the grader-owned programs copied into sandboxes.

One place for what every kind that ships a harness shares: where the harness
lands in a sandbox (under the grader mount, ``engine.models.GRADER_DIR``), the
files it is made of, the report it writes, the per-run report keys and the
signed report the pytest harness writes with them, and what a run that never
reported is called.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from importlib import resources

from engine.digest import tree_digest
from engine.models import GRADER_DIR, RunOutcome, Task

#: The folder, inside the grader mount, that holds the harness (a name no author's file uses).
HARNESS_DIR = ".tasktrial"
#: The harness's report file, read back by the host (never the candidate's stdout).
REPORT = f"{GRADER_DIR}/{HARNESS_DIR}/report.json"
#: The pytest harness (the pytest and mutation kinds): the runner, its config and the bridge to the candidate.
PYTEST = ("pytest_harness.py", "pytest.ini", "pytest_bridge.py")
#: What the candidate's own sandbox gets of the pytest harness in a separate-sandbox run: no test, no report key.
BRIDGE = ("pytest_bridge.py",)
#: The http kind's client.
HTTP = ("http_harness.py",)


def harness_files(names: tuple[str, ...]) -> dict[str, bytes]:
    """The named files of ``graders/harness/``, at their place under the grader mount (``HARNESS_DIR/name``)."""
    root = resources.files("graders").joinpath("harness")
    return {f"{HARNESS_DIR}/{name}": root.joinpath(name).read_bytes() for name in names}


def harness_path(name: str) -> str:
    """Where the harness file ``name`` is in the sandbox, for a step's argv."""
    return f"{GRADER_DIR}/{HARNESS_DIR}/{name}"


def no_report(exit_code: int | None) -> str:
    """Why a run of the harness counts as crashed: it ended before writing its report."""
    return f"the test run ended (exit {exit_code}) before reporting any result"


class ReportKeys:
    """Per-run report keys derived from a secret of this grader's own, so ``grade`` needs no state from ``build_run``."""

    def __init__(self) -> None:
        self._secret = secrets.token_bytes(32)

    def derive(self, task: Task, submission: Mapping[str, bytes], *, purpose: str = "") -> bytes:
        """The key of ``submission``'s run for ``task`` (hex, so it travels as one stdin line); ``purpose``
        tells apart several runs of one submission."""
        message = f"{purpose}\0" if purpose else ""
        message += f"{task.digest}\0{tree_digest(submission)}"
        return hmac.new(self._secret, message.encode(), hashlib.sha256).hexdigest().encode()


def new_key() -> bytes:
    """A fresh per-run report key (hex, so it travels as one stdin line)."""
    return secrets.token_hex(32).encode()


def sign_report(key: bytes, body: bytes) -> bytes:
    """The report file the harness writes: its body and an HMAC of it under the run's key."""
    mac = hmac.new(key, body, hashlib.sha256).hexdigest()
    return json.dumps({"mac": mac, "body": body.decode("utf-8")}).encode()


def read_report(outcome: RunOutcome, key: bytes) -> dict | None:
    """The harness's report if it is there and authentic under ``key``; None otherwise (forged counts as absent)."""
    raw = outcome.collected.get(REPORT)
    if raw is None:
        return None
    try:
        signed = json.loads(raw)
        body = signed["body"].encode("utf-8")
        if not hmac.compare_digest(str(signed["mac"]), hmac.new(key, body, hashlib.sha256).hexdigest()):
            return None
        report = json.loads(body)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return report if isinstance(report, dict) and isinstance(report.get("results"), dict) else None
