"""The Docker runner against a real engine: every limit enforced, nothing leaks in or out."""

from __future__ import annotations

import ast
import threading
import uuid
from typing import Any

import pytest

from engine.errors import ImageMissing, RunnerError
from engine.models import ResourceLimits, RunOutcome, RunSpec, Step
from runners import docker as backend
from runners import images

pytestmark = pytest.mark.docker

LIMITS = ResourceLimits(time_seconds=5, memory_mb=64, cpus=1, pids=32, disk_mb=8, output_kb=16)
TEST_LABEL = "tasktrial.test"
# How long past its own time limit a run may take to end: container start, kill, collection and removal.
SLACK_SECONDS = 10


def spec(*steps: Step, limits: ResourceLimits = LIMITS, **fields) -> RunSpec:
    labels = {TEST_LABEL: uuid.uuid4().hex}
    return RunSpec(environment="python", limits=limits, steps=steps, labels=labels, **fields)


def python(code: str, stdin: bytes = b"") -> Step:
    return Step(("python3", "-c", code), stdin=stdin)


def run(runner, code: str, *, stdin: bytes = b"", limits: ResourceLimits = LIMITS, **fields) -> RunOutcome:
    return run_bounded(runner, spec(python(code, stdin), limits=limits, **fields))


def run_bounded(runner, run_spec: RunSpec) -> RunOutcome:
    """Run ``run_spec``, failing (and removing its containers) if it does not end within its limits plus slack."""
    result: dict[str, Any] = {}

    def target():
        try:
            result["outcome"] = runner.run(run_spec)
        except Exception as exc:  # noqa: BLE001 - re-raised in the test's thread
            result["error"] = exc

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    bound = run_spec.limits.time_seconds * len(run_spec.steps) + SLACK_SECONDS
    worker.join(bound)
    if worker.is_alive():
        label = f"{TEST_LABEL}={run_spec.labels[TEST_LABEL]}"
        for container in runner._client.api.containers(all=True, filters={"label": label}):
            runner._client.api.remove_container(container["Id"], force=True)
        worker.join(30)
        pytest.fail(f"the run did not end within {bound} s (its containers were removed by the test)")
    if "error" in result:
        raise result["error"]
    return result["outcome"]


def test_reports_exit_code_stdout_and_stderr(docker_runner):
    outcome = run(docker_runner, "import sys; print('hello'); print('oops', file=sys.stderr); sys.exit(3)")
    [step] = outcome.steps
    assert (step.exit_code, step.stdout, step.stderr) == (3, b"hello\n", b"oops\n")
    assert not step.timed_out and not step.output_truncated and not outcome.oom_killed
    assert outcome.backend == "docker"
    assert outcome.image.startswith("sha256:")


def test_stdin_is_delivered(docker_runner):
    data = "naïve input\n".encode() * 1000
    outcome = run(docker_runner, "import sys; data = sys.stdin.buffer.read(); print(len(data), data[:12])", stdin=data)
    assert outcome.steps[0].stdout == f"{len(data)} {data[:12]!r}\n".encode()


def test_files_too_big_for_the_workspace_are_an_engine_error_not_the_candidates_outcome(docker_runner):
    """The copy shares the first step's exec: its failure must still raise, never run candidate code."""
    with pytest.raises(RunnerError, match="copying files into the sandbox failed"):
        run(docker_runner, "print('ran')", workspace={"big.bin": b"\0" * (LIMITS.disk_mb + 1) * 1024 * 1024})


def test_the_candidate_cannot_fake_a_failed_copy(docker_runner):
    """Exit 125 with copy-failure words on stderr is the candidate's own outcome, not an engine error."""
    outcome = run(docker_runner, "import sys; print('tasktrial-copy- failed: nope', file=sys.stderr); sys.exit(125)")
    assert outcome.steps[0].exit_code == 125


def test_a_program_that_never_reads_stdin_still_ends(docker_runner):
    outcome = run(docker_runner, "print('ignored')", stdin=b"x" * 2_000_000)
    assert outcome.steps[0].exit_code == 0


def test_files_arrive_and_steps_share_the_workspace(docker_runner):
    outcome = run_bounded(
        docker_runner,
        spec(
            python("open('made.txt', 'w').write(open('/workspace/pkg/in.txt').read() + open('/grader/key').read())"),
            python("import os; print(os.getcwd(), open('made.txt').read())"),
            workspace={"pkg/in.txt": b"from-workspace "},
            grader_files={"key": b"from-grader"},
        ),
    )
    assert [s.exit_code for s in outcome.steps] == [0, 0]
    assert outcome.steps[1].stdout == b"/workspace from-workspace from-grader\n"


def test_a_memory_bomb_is_oom_killed(docker_runner):
    outcome = run(docker_runner, "blocks = []\nwhile True:\n    blocks.append(bytearray(8 * 1024 * 1024))")
    assert outcome.oom_killed is True
    assert outcome.steps[0].exit_code == 137
    assert not outcome.timed_out


def test_an_infinite_loop_times_out_within_the_limit(docker_runner):
    limits = ResourceLimits(time_seconds=2, memory_mb=64, pids=32, disk_mb=8, output_kb=16)
    outcome = run(docker_runner, "while True:\n    pass", limits=limits)
    [step] = outcome.steps
    assert step.timed_out is True and step.exit_code is None
    assert 2 <= step.wall_seconds < 2 + 3
    assert outcome.wall_seconds < 2 + 3 + 5  # container start and removal included


def test_a_fork_bomb_is_contained_and_the_run_ends(docker_runner):
    limits = ResourceLimits(time_seconds=3, memory_mb=128, pids=32, disk_mb=8, output_kb=16)
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    outcome = run(docker_runner, bomb, limits=limits)
    assert outcome.timed_out
    assert outcome.wall_seconds < 3 + SLACK_SECONDS


def test_the_pids_limit_stops_process_creation(docker_runner):
    code = (
        "import os, time\n"
        "children = 0\n"
        "try:\n"
        "    for _ in range(200):\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(30)\n"
        "            os._exit(0)\n"
        "        children += 1\n"
        "except OSError as exc:\n"
        "    print('stopped', children, exc.errno)\n"
    )
    outcome = run(docker_runner, code)
    out = outcome.steps[0].stdout.decode()
    assert out.startswith("stopped"), out
    assert int(out.split()[1]) < 32


def test_the_network_is_unreachable(docker_runner):
    code = (
        "import errno, socket, time\n"
        "began = time.monotonic()\n"
        "try:\n"
        "    socket.create_connection(('10.255.255.1', 80), timeout=4)\n"
        "    print('connected')\n"
        "except OSError as exc:\n"
        "    print(errno.errorcode.get(exc.errno, exc), round(time.monotonic() - began, 2))\n"
    )
    name, elapsed = run(docker_runner, code).steps[0].stdout.decode().split()
    assert name in ("ENETUNREACH", "EHOSTUNREACH")
    assert float(elapsed) < 1.0  # refused at once, not a timeout


def test_only_loopback_exists(docker_runner):
    outcome = run(docker_runner, "import socket; print(sorted(n for _, n in socket.if_nameindex()))")
    assert outcome.steps[0].stdout == b"['lo']\n"


def test_an_output_flood_is_truncated_to_the_cap_and_flagged(docker_runner):
    code = "import sys\nsys.stdout.write('x' * 3_000_000)\nsys.stderr.write('y' * 3_000_000)"
    [step] = run(docker_runner, code).steps
    assert step.exit_code == 0 and not step.timed_out
    assert step.stdout == b"x" * 16 * 1024
    assert step.stderr == b"y" * 16 * 1024
    assert step.output_truncated is True


def test_output_at_the_cap_is_not_flagged(docker_runner):
    [step] = run(docker_runner, "import sys; sys.stdout.write('x' * 16 * 1024)").steps
    assert len(step.stdout) == 16 * 1024 and step.output_truncated is False


def test_a_flood_that_never_stops_ends_at_the_time_limit(docker_runner):
    limits = ResourceLimits(time_seconds=3, memory_mb=64, pids=32, disk_mb=8, output_kb=16)
    outcome = run(docker_runner, "import sys\nwhile True:\n    sys.stdout.write('x' * 10000)", limits=limits)
    [step] = outcome.steps
    assert step.timed_out and step.output_truncated
    assert len(step.stdout) == 16 * 1024
    assert outcome.wall_seconds < 3 + SLACK_SECONDS


def test_the_root_file_system_is_read_only(docker_runner):
    code = (
        "import errno\n"
        "for path in ('/etc/evil', '/usr/bin/evil', '/evil', '/usr/lib/python3/dist-packages/evil.py'):\n"
        "    try:\n"
        "        open(path, 'w')\n"
        "        print(path, 'written')\n"
        "    except OSError as exc:\n"
        "        print(path, errno.errorcode[exc.errno])\n"
    )
    lines = run(docker_runner, code).steps[0].stdout.decode().splitlines()
    assert len(lines) == 4
    assert all(line.endswith("EROFS") for line in lines), lines


def test_runs_as_nobody(docker_runner):
    outcome = run(docker_runner, "import os; print(os.getuid(), os.geteuid(), os.getgid(), os.getgroups())")
    assert outcome.steps[0].stdout == b"65534 65534 65534 [65534]\n"


def test_no_capabilities_and_no_new_privileges(docker_runner):
    status = run(docker_runner, "print(open('/proc/self/status').read())").steps[0].stdout.decode()
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    assert fields["CapEff"].strip() == "0000000000000000"
    assert fields["CapPrm"].strip() == "0000000000000000"
    assert fields["NoNewPrivs"].strip() == "1"
    assert fields["Seccomp"].strip() == "2"  # the default profile filters system calls


def test_the_host_environment_does_not_leak_in(docker_runner, monkeypatch):
    monkeypatch.setenv("TASKTRIAL_TEST_SECRET", "s3cret-token-value")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-for-candidates")
    outcome = run(docker_runner, "import os; print(sorted(os.environ.items()))")
    text = outcome.steps[0].stdout.decode()
    assert "s3cret-token-value" not in text and "not-for-candidates" not in text
    assert "TASKTRIAL_TEST_SECRET" not in text and "AWS_SECRET_ACCESS_KEY" not in text
    names = {name for name, _ in ast.literal_eval(text)}
    assert names <= set(backend.ENVIRONMENT) | {"HOSTNAME"}  # the allowlist, plus what Docker always sets


def test_writing_more_than_disk_mb_into_the_workspace_fails(docker_runner):
    code = (
        "import errno\n"
        "written = 0\n"
        "try:\n"
        "    for index in range(6):\n"
        "        with open(f'/workspace/part{index}', 'wb') as fh:\n"
        "            for _ in range(3):\n"
        "                fh.write(b'x' * 1024 * 1024)\n"
        "                fh.flush()\n"
        "                written += 1\n"
        "    print('wrote', written)\n"
        "except OSError as exc:\n"
        "    print('stopped', written, errno.errorcode[exc.errno])\n"
    )
    words = run(docker_runner, code).steps[0].stdout.decode().split()
    assert words[0] == "stopped", words
    assert int(words[1]) <= 8
    assert words[2] in ("ENOSPC", "EFBIG")


def test_one_file_larger_than_disk_mb_fails(docker_runner):
    code = (
        "import errno\n"
        "try:\n"
        "    open('/tmp/big', 'wb').write(b'x' * 12 * 1024 * 1024)\n"
        "    print('written')\n"
        "except OSError as exc:\n"
        "    print(errno.errorcode[exc.errno])\n"
    )
    assert run(docker_runner, code).steps[0].stdout.strip() in (b"EFBIG", b"ENOSPC")


def test_collected_files_are_read_back(docker_runner):
    outcome = run(
        docker_runner,
        "open('/workspace/out/result.txt', 'w').write('done')\n",
        workspace={"out/.keep": b""},
        collect=("/workspace/out/result.txt", "/workspace/absent.txt"),
    )
    assert dict(outcome.collected) == {"/workspace/out/result.txt": b"done"}


def test_a_symlink_at_a_collect_path_is_not_followed(docker_runner):
    code = "import os\nos.symlink('/etc/passwd', '/grader/report.json')\nos.symlink('/etc', '/workspace/etc')"
    outcome = run(docker_runner, code, collect=("/grader/report.json", "/workspace/etc"))
    assert outcome.steps[0].exit_code == 0
    assert "/grader/report.json" not in outcome.collected
    assert not any(b"root:" in content for content in outcome.collected.values())


def test_a_missing_image_raises_image_missing(docker_runner, monkeypatch):
    unbuilt = images.RuntimeImage("python", f"FROM debian:bookworm-slim\n# never built {uuid.uuid4().hex}\n")
    monkeypatch.setattr(images, "runtime_image", lambda environment: unbuilt)
    with pytest.raises(ImageMissing, match=unbuilt.tag.replace(".", r"\.")):
        docker_runner.run(spec(python("print(1)")))


def test_no_state_survives_between_runs(docker_runner):
    first = run(docker_runner, "open('/tmp/state', 'w').write('x'); open('/workspace/state', 'w').write('x')")
    assert first.steps[0].exit_code == 0
    second = run(docker_runner, "import os; print(os.path.exists('/tmp/state'), os.path.exists('/workspace/state'))")
    assert second.steps[0].stdout == b"False False\n"


def test_each_run_removes_its_container(docker_runner, docker_client):
    run_spec = spec(python("print(1)"))
    run_bounded(docker_runner, run_spec)
    label = f"{TEST_LABEL}={run_spec.labels[TEST_LABEL]}"
    assert labelled(docker_client, label) == set()


def labelled(client, label: str) -> set[str]:
    """Ids of the containers carrying ``label`` (the low-level list: no per-container inspect to race with removal)."""
    return {c["Id"] for c in client.api.containers(all=True, filters={"label": label})}


def test_the_counters_are_read(docker_runner):
    outcome = run(docker_runner, "data = bytearray(20 * 1024 * 1024)\nsum(range(10**6))")
    assert outcome.peak_memory_bytes is not None and outcome.peak_memory_bytes >= 20 * 1024 * 1024
    assert outcome.cpu_seconds is not None and outcome.cpu_seconds > 0


def test_a_worker_restarted_with_its_predecessors_pid_reaps_the_predecessors_sandboxes(docker_client):
    """In a container restarted by Docker, the new worker keeps the host name and often gets the old pid."""
    import os

    host = f"test-host-{uuid.uuid4().hex[:8]}"
    image = images.runtime_image("python").tag
    predecessor = backend.DockerRunner(docker_client, owner=f"{host}:{os.getpid()}")
    live = backend.DockerRunner(docker_client, owner=f"{host}:1")  # pid 1 is alive
    orphan, kept = predecessor._sandboxes.create(spec(), image), live._sandboxes.create(spec(), image)
    try:
        successor = backend.DockerRunner(docker_client, owner=f"{host}:{os.getpid()}")
        assert successor.reap_orphans(host=host) == 1
        remaining = labelled(docker_client, backend.OWNER_LABEL)
        assert orphan not in remaining and kept in remaining
    finally:
        for container in (orphan, kept):
            if container in labelled(docker_client, backend.OWNER_LABEL):
                docker_client.api.remove_container(container, force=True)


def test_reaping_again_while_running_spares_the_runners_own_sandboxes(docker_client):
    """Workers reap now and then (a sandbox being made as the predecessor died appears late):
    a pass must never take the running worker's own sandboxes, stamped with the same pid."""
    import os

    host = f"test-host-{uuid.uuid4().hex[:8]}"
    image = images.runtime_image("python").tag
    predecessor = backend.DockerRunner(docker_client, owner=f"{host}:{os.getpid()}")
    orphan = predecessor._sandboxes.create(spec(), image)
    runner = backend.DockerRunner(docker_client, owner=f"{host}:{os.getpid()}")
    own = runner._sandboxes.create(spec(), image)
    try:
        assert runner.reap_orphans(host=host) == 1
        assert runner.reap_orphans(host=host) == 0
        remaining = labelled(docker_client, backend.OWNER_LABEL)
        assert orphan not in remaining and own in remaining
    finally:
        for container in (orphan, own):
            if container in labelled(docker_client, backend.OWNER_LABEL):
                docker_client.api.remove_container(container, force=True)


def test_remove_own_takes_this_owners_sandboxes_in_use_or_not_and_nothing_else(docker_client):
    """``serve`` stopping mid-grading removes its own sandboxes (started ahead or in use), never another's."""
    host = f"test-host-{uuid.uuid4().hex[:8]}"
    image = images.runtime_image("python").tag
    runner = backend.DockerRunner(docker_client, owner=f"{host}:1", warm=1)
    other = backend.DockerRunner(docker_client, owner=f"{host}:2")
    in_use, kept = runner._sandboxes.create(spec(), image), other._sandboxes.create(spec(), image)
    try:
        runner.prepare(spec())  # one started ahead, too
        runner.close()  # removes the one started ahead, but not the one in use
        assert in_use in labelled(docker_client, backend.OWNER_LABEL)
        assert runner.remove_own() == 1
        remaining = labelled(docker_client, backend.OWNER_LABEL)
        assert in_use not in remaining and kept in remaining
        with pytest.raises(RunnerError, match="stopping"):  # a grading still under way makes no new sandbox
            runner._sandboxes.create(spec(), image)
    finally:
        for container in (in_use, kept):
            if container in labelled(docker_client, backend.OWNER_LABEL):
                docker_client.api.remove_container(container, force=True)


@pytest.mark.docker
def test_the_warm_path_uses_each_sandbox_once_and_leaves_nothing(docker_client):
    """Started ahead and removed afterwards in the background, but still one fresh sandbox per run."""
    from runners.docker import DockerRunner

    runner = DockerRunner(docker_client, warm=1)
    try:
        leave = RunSpec(
            environment="python",
            limits=ResourceLimits(time_seconds=10),
            steps=(Step(("sh", "-c", "echo mark > /tmp/left-behind; hostname")),),
        )
        look = RunSpec(
            environment="python",
            limits=ResourceLimits(time_seconds=10),
            steps=(Step(("sh", "-c", "cat /tmp/left-behind 2>/dev/null; hostname")),),
        )
        first, second, third = runner.run(leave), runner.run(look), runner.run(look)
        hosts = [o.steps[0].stdout.strip().splitlines()[-1] for o in (first, second, third)]
        assert len(set(hosts)) == 3, "every run gets its own container"
        assert b"mark" not in second.steps[0].stdout and b"mark" not in third.steps[0].stdout
    finally:
        runner.close()  # the autouse fixture then proves no sandbox, idle or used, is left
