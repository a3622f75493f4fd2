"""A service run: the candidate's service in its sandbox, a client in a second one, on a private network.

Makes the trio (``make``: network, candidate's sandbox as ``SERVICE_HOST``, client's sandbox) and
runs it (``serve``); taking it from the warm pool and removing it stay with the runner. Touches the
two sandboxes through ``steps`` and ``collect``, and the service's own exec. The candidate's sandbox
never receives the client's files, and the service is probed from the client's side only.

A ``loopback`` service (the pytest kind's bridge) gets no network at all: the client's sandbox has a
loopback alone, on which ``SERVICE_HOST`` names the address, and the candidate's joins that network
namespace (Docker's ``container:`` mode), so neither reaches anything but the other, and no network
is made or removed per run. Made on the run's path (``serve_made_now``), the client's sandbox starts
first and its first step runs while the candidate's starts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor

import docker
import docker.errors

from engine.errors import RunnerError
from engine.models import (
    SERVICE_HOST,
    WORKSPACE,
    ResourceLimits,
    RunOutcome,
    RunSpec,
    Service,
    ServiceOutcome,
    Step,
    StepOutcome,
)
from runners.docker.collect import finish
from runners.docker.sandbox import SANDBOX_USER, Sandboxes
from runners.docker.steps import (
    after_copy,
    copy_report_size,
    copy_reported,
    exec_step,
    kill_processes,
    run_steps,
    upload,
    upload_and_exec,
    upload_then,
)
from runners.docker.streams import feed, pump, raw_socket

PROBE_INTERVAL_SECONDS = 0.1
#: How long a killed service's output stream may take to end before it is killed harder.
SERVICE_END_SECONDS = 1.0
#: How long a client that ended first waits for the service's copy of files to report (it takes well under a second).
COPY_SECONDS = 30.0
# TCP connects from the client to the service; host and port come as arguments, never spliced in.
# One probe exec tries every 50 ms until its ``timeout`` (execs cost far more than connects).
_PROBE_SCRIPT = 'while ! (exec 3<>"/dev/tcp/$0/$1") 2>/dev/null; do sleep 0.05; done'


class ServiceProcess:
    """The candidate's service: a detached exec whose output a thread reads, with a cap, until it ends."""

    def __init__(
        self,
        api: docker.APIClient,
        exec_id: str,
        sock: socket.socket,
        *,
        deadline: float,
        cap: int,
        marker: bytes | None,
    ):
        self._api = api
        self._exec_id = exec_id
        self._sock = sock
        self._marker = marker
        self._stop = threading.Event()
        self._copy_known = threading.Event()  # the copy's report was read, or the stream ended without one
        if marker is None:
            self._copy_known.set()
        self._result: tuple[bytes, bytes, bool, bool] = (b"", b"", False, False)
        self._reader = threading.Thread(target=self._read, args=(deadline, cap), daemon=True)
        self.began = time.monotonic()
        self._reader.start()

    @classmethod
    def start(cls, api: docker.APIClient, cid: str, spec: RunSpec, lifetime: float, *, copy: bool) -> ServiceProcess:
        """Start ``spec.service`` in ``cid``, behind the copy of ``spec``'s files when ``copy`` (``upload_then``,
        one exec less); its output is kept up to ``spec.limits.output_kb`` per stream."""
        assert spec.service is not None
        argv, archive, marker = spec.service.argv, b"", None
        if copy:
            argv, archive, marker = upload_then(spec, argv)
        exec_id = api.exec_create(cid, list(argv), stdin=True, workdir=WORKSPACE, user=SANDBOX_USER)["Id"]
        sock = raw_socket(api.exec_start(exec_id, socket=True))
        threading.Thread(target=feed, args=(sock, archive), daemon=True).start()  # its output is read meanwhile
        deadline = time.monotonic() + lifetime
        return cls(api, exec_id, sock, deadline=deadline, cap=spec.limits.output_kb * 1024, marker=marker)

    def _read(self, deadline: float, cap: int) -> None:
        try:
            with contextlib.suppress(OSError):
                extra = 0 if self._marker is None else copy_report_size(self._marker)
                self._result = pump(
                    self._sock, deadline, cap, stop=self._stop, on_stderr=self._heard, stderr_extra=extra
                )
        finally:
            self._copy_known.set()

    def _heard(self, stderr: bytearray) -> None:
        if self._marker is not None and not self._copy_known.is_set() and copy_reported(stderr, self._marker):
            self._copy_known.set()

    def copy_ended(self, wait: float) -> None:
        """Wait up to ``wait`` seconds for the copy of the files to report (a client may end before it does:
        stopping the service then would hide a failed copy behind a verdict)."""
        self._copy_known.wait(wait)

    def exit_code(self) -> int | None:
        """The exit code once the service has ended; None while it runs."""
        info = self._api.exec_inspect(self._exec_id)
        return None if info.get("Running") else info.get("ExitCode")

    def ended(self, wait: float) -> bool:
        """Whether the service's output stream has ended (its process is gone), waiting up to ``wait`` seconds."""
        self._reader.join(timeout=wait)
        return not self._reader.is_alive()

    def stop(self) -> tuple[bytes, bytes, bool]:
        """Stop reading (the caller has killed the service) and return ``(stdout, stderr, truncated)``, the
        service's own stderr without the copy's report.

        Raises:
            RunnerError: the copy of the files failed, or the service was stopped before it ended.
        """
        self._reader.join(timeout=5)
        self._stop.set()
        self._reader.join(timeout=5)
        self._sock.close()
        stdout, stderr, truncated, _ = self._result
        return stdout, stderr if self._marker is None else after_copy(stderr, self._marker), truncated


def make(sandboxes: Sandboxes, spec: RunSpec, image: str, client_image: str) -> tuple[str, list[str]]:
    """A new private network with the candidate's sandbox (as ``SERVICE_HOST``) and the client's on it.

    A ``loopback`` service has no network (returned as ""): the candidate's sandbox shares the client's loopback.

    Raises:
        RunnerError: a sandbox could not be made (what was made is removed).
    """
    assert spec.client is not None and spec.service is not None
    run_id = uuid.uuid4().hex
    if spec.service.loopback:
        # One after the other (the candidate's joins the client's started sandbox), yet sooner than a
        # network and two sandboxes on it: a start on a bridge network costs several starts on none.
        client = sandboxes.create(spec.client, client_image, run_id=run_id, aliases=(SERVICE_HOST,))
        try:
            return "", [sandboxes.create(spec, image, run_id=run_id, joins=client), client]
        except RunnerError:
            sandboxes.remove_all([client], "")
            raise
    network = sandboxes.create_network(run_id, spec)
    containers: list[str] = []
    # Both sandboxes start at once: each start is most of a short run's time.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="tasktrial-service-start") as starting:
        made = [
            starting.submit(sandboxes.create, spec, image, run_id=run_id, network=network, aliases=(SERVICE_HOST,)),
            starting.submit(sandboxes.create, spec.client, client_image, run_id=run_id, network=network),
        ]
        failures = []
        for future in made:
            try:
                containers.append(future.result())
            except RunnerError as exc:
                failures.append(exc)
    if failures:
        sandboxes.remove_all(containers, network)
        raise failures[0]
    return network, containers


def serve(
    api: docker.APIClient, candidate: str, client: str, spec: RunSpec, image_ids: tuple[str, str], started: float
) -> RunOutcome:
    """Run the service run in its two started sandboxes: the candidate's steps and service, then the client's."""
    assert spec.service is not None and spec.client is not None
    if not spec.service.probe and not spec.steps and spec.client.steps:
        return _serve_at_once(api, candidate, client, spec, image_ids, started)
    process = None
    # The client's files go in while the candidate's steps run and its service starts.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tasktrial-client-upload") as uploading:
        client_upload = uploading.submit(upload, api, client, spec.client)
        upload(api, candidate, spec)
        outcomes, alive = run_steps(api, candidate, spec.steps, spec.limits)
        if alive and all(o.exit_code == 0 for o in outcomes):
            client_time = spec.client.limits.time_seconds * len(spec.client.steps)
            lifetime = spec.service.ready_timeout_seconds + client_time + 60
            process = ServiceProcess.start(api, candidate, spec, lifetime, copy=False)
        client_upload.result()
    client_began = time.monotonic()
    client_steps: list[StepOutcome] = []
    client_alive = True
    if process is None:
        service = ServiceOutcome(ready=False)
        reason = b"not run: the service was not started because a step before it failed"
        client_steps = [StepOutcome(exit_code=None, stderr=reason) for _ in spec.client.steps]
    else:
        ready, ready_seconds = True, None
        if spec.service.probe:
            ready, ready_seconds = _await_ready(api, client, process, spec.service)
        if ready:
            client_steps, client_alive = run_steps(api, client, spec.client.steps, spec.client.limits)
        else:
            reason = b"not run: the service never became ready"
            client_steps = [StepOutcome(exit_code=None, stderr=reason) for _ in spec.client.steps]
        exit_code = process.exit_code()
        if not spec.service.probe and exit_code is not None:
            ready = False  # it ended before the client was done with it (the client judged the rest)
        alive = kill_processes(api, candidate)
        stdout, stderr, truncated = process.stop()
        service = ServiceOutcome(ready, ready_seconds, exit_code, stdout, stderr, truncated)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tasktrial-client-finish") as finishing:
        client_outcome = finishing.submit(
            finish, api, client, spec.client, image_ids[1], client_began, client_steps, client_alive
        )
        candidate_outcome = finish(
            api, candidate, spec, image_ids[0], started, outcomes, alive, service=service, client=None
        )
        return dataclasses.replace(candidate_outcome, client=client_outcome.result())


def serve_made_now(
    sandboxes: Sandboxes,
    spec: RunSpec,
    image: str,
    client_image: str,
    image_ids: tuple[str, str],
    started: float,
    made: list[str],
) -> RunOutcome:
    """A loopback service run with no sandbox started ahead: the client's pytest starts while the
    candidate's sandbox starts beside it (the harness connects, retrying), instead of after it.

    Each sandbox is put in ``made`` once it exists (the candidate's ahead of the client's): the caller removes them.

    Raises:
        RunnerError: a sandbox could not be made (the client's step is stopped at once).
    """
    assert spec.client is not None
    run_id = uuid.uuid4().hex
    client = sandboxes.create(spec.client, client_image, run_id=run_id, aliases=(SERVICE_HOST,))
    made.append(client)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tasktrial-service-start") as making:
        candidate = making.submit(sandboxes.create, spec, image, run_id=run_id, joins=client)
        try:
            return _serve_at_once(sandboxes.api, candidate, client, spec, image_ids, started)
        finally:
            with contextlib.suppress(RunnerError):
                made.insert(0, candidate.result())


def _serve_at_once(
    api: docker.APIClient,
    candidate: str | Future[str],
    client: str,
    spec: RunSpec,
    image_ids: tuple[str, str],
    started: float,
) -> RunOutcome:
    """A service nobody probes and no step precedes: the client's files ride in its first step, which
    starts while the candidate's files go in and its service starts (the client connects, retrying).

    ``candidate`` may still be starting (a future of its id).
    """
    assert spec.service is not None and spec.client is not None
    client_began = time.monotonic()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tasktrial-client") as running:
        first = running.submit(upload_and_exec, api, client, spec.client)
        if isinstance(candidate, Future):
            try:
                candidate = candidate.result()
            except RunnerError:
                with contextlib.suppress(docker.errors.APIError):  # its step would wait for a sandbox that
                    api.kill(client)  # never serves (the client goes anyway)
                raise
        client_time = spec.client.limits.time_seconds * len(spec.client.steps)
        lifetime = spec.service.ready_timeout_seconds + client_time + 60
        # The candidate's files ride in the service's exec, as the client's in its first step (one exec less).
        process = ServiceProcess.start(api, candidate, spec, lifetime, copy=True)
        outcome, client_alive = first.result()
    rest, client_alive = run_steps(api, client, spec.client.steps[1:], spec.client.limits, alive=client_alive)
    client_steps = [outcome, *rest]
    process.copy_ended(COPY_SECONDS)  # a client that ended first must not stop the copy before it reports
    exit_code = process.exit_code()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tasktrial-client-finish") as finishing:
        client_outcome = finishing.submit(
            finish, api, client, spec.client, image_ids[1], client_began, client_steps, client_alive
        )
        # The counters' exec kills every process of the sandbox user first, the service among them: no
        # kill exec of its own. If that exec could not start (e.g. no pid left), the service is killed harder.
        try:
            candidate_outcome = finish(api, candidate, spec, image_ids[0], started, [], True, client=None)
        finally:  # the service's stream is closed even when reading back failed
            if not process.ended(SERVICE_END_SECONDS):
                kill_processes(api, candidate)
            stdout, stderr, truncated = process.stop()  # raises if the copy failed
        service = ServiceOutcome(exit_code is None, None, exit_code, stdout, stderr, truncated)
        return dataclasses.replace(candidate_outcome, service=service, client=client_outcome.result())


def _await_ready(
    api: docker.APIClient, client: str, process: ServiceProcess, service: Service
) -> tuple[bool, float | None]:
    """Probe the service from the client until it accepts a connection, exits, or the wait ends."""
    deadline = process.began + service.ready_timeout_seconds
    while True:
        remaining = deadline - time.monotonic()
        if process.exit_code() is not None:
            return False, None
        wait = f"{max(0.5, min(2.0, remaining)):.1f}"
        probe = Step(("timeout", wait, "bash", "-c", _PROBE_SCRIPT, SERVICE_HOST, str(service.port)))
        if exec_step(api, client, probe, ResourceLimits(time_seconds=5, output_kb=4))[0].exit_code == 0:
            return True, time.monotonic() - process.began
        if time.monotonic() >= deadline:
            return False, None
        time.sleep(PROBE_INTERVAL_SECONDS)
