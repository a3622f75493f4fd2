"""Reaping: removing the sandboxes and networks of a worker that is gone, or (``remove_own``) all of one's own.

Touches only what carries the owner label: lists containers and networks through the Docker client
and removes them through ``Sandboxes``. A sandbox of a live worker, of another host, or of this
very runner is never taken by ``reap_orphans``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from functools import partial

import docker
import docker.errors

from runners.docker.sandbox import OWNER_LABEL, Sandboxes


def reap_orphans(client: docker.DockerClient, sandboxes: Sandboxes, *, host: str) -> int:
    """Remove sandboxes (and service networks) whose owning worker on ``host`` is no longer alive.

    For a worker starting after a crash, and again now and then while it runs: a sandbox the
    predecessor was creating as it died can appear after the first pass. Sandboxes of live
    workers and of other hosts are left alone. One stamped with this process's own pid is a
    predecessor's (a worker restarted in the same container keeps its host name and may get its
    pid) only if it was made before ``sandboxes`` was: our own are never touched.
    Returns how many containers it removed.
    """
    removed = 0
    for container in client.containers.list(all=True, filters={"label": OWNER_LABEL}, ignore_removed=True):
        if container.id is not None and _orphaned(
            container.labels, host, partial(_container_created, sandboxes.api, container.id), born=sandboxes.born
        ):
            sandboxes.remove(container.id)
            removed += 1
    # By their own owner label, not their runs': a worker can die between making a network and its sandboxes.
    for network in sandboxes.api.networks(filters={"label": OWNER_LABEL}):
        if _orphaned(network.get("Labels") or {}, host, partial(network.get, "Created"), born=sandboxes.born):
            sandboxes.remove_network(network["Id"])
    return removed


def remove_own(client: docker.DockerClient, sandboxes: Sandboxes) -> int:
    """Remove every sandbox (and service network) ``sandboxes``' owner made, in use or not; then make no more.

    For a process ending without awaiting its runs (``serve`` stopping mid-grading): their
    runs stay claimed and are queued again at the next start, so nothing it is running
    can still be wanted. Returns how many containers it removed (none without an owner).
    """
    if not sandboxes.owner:
        return 0
    sandboxes.abandon()
    mine: dict[str, str | list[str] | bool] = {"label": f"{OWNER_LABEL}={sandboxes.owner[OWNER_LABEL]}"}
    containers = client.containers.list(all=True, filters=mine, ignore_removed=True)
    for container in containers:
        if container.id is not None:  # never for a listed container; the stubs allow it
            sandboxes.remove(container.id)
    for network in sandboxes.api.networks(filters=mine):
        sandboxes.remove_network(network["Id"])
    return len(containers)


def _orphaned(labels: dict[str, str], host: str, created: Callable[[], str | None], *, born: float) -> bool:
    """Whether a sandbox or network with these labels belongs to a dead worker on ``host`` (see ``reap_orphans``)."""
    owner_host, _, pid = labels.get(OWNER_LABEL, "").rpartition(":")
    if owner_host != host or not pid.isdigit():
        return False
    if int(pid) != os.getpid():
        return not _alive(int(pid))
    stamp = created()
    return stamp is not None and _timestamp(stamp) < born


def _container_created(api: docker.APIClient, cid: str) -> str | None:
    try:
        return api.inspect_container(cid)["Created"]
    except docker.errors.NotFound:
        return None


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
