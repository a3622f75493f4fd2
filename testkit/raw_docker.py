"""The peer the benchmarks measure against: a plain ``docker run`` of a command, with a task's limits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from engine.models import ResourceLimits
from runners.docker import LABEL, SANDBOX_USER

#: pytest as the peers run it: quiet, and writing no cache into the read-only mounts.
PYTEST = ("python3", "-m", "pytest", "-q", "-p", "no:cacheprovider")


def raw_docker_run(
    image: str,
    command: Sequence[str],
    *,
    limits: ResourceLimits,
    mounts: Mapping[Path, str],
    workdir: str,
    env: Mapping[str, str] | None = None,
    network: str = "none",
    options: Sequence[str] = (),
) -> list[str]:
    """The argv of ``docker run --rm`` of ``command`` in ``image`` under ``limits``.

    The peer gets the sandbox's full limit set (no network, read-only root, a capped
    ``nosuid,nodev`` tmpfs ``/tmp``, the unprivileged user, no capabilities, memory = swap,
    CPUs, pids), so a ratio compares like with like. Every mount (host folder -> container
    path) is read-only; containers carry ``LABEL.bench`` so a benchmark can count leftovers.
    ``network`` may instead join another container's loopback (``container:NAME``, as our
    two-sandbox gradings share one); ``options`` are further ``docker run`` flags (``-d``, ``-i``).
    """
    memory = f"{limits.memory_mb}m"
    volumes = [arg for host, target in mounts.items() for arg in ("-v", f"{host}:{target}:ro")]
    variables = [arg for name, value in (env or {}).items() for arg in ("-e", f"{name}={value}")]
    return [
        "docker",
        "run",
        "--rm",
        *options,
        "--network",
        network,
        "--read-only",
        "--tmpfs",
        f"/tmp:rw,nosuid,nodev,size={limits.disk_mb}m",
        "--user",
        SANDBOX_USER,
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "--memory",
        memory,
        "--memory-swap",
        memory,
        "--cpus",
        str(limits.cpus),
        "--pids-limit",
        str(limits.pids),
        "--label",
        f"{LABEL}.bench=1",
        *volumes,
        "-w",
        workdir,
        *variables,
        image,
        *command,
    ]
