"""Validating an uploaded pack in a child process with a memory cap and a time cap.

A pack upload is the one place where a stranger's document meets a parser
on the server. Whatever slipped past the YAML rules (``engine.yamlsafe``)
and the tree caps, it must not stall the event loop nor grow the server's
memory: the child validates with ``RLIMIT_AS`` and ``RLIMIT_CPU`` set before
it reads a byte of the pack, the parent waits for it with a wall-clock
timeout (from a worker thread, never on the event loop) and kills it past it.

Run as ``python -m api.packcheck ROOT``: prints ``{"problems": [[file, location, message], ...]}``.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine import packs
from engine.errors import ConfigurationError, PackError, Problem, capped
from engine.models import Pack

MEMORY_BYTES = 768 * 1024 * 1024
TIME_SECONDS = 30.0
#: Exit status of a child that hit its memory cap (MemoryError).
_OUT_OF_MEMORY = 3
#: At most this many validating children at once per server process; further uploads wait their turn.
_SLOTS = threading.BoundedSemaphore(2)


@dataclass(frozen=True)
class BoundedValidator:
    """``validate(root)`` raises ``PackError`` with every problem of the pack at ``root``, found in a bounded child."""

    memory_bytes: int = MEMORY_BYTES
    seconds: float = TIME_SECONDS

    def __call__(self, root: Path) -> None:
        """Raises:
        PackError: the pack has problems, or its validation passed the memory or time cap.
        ConfigurationError: the child failed for a reason of its own.
        """
        argv = [sys.executable, "-m", "api.packcheck", str(root), str(self.memory_bytes), str(int(self.seconds) + 1)]
        try:
            with _SLOTS:
                done = subprocess.run(
                    argv, capture_output=True, timeout=self.seconds, check=False, stdin=subprocess.DEVNULL
                )
        except subprocess.TimeoutExpired:  # run() killed the child
            raise PackError([Problem("", "", f"validating the pack took longer than {self.seconds:g} s")]) from None
        if done.returncode == _OUT_OF_MEMORY or done.returncode < 0:
            raise PackError(
                [
                    Problem(
                        "",
                        "",
                        f"validating the pack needed more than {self.memory_bytes // 2**20} MB "
                        f"or {self.seconds:g} s of CPU",
                    )
                ]
            )
        try:
            found = [Problem(*entry) for entry in json.loads(done.stdout)["problems"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(
                f"the pack validator failed (exit {done.returncode}): "
                f"{capped(done.stderr.decode('utf-8', 'replace'), 2000)}"
            ) from exc
        if found:
            raise PackError(found)


def loader() -> Callable[[Path], Pack]:
    """Load and validate a pack as the service does: every runtime environment, every grader kind's checks."""
    from graders import validation_checks
    from runners import images

    checks, environments = validation_checks(), images.environments()
    return lambda root: packs.load_pack(root, environments=environments, task_checks=checks)


def main(argv: list[str]) -> int:
    root, memory, seconds = Path(argv[0]), int(argv[1]), int(argv[2])
    load = loader()  # imports first: the caps are for the pack, not the interpreter
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds))
    try:
        try:
            load(root)
            found: list[Problem] = []
        except PackError as exc:
            found = list(exc.problems)
        print(json.dumps({"problems": [[p.file, p.location, p.message] for p in found]}))
    except MemoryError:
        return _OUT_OF_MEMORY
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
