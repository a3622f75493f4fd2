"""``DockerRunner``: a run from its start to its outcome, in fresh sandboxes that are removed whatever happens.

Orchestration only: it picks the kind of run (one sandbox, a fresh sandbox per step, or a service
run), takes sandboxes from ``pool`` (made by ``sandbox``), runs the steps (``steps``), reads the
results back (``collect``) and has the sandboxes removed. A Docker fault anywhere in a run is an
engine error (``RunnerError``), never the candidate's outcome.
"""

from __future__ import annotations

import atexit
import contextlib
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import docker
import docker.errors

from engine.errors import ImageMissing, RunnerError, RunnerUnavailable
from engine.models import RunOutcome, RunSpec, StepOutcome
from runners import images
from runners.docker import reaping, service
from runners.docker.collect import BACKEND, Counters, collect, finish
from runners.docker.pool import Pool
from runners.docker.sandbox import Sandboxes
from runners.docker.steps import exec_step, run_steps, upload, upload_and_exec

# Isolated steps: how many fresh sandboxes are prepared (started, files in) ahead of the step that runs.
PREPARED_AHEAD = 2


class DockerRunner:
    """Runs specs in containers on a Docker engine (local or remote)."""

    name = BACKEND

    def __init__(
        self, client: docker.DockerClient, *, runtime: str | None = None, owner: str | None = None, warm: int = 0
    ):
        """``owner`` (``host:pid`` of a worker) is stamped on every sandbox so a successor can reap orphans.

        ``warm`` > 0 keeps that many sandboxes started (or starting) ahead per kind of run (image,
        limits, labels) and removes used ones in the background: the container is still fresh and
        used once, only its start and removal leave the submission's path. ``prepare`` starts one
        ahead without keeping the pool full (a one-off command). ``close()`` removes what is left.
        """
        self._client = client
        self._api = client.api
        self._sandboxes = Sandboxes(client.api, runtime=runtime, owner=owner)
        self._image_ids: dict[str, str] = {}
        self._pool = Pool(warm)
        if warm:
            atexit.register(self.close)

    @classmethod
    def from_env(cls, *, runtime: str | None = None, owner: str | None = None, warm: int = 0) -> DockerRunner:
        return cls(images.client_from_env(), runtime=runtime, owner=owner, warm=warm)

    def run(self, spec: RunSpec) -> RunOutcome:
        if spec.service is not None:
            return self._run_service(spec)
        if spec.isolated_steps and len(spec.steps) > 1:
            return self._run_isolated(spec)
        image = images.runtime_image(spec.environment).tag
        image_id = self._image_id(image)
        started = time.monotonic()
        container = self._take(spec, image)
        try:
            return self._run_in(container, spec, image_id, started)
        except images.ENGINE_FAULTS as exc:
            raise RunnerError(f"the Docker engine failed during the run: {exc}") from exc
        finally:
            self._dispose(container)

    def prepare(self, spec: RunSpec) -> None:
        """Start one sandbox for runs like ``spec`` now, so the next such run need not wait for one.

        For a command that knows a run is coming (``grade``): the sandbox is still fresh and used
        once; unused, ``close()`` removes it. Service runs make their own sandboxes.

        Raises:
            ImageMissing: the environment's image is not built.
        """
        if spec.service is None:
            image = images.runtime_image(spec.environment).tag
            self._image_id(image)
            self._pool.start_ahead(self._key(spec, image), partial(self._sandboxes.create, spec, image))

    def close(self) -> None:
        """Finish background removals and remove the sandboxes started ahead and never used."""
        for made in self._pool.close():
            if isinstance(made, tuple):  # a service run's network and sandboxes
                self._sandboxes.remove_all_logged(made[1], made[0])
            else:
                self._sandboxes.remove_logged(made)

    def reap_orphans(self, *, host: str) -> int:
        """Remove the sandboxes and networks of dead workers on ``host`` (see ``reaping.reap_orphans``)."""
        return reaping.reap_orphans(self._client, self._sandboxes, host=host)

    def remove_own(self) -> int:
        """Remove every sandbox this runner's owner made and make no more (see ``reaping.remove_own``)."""
        return reaping.remove_own(self._client, self._sandboxes)

    # -- one sandbox for the whole run -----------------------------------------

    @staticmethod
    def _key(spec: RunSpec, image: str) -> tuple:
        return image, spec.limits, tuple(sorted(spec.labels.items()))

    def _image_id(self, image: str) -> str:
        if image not in self._image_ids:
            try:
                self._image_ids[image] = self._client.images.get(image).id or image
            except docker.errors.ImageNotFound as exc:
                raise ImageMissing(f"runtime image {image} is not built; run `tasktrial images build`") from exc
            except images.ENGINE_FAULTS as exc:
                raise RunnerUnavailable(f"cannot reach the Docker engine: {exc}") from exc
        return self._image_ids[image]

    def _take(self, spec: RunSpec, image: str) -> str:
        """A started, unused sandbox for ``spec``: the oldest one started ahead, else one made now."""
        return self._pool.take(self._key(spec, image), partial(self._sandboxes.create, spec, image))

    def _dispose(self, container: str) -> None:
        """Remove a used sandbox: in the background once sandboxes are started ahead (off the submission's path)."""
        self._pool.dispose(
            partial(self._sandboxes.remove, container), partial(self._sandboxes.remove_logged, container)
        )

    def _run_in(self, cid: str, spec: RunSpec, image_id: str, started: float) -> RunOutcome:
        if not spec.steps:
            upload(self._api, cid, spec)
            outcomes, alive = [], True
        else:
            first, alive = upload_and_exec(self._api, cid, spec)
            rest, alive = run_steps(self._api, cid, spec.steps[1:], spec.limits, alive=alive)
            outcomes = [first, *rest]
        return finish(self._api, cid, spec, image_id, started, outcomes, alive)

    # -- isolated steps: a fresh sandbox per step ----------------------------

    def _run_isolated(self, spec: RunSpec) -> RunOutcome:
        """Each step in a fresh sandbox that got the same files; the next ones are made ready while a step runs.

        Sandboxes come from the warm pool when it has one (``_take``) and each is
        used once, like a whole run's. Counters add up (CPU) or take the worst
        (peak memory, OOM kills) over the steps.
        """
        image = images.runtime_image(spec.environment).tag
        image_id = self._image_id(image)
        started = time.monotonic()
        outcomes: list[StepOutcome] = []
        cpu: float | None = None
        peak: int | None = None
        oom = False
        steps = len(spec.steps)
        finishing = []
        with ThreadPoolExecutor(max_workers=PREPARED_AHEAD + 2, thread_name_prefix="tasktrial-sandbox-ahead") as helper:
            ahead = deque(helper.submit(self._prepared, spec, image) for _ in range(min(PREPARED_AHEAD, steps)))
            asked = len(ahead)
            try:
                for step in spec.steps:
                    container = ahead.popleft().result()
                    if asked < steps:
                        ahead.append(helper.submit(self._prepared, spec, image))
                        asked += 1
                    try:
                        outcome, alive = exec_step(self._api, container, step, spec.limits)
                    except BaseException:
                        self._discard(container, helper)
                        raise
                    outcomes.append(outcome)
                    # Counters and removal off the steps' path: the next step runs in another sandbox meanwhile.
                    finishing.append(helper.submit(self._finish_isolated, container, alive))
                for done in finishing:
                    counters, killed = done.result()
                    oom = oom or killed
                    if counters.cpu_seconds is not None:
                        cpu = (cpu or 0.0) + counters.cpu_seconds
                    if counters.peak_memory_bytes is not None:
                        peak = max(peak or 0, counters.peak_memory_bytes)
            except images.ENGINE_FAULTS as exc:
                raise RunnerError(f"the Docker engine failed during the run: {exc}") from exc
            finally:
                for unused in ahead:  # the run ended early: sandboxes prepared for it go unused
                    with contextlib.suppress(RunnerError):
                        self._discard(unused.result(), helper)
        return RunOutcome(
            backend=self.name,
            image=image_id,
            steps=tuple(outcomes),
            wall_seconds=time.monotonic() - started,
            cpu_seconds=cpu,
            peak_memory_bytes=peak,
            oom_killed=oom,
        )

    def _prepared(self, spec: RunSpec, image: str) -> str:
        """A fresh sandbox holding ``spec``'s files, ready for a step."""
        container = self._take(spec, image)
        try:
            upload(self._api, container, spec)
        except BaseException as exc:
            self._sandboxes.remove(container)
            if isinstance(exc, images.ENGINE_FAULTS):
                raise RunnerError(f"the Docker engine failed while preparing a sandbox: {exc}") from exc
            raise
        return container

    def _finish_isolated(self, container: str, alive: bool) -> tuple[Counters, bool]:
        """A used isolated sandbox's counters and whether it was OOM-killed; then it goes (in this thread when cold)."""
        try:
            counters = collect(self._api, container, ())[0] if alive else Counters()
            state = self._api.inspect_container(container)["State"]
            return counters, counters.oom_kills > 0 or bool(state.get("OOMKilled", False))
        finally:
            if self._pool.active:
                self._dispose(container)
            else:
                self._sandboxes.remove_logged(container)

    def _discard(self, container: str, helper: ThreadPoolExecutor) -> None:
        """Remove a used sandbox off the run's path: the warm pool's background, else ``helper``'s thread."""
        if self._pool.active:
            self._dispose(container)
        else:
            helper.submit(self._sandboxes.remove_logged, container)

    # -- a service run: candidate and client on a private network (or one loopback) ----------

    def _run_service(self, spec: RunSpec) -> RunOutcome:
        assert spec.service is not None and spec.client is not None
        image = images.runtime_image(spec.environment).tag
        client_image = images.runtime_image(spec.client.environment).tag
        image_id, client_image_id = self._image_id(image), self._image_id(client_image)
        started = time.monotonic()
        if (
            spec.service.loopback
            and not self._pool.warm
            and not spec.service.probe
            and not spec.steps
            and spec.client.steps
        ):
            return self._serve_made_now(spec, image, client_image, (image_id, client_image_id), started)
        network, containers = self._take_service(spec, image, client_image)
        try:
            candidate, client = containers
            return service.serve(self._api, candidate, client, spec, (image_id, client_image_id), started)
        except images.ENGINE_FAULTS as exc:
            raise RunnerError(f"the Docker engine failed during the service run: {exc}") from exc
        finally:
            self._pool.dispose(
                partial(self._sandboxes.remove_all, containers, network),
                partial(self._sandboxes.remove_all_logged, containers, network),
            )

    def _take_service(self, spec: RunSpec, image: str, client_image: str) -> tuple[str, list[str]]:
        """A service run's network and started (candidate, client) sandboxes: started ahead when warm.

        Like single sandboxes, a trio started ahead is fresh and used once.
        """
        assert spec.client is not None
        make = partial(service.make, self._sandboxes, spec, image, client_image)
        if not self._pool.warm:
            return make()
        loopback = spec.service.loopback if spec.service is not None else False
        key = ("service", loopback, self._key(spec, image), self._key(spec.client, client_image))
        return self._pool.take(key, make)

    def _serve_made_now(
        self, spec: RunSpec, image: str, client_image: str, image_ids: tuple[str, str], started: float
    ) -> RunOutcome:
        """A loopback service run made on the run's path: its sandboxes start while the client's steps
        begin (``service.serve_made_now``), and go whatever happens."""
        containers: list[str] = []
        try:
            return service.serve_made_now(self._sandboxes, spec, image, client_image, image_ids, started, containers)
        except images.ENGINE_FAULTS as exc:
            raise RunnerError(f"the Docker engine failed during the service run: {exc}") from exc
        finally:
            self._pool.dispose(
                partial(self._sandboxes.remove_all, containers, ""),
                partial(self._sandboxes.remove_all_logged, containers, ""),
            )
