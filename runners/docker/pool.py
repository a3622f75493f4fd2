"""Warm sandboxes: started ahead per kind of run, each used once, removed off the submission's path.

Holds futures of whatever its caller's ``make`` returns (a sandbox's id, or a service run's network
and sandboxes) and runs the caller's removals in the background. It never talks to Docker itself
and never hands out a sandbox twice: a sandbox started ahead is still fresh and used once, only its
start and removal leave the submission's path.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from engine.errors import RunnerError

Made = TypeVar("Made")


class Pool:
    """Sandboxes started (or starting) ahead, keyed by kind of run, oldest first."""

    def __init__(self, warm: int = 0):
        """``warm`` > 0 keeps that many started ahead per key once a run of that key was taken."""
        self.warm = warm
        self._ready: dict[Hashable, deque[Future[Any]]] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._starter: ThreadPoolExecutor | None = None
        self._remover: ThreadPoolExecutor | None = None

    @property
    def active(self) -> bool:
        """Whether anything was ever started ahead: used sandboxes then go in the background (``dispose``)."""
        return self._starter is not None

    def take(self, key: Hashable, make: Callable[[], Made]) -> Made:
        """The oldest one started ahead for ``key``, else one made now; when warm, another starts ahead.

        Raises:
            RunnerError: ``make`` failed now (one started ahead that failed is made again instead).
        """
        with self._lock:
            ready = self._ready.get(key)
            future = ready.popleft() if ready else None
        if self.warm:
            self.start_ahead(key, make, up_to=self.warm)
        if future is not None:
            try:
                return future.result()
            except RunnerError:
                pass  # made now instead; if the engine is really down, this reports it
        return make()

    def start_ahead(self, key: Hashable, make: Callable[[], Any], *, up_to: int | None = None) -> None:
        """Queue a ``make`` for ``key`` (unless ``up_to`` are already started or starting, or the pool is closed)."""
        with self._lock:
            if self._closed:
                return
            ready = self._ready.setdefault(key, deque())
            if up_to is not None and len(ready) >= up_to:
                return
            if self._starter is None:
                self._starter = ThreadPoolExecutor(
                    max_workers=max(2, self.warm), thread_name_prefix="tasktrial-sandbox-start"
                )
            ready.append(self._starter.submit(make))

    def dispose(self, now: Callable[[], None], later: Callable[[], None]) -> None:
        """Remove a used sandbox: ``later`` in the background once the pool is active, else ``now`` (which raises)."""
        with self._lock:
            background = self._starter is not None and not self._closed
            if background and self._remover is None:
                self._remover = ThreadPoolExecutor(max_workers=2, thread_name_prefix="tasktrial-sandbox-remove")
            try:
                if background and self._remover is not None:
                    self._remover.submit(later)
                    return
            except RuntimeError:  # closing
                pass
        now()

    def close(self) -> list[Any]:
        """Start nothing more, finish the background removals, and return what was started ahead and never used."""
        with self._lock:
            self._closed = True
            ahead = [future for futures in self._ready.values() for future in futures]
            self._ready.clear()
        if self._starter is not None:
            self._starter.shutdown(wait=True, cancel_futures=True)  # a start not begun is never needed
        if self._remover is not None:
            self._remover.shutdown(wait=True)  # every queued removal still happens
        return [future.result() for future in ahead if not future.cancelled() and future.exception() is None]
