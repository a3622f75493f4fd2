"""Isolated steps (``RunSpec.isolated_steps``): a fresh sandbox per step, against the real engine."""

from __future__ import annotations

import uuid

import pytest

from engine.models import ResourceLimits, RunSpec, Step
from runners.docker import DockerRunner
from tests.runners.test_docker_runner import LIMITS, TEST_LABEL, labelled, run_bounded

pytestmark = pytest.mark.docker

LEAVE = (
    "sh",
    "-c",
    (
        "cat data.txt; echo left > /tmp/mark; echo left > /workspace/mark; echo left > /dev/shm/mark;"
        " (python3 -c 'import time; time.sleep(60)' hoarder-daemon &) ; hostname"
    ),
)
LOOK = (
    "sh",
    "-c",
    (
        "cat data.txt; cat /tmp/mark /workspace/mark /dev/shm/mark 2>/dev/null;"
        " grep -l 'hoarder-daemo[n]' /proc/[0-9]*/cmdline 2>/dev/null | wc -l; hostname"
    ),
)


def isolated(*steps: Step, limits: ResourceLimits = LIMITS) -> RunSpec:
    return RunSpec(
        environment="python",
        limits=limits,
        steps=steps,
        workspace={"data.txt": b"files arrive\n"},
        labels={TEST_LABEL: uuid.uuid4().hex},
        isolated_steps=True,
    )


@pytest.mark.parametrize("warm", [0, 1], ids=["cold", "warm"])
def test_each_step_gets_a_fresh_sandbox_with_the_same_files_and_nothing_left_by_the_last(docker_client, warm):
    runner = DockerRunner(docker_client, warm=warm)
    try:
        run_spec = isolated(Step(LEAVE), Step(LOOK), Step(LOOK))
        outcome = run_bounded(runner, run_spec)
    finally:
        runner.close()
    lines = [step.stdout.decode().split("\n") for step in outcome.steps]
    assert [step.exit_code for step in outcome.steps] == [0, 0, 0]
    assert all(out[0] == "files arrive" for out in lines)
    assert lines[1][1] == lines[2][1] == "0", "no file and no process of an earlier step is there"
    assert len({out[-2] for out in lines}) == 3, "three containers"
    assert labelled(docker_client, f"{TEST_LABEL}={run_spec.labels[TEST_LABEL]}") == set()


def test_a_step_that_times_out_does_not_stop_the_next_and_counters_add_up(docker_runner):
    limits = ResourceLimits(time_seconds=2, memory_mb=64, cpus=1, pids=32, disk_mb=8, output_kb=16)
    outcome = run_bounded(
        docker_runner, isolated(Step(("sleep", "30")), Step(("python3", "-c", "print(7)")), limits=limits)
    )
    first, second = outcome.steps
    assert first.timed_out and first.exit_code is None
    assert (second.exit_code, second.stdout) == (0, b"7\n")
    assert outcome.timed_out and outcome.cpu_seconds is not None and outcome.cpu_seconds > 0


def test_isolated_steps_collect_nothing_and_run_no_service():
    with pytest.raises(ValueError, match="isolated steps"):
        RunSpec(environment="python", limits=LIMITS, steps=(), collect=("/tmp/x",), isolated_steps=True)
