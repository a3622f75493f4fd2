"""The engine on this machine, for the commands that load packs and grade locally.

Every import of the engine's heavier parts (packs, runners, graders) happens
inside these functions, when a command runs, never at start-up.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.models import Pack

DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tasktrial"


def load(path: Path) -> Pack:
    """The pack at ``path`` as ``pack validate`` loads it. Raises ``PackError`` listing every problem."""
    from engine import packs
    from graders import validation_checks
    from runners import images

    return packs.load_pack(path, environments=images.environments(), task_checks=validation_checks())


def engine_parts(backend: str, cache_dir: Path, runtime: str | None = None, *, warm: int = 0):
    """A runner by backend name and the graders over it."""
    import runners
    from graders import GraderSet

    runner = runners.from_name(backend, runtime=runtime, warm=warm)
    return runner, GraderSet(runner, cache_dir=cache_dir)


def close_runner(runner) -> None:
    """Remove the sandboxes a runner started ahead and wait for its background removals."""
    if hasattr(runner, "close"):
        runner.close()
