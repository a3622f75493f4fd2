"""A service run: the candidate's service in its sandbox, a client in a second one, on a private network.

Makes the trio (``make``: network, candidate's sandbox as ``SERVICE_HOST``, client's sandbox) and
runs it (``serve``); taking it from the warm pool and removing it stay with the runner. Touches the
two sandboxes through ``steps`` and ``collect``, and the service's own exec. The candidate's sandbox
never receives the client's files, and the service is probed from the client's side only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import docker

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
from runners.docker.steps import exec_step, kill_processes, run_steps, upload, upload_and_exec
from runners.docker.streams import feed, pump, raw_socket

PROBE_INTERVAL_SECONDS = 0.1
# TCP connects from the client to the service; host and port come as arguments, never spliced in.
# One probe exec tries every 50 ms until its ``timeout`` (execs cost far more than connects).
_PROBE_SCRIPT = 'while ! (exec 3<>"/dev/tcp/$0/$1") 2>/dev/null; do sleep 0.05; done'


class ServiceProcess:
    """The candidate's service: a detached exec whose output a thread reads, with a cap, until it ends."""

    def __init__(self, api: docker.APIClient, exec_id: str, sock: socket.socket, *, deadline: float, cap: int):
        self._api = api
        self._exec_id = exec_id
        self._sock = sock
        self._stop = threading.Event()
        self._result: tuple[bytes, bytes, bool, bool] = (b"", b"", False, False)
        self._reader = threading.Thread(target=self._read, args=(deadline, cap), daemon=True)
        self.began = time.monotonic()
        self._reader.start()

    @classmethod
    def start(
        cls, api: docker.APIClient, cid: str, service: Service, limits: ResourceLimits, lifetime: float
    ) -> ServiceProcess:
        """Start ``service.argv`` in ``cid`` with no stdin; its output is kept up to ``limits.output_kb`` per stream."""
        exec_id = api.exec_create(cid, list(service.argv), stdin=True, workdir=WORKSPACE, user=SANDBOX_USER)["Id"]
        sock = raw_socket(api.exec_start(exec_id, socket=True))
        feed(sock, b"")
        return cls(api, exec_id, sock, deadline=time.monotonic() + lifetime, cap=limits.output_kb * 1024)

    def _read(self, deadline: float, cap: int) -> None:
        with contextlib.suppress(OSError):
            self._result = pump(self._sock, deadline, cap, stop=self._stop)

    def exit_code(self) -> int | None:
        """The exit code once the service has ended; None while it runs."""
        info = self._api.exec_inspect(self._exec_id)
        return None if info.get("Running") else info.get("ExitCode")

    def stop(self) -> tuple[bytes, bytes, bool]:
        """Stop reading (the caller has killed the service) and return ``(stdout, stderr, truncated)``."""
        self._reader.join(timeout=5)
        self._stop.set()
        self._reader.join(timeout=5)
        self._sock.close()
        stdout, stderr, truncated, _ = self._result
        return stdout, stderr, truncated


def make(sandboxes: Sandboxes, spec: RunSpec, image: str, client_image: str) -> tuple[str, list[str]]:
    """A new private network with the candidate's sandbox (as ``SERVICE_HOST``) and the client's on it.

    Raises:
        RunnerError: a sandbox could not be made (what was made is removed).
    """
    assert spec.client is not None
    run_id = uuid.uuid4().hex
    network = sandboxes.create_network(run_id, spec)
    containers: list[str] = []
    # Both sandboxes start at once: each start is most of a short run's time.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="tasktrial-service-start") as starting:
        made = [starting.submit(sandboxes.create, spec, image, run_id=run_id, network=network,
                                aliases=(SERVICE_HOST,)),
                starting.submit(sandboxes.create, spec.client, client_image, run_id=run_id, network=network)]
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
            process = ServiceProcess.start(api, candidate, spec.service, spec.limits, lifetime)
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
        client_outcome = finishing.submit(finish, api, client, spec.client, image_ids[1], client_began,
                                          client_steps, client_alive)
        candidate_outcome = finish(api, candidate, spec, image_ids[0], started, outcomes, alive,
                                   service=service, client=None)
        return dataclasses.replace(candidate_outcome, client=client_outcome.result())


def _serve_at_once(
    api: docker.APIClient, candidate: str, client: str, spec: RunSpec, image_ids: tuple[str, str], started: float
) -> RunOutcome:
    """A service nobody probes and no step precedes: the client's files ride in its first step, which
    starts while the candidate's files go in and its service starts (the client connects, retrying)."""
    assert spec.service is not None and spec.client is not None
    client_began = time.monotonic()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tasktrial-client") as running:
        first = running.submit(upload_and_exec, api, client, spec.client)
        upload(api, candidate, spec)
        client_time = spec.client.limits.time_seconds * len(spec.client.steps)
        lifetime = spec.service.ready_timeout_seconds + client_time + 60
        process = ServiceProcess.start(api, candidate, spec.service, spec.limits, lifetime)
        outcome, client_alive = first.result()
    rest, client_alive = run_steps(api, client, spec.client.steps[1:], spec.client.limits, alive=client_alive)
    client_steps = [outcome, *rest]
    exit_code = process.exit_code()
    alive = kill_processes(api, candidate)
    stdout, stderr, truncated = process.stop()
    service = ServiceOutcome(exit_code is None, None, exit_code, stdout, stderr, truncated)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tasktrial-client-finish") as finishing:
        client_outcome = finishing.submit(finish, api, client, spec.client, image_ids[1], client_began,
                                          client_steps, client_alive)
        candidate_outcome = finish(api, candidate, spec, image_ids[0], started, [], alive,
                                   service=service, client=None)
        return dataclasses.replace(candidate_outcome, client=client_outcome.result())


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
