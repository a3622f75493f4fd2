"""The worker looks a task up again after refreshing its pack store only when the task is unknown."""

from __future__ import annotations

import pytest

from api.worker import WorkerContext
from engine.errors import NotFound


class ScriptedPackStore:
    """Answers ``task`` and ``pack`` from a list of outcomes (an exception is raised), counting refreshes."""

    def __init__(self, *outcomes: object) -> None:
        self.outcomes = list(outcomes)
        self.refreshes = 0

    def _next(self) -> object:
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def task(self, pack_id: str, task_id: str, version: str | None = None) -> object:
        return self._next()

    def pack(self, pack_id: str, version: str | None = None) -> object:
        return self._next()

    def refresh(self) -> None:
        self.refreshes += 1


def context(pack_store):
    return WorkerContext(runner=None, graders=None, pack_store=pack_store, api=None, attempts=1)


@pytest.mark.parametrize("find", ["find_task", "find_pack"])
def test_an_unknown_task_or_pack_is_looked_up_again_after_a_refresh(find):
    pack_store = ScriptedPackStore(NotFound("uploaded after this worker started"), "found")
    args = ("p", "1.0.0", "t") if find == "find_task" else ("p", "1.0.0")
    assert getattr(context(pack_store), find)(*args) == "found"
    assert pack_store.refreshes == 1


@pytest.mark.parametrize("find", ["find_task", "find_pack"])
def test_any_other_fault_is_raised_as_it_is_without_a_refresh(find):
    """It used to be swallowed (``except Exception``), the pack store refreshed and the lookup repeated."""
    pack_store = ScriptedPackStore(OSError("the pack store is unreadable"), "found")
    args = ("p", "1.0.0", "t") if find == "find_task" else ("p", "1.0.0")
    with pytest.raises(OSError, match="unreadable"):
        getattr(context(pack_store), find)(*args)
    assert pack_store.refreshes == 0
