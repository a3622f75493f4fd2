"""Steps in a started sandbox: files in, each command under a host-side deadline and output cap, the kill.

Touches one sandbox through the Docker engine's exec endpoints, always as the sandbox user; never
creates or removes a sandbox, and never reads results back (``collect``). A failed copy of files is
an engine error raised here, before any candidate code starts.
"""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
import uuid

import docker
import docker.errors

from engine.errors import RunnerError
from engine.models import GRADER_DIR, WORKSPACE, ResourceLimits, RunSpec, Step, StepOutcome
from runners.docker.sandbox import SANDBOX_USER
from runners.docker.streams import feed, pump, raw_socket, tar

KILL_SECONDS = 5.0
#: The first step of a run, behind its files' copy: ``$1`` bytes of stdin into ``tar``, then the step.
#: The shell reports the copy first on stderr, behind the run's marker ``$2``: ``copied``, or ``failed:``
#: and tar's words. Nothing the candidate prints can fake it: its code starts after the report.
_UPLOAD_THEN_EXEC = r"""
if ! failed=$(head -c "$1" | tar -x -f - -C / --no-same-owner --no-same-permissions 2>&1); then
  printf '%s failed: %s\n' "$2" "$failed" >&2
  exit 125
fi
printf '%s copied\n' "$2" >&2
shift 2
unset PWD OLDPWD  # the shell's own: the step gets the allowlisted environment alone
exec "$@"
"""
_COPIED = b" copied\n"


def upload_and_exec(api: docker.APIClient, cid: str, spec: RunSpec) -> tuple[StepOutcome, bool]:
    """Copy the files in and run the first step in one exec (each exec is a runc start: CPU a batch
    shares with the gradings). A shell reads exactly the archive's bytes off stdin into ``tar``,
    then becomes the step, whose stdin is what follows.

    Raises:
        RunnerError: copying the files in failed, or was stopped before it ended.
    """
    step = spec.steps[0]
    argv, archive, marker = upload_then(spec, step.argv)
    wrapped = Step(argv=argv, stdin=archive + step.stdin)
    outcome, alive = exec_step(api, cid, wrapped, spec.limits, stderr_extra=copy_report_size(marker))
    return dataclasses.replace(outcome, stderr=after_copy(outcome.stderr, marker)), alive


def upload_then(spec: RunSpec, argv: tuple[str, ...]) -> tuple[tuple[str, ...], bytes, bytes]:
    """``argv`` behind the copy of ``spec``'s files: the wrapped argv, the archive to feed first, and the
    run's marker (made for this run alone: nothing the candidate prints can fake it)."""
    archive = tar({WORKSPACE: spec.workspace, GRADER_DIR: spec.grader_files})
    marker = f"tasktrial-copy-{uuid.uuid4().hex}"
    return ("sh", "-c", _UPLOAD_THEN_EXEC, "upload", str(len(archive)), marker, *argv), archive, marker.encode()


def copy_report_size(marker: bytes) -> int:
    """The bytes a copy that worked writes to stderr (kept beyond the output cap: they are not the step's)."""
    return len(marker) + len(_COPIED)


def copy_reported(stderr: bytes | bytearray, marker: bytes) -> bool:
    """Whether an ``upload_then`` exec's ``stderr`` holds the whole first line of its copy's report."""
    at = stderr.find(marker)
    return at >= 0 and stderr.find(b"\n", at) >= 0


def after_copy(stderr: bytes, marker: bytes) -> bytes:
    """The step's own stderr: an ``upload_then`` exec's, without the copy's report.

    Raises:
        RunnerError: the copy failed, or the exec was stopped before the copy ended (no report).
    """
    at = stderr.find(marker)
    if at < 0:
        raise RunnerError("copying files into the sandbox did not finish: it was stopped first")
    report = stderr[at + len(marker) :]
    if report.startswith(b" failed: "):
        raise RunnerError(f"copying files into the sandbox failed: {report[len(b' failed: ') :][-500:]!r}")
    if not report.startswith(_COPIED):  # cut at the output cap: report the candidate's stderr as kept
        return stderr[:at]
    return stderr[:at] + report[len(_COPIED) :]


def upload(api: docker.APIClient, cid: str, spec: RunSpec) -> None:
    """Copy ``spec``'s files in with no step.

    Raises:
        RunnerError: copying the files in failed.
    """
    archive = tar({WORKSPACE: spec.workspace, GRADER_DIR: spec.grader_files})
    result, _ = exec_step(
        api,
        cid,
        Step(argv=("tar", "-x", "-f", "-", "-C", "/", "--no-same-owner", "--no-same-permissions"), stdin=archive),
        ResourceLimits(time_seconds=60, output_kb=16),
    )
    if result.exit_code != 0:
        raise RunnerError(f"copying files into the sandbox failed (exit {result.exit_code}): {result.stderr[-500:]!r}")


def run_steps(
    api: docker.APIClient, cid: str, steps: tuple[Step, ...], limits: ResourceLimits, *, alive: bool = True
) -> tuple[list[StepOutcome], bool]:
    """Run ``steps`` in order; returns their outcomes and whether the sandbox is still usable."""
    outcomes: list[StepOutcome] = []
    for step in steps:
        if not alive:
            outcomes.append(StepOutcome(exit_code=None, stderr=b"not run: the sandbox was stopped"))
            continue
        outcome, alive = exec_step(api, cid, step, limits)
        outcomes.append(outcome)
    return outcomes, alive


def exec_step(
    api: docker.APIClient, cid: str, step: Step, limits: ResourceLimits, *, stderr_extra: int = 0
) -> tuple[StepOutcome, bool]:
    """Run one step with the host-side deadline and output cap; returns its outcome and whether the sandbox lives.
    ``stderr_extra`` bytes of stderr more are kept (see ``pump``).

    On a timeout the step's stream is still drained while its processes are
    killed, so a program flooding its output cannot stall the kill.
    """
    exec_id = api.exec_create(cid, list(step.argv), stdin=True, workdir=WORKSPACE, user=SANDBOX_USER)["Id"]
    began = time.monotonic()
    sock = raw_socket(api.exec_start(exec_id, socket=True))
    feeder = threading.Thread(target=feed, args=(sock, step.stdin), daemon=True)
    feeder.start()
    alive = True
    try:
        stdout, stderr, truncated, timed_out = pump(
            sock, began + limits.time_seconds, limits.output_kb * 1024, stderr_extra=stderr_extra
        )
        wall = time.monotonic() - began
        if timed_out:
            drain = threading.Thread(target=pump, args=(sock, time.monotonic() + KILL_SECONDS, 0), daemon=True)
            drain.start()
            alive = kill_processes(api, cid)
            drain.join(KILL_SECONDS)
    finally:
        sock.close()
    exit_code = None if timed_out else _exit_code(api, exec_id)
    return StepOutcome(exit_code, stdout, stderr, wall, timed_out, truncated), alive


def _exit_code(api: docker.APIClient, exec_id: str) -> int | None:
    for _ in range(50):
        info = api.exec_inspect(exec_id)
        if not info.get("Running"):
            return info.get("ExitCode")
        time.sleep(0.01)
    return None


def kill_processes(api: docker.APIClient, cid: str) -> bool:
    """Kill the sandbox user's processes within ``KILL_SECONDS``; kill the container if even that fails.

    Returns whether the container is still usable.
    """
    try:
        exec_id = api.exec_create(cid, ["sh", "-c", "kill -9 -1"], user=SANDBOX_USER)["Id"]
        sock = raw_socket(api.exec_start(exec_id, socket=True))
        try:
            sock.shutdown(socket.SHUT_WR)
            _, _, _, stuck = pump(sock, time.monotonic() + KILL_SECONDS, 0)
        finally:
            sock.close()
        if not stuck:
            return True
    except docker.errors.APIError:
        pass  # typically the pids limit is exhausted (a fork bomb): nothing can start inside
    api.kill(cid)
    return False
