"""The Docker backend: every run in a fresh, locked-down container.

How a run goes:
1. create a container whose only process is ``sleep infinity`` (PID 1), with
   the full limit set (see ``sandbox.Sandboxes.host_config``), and start it;
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
receives the client's files. A ``loopback`` service (the pytest kind's
bridge) gets no network at all: the client's container has a loopback
alone, on which ``candidate`` names the address, and the candidate's joins
that network namespace (Docker's ``container:`` mode), so neither reaches
anything but the other, and no network is made or removed per run.

Nothing from the host's environment, file system or network reaches the
container, and the host never follows a path the candidate could touch:
collected files come back as tar members and only regular files are kept.

One concern per module (each module's docstring says what it may touch):
``runner`` (a run from start to outcome), ``sandbox`` (a container with the
full limit set, made and removed), ``pool`` (sandboxes started ahead, used
once), ``reaping`` (orphans of dead workers, ``remove_own``), ``steps``
(files in, a step under its deadline, the kill), ``streams`` (Docker's
framed stream, stdin, tar), ``collect`` (counters and files read back), and
``service`` (the candidate's service and the two-sandbox service run).
"""

from runners.docker.runner import DockerRunner
from runners.docker.sandbox import ENVIRONMENT, LABEL, OWNER_LABEL, SANDBOX_USER

__all__ = ["ENVIRONMENT", "LABEL", "OWNER_LABEL", "SANDBOX_USER", "DockerRunner"]
