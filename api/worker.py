"""What a worker process holds: the sandbox runner, graders, the pack store, and the API client.

Used by the Celery worker (``tasktrial worker``) and by the embedded pool of
``tasktrial serve``; both run ``api.jobs.execute`` with it.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass

import httpx

from api import jobs
from api.packstore import PackStore
from api.worker_client import WorkerApi
from engine.errors import NotFound
from engine.models import Task
from engine.ports import Runner
from graders import GraderSet


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class WorkerContext:
    runner: Runner
    graders: GraderSet
    pack_store: PackStore
    api: WorkerApi
    attempts: int

    @classmethod
    def build(
        cls, *, runner: Runner, pack_store: PackStore, client: httpx.Client, token: str, cache_dir, attempts: int
    ) -> WorkerContext:
        return cls(
            runner=runner,
            graders=GraderSet(runner, cache_dir=cache_dir),
            pack_store=pack_store,
            api=WorkerApi(client, token=token, worker=worker_name()),
            attempts=attempts,
        )

    def find_task(self, pack_id: str, version: str, task_id: str) -> Task:
        try:
            return self.pack_store.task(pack_id, task_id, version)
        except NotFound:
            self.pack_store.refresh()  # a pack uploaded after this worker started
            return self.pack_store.task(pack_id, task_id, version)

    def execute_once(self, run_id: str) -> None:
        jobs.execute(run_id, api=self.api, runner=self.runner, graders=self.graders, find_task=self.find_task)

    def run_public_tests(self, job_id: str) -> None:
        jobs.run_public_tests(job_id, api=self.api, runner=self.runner, find_task=self.find_task)

    def find_pack(self, pack_id: str, version: str):
        try:
            return self.pack_store.pack(pack_id, version)
        except NotFound:
            self.pack_store.refresh()  # uploaded after this worker started
            return self.pack_store.pack(pack_id, version)

    def check_pack_once(self, version_id: str) -> None:
        jobs.check_pack(version_id, api=self.api, runner=self.runner, graders=self.graders, find_pack=self.find_pack)

    def check_pack(self, version_id: str) -> None:
        """Check an uploaded pack version with retries (the embedded pool's policy)."""
        jobs.check_with_retries(
            version_id, once=self.check_pack_once, api=self.api, attempts=self.attempts, sleep=time.sleep
        )

    def execute(self, run_id: str) -> None:
        """Grade with retries (the embedded pool's policy)."""
        jobs.execute_with_retries(
            run_id, once=self.execute_once, api=self.api, attempts=self.attempts, sleep=time.sleep
        )
