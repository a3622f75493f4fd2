"""The Docker backend: every run in a fresh, locked-down container.

How a run goes:
1. create a container whose only process is ``sleep infinity`` (PID 1), with
   the full limit set (see ``_host_config``), and start it;
2. stream a tar of the files into it through an exec'd ``tar -x`` (the
   read-only root makes the daemon refuse ``put_archive``, and bind mounts
   would tie workers to the engine's host), in the same exec as the first
   step: a shell reads exactly the archive's bytes into ``tar``, then becomes
   the step (one runc start less per run);
3. run each step with ``docker exec``, reading its output with a host-side
   deadline and a byte cap;
4. kill every leftover process of the sandbox user, then read back the
   cgroup counters (CPU, peak memory, OOM kills) and the collected files as
   a tar, through an exec the harness controls;
5. remove the container, whatever happened.

A run with a ``service`` (http tasks) differs in three ways: it gets a
per-run Docker network that is ``internal`` and has no address on the
host's side (``inhibit_ipv4``), so it reaches neither the host nor anything
beyond; the candidate's container joins it as ``candidate`` and runs the
service as a detached exec whose output is captured with a cap; a second,
equally locked-down container (the client) joins it, holds the grader's
files, waits until the service accepts a TCP connection (a bounded probe
from the client's side) and then runs its steps. Both containers and the
network are removed whatever happens; the candidate's container never
receives the client's files.

Nothing from the host's environment, file system or network reaches the
container, and the host never follows a path the candidate could touch:
collected files come back as tar members and only regular files are kept.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import io
import logging
import os
import select
import socket
import struct
import tarfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

import docker
import docker.errors
from docker.types import LogConfig, Ulimit

from engine.errors import ImageMissing, RunnerError, RunnerUnavailable
from engine.models import (
    GRADER_DIR,
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
from runners import images

log = logging.getLogger("tasktrial.runner")

SANDBOX_USER = "65534:65534"
LABEL = "tasktrial.managed"
OWNER_LABEL = "tasktrial.owner"
ENVIRONMENT = {
    "HOME": "/tmp",
    "LANG": "C.UTF-8",
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "PYTHONDONTWRITEBYTECODE": "1",
    "TMPDIR": "/tmp",
}
COLLECT_CAP_BYTES = 4 * 1024 * 1024
KILL_SECONDS = 5.0
PROBE_INTERVAL_SECONDS = 0.1
# Isolated steps: how many fresh sandboxes are prepared (started, files in) ahead of the step that runs.
PREPARED_AHEAD = 2
# Options of a service run's network: no route out, and no address on the host's bridge,
# without which an internal network still reaches every port the host listens on.
NETWORK_OPTIONS = {"com.docker.network.bridge.inhibit_ipv4": "true"}
# TCP connects from the client to the service; host and port come as arguments, never spliced in.
# One probe exec tries every 50 ms until its ``timeout`` (execs cost far more than connects).
_PROBE_SCRIPT = 'while ! (exec 3<>"/dev/tcp/$0/$1") 2>/dev/null; do sleep 0.05; done'
# Kill every process of the sandbox user but PID 1 and this shell, then report
# the cgroup counters on stderr and the requested files as a tar on stdout.
_COLLECT_SCRIPT = r"""
kill -9 -1 2>/dev/null
for f in /sys/fs/cgroup/memory/memory.max_usage_in_bytes /sys/fs/cgroup/memory/memory.oom_control \
         /sys/fs/cgroup/cpuacct/cpuacct.usage /sys/fs/cgroup/memory.peak /sys/fs/cgroup/memory.events \
         /sys/fs/cgroup/cpu.stat; do
  [ -r "$f" ] && { echo "== $f"; cat "$f"; } >&2
done
[ "$#" -gt 0 ] && exec tar -c -f - --ignore-failed-read -C / -- "$@" 2>/dev/null
exit 0
"""


#: The first step of a run, behind its files' copy: ``$1`` bytes of stdin into ``tar``, then the step.
_UPLOAD_THEN_EXEC = r"""
if ! failed=$(head -c "$1" | tar -x -f - -C / --no-same-owner --no-same-permissions 2>&1); then
  printf '%s %s\n' "$2" "$failed" >&2
  exit 125
fi
shift 2
unset PWD OLDPWD  # the shell's own: the step gets the allowlisted environment alone
exec "$@"
"""
UPLOAD_FAILED = 125
#: How long ``remove_own`` waits for sandboxes still being created (a stopping ``serve`` must end quickly).
ABANDON_WAIT_SECONDS = 5.0


@dataclass(frozen=True)
class _Counters:
    cpu_seconds: float | None = None
    peak_memory_bytes: int | None = None
    oom_kills: int = 0


class DockerRunner:
    """Runs specs in containers on a Docker engine (local or remote)."""

    name = "docker"

    def __init__(self, client: docker.DockerClient, *, runtime: str | None = None, owner: str | None = None,
                 warm: int = 0):
        """``owner`` (``host:pid`` of a worker) is stamped on every sandbox so a successor can reap orphans.

        ``warm`` > 0 keeps that many sandboxes started (or starting) ahead per kind of run (image,
        limits, labels) and removes used ones in the background: the container is still fresh and
        used once, only its start and removal leave the submission's path. ``prepare`` starts one
        ahead without keeping the pool full (a one-off command). ``close()`` removes what is left.
        """
        self._client = client
        self._api = client.api
        self._runtime = runtime
        self._owner = {OWNER_LABEL: owner} if owner else {}
        self._born = time.time()  # sandboxes stamped with our pid but made before this are a predecessor's
        self._image_ids: dict[str, str] = {}
        self._warm = warm
        #: Sandboxes started ahead, per kind of run, oldest first; each a future of a container id.
        self._pool: dict[tuple, deque[Future]] = {}
        self._pool_lock = threading.Lock()
        self._closed = False
        #: Sandboxes being created now, and whether ``remove_own`` ended this runner for good.
        self._creating = 0
        self._abandoned = False
        self._created = threading.Condition()
        self._starter: ThreadPoolExecutor | None = None
        self._remover: ThreadPoolExecutor | None = None
        if warm:
            atexit.register(self.close)

    @classmethod
    def from_env(cls, *, runtime: str | None = None, owner: str | None = None, warm: int = 0) -> DockerRunner:
        return cls(images.client_from_env(), runtime=runtime, owner=owner, warm=warm)

    def run(self, spec: RunSpec) -> RunOutcome:
        if spec.service is not None:
            return self._run_service(spec)
        if spec.isolated_steps and len(spec.steps) > 1:
            return self._run_isolated(spec)
        image = images.runtime_image(spec.environment).tag
        image_id = self._image_id(image)
        started = time.monotonic()
        container = self._take(spec, image)
        try:
            return self._run_in(container, spec, image_id, started)
        except docker.errors.DockerException as exc:
            raise RunnerError(f"the Docker engine failed during the run: {exc}") from exc
        finally:
            self._dispose(container)

    def prepare(self, spec: RunSpec) -> None:
        """Start one sandbox for runs like ``spec`` now, so the next such run need not wait for one.

        For a command that knows a run is coming (``grade``): the sandbox is still fresh and used
        once; unused, ``close()`` removes it. Service runs make their own sandboxes.

        Raises:
            ImageMissing: the environment's image is not built.
        """
        if spec.service is None:
            image = images.runtime_image(spec.environment).tag
            self._image_id(image)
            self._start_ahead(self._key(spec, image), spec, image)

    def close(self) -> None:
        """Finish background removals and remove the sandboxes started ahead and never used."""
        with self._pool_lock:
            self._closed = True
            ahead = [future for futures in self._pool.values() for future in futures]
            self._pool.clear()
        if self._starter is not None:
            self._starter.shutdown(wait=True, cancel_futures=True)  # a start not begun is never needed
        if self._remover is not None:
            self._remover.shutdown(wait=True)  # every queued removal still happens
        for future in ahead:
            if not future.cancelled() and future.exception() is None:
                made = future.result()
                if isinstance(made, tuple):  # a service run's network and sandboxes
                    self._remove_all_logged(made[1], made[0])
                else:
                    self._remove_logged(made)

    # -- sandboxes started ahead ----------------------------------------------

    @staticmethod
    def _key(spec: RunSpec, image: str) -> tuple:
        return image, spec.limits, tuple(sorted(spec.labels.items()))

    def _take(self, spec: RunSpec, image: str) -> str:
        """A started, unused sandbox for ``spec``: the oldest one started ahead, else one made now."""
        key = self._key(spec, image)
        with self._pool_lock:
            ready = self._pool.get(key)
            future = ready.popleft() if ready else None
        if self._warm:
            self._start_ahead(key, spec, image, up_to=self._warm)
        if future is not None:
            try:
                return future.result()
            except RunnerError:
                pass  # made now instead; if the engine is really down, this reports it
        return self._create(spec, image)

    def _start_ahead(self, key: tuple, spec: RunSpec, image: str, *, up_to: int | None = None) -> None:
        """Queue the start of a sandbox for ``key`` (unless ``up_to`` are already started or starting)."""
        with self._pool_lock:
            if self._closed:
                return
            ready = self._pool.setdefault(key, deque())
            if up_to is not None and len(ready) >= up_to:
                return
            if self._starter is None:
                self._starter = ThreadPoolExecutor(max_workers=max(2, self._warm),
                                                   thread_name_prefix="tasktrial-sandbox-start")
            ready.append(self._starter.submit(self._create, spec, image))

    def _dispose(self, container: str) -> None:
        """Remove a used sandbox: in the background once sandboxes are started ahead (off the submission's path)."""
        with self._pool_lock:
            background = self._starter is not None and not self._closed
            if background and self._remover is None:
                self._remover = ThreadPoolExecutor(max_workers=2, thread_name_prefix="tasktrial-sandbox-remove")
            try:
                if background and self._remover is not None:
                    self._remover.submit(self._remove_logged, container)
                    return
            except RuntimeError:  # closing
                pass
        self._remove(container)

    def _remove_logged(self, container: str) -> None:
        try:
            self._remove(container)
        except RunnerError:
            log.exception("a used sandbox could not be removed; the next worker start reaps it")

    def reap_orphans(self, *, host: str) -> int:
        """Remove sandboxes (and service networks) whose owning worker on ``host`` is no longer alive.

        For a worker starting after a crash, and again now and then while it runs: a sandbox the
        predecessor was creating as it died can appear after the first pass. Sandboxes of live
        workers and of other hosts are left alone. One stamped with this process's own pid is a
        predecessor's (a worker restarted in the same container keeps its host name and may get its
        pid) only if it was made before this runner: our own are never touched.
        Returns how many containers it removed.
        """
        removed = 0
        for container in self._client.containers.list(all=True, filters={"label": OWNER_LABEL}, ignore_removed=True):
            if container.id is not None and self._orphaned(container.labels, host, partial(self._container_created, container.id)):
                self._remove(container.id)
                removed += 1
        # By their own owner label, not their runs': a worker can die between making a network and its sandboxes.
        for network in self._api.networks(filters={"label": OWNER_LABEL}):
            if self._orphaned(network.get("Labels") or {}, host, partial(network.get, "Created")):
                self._remove_network(network["Id"])
        return removed

    def _orphaned(self, labels: dict[str, str], host: str, created: Callable[[], str | None]) -> bool:
        """Whether a sandbox or network with these labels belongs to a dead worker on ``host`` (see ``reap_orphans``)."""
        owner_host, _, pid = labels.get(OWNER_LABEL, "").rpartition(":")
        if owner_host != host or not pid.isdigit():
            return False
        if int(pid) != os.getpid():
            return not _alive(int(pid))
        stamp = created()
        return stamp is not None and _timestamp(stamp) < self._born

    def remove_own(self) -> int:
        """Remove every sandbox (and service network) this runner's owner made, in use or not.

        For a process ending without awaiting its runs (``serve`` stopping mid-grading): their
        runs stay claimed and are queued again at the next start, so nothing it is running
        can still be wanted. Returns how many containers it removed.
        """
        if not self._owner:
            return 0
        with self._created:  # no new sandbox from now on; one being created is awaited (bounded)
            self._abandoned = True
            self._created.wait_for(lambda: self._creating == 0, timeout=ABANDON_WAIT_SECONDS)
        mine: dict[str, str | list[str] | bool] = {"label": f"{OWNER_LABEL}={self._owner[OWNER_LABEL]}"}
        containers = self._client.containers.list(all=True, filters=mine, ignore_removed=True)
        for container in containers:
            if container.id is not None:  # never for a listed container; the stubs allow it
                self._remove(container.id)
        for network in self._api.networks(filters=mine):
            self._remove_network(network["Id"])
        return len(containers)

    def _container_created(self, cid: str) -> str | None:
        try:
            return self._api.inspect_container(cid)["Created"]
        except docker.errors.NotFound:
            return None

    # -- steps of a run ---------------------------------------------------

    def _image_id(self, image: str) -> str:
        if image not in self._image_ids:
            try:
                self._image_ids[image] = self._client.images.get(image).id or image
            except docker.errors.ImageNotFound as exc:
                raise ImageMissing(f"runtime image {image} is not built; run `tasktrial images build`") from exc
            except docker.errors.DockerException as exc:
                raise RunnerUnavailable(f"cannot reach the Docker engine: {exc}") from exc
        return self._image_ids[image]

    def _create(
        self, spec: RunSpec, image: str, *, run_id: str | None = None, network: str | None = None,
        aliases: tuple[str, ...] = (),
    ) -> str:
        """A started sandbox; on no network unless ``network`` names a service run's network.

        Raises:
            RunnerError: the engine refused, or ``remove_own`` ended this runner (the sandbox is removed).
        """
        with self._created:
            if self._abandoned:
                raise RunnerError("this worker is stopping: no new sandbox")
            self._creating += 1
        try:
            cid = self._create_now(spec, image, run_id=run_id, network=network, aliases=aliases)
        finally:
            with self._created:
                self._creating -= 1
                abandoned = self._abandoned
                self._created.notify_all()
        if abandoned:
            self._remove(cid)
            raise RunnerError("this worker is stopping: no new sandbox")
        return cid

    def _create_now(
        self, spec: RunSpec, image: str, *, run_id: str | None, network: str | None, aliases: tuple[str, ...],
    ) -> str:
        labels = {LABEL: "1", "tasktrial.run": run_id or uuid.uuid4().hex, **self._owner, **spec.labels}
        networking: dict[str, Any] = {"network_disabled": True}
        if network is not None:
            endpoint = self._api.create_endpoint_config(aliases=list(aliases) or None)
            # types-docker wants one EndpointConfig; docker-py takes {network: EndpointConfig}
            config = self._api.create_networking_config({network: endpoint})  # type: ignore[arg-type]
            networking = {"networking_config": config}
        try:
            container = self._api.create_container(
                image,
                command=["sleep", "infinity"],
                user=SANDBOX_USER,
                working_dir=WORKSPACE,
                environment=ENVIRONMENT,
                labels=labels,
                stop_signal="SIGKILL",
                host_config=self._host_config(spec.limits, network=network or "none"),
                **networking,
            )
            self._api.start(container["Id"])
        except docker.errors.DockerException as exc:
            if "container" in locals():
                self._remove(container["Id"])
            raise RunnerError(f"cannot start a sandbox from {image}: {exc}") from exc
        return container["Id"]

    def _host_config(self, limits: ResourceLimits, *, network: str = "none") -> dict:
        memory = f"{limits.memory_mb}m"
        disk = f"size={limits.disk_mb}m,nr_inodes={max(1024, limits.disk_mb * 64)}"
        owned = "uid=65534,gid=65534"
        return self._api.create_host_config(
            network_mode=network,
            mem_limit=memory,
            memswap_limit=memory,
            nano_cpus=int(limits.cpus * 1e9),
            pids_limit=limits.pids,
            read_only=True,
            tmpfs={
                WORKSPACE: f"rw,nosuid,nodev,{disk},{owned},mode=0700",
                GRADER_DIR: f"rw,nosuid,nodev,noexec,size=64m,nr_inodes=4096,{owned},mode=0700",
                "/tmp": f"rw,nosuid,nodev,noexec,{disk},{owned},mode=1777",
            },
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            ulimits=[
                Ulimit(name="nofile", soft=1024, hard=1024),
                Ulimit(name="fsize", soft=limits.disk_mb * 1024 * 1024, hard=limits.disk_mb * 1024 * 1024),
                Ulimit(name="core", soft=0, hard=0),
            ],
            ipc_mode="private",
            shm_size="16m",
            log_config=LogConfig(type="none", config={}),
            runtime=self._runtime,
        )

    def _run_in(self, cid: str, spec: RunSpec, image_id: str, started: float) -> RunOutcome:
        if not spec.steps:
            self._upload(cid, spec)
            outcomes, alive = [], True
        else:
            first, alive = self._upload_and_exec(cid, spec)
            rest, alive = self._run_steps(cid, spec.steps[1:], spec.limits, alive=alive)
            outcomes = [first, *rest]
        return self._finish(cid, spec, image_id, started, outcomes, alive)

    def _run_steps(self, cid: str, steps: tuple[Step, ...], limits: ResourceLimits, *,
                   alive: bool = True) -> tuple[list[StepOutcome], bool]:
        """Run ``steps`` in order; returns their outcomes and whether the sandbox is still usable."""
        outcomes: list[StepOutcome] = []
        for step in steps:
            if not alive:
                outcomes.append(StepOutcome(exit_code=None, stderr=b"not run: the sandbox was stopped"))
                continue
            outcome, alive = self._exec(cid, step, limits)
            outcomes.append(outcome)
        return outcomes, alive

    def _finish(
        self, cid: str, spec: RunSpec, image_id: str, started: float, outcomes: list[StepOutcome], alive: bool,
        **extra,
    ) -> RunOutcome:
        """Collect counters and files (when the sandbox is usable) into the run's outcome."""
        counters, collected = _Counters(), dict[str, bytes]()
        if alive:
            counters, collected = self._collect(cid, spec.collect)
        oom = counters.oom_kills > 0 or self._api.inspect_container(cid)["State"].get("OOMKilled", False)
        return RunOutcome(
            backend=self.name,
            image=image_id,
            steps=tuple(outcomes),
            collected=collected,
            wall_seconds=time.monotonic() - started,
            cpu_seconds=counters.cpu_seconds,
            peak_memory_bytes=counters.peak_memory_bytes,
            oom_killed=bool(oom),
            **extra,
        )

    # -- isolated steps: a fresh sandbox per step ----------------------------

    def _run_isolated(self, spec: RunSpec) -> RunOutcome:
        """Each step in a fresh sandbox that got the same files; the next ones are made ready while a step runs.

        Sandboxes come from the warm pool when it has one (``_take``) and each is
        used once, like a whole run's. Counters add up (CPU) or take the worst
        (peak memory, OOM kills) over the steps.
        """
        image = images.runtime_image(spec.environment).tag
        image_id = self._image_id(image)
        started = time.monotonic()
        outcomes: list[StepOutcome] = []
        cpu: float | None = None
        peak: int | None = None
        oom = False
        steps = len(spec.steps)
        finishing = []
        with ThreadPoolExecutor(max_workers=PREPARED_AHEAD + 2, thread_name_prefix="tasktrial-sandbox-ahead") as helper:
            ahead = deque(helper.submit(self._prepared, spec, image) for _ in range(min(PREPARED_AHEAD, steps)))
            asked = len(ahead)
            try:
                for step in spec.steps:
                    container = ahead.popleft().result()
                    if asked < steps:
                        ahead.append(helper.submit(self._prepared, spec, image))
                        asked += 1
                    try:
                        outcome, alive = self._exec(container, step, spec.limits)
                    except BaseException:
                        self._discard(container, helper)
                        raise
                    outcomes.append(outcome)
                    # Counters and removal off the steps' path: the next step runs in another sandbox meanwhile.
                    finishing.append(helper.submit(self._finish_isolated, container, alive))
                for done in finishing:
                    counters, killed = done.result()
                    oom = oom or killed
                    if counters.cpu_seconds is not None:
                        cpu = (cpu or 0.0) + counters.cpu_seconds
                    if counters.peak_memory_bytes is not None:
                        peak = max(peak or 0, counters.peak_memory_bytes)
            except docker.errors.DockerException as exc:
                raise RunnerError(f"the Docker engine failed during the run: {exc}") from exc
            finally:
                for unused in ahead:  # the run ended early: sandboxes prepared for it go unused
                    with contextlib.suppress(RunnerError):
                        self._discard(unused.result(), helper)
        return RunOutcome(backend=self.name, image=image_id, steps=tuple(outcomes),
                          wall_seconds=time.monotonic() - started, cpu_seconds=cpu, peak_memory_bytes=peak,
                          oom_killed=oom)

    def _prepared(self, spec: RunSpec, image: str) -> str:
        """A fresh sandbox holding ``spec``'s files, ready for a step."""
        container = self._take(spec, image)
        try:
            self._upload(container, spec)
        except BaseException as exc:
            self._remove(container)
            if isinstance(exc, docker.errors.DockerException):
                raise RunnerError(f"the Docker engine failed while preparing a sandbox: {exc}") from exc
            raise
        return container

    def _finish_isolated(self, container: str, alive: bool) -> tuple[_Counters, bool]:
        """A used isolated sandbox's counters and whether it was OOM-killed; then it goes (in this thread when cold)."""
        try:
            counters = self._collect(container, ())[0] if alive else _Counters()
            state = self._api.inspect_container(container)["State"]
            return counters, counters.oom_kills > 0 or bool(state.get("OOMKilled", False))
        finally:
            if self._starter is not None:
                self._dispose(container)
            else:
                self._remove_logged(container)

    def _discard(self, container: str, helper: ThreadPoolExecutor) -> None:
        """Remove a used sandbox off the run's path: the warm pool's background, else ``helper``'s thread."""
        if self._starter is not None:
            self._dispose(container)
        else:
            helper.submit(self._remove_logged, container)

    # -- a service run: candidate and client on a private network ----------

    def _run_service(self, spec: RunSpec) -> RunOutcome:
        assert spec.service is not None and spec.client is not None
        image = images.runtime_image(spec.environment).tag
        client_image = images.runtime_image(spec.client.environment).tag
        image_id, client_image_id = self._image_id(image), self._image_id(client_image)
        started = time.monotonic()
        network, containers = self._take_service(spec, image, client_image)
        try:
            candidate, client = containers
            return self._serve(candidate, client, spec, (image_id, client_image_id), started)
        except docker.errors.DockerException as exc:
            raise RunnerError(f"the Docker engine failed during the service run: {exc}") from exc
        finally:
            self._dispose_service(containers, network)

    def _take_service(self, spec: RunSpec, image: str, client_image: str) -> tuple[str, list[str]]:
        """A service run's network and started (candidate, client) sandboxes: started ahead when warm.

        Like single sandboxes, a trio started ahead is fresh and used once.
        """
        assert spec.client is not None
        if not self._warm:
            return self._make_service(spec, image, client_image)
        key = ("service", self._key(spec, image), self._key(spec.client, client_image))
        with self._pool_lock:
            ready = self._pool.get(key)
            future = ready.popleft() if ready else None
        with self._pool_lock:
            if not self._closed:
                queue = self._pool.setdefault(key, deque())
                if len(queue) < self._warm:
                    if self._starter is None:
                        self._starter = ThreadPoolExecutor(max_workers=max(2, self._warm),
                                                           thread_name_prefix="tasktrial-sandbox-start")
                    queue.append(self._starter.submit(self._make_service, spec, image, client_image))
        if future is not None:
            try:
                return future.result()
            except RunnerError:
                pass  # made now instead; if the engine is really down, this reports it
        return self._make_service(spec, image, client_image)

    def _make_service(self, spec: RunSpec, image: str, client_image: str) -> tuple[str, list[str]]:
        """A new private network with the candidate's sandbox (as ``SERVICE_HOST``) and the client's on it."""
        assert spec.client is not None
        run_id = uuid.uuid4().hex
        network = self._create_network(run_id, spec)
        containers: list[str] = []
        # Both sandboxes start at once: each start is most of a short run's time.
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="tasktrial-service-start") as starting:
            made = [starting.submit(self._create, spec, image, run_id=run_id, network=network, aliases=(SERVICE_HOST,)),
                    starting.submit(self._create, spec.client, client_image, run_id=run_id, network=network)]
            failures = []
            for future in made:
                try:
                    containers.append(future.result())
                except RunnerError as exc:
                    failures.append(exc)
        if failures:
            self._remove_all(containers, network)
            raise failures[0]
        return network, containers

    def _dispose_service(self, containers: list[str], network: str) -> None:
        """Remove a service run's sandboxes and network: in the background when sandboxes are started ahead."""
        with self._pool_lock:
            background = self._starter is not None and not self._closed
            if background and self._remover is None:
                self._remover = ThreadPoolExecutor(max_workers=2, thread_name_prefix="tasktrial-sandbox-remove")
            remover = self._remover  # set whenever background is
            try:
                if background and remover is not None:
                    remover.submit(self._remove_all_logged, containers, network)
                    return
            except RuntimeError:  # closing
                pass
        self._remove_all(containers, network)

    def _remove_all_logged(self, containers: list[str], network: str) -> None:
        try:
            self._remove_all(containers, network)
        except RunnerError:
            log.exception("a service run's sandboxes could not be removed; the next worker start reaps them")

    def _create_network(self, run_id: str, spec: RunSpec) -> str:
        try:
            network = self._api.create_network(
                f"tasktrial-{run_id}",
                driver="bridge",
                internal=True,
                options=NETWORK_OPTIONS,
                labels={LABEL: "1", "tasktrial.run": run_id, **self._owner, **spec.labels},
            )
        except docker.errors.DockerException as exc:
            raise RunnerError(f"cannot create the private network of a service run: {exc}") from exc
        return network["Id"]

    def _serve(
        self, candidate: str, client: str, spec: RunSpec, image_ids: tuple[str, str], started: float
    ) -> RunOutcome:
        assert spec.service is not None and spec.client is not None
        if not spec.service.probe and not spec.steps and spec.client.steps:
            return self._serve_at_once(candidate, client, spec, image_ids, started)
        process = None
        # The client's files go in while the candidate's steps run and its service starts.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tasktrial-client-upload") as uploading:
            client_upload = uploading.submit(self._upload, client, spec.client)
            self._upload(candidate, spec)
            outcomes, alive = self._run_steps(candidate, spec.steps, spec.limits)
            if alive and all(o.exit_code == 0 for o in outcomes):
                client_time = spec.client.limits.time_seconds * len(spec.client.steps)
                lifetime = spec.service.ready_timeout_seconds + client_time + 60
                process = _ServiceProcess.start(self._api, candidate, spec.service, spec.limits, lifetime)
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
                ready, ready_seconds = self._await_ready(client, process, spec.service)
            if ready:
                client_steps, client_alive = self._run_steps(client, spec.client.steps, spec.client.limits)
            else:
                reason = b"not run: the service never became ready"
                client_steps = [StepOutcome(exit_code=None, stderr=reason) for _ in spec.client.steps]
            exit_code = process.exit_code()
            if not spec.service.probe and exit_code is not None:
                ready = False  # it ended before the client was done with it (the client judged the rest)
            alive = self._kill_processes(candidate)
            stdout, stderr, truncated = process.stop()
            service = ServiceOutcome(ready, ready_seconds, exit_code, stdout, stderr, truncated)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tasktrial-client-finish") as finishing:
            client_outcome = finishing.submit(self._finish, client, spec.client, image_ids[1], client_began,
                                              client_steps, client_alive)
            candidate_outcome = self._finish(candidate, spec, image_ids[0], started, outcomes, alive,
                                             service=service, client=None)
            return dataclasses.replace(candidate_outcome, client=client_outcome.result())

    def _serve_at_once(
        self, candidate: str, client: str, spec: RunSpec, image_ids: tuple[str, str], started: float
    ) -> RunOutcome:
        """A service nobody probes and no step precedes: the client's files ride in its first step, which
        starts while the candidate's files go in and its service starts (the client connects, retrying)."""
        assert spec.service is not None and spec.client is not None
        client_began = time.monotonic()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tasktrial-client") as running:
            first = running.submit(self._upload_and_exec, client, spec.client)
            self._upload(candidate, spec)
            client_time = spec.client.limits.time_seconds * len(spec.client.steps)
            lifetime = spec.service.ready_timeout_seconds + client_time + 60
            process = _ServiceProcess.start(self._api, candidate, spec.service, spec.limits, lifetime)
            outcome, client_alive = first.result()
        rest, client_alive = self._run_steps(client, spec.client.steps[1:], spec.client.limits, alive=client_alive)
        client_steps = [outcome, *rest]
        exit_code = process.exit_code()
        alive = self._kill_processes(candidate)
        stdout, stderr, truncated = process.stop()
        service = ServiceOutcome(exit_code is None, None, exit_code, stdout, stderr, truncated)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tasktrial-client-finish") as finishing:
            client_outcome = finishing.submit(self._finish, client, spec.client, image_ids[1], client_began,
                                              client_steps, client_alive)
            candidate_outcome = self._finish(candidate, spec, image_ids[0], started, [], alive,
                                             service=service, client=None)
            return dataclasses.replace(candidate_outcome, client=client_outcome.result())

    def _await_ready(self, client: str, process: _ServiceProcess, service: Service) -> tuple[bool, float | None]:
        """Probe the service from the client until it accepts a connection, exits, or the wait ends."""
        deadline = process.began + service.ready_timeout_seconds
        while True:
            remaining = deadline - time.monotonic()
            if process.exit_code() is not None:
                return False, None
            wait = f"{max(0.5, min(2.0, remaining)):.1f}"
            probe = Step(("timeout", wait, "bash", "-c", _PROBE_SCRIPT, SERVICE_HOST, str(service.port)))
            if self._exec(client, probe, ResourceLimits(time_seconds=5, output_kb=4))[0].exit_code == 0:
                return True, time.monotonic() - process.began
            if time.monotonic() >= deadline:
                return False, None
            time.sleep(PROBE_INTERVAL_SECONDS)

    def _remove_all(self, containers: list[str], network: str) -> None:
        """Remove the run's containers, then its network; try every one before raising the first failure."""
        failure: RunnerError | None = None
        with ThreadPoolExecutor(max_workers=max(1, len(containers)), thread_name_prefix="tasktrial-remove") as removing:
            for removal in [removing.submit(self._remove, cid) for cid in reversed(containers)]:
                try:
                    removal.result()
                except RunnerError as exc:
                    failure = failure or exc
        try:
            self._remove_network(network)
        except RunnerError as exc:
            failure = failure or exc
        if failure is not None:
            raise failure

    def _upload_and_exec(self, cid: str, spec: RunSpec) -> tuple[StepOutcome, bool]:
        """Copy the files in and run the first step in one exec (each exec is a runc start: CPU a batch
        shares with the gradings). A shell reads exactly the archive's bytes off stdin into ``tar``,
        then becomes the step, whose stdin is what follows. A failed copy ends before any candidate
        code starts, with a marker made for this run alone (nothing the candidate prints can fake it).

        Raises:
            RunnerError: copying the files in failed.
        """
        step = spec.steps[0]
        archive = _tar({WORKSPACE: spec.workspace, GRADER_DIR: spec.grader})
        marker = f"tasktrial-upload-failed-{uuid.uuid4().hex}"
        wrapped = Step(argv=("sh", "-c", _UPLOAD_THEN_EXEC, "upload", str(len(archive)), marker, *step.argv),
                       stdin=archive + step.stdin)
        outcome, alive = self._exec(cid, wrapped, spec.limits)
        if outcome.exit_code == UPLOAD_FAILED and marker.encode() in outcome.stderr:
            detail = outcome.stderr.split(marker.encode(), 1)[1][-500:]
            raise RunnerError(f"copying files into the sandbox failed: {detail!r}")
        return outcome, alive

    def _upload(self, cid: str, spec: RunSpec) -> None:
        archive = _tar({WORKSPACE: spec.workspace, GRADER_DIR: spec.grader})
        result, _ = self._exec(
            cid,
            Step(argv=("tar", "-x", "-f", "-", "-C", "/", "--no-same-owner", "--no-same-permissions"), stdin=archive),
            ResourceLimits(time_seconds=60, output_kb=16),
        )
        if result.exit_code != 0:
            raise RunnerError(f"copying files into the sandbox failed (exit {result.exit_code}): {result.stderr[-500:]!r}")

    def _exec(self, cid: str, step: Step, limits: ResourceLimits) -> tuple[StepOutcome, bool]:
        """Run one step with the host-side deadline and output cap; returns its outcome and whether the sandbox lives.

        On a timeout the step's stream is still drained while its processes are
        killed, so a program flooding its output cannot stall the kill.
        """
        exec_id = self._api.exec_create(cid, list(step.argv), stdin=True, workdir=WORKSPACE, user=SANDBOX_USER)["Id"]
        began = time.monotonic()
        sock = _raw_socket(self._api.exec_start(exec_id, socket=True))
        feeder = threading.Thread(target=_feed, args=(sock, step.stdin), daemon=True)
        feeder.start()
        alive = True
        try:
            stdout, stderr, truncated, timed_out = _pump(sock, began + limits.time_seconds, limits.output_kb * 1024)
            wall = time.monotonic() - began
            if timed_out:
                drain = threading.Thread(target=_pump, args=(sock, time.monotonic() + KILL_SECONDS, 0), daemon=True)
                drain.start()
                alive = self._kill_processes(cid)
                drain.join(KILL_SECONDS)
        finally:
            sock.close()
        exit_code = None if timed_out else self._exit_code(exec_id)
        return StepOutcome(exit_code, stdout, stderr, wall, timed_out, truncated), alive

    def _exit_code(self, exec_id: str) -> int | None:
        for _ in range(50):
            info = self._api.exec_inspect(exec_id)
            if not info.get("Running"):
                return info.get("ExitCode")
            time.sleep(0.01)
        return None

    def _kill_processes(self, cid: str) -> bool:
        """Kill the sandbox user's processes within ``KILL_SECONDS``; kill the container if even that fails.

        Returns whether the container is still usable.
        """
        try:
            exec_id = self._api.exec_create(cid, ["sh", "-c", "kill -9 -1"], user=SANDBOX_USER)["Id"]
            sock = _raw_socket(self._api.exec_start(exec_id, socket=True))
            try:
                sock.shutdown(socket.SHUT_WR)
                _, _, _, stuck = _pump(sock, time.monotonic() + KILL_SECONDS, 0)
            finally:
                sock.close()
            if not stuck:
                return True
        except docker.errors.APIError:
            pass  # typically the pids limit is exhausted (a fork bomb): nothing can start inside
        self._api.kill(cid)
        return False

    def _collect(self, cid: str, paths: tuple[str, ...]) -> tuple[_Counters, dict[str, bytes]]:
        try:
            exec_id = self._api.exec_create(cid, ["sh", "-c", _COLLECT_SCRIPT, "collect", *paths], user=SANDBOX_USER)["Id"]
            sock = _raw_socket(self._api.exec_start(exec_id, socket=True))
        except docker.errors.APIError:
            return _Counters(), {}
        try:
            sock.shutdown(socket.SHUT_WR)
            stdout, stderr, _, _ = _pump(sock, time.monotonic() + 30, COLLECT_CAP_BYTES)
        finally:
            sock.close()
        return _parse_counters(stderr.decode("utf-8", "replace")), _untar_regular(stdout)

    def _remove(self, cid: str) -> None:
        try:
            self._api.remove_container(cid, force=True, v=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            if "already in progress" not in str(exc):
                raise RunnerError(f"cannot remove sandbox container {cid[:12]}: {exc}") from exc

    def _remove_network(self, network: str) -> None:
        try:
            self._api.remove_network(network)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            raise RunnerError(f"cannot remove sandbox network {network[:12]}: {exc}") from exc


class _ServiceProcess:
    """The candidate's service: a detached exec whose output a thread reads, with a cap, until it ends."""

    def __init__(self, api, exec_id: str, sock: socket.socket, *, deadline: float, cap: int):
        self._api = api
        self._exec_id = exec_id
        self._sock = sock
        self._stop = threading.Event()
        self._result: tuple[bytes, bytes, bool, bool] = (b"", b"", False, False)
        self._reader = threading.Thread(target=self._read, args=(deadline, cap), daemon=True)
        self.began = time.monotonic()
        self._reader.start()

    @classmethod
    def start(cls, api, cid: str, service: Service, limits: ResourceLimits, lifetime: float) -> _ServiceProcess:
        """Start ``service.argv`` in ``cid`` with no stdin; its output is kept up to ``limits.output_kb`` per stream."""
        exec_id = api.exec_create(cid, list(service.argv), stdin=True, workdir=WORKSPACE, user=SANDBOX_USER)["Id"]
        sock = _raw_socket(api.exec_start(exec_id, socket=True))
        _feed(sock, b"")
        return cls(api, exec_id, sock, deadline=time.monotonic() + lifetime, cap=limits.output_kb * 1024)

    def _read(self, deadline: float, cap: int) -> None:
        with contextlib.suppress(OSError):
            self._result = _pump(self._sock, deadline, cap, stop=self._stop)

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


def _timestamp(created: str) -> float:
    """Seconds since the epoch of Docker's RFC 3339 ``Created`` (nanoseconds cut to the microseconds Python reads)."""
    stamp, _, fraction = created.rstrip("Z").partition(".")
    fraction, _, offset = fraction.partition("+")
    return datetime.fromisoformat(f"{stamp}.{(fraction + '000000')[:6]}+{offset or '00:00'}").timestamp()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# -- plumbing: the exec stream, tar in and out, counters --------------------


def _raw_socket(sock) -> socket.socket:
    """A socket of our own for an exec's stream; docker-py's wrappers around it are closed at once.

    Closing only the inner socket leaves docker-py's ``SocketIO`` holding a
    reference, so the descriptor leaked until garbage collection (a
    ResourceWarning, an error under pytest). The duplicate keeps the stream open.
    """
    raw = getattr(sock, "_sock", sock)
    own = raw.dup()
    response = getattr(sock, "_response", None)
    if response is not None:
        response.close()
    raw.close()
    return own


def _feed(sock: socket.socket, data: bytes) -> None:
    """Write stdin then half-close; a program that never reads stdin just ends it early."""
    try:
        if data:
            sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def _pump(
    sock: socket.socket, deadline: float, cap: int, *, stop: threading.Event | None = None
) -> tuple[bytes, bytes, bool, bool]:
    """Demultiplex Docker's framed stream until EOF, the deadline, or ``stop`` is set.

    Keeps at most ``cap`` bytes per stream but drains everything, so a
    flooding program is never blocked into looking like a timeout.
    Returns ``(stdout, stderr, truncated, timed_out)``.
    """
    streams = {1: bytearray(), 2: bytearray()}
    truncated = False
    pending = bytearray()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return bytes(streams[1]), bytes(streams[2]), truncated, True
        if stop is not None and stop.is_set():
            return bytes(streams[1]), bytes(streams[2]), truncated, False
        ready, _, _ = select.select([sock], [], [], remaining if stop is None else min(remaining, 0.2))
        if not ready:
            continue
        chunk = sock.recv(65536)
        if not chunk:
            return bytes(streams[1]), bytes(streams[2]), truncated, False
        pending += chunk
        while len(pending) >= 8:
            kind, size = pending[0], struct.unpack(">I", pending[4:8])[0]
            if len(pending) < 8 + size:
                break
            payload = pending[8 : 8 + size]
            del pending[: 8 + size]
            target = streams.get(kind)
            if target is None:
                continue
            room = cap - len(target)
            if len(payload) > room:
                truncated = True
            if room > 0:
                target += payload[:room]


def _tar(trees: Mapping[str, Mapping[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for root, files in trees.items():
            for path, data in sorted(files.items()):
                info = tarfile.TarInfo(f"{root.lstrip('/')}/{path}")
                info.size = len(data)
                info.mode = 0o644
                info.uid = info.gid = 65534
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _untar_regular(data: bytes) -> dict[str, bytes]:
    """Regular files of a tar, by absolute path; links and anything else are ignored."""
    files: dict[str, bytes] = {}
    if not data:
        return files
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            for member in tar:
                if member.isreg():
                    extracted = tar.extractfile(member)
                    if extracted is not None:
                        files["/" + member.name.lstrip("/")] = extracted.read()
    except tarfile.TarError:
        return files
    return files


def _parse_counters(text: str) -> _Counters:
    """Read cgroup v1 or v2 counters from ``== path`` sections."""
    sections: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("== "):
            current = line[3:].strip().rsplit("/", 1)[-1]
            sections[current] = ""
        elif current:
            sections[current] += line + "\n"

    def field(name: str, key: str) -> int | None:
        for line in sections.get(name, "").splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == key and parts[1].isdigit():
                return int(parts[1])
        return None

    def number(name: str) -> int | None:
        value = sections.get(name, "").strip()
        return int(value) if value.isdigit() else None

    cpu_ns = number("cpuacct.usage")
    usage_usec = field("cpu.stat", "usage_usec")
    cpu = cpu_ns / 1e9 if cpu_ns is not None else (usage_usec / 1e6 if usage_usec is not None else None)
    peak = number("memory.max_usage_in_bytes") or number("memory.peak")
    ooms = field("memory.oom_control", "oom_kill") or field("memory.events", "oom_kill") or 0
    return _Counters(cpu_seconds=cpu, peak_memory_bytes=peak, oom_kills=ooms)
