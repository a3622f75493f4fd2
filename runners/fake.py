"""A runner that runs nothing: it answers with a function you give it.

Like httpx's ``MockTransport``: engine and grader tests use it to produce any
``RunOutcome`` without Docker. It is never selectable outside tests' own code.
"""

from __future__ import annotations

from collections.abc import Callable

from engine.models import RunOutcome, RunSpec


class FakeRunner:
    name = "fake"

    def __init__(self, handler: Callable[[RunSpec], RunOutcome]):
        self._handler = handler
        self.specs: list[RunSpec] = []

    def run(self, spec: RunSpec) -> RunOutcome:
        self.specs.append(spec)
        return self._handler(spec)
