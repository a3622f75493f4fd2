"""The runner seam: ``Runner.run(spec) -> RunOutcome``.

A runner executes a ``RunSpec`` somewhere and reports what it observed. It
never judges: a crash, a timeout or an OOM kill is an outcome, not an error.
It raises ``RunnerError`` only when it could not do its own job.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from engine.models import RunOutcome, RunSpec


@runtime_checkable
class Runner(Protocol):
    #: The registry name of this backend, recorded in every result.
    name: str

    def run(self, spec: RunSpec) -> RunOutcome:
        """Run ``spec`` in a fresh sandbox and return what happened.

        Raises:
            RunnerUnavailable: the backend cannot be reached.
            ImageMissing: the environment's image is not built.
            RunnerError: any other infrastructure fault.
        """
        ...
