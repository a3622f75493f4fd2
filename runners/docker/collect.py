"""Reading a run back: the sandbox's cgroup counters and the collected files, into the run's outcome.

Touches one sandbox after its last step, through a single exec the harness controls (it first
kills every leftover process of the sandbox user), and inspects the container for its OOM flag.
Files come back as tar members and only regular files are kept: the host never follows a path
the candidate could touch.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

import docker
import docker.errors

from engine.errors import RunnerError
from engine.models import RunOutcome, RunSpec, StepOutcome
from runners.docker.sandbox import SANDBOX_USER
from runners.docker.streams import pump, raw_socket, untar_regular

#: The backend's name in every outcome.
BACKEND = "docker"
COLLECT_CAP_BYTES = 4 * 1024 * 1024
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


@dataclass(frozen=True)
class Counters:
    cpu_seconds: float | None = None
    peak_memory_bytes: int | None = None
    oom_kills: int = 0


def finish(
    api: docker.APIClient,
    cid: str,
    spec: RunSpec,
    image_id: str,
    started: float,
    outcomes: list[StepOutcome],
    alive: bool,
    **extra,
) -> RunOutcome:
    """Collect counters and files (when the sandbox is usable) into the run's outcome."""
    counters, collected = Counters(), dict[str, bytes]()
    if alive:
        counters, collected = collect(api, cid, spec.collect)
    oom = counters.oom_kills > 0 or api.inspect_container(cid)["State"].get("OOMKilled", False)
    return RunOutcome(
        backend=BACKEND,
        image=image_id,
        steps=tuple(outcomes),
        collected=collected,
        wall_seconds=time.monotonic() - started,
        cpu_seconds=counters.cpu_seconds,
        peak_memory_bytes=counters.peak_memory_bytes,
        oom_killed=bool(oom),
        **extra,
    )


def collect(api: docker.APIClient, cid: str, paths: tuple[str, ...]) -> tuple[Counters, dict[str, bytes]]:
    """The sandbox's counters and the regular files at ``paths`` (up to ``COLLECT_CAP_BYTES`` of tar).

    Only called on a sandbox still usable after the steps, which the candidate cannot stop (PID 1
    ignores signals from inside it), so a failure here is the engine's: it must never become empty
    files and counters, which graders would judge as the candidate's failure.

    Raises:
        RunnerError: the Docker engine failed to run the collection or to stream its output.
    """
    try:
        exec_id = api.exec_create(cid, ["sh", "-c", _COLLECT_SCRIPT, "collect", *paths], user=SANDBOX_USER)["Id"]
        sock = raw_socket(api.exec_start(exec_id, socket=True))
        try:
            sock.shutdown(socket.SHUT_WR)
            stdout, stderr, _, _ = pump(sock, time.monotonic() + 30, COLLECT_CAP_BYTES)
        finally:
            sock.close()
    except (docker.errors.DockerException, OSError) as exc:
        raise RunnerError(f"the Docker engine failed while collecting the output of sandbox {cid[:12]}: {exc}") from exc
    return parse_counters(stderr.decode("utf-8", "replace")), untar_regular(stdout)


def parse_counters(text: str) -> Counters:
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
    return Counters(cpu_seconds=cpu, peak_memory_bytes=peak, oom_kills=ooms)
