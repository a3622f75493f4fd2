"""The sandbox: one locked-down container (and a service run's private network), made and removed.

Touches the Docker engine's container and network endpoints only: every sandbox is created here,
with the full limit set (``host_config``), the run's labels and this worker's owner label, and
removed here. It never runs anything inside a sandbox (``steps``) and never decides when one is
made or removed (``pool``, ``runner``). Once ``abandon`` is called, it makes no sandbox again.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import docker
import docker.errors
from docker.types import LogConfig, Ulimit

from engine.errors import RunnerError
from engine.models import GRADER_DIR, WORKSPACE, ResourceLimits, RunSpec
from runners.images import ENGINE_FAULTS

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
# Options of a service run's network: no route out, and no address on the host's bridge,
# without which an internal network still reaches every port the host listens on.
NETWORK_OPTIONS = {"com.docker.network.bridge.inhibit_ipv4": "true"}
#: How long ``abandon`` waits for sandboxes still being created (a stopping ``serve`` must end quickly).
ABANDON_WAIT_SECONDS = 5.0


class Sandboxes:
    """Makes and removes one owner's sandboxes on a Docker engine (``api``: docker-py's low-level client)."""

    def __init__(self, api: docker.APIClient, *, runtime: str | None = None, owner: str | None = None):
        """``owner`` (``host:pid`` of a worker) is stamped on every sandbox so a successor can reap orphans."""
        self.api = api
        self._runtime = runtime
        self.owner = {OWNER_LABEL: owner} if owner else {}
        self.born = time.time()  # sandboxes stamped with our pid but made before this are a predecessor's
        #: Sandboxes being created now, and whether ``abandon`` ended this owner for good.
        self._creating = 0
        self._abandoned = False
        self._created = threading.Condition()

    def create(
        self,
        spec: RunSpec,
        image: str,
        *,
        run_id: str | None = None,
        network: str | None = None,
        aliases: tuple[str, ...] = (),
        joins: str | None = None,
    ) -> str:
        """A started sandbox; on no network unless ``network`` names a service run's network.

        With no ``network``, ``aliases`` name its own loopback (a loopback service run's client), and
        ``joins`` names the started sandbox whose loopback it shares (that run's candidate joins the client).

        Raises:
            RunnerError: the engine refused, or ``abandon`` ended this owner (the sandbox is removed).
        """
        with self._created:
            if self._abandoned:
                raise RunnerError("this worker is stopping: no new sandbox")
            self._creating += 1
        try:
            cid = self._create_now(spec, image, run_id=run_id, network=network, aliases=aliases, joins=joins)
        finally:
            with self._created:
                self._creating -= 1
                abandoned = self._abandoned
                self._created.notify_all()
        if abandoned:
            self.remove(cid)
            raise RunnerError("this worker is stopping: no new sandbox")
        return cid

    def abandon(self) -> None:
        """Make no new sandbox from now on; one being created is awaited (bounded by ``ABANDON_WAIT_SECONDS``)."""
        with self._created:
            self._abandoned = True
            self._created.wait_for(lambda: self._creating == 0, timeout=ABANDON_WAIT_SECONDS)

    def _create_now(
        self,
        spec: RunSpec,
        image: str,
        *,
        run_id: str | None,
        network: str | None,
        aliases: tuple[str, ...],
        joins: str | None = None,
    ) -> str:
        labels = {LABEL: "1", "tasktrial.run": run_id or uuid.uuid4().hex, **self.owner, **spec.labels}
        networking: dict[str, Any] = {"network_disabled": True}
        mode, hosts = network or "none", None
        if joins is not None:  # a loopback service run's candidate: the client's network namespace (loopback only)
            networking, mode = {}, f"container:{joins}"
        elif network is None and aliases:  # its client: names for its own loopback (not kept if networking is disabled)
            networking, hosts = {}, dict.fromkeys(aliases, "127.0.0.1")
        elif network is not None:
            endpoint = self.api.create_endpoint_config(aliases=list(aliases) or None)
            # types-docker wants one EndpointConfig; docker-py takes {network: EndpointConfig}
            config = self.api.create_networking_config({network: endpoint})  # type: ignore[arg-type]
            networking = {"networking_config": config}
        try:
            container = self.api.create_container(
                image,
                command=["sleep", "infinity"],
                user=SANDBOX_USER,
                working_dir=WORKSPACE,
                environment=ENVIRONMENT,
                labels=labels,
                stop_signal="SIGKILL",
                host_config=self.host_config(spec.limits, network=mode, hosts=hosts),
                **networking,
            )
            self.api.start(container["Id"])
        except ENGINE_FAULTS as exc:
            if "container" in locals():
                self.remove(container["Id"])
            raise RunnerError(f"cannot start a sandbox from {image}: {exc}") from exc
        return container["Id"]

    def host_config(
        self, limits: ResourceLimits, *, network: str = "none", hosts: dict[str, str] | None = None
    ) -> dict:
        """The full limit set as Docker options: the one place ``ResourceLimits`` becomes them."""
        memory = f"{limits.memory_mb}m"
        disk = f"size={limits.disk_mb}m,nr_inodes={max(1024, limits.disk_mb * 64)}"
        owned = "uid=65534,gid=65534"
        return self.api.create_host_config(
            network_mode=network,
            extra_hosts=hosts,
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

    def create_network(self, run_id: str, spec: RunSpec) -> str:
        """A service run's private network: internal, with no address on the host's side."""
        try:
            network = self.api.create_network(
                f"tasktrial-{run_id}",
                driver="bridge",
                internal=True,
                options=NETWORK_OPTIONS,
                labels={LABEL: "1", "tasktrial.run": run_id, **self.owner, **spec.labels},
            )
        except ENGINE_FAULTS as exc:
            raise RunnerError(f"cannot create the private network of a service run: {exc}") from exc
        return network["Id"]

    def remove(self, cid: str) -> None:
        try:
            self.api.remove_container(cid, force=True, v=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            if "already in progress" not in str(exc):
                raise RunnerError(f"cannot remove sandbox container {cid[:12]}: {exc}") from exc

    def remove_network(self, network: str) -> None:
        try:
            self.api.remove_network(network)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            raise RunnerError(f"cannot remove sandbox network {network[:12]}: {exc}") from exc

    def remove_all(self, containers: list[str], network: str) -> None:
        """Remove a service run's containers, then its network; try every one before raising the first failure."""
        failure: RunnerError | None = None
        with ThreadPoolExecutor(max_workers=max(1, len(containers)), thread_name_prefix="tasktrial-remove") as removing:
            for removal in [removing.submit(self.remove, cid) for cid in reversed(containers)]:
                try:
                    removal.result()
                except RunnerError as exc:
                    failure = failure or exc
        try:
            if network:  # a loopback service run has none
                self.remove_network(network)
        except RunnerError as exc:
            failure = failure or exc
        if failure is not None:
            raise failure

    def remove_logged(self, cid: str) -> None:
        """``remove`` off the run's path: a failure is logged, and the next worker start reaps the sandbox."""
        try:
            self.remove(cid)
        except RunnerError:
            log.exception("a used sandbox could not be removed; the next worker start reaps it")

    def remove_all_logged(self, containers: list[str], network: str) -> None:
        """``remove_all`` off the run's path: a failure is logged, and the next worker start reaps them."""
        try:
            self.remove_all(containers, network)
        except RunnerError:
            log.exception("a service run's sandboxes could not be removed; the next worker start reaps them")
