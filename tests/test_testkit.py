"""The helpers tests and benchmarks share (testkit/) keep their promises."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

from engine.models import ResourceLimits
from testkit.raw_docker import PYTEST, raw_docker_run
from testkit.services import stop_groups

#: Ignores SIGTERM; says so once it does.
STUBBORN = (
    "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ready', flush=True)\ntime.sleep(60)"
)


def test_the_raw_peer_runs_with_the_sandbox_limit_set_and_read_only_mounts():
    limits = ResourceLimits(memory_mb=200, cpus=0.5, pids=40, disk_mb=16)
    argv = raw_docker_run(
        "img",
        [*PYTEST, "/grader"],
        limits=limits,
        mounts={Path("/w"): "/workspace"},
        workdir="/workspace",
        env={"A": "1"},
    )
    pairs = set(itertools.pairwise(argv))
    assert argv[:3] == ["docker", "run", "--rm"]
    assert {("--network", "none"), ("--cap-drop", "ALL"), ("--security-opt", "no-new-privileges")} <= pairs
    assert {("--memory", "200m"), ("--memory-swap", "200m"), ("--cpus", "0.5"), ("--pids-limit", "40")} <= pairs
    assert {("--tmpfs", "/tmp:rw,nosuid,nodev,size=16m"), ("--user", "65534:65534")} <= pairs
    assert {("-v", "/w:/workspace:ro"), ("-w", "/workspace"), ("-e", "A=1")} <= pairs
    assert "--read-only" in argv
    assert argv[argv.index("img") :] == ["img", *PYTEST, "/grader"]


def test_stop_groups_kills_only_what_ignores_sigterm():
    polite = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    stubborn = subprocess.Popen([sys.executable, "-c", STUBBORN], start_new_session=True, stdout=subprocess.PIPE)
    assert stubborn.stdout is not None and stubborn.stdout.readline() == b"ready\n"
    assert stop_groups(polite, stubborn, timeout=1) == [stubborn]
    assert polite.returncode is not None and stubborn.returncode is not None
    stubborn.stdout.close()
    assert stop_groups(polite) == []  # a group already gone is not an error
