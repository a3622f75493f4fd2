"""The service's parts, built once from ``Settings`` and shared by routes, the reaper and workers."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from anyio import to_thread
from prometheus_client import CollectorRegistry, Counter, Histogram
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api import auth, cohort_storage, cohorts, db, packcheck, storage
from api.auth import Principal
from api.credentials import Credentials
from api.errors import StorageLow, TooManyRequests
from api.health import Prober
from api.packstore import PackStore, StateOf
from api.queue import JobQueue
from api.settings import Settings
from api.streams import StreamHub
from api.tables import PackState, RunState, utcnow
from api.transparency import TransparencyLog
from api.webhooks import Webhooks
from engine import archives, openbadges, public_tests, results, review, signing, transparency
from engine.errors import ConfigurationError, Conflict, NotFound, RunnerUnavailable
from engine.grading import engine_error_result
from engine.keyring import Keyring
from engine.models import Pack, Task
from engine.public_tests import PublicTestRun
from engine.results import candidate_view, now

log = logging.getLogger("tasktrial.api")


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.submissions = Counter("tasktrial_submissions_total", "Accepted submissions", registry=self.registry)
        self.results = Counter("tasktrial_results_total", "Results written", ["verdict"], registry=self.registry)
        self.rejected = Counter("tasktrial_rejected_total", "Rejected requests", ["reason"], registry=self.registry)
        self.requeued = Counter("tasktrial_requeued_runs_total", "Runs re-queued by the reaper", registry=self.registry)
        self.latency = Histogram(
            "tasktrial_submission_to_result_seconds",
            "From acceptance to stored result",
            registry=self.registry,
            buckets=(0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600),
        )


class QueueLength:
    """The number of runs waiting, as the queue bound needs it: counted (a query reading up to the bound's
    worth of index entries, about 10 ms over 100,000 waiting runs) at most every ``seconds``, and in
    between estimated as that count plus the submissions this process let in since.

    The estimate never falls below the truth through this process (workers only shorten the queue),
    and a count is taken whenever the estimate reaches the bound, so one process never lets in one
    too many; other API processes' submissions of the last ``seconds`` may go unseen.
    """

    def __init__(self, *, seconds: float = 1.0) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._counted: tuple[float, int] | None = None  # (monotonic time, count)
        self._let_in = 0  # submissions let in since the count

    def admit(self, *, bound: int, count: Callable[[], int]) -> int:
        """The queue's length for one new submission (counted with ``count`` when the estimate is stale or
        at ``bound``); below ``bound``, the submission is assumed let in."""
        with self._lock:
            counted = self._counted
            fresh = counted is not None and time.monotonic() - counted[0] < self.seconds
            estimate = counted[1] + self._let_in if counted is not None else bound
            if fresh and estimate < bound:
                self._let_in += 1
                return estimate
        length = count()
        with self._lock:
            self._counted, self._let_in = (time.monotonic(), length), (1 if length < bound else 0)
        return length


@dataclass
class AppService:
    """The API's composition root: one per process, built by ``build_service`` (not a candidate's
    ``engine.models.Service``)."""

    settings: Settings
    engine: Engine
    pack_store: PackStore
    key: signing.SigningKey
    queue: JobQueue
    metrics: Metrics = field(default_factory=Metrics)
    #: Wakes event streams in this process when a run changes (other processes' changes are polled), and caps them.
    streams: StreamHub = field(init=False)
    #: Called in order when the app shuts down (the embedded pool, its warm sandboxes).
    on_shutdown: list = field(default_factory=list)
    #: Called when ``serve`` ends without awaiting embedded gradings under way (their sandboxes go).
    on_abandon: list = field(default_factory=list)
    #: Recently seen tokens, by digest: a read-heavy client costs no token query for a few seconds.
    _principals: dict = field(default_factory=dict)
    #: The sandbox runner of public-test runs (made on first use); they never touch the queue or the database.
    _public_runner: Any = None
    _public_slots: threading.BoundedSemaphore = field(default_factory=lambda: threading.BoundedSemaphore(2))
    #: Where the signing keys live; with one, a key rotated by `tasktrial admin` takes over without a restart.
    keyring: Keyring | None = None
    #: The transparency log every signed result is appended to.
    log: TransparencyLog = field(init=False)
    #: Stackable micro-credentials, refreshed after each result.
    credentials: Credentials = field(init=False)
    #: Cohort webhooks: deliveries stored with the events, sent and retried by a dispatcher.
    webhooks: Webhooks = field(init=False)
    #: The probes behind ``/healthz``.
    health: Prober = field(init=False)

    #: When this process last queued the check of a version still ``checking``, by version id.
    _checks_queued: dict = field(default_factory=dict)
    #: The queue's length as last counted, for the queue bound (``admit``).
    _queue_length: QueueLength = field(default_factory=QueueLength)

    def __post_init__(self) -> None:
        self.streams = StreamHub(
            max_streams=self.settings.max_streams, max_streams_per_token=self.settings.max_streams_per_token
        )
        self.log = TransparencyLog(
            session=self.session,
            origin=self.settings.origin,
            key=self.signing_key,
            batch_leaves=self.settings.log_batch_leaves,
            seal_seconds=self.settings.log_seal_seconds,
        )
        self.credentials = Credentials(
            session=self.session,
            public_url=self.settings.public_url,
            key=self.signing_key,
            known_skills=lambda: {s for p in self.pack_store.packs() for t in p.tasks for s in t.micro_skills},
            withheld=cohorts.withheld_results,
        )
        self.webhooks = Webhooks(session=self.session, allow_private=self.settings.webhook_allow_private)
        self.health = Prober(settings=self.settings, engine=self.engine, celery=getattr(self.queue, "app", None))

    async def public_tests(self, task: Task, files: dict[str, bytes]) -> PublicTestRun | None:
        """Run ``task``'s public tests over ``files``: on a worker through the queue when there is a broker
        (the API host needs no sandbox engine), else in this process (where the embedded workers run).

        Nothing is signed or counted; a worker's job holds the files only until this answers. Waiting
        holds no thread. Returns None when the task has no public tests.

        Raises:
            RunnerError: no sandbox engine answers (here or on the worker), or no worker answered within
                ``public_test_wait_seconds``.
        """
        if not public_tests.public_test_files(task):
            return None
        if not self.settings.broker_url:
            return await to_thread.run_sync(self.run_public_tests, task, files)
        job_id = await to_thread.run_sync(self._hand_over_public_tests, task, files)
        try:
            deadline = time.monotonic() + self.settings.public_test_wait_seconds
            while (outcome := await to_thread.run_sync(self._public_test_outcome, job_id)) is None:
                if time.monotonic() >= deadline:
                    raise RunnerUnavailable(
                        f"no worker ran the public tests of {task.pack_id}/{task.id} within "
                        f"{self.settings.public_test_wait_seconds:g} s (TASKTRIAL_PUBLIC_TEST_WAIT_SECONDS); "
                        "the workers are busy or down: try again later"
                    )
                await asyncio.sleep(0.25)
        finally:
            await to_thread.run_sync(self._forget_public_tests, job_id)
        if outcome.get("error"):
            raise RunnerUnavailable(outcome["error"])
        return PublicTestRun.from_document(outcome)

    def _hand_over_public_tests(self, task: Task, files: dict[str, bytes]) -> str:
        with self.session() as session:
            job_id = storage.create_public_test_job(
                session=session,
                pack_id=task.pack_id,
                pack_version=task.pack_version,
                task_id=task.id,
                task_digest=task.digest,
                archive=archives.make_tar_gz(files),
                forget_before=utcnow() - timedelta(seconds=2 * self.settings.public_test_wait_seconds),
            )
        try:
            self.queue.enqueue_public_tests(job_id)
        except Exception as exc:  # the broker's own errors: nobody will run these tests
            self._forget_public_tests(job_id)
            raise RunnerUnavailable(f"the queue did not take the public tests: {exc}") from exc
        return job_id

    def _public_test_outcome(self, job_id: str) -> dict[str, Any] | None:
        with self.session() as session:
            return storage.public_test_outcome(session=session, job_id=job_id)

    def _forget_public_tests(self, job_id: str) -> None:
        with self.session() as session:
            storage.delete_public_test_job(session=session, job_id=job_id)

    def run_public_tests(self, task: Task, files: dict[str, bytes]) -> PublicTestRun | None:
        """Run ``task``'s public tests over ``files`` in its image and limits (two at a time per API process).

        Nothing is signed, stored or counted. Returns None when the task has no public tests.

        Raises:
            RunnerError: no sandbox engine answers on this API host.
        """
        import runners

        if not public_tests.public_test_files(task):
            return None
        with self._public_slots:
            if self._public_runner is None:
                self._public_runner = runners.from_name(self.settings.runner, runtime=self.settings.sandbox_runtime)
            return public_tests.run_public_tests(task, files, self._public_runner)

    def principal(self, secret: str) -> Principal | None:
        """Who ``secret`` speaks for, or None.

        Cached ``token_cache_seconds`` (never past the token's expiry): a token revoked through
        another process stops working here within that; one revoked here, at once.
        """
        cached = self.cached_principal(secret)
        if cached is not None:
            return cached
        digest = auth.token_hash(secret)
        with self.session() as session:
            token = storage.find_token(session=session, secret=secret)
        if token is None:
            self._principals.pop(digest, None)
            return None
        principal = Principal(subject=token.subject, role=token.role, token_id=token.id)
        ttl = self.settings.token_cache_seconds
        if token.expires_at is not None:
            ttl = min(ttl, (_aware(token.expires_at) - utcnow()).total_seconds())
        if ttl > 0:
            if len(self._principals) > 10_000:
                self._principals.clear()
            self._principals[digest] = (principal, time.monotonic() + ttl)
        return principal

    def cached_principal(self, secret: str) -> Principal | None:
        """Who ``secret`` speaks for if this process looked it up lately (no database); else None."""
        cached = self._principals.get(auth.token_hash(secret))
        return cached[0] if cached is not None and cached[1] > time.monotonic() else None

    def revoke_token(self, token_id: str):
        """Revoke a token, effective at once in this process (others: within ``token_cache_seconds``)."""
        with self.session() as session:
            row = storage.revoke_token(session=session, token_id=token_id)
        self._principals.pop(row.token_hash, None)
        return row

    def signing_key(self) -> signing.SigningKey:
        """The key that signs now (re-read from the keyring after a rotation)."""
        if self.keyring is not None:
            self.key = self.keyring.active()
        return self.key

    def jwks(self) -> dict:
        """The published keys: the active one and every retired or revoked one, each with its status."""
        return self.keyring.jwks() if self.keyring is not None else signing.public_jwks([self.key])

    def did_document(self) -> dict:
        """The credentials' issuer (the did:web of ``public_url``) over the published keys, as a verifier rebuilds it."""
        return openbadges.service_did_document(self.credentials.public_url, self.jwks())

    def checkpoint_keys(self) -> list[bytes]:
        """The raw public keys whose checkpoint signatures a verifier should accept (none revoked)."""
        jwks = self.jwks()
        statuses = signing.key_statuses(jwks)
        return [raw for kid, raw in signing.raw_public_keys(jwks).items() if statuses.get(kid) != signing.REVOKED]

    def admit(self, *, session: Session, candidate: str) -> None:
        """Admission control for a new submission: the candidate's rate, then the queue's bound.

        Raises:
            TooManyRequests: over either limit; ``retry_after`` says when a retry can succeed.
        """
        settings = self.settings
        window = settings.submission_rate_window_seconds
        recent = storage.recent_submissions(
            session=session, candidate=candidate, since=utcnow() - timedelta(seconds=window)
        )
        self._within_rate(
            candidate,
            "submissions",
            recent,
            limit=settings.submission_rate_limit,
            window=window,
            variable="TASKTRIAL_SUBMISSION_RATE_LIMIT",
            reason="rate_limited",
        )
        queued = self._queue_length.admit(
            bound=settings.max_queued_runs,
            count=lambda: storage.queued_runs(session=session, up_to=settings.max_queued_runs),
        )
        if queued >= settings.max_queued_runs:
            self.metrics.rejected.labels("queue_full").inc()
            raise TooManyRequests(
                f"{queued} or more submissions are waiting for a worker, the limit "
                "(TASKTRIAL_MAX_QUEUED_RUNS); retry in a minute",
                retry_after=60.0,
            )

    def admit_public_tests(self, *, session: Session, candidate: str) -> None:
        """Admission control for a public-test run: the submissions' rate rule with its own limit and window.
        A run let in is remembered (and counts) from here on, whatever then becomes of it.

        Raises:
            TooManyRequests: over the rate; ``retry_after`` says when a retry can succeed.
        """
        window = self.settings.public_test_rate_window_seconds
        current = utcnow()
        since = current - timedelta(seconds=window)
        recent = storage.recent_public_test_runs(session=session, candidate=candidate, since=since)
        self._within_rate(
            candidate,
            "public-test runs",
            recent,
            limit=self.settings.public_test_rate_limit,
            window=window,
            variable="TASKTRIAL_PUBLIC_TEST_RATE_LIMIT",
            reason="public_tests_rate_limited",
        )
        storage.record_public_test_run(session=session, candidate=candidate, at=current, forget_before=since)

    def _within_rate(
        self,
        candidate: str,
        what: str,
        recent: tuple[int, datetime | None],
        *,
        limit: int,
        window: float,
        variable: str,
        reason: str,
    ) -> None:
        """The one rate rule: at most ``limit`` in any ``window`` seconds per candidate (whatever token they use)."""
        count, oldest = recent
        if count >= limit:
            self.metrics.rejected.labels(reason).inc()
            wait = (oldest + timedelta(seconds=window) - utcnow()).total_seconds() if oldest else window
            raise TooManyRequests(
                f"{candidate} made {count} {what} in the last {window:g} s, the limit "
                f"({variable}); retry in {max(1, round(wait))} s",
                retry_after=max(1.0, wait),
            )

    def notify(self, run_id: str) -> None:
        """Run ``run_id`` changed: wake the event streams following it in this process."""
        self.streams.notify(run_id)

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    # -- which pack versions candidates meet -------------------------------------

    def pack_state(self, session: Session) -> StateOf:
        """The state of each pack version as stored now: built-in packs are live; an uploaded
        version is live only once the workers' check passed (a folder with no record is not served)."""
        states = storage.pack_states(session=session)

        def state(pack: Pack) -> str:
            if self.pack_store.is_builtin(pack):
                return PackState.LIVE.value
            return states.get((pack.id, pack.version), PackState.CHECKING.value)

        return state

    def submittable_task(self, session: Session, pack_id: str, task_id: str, version: str | None) -> Task:
        """The task a new submission may be made for: a live version's.

        Raises:
            NotFound: no such task in a live (or retired) version.
            VersionRetired: the named version is retired.
        """
        self.refuse_when_disk_low()
        state = self.pack_state(session)
        task = self.pack_store.task(pack_id, task_id, version, state)
        if state(self.pack_store.pack(task.pack_id, task.pack_version)) == PackState.RETIRED.value:
            raise VersionRetired(
                f"pack {task.pack_id}@{task.pack_version} is retired: a retired version takes no "
                "new submissions (its results stay valid and verifiable); submit to the latest "
                "live version instead (leave the version out)"
            )
        return task

    def refuse_when_disk_low(self) -> None:
        """A new submission is refused while the data disk is nearly full: accepted, it could be lost.

        Raises:
            StorageLow: less than ``min_free_disk_mb`` free where the data directory lives.
        """
        state = self.health.disk()
        if state != "ok":
            raise StorageLow(f"the service's data disk is nearly full ({state}); try again later")

    def sync_pack_credentials(self) -> None:
        """Register the credentials the live pack versions declare, retire those no longer declared.

        Called when versions change state in this process (start, a check's verdict, a retirement).
        """
        with self.session() as session:
            live = self.pack_store.packs(self.pack_state(session))
        self.credentials.sync_packs(live, {pack.id for pack in self.pack_store.all_versions()})

    def record_pack_check(self, *, version_id: str, report: dict) -> str:
        """Publish a checked version (``live``) or refuse it (``rejected``); the first report stands.

        Raises:
            NotFound: no such version.
            Conflict: the version is no longer being checked.
        """
        to = PackState.LIVE if report.get("ok") is True else PackState.REJECTED
        with self.session() as session:
            if storage.get_pack_version(session=session, version_id=version_id) is None:
                raise NotFound(f"unknown pack version {version_id!r}")
            if not storage.move_pack_version(
                session=session, version_id=version_id, from_states=[PackState.CHECKING], to=to, report=report
            ):
                raise Conflict(f"pack version {version_id} is not being checked; its first report stands")
        if to is PackState.LIVE:
            self.sync_pack_credentials()
        return to.value

    def lease_seconds(self, pack_id: str, version: str, task_id: str) -> float:
        task = self.pack_store.task(pack_id, task_id, version)
        return self.settings.lease_margin_seconds + task.limits.time_seconds * 2

    def store_result(
        self, *, run_id: str, document: dict, reviewed: bool = False, holder: tuple[str, str | None] | None = None
    ) -> tuple[dict, bool]:
        """Sign and store a run's result (both views); a second write changes nothing.

        The automated result of a task with a rubric is not signed: it waits for its reviewer
        (``awaiting_review``) until ``complete_review`` combines both into the one signed result.
        ``holder`` (token id, worker name): only while that worker holds the run (else ``Conflict``).
        The server, never the worker, binds the result to its candidate (``subject_digest``).
        """
        with self.session() as session:
            run = storage.get_run(session=session, run_id=run_id)
            submission = storage.get_submission(session=session, submission_id=run.submission_id) if run else None
            if run is None or submission is None:
                raise NotFound(f"unknown run {run_id!r}")
            if not reviewed and document.get("verdict") != "error" and self._has_rubric(submission):
                review, created = storage.hold_for_review(
                    session=session, run=run, submission=submission, document=document, holder=holder
                )
                if created:
                    self.notify(run_id)
                return review.automated, created
            document = results.bind_subject(document, subject=submission.candidate, salt=submission.subject_salt)
            key = self.signing_key()
            full = signing.sign(document, key)
            views = {"candidate": candidate_view(document)}
            views.update(cohorts.extra_views(session, submission, views["candidate"]))  # an assessment's visibility
            signed = {name: signing.sign(view, key) for name, view in views.items()}
            digests = {"full": transparency.document_digest(full)}
            digests.update({name: transparency.document_digest(view) for name, view in signed.items()})
            result, created = storage.record_result(
                session=session,
                run=run,
                submission=submission,
                document=full,
                candidate_view=signed.pop("candidate"),
                extra_views=signed,
                log_digests=digests,
                holder=holder,
                also=lambda s: cohorts.refresh_score(s, submission),
            )
            if created:
                self._emit_result_events(session, run, submission, result)
                self.log.appended(len(digests))
                self._refresh_credentials(submission.candidate)
                self.notify(run_id)
                self.metrics.results.labels(result.verdict).inc()
                self.metrics.latency.observe((utcnow() - _aware(submission.created_at)).total_seconds())
            return result.document["full"], created

    def _emit_result_events(self, session, run, submission, result) -> None:
        """``result.created`` for an assessment attempt's result, and ``regrade.changed`` when a regrade
        moved its verdict. The result is stored whatever happens here."""
        cohort_id = cohorts.cohort_id_of(session, submission.assessment_id)
        if cohort_id is None:
            return
        data = {
            "result_id": result.id,
            "submission_id": submission.id,
            "assessment_id": submission.assessment_id,
            "candidate": submission.candidate,
            "task": f"{submission.pack_id}/{submission.task_id}",
            "verdict": result.verdict,
            "score": result.score,
        }
        try:
            self.webhooks.emit(cohort_id=cohort_id, event_type="result.created", data=data)
            if run.regrade_id is not None:
                before = cohort_storage.previous_result(session=session, submission_id=submission.id, before=result)
                if before is None or before.verdict != result.verdict:
                    self.webhooks.emit(
                        cohort_id=cohort_id,
                        event_type="regrade.changed",
                        data={
                            **data,
                            "regrade_id": run.regrade_id,
                            "previous": {"result_id": before.id, "verdict": before.verdict, "score": before.score}
                            if before
                            else None,
                        },
                    )
        except Exception:  # the result stands; the event is logged as lost
            log.exception("storing the webhook events of result %s failed", result.id)

    def _has_rubric(self, submission) -> bool:
        task = self.pack_store.task(submission.pack_id, submission.task_id, submission.pack_version)
        return bool(task.rubric)

    def complete_review(
        self, *, review_id: str, reviewer: str, scores: dict[str, float], comments: dict[str, str]
    ) -> dict:
        """Combine a reviewer's rubric scores with the automated checks into one signed result.

        Raises:
            NotFound: no such review.
            ReviewRejected: a criterion unscored or scored off its levels (nothing stored).
            Conflict: another reviewer completed it first.
        """
        with self.session() as session:
            item = storage.get_review(session=session, review_id=review_id)
            if item is None:
                raise NotFound(f"unknown review {review_id!r}")
            task = self.pack_store.task(item.pack_id, item.task_id, item.pack_version)
            document = review.combine(task, item.automated, review.reviewed_checks(task, scores, comments))
            if not storage.complete_review(
                session=session, review_id=review_id, reviewer=reviewer, scores=scores, comments=comments
            ):
                raise Conflict(f"review {review_id} is already completed; its result stands")
            try:
                stored, _ = self.store_result(run_id=item.run_id, document=document, reviewed=True)
            except Exception:
                storage.reopen_review(session=session, review_id=review_id)
                raise
            storage.set_review_result(session=session, review_id=review_id, result_id=stored["id"])
            cohort_id = cohorts.cohort_id_of(session, item.assessment_id)
            if cohort_id is not None:
                self.webhooks.emit(
                    cohort_id=cohort_id,
                    event_type="review.completed",
                    data={
                        "review_id": review_id,
                        "result_id": stored["id"],
                        "assessment_id": item.assessment_id,
                        "task": f"{item.pack_id}/{item.task_id}",
                        "verdict": stored["verdict"],
                        "score": stored["score"],
                    },
                )
        return stored

    def _refresh_credentials(self, candidate: str) -> None:
        try:
            self.sync_pack_credentials()  # a version retired elsewhere (another process, a web page) counts now
            self.credentials.refresh(candidate)
        except Exception:  # the result is stored; the next result refreshes this candidate's credentials again
            log.exception("refreshing the credentials of %s failed", candidate)

    def fail_run(self, *, run_id: str, reason: str, holder: tuple[str, str | None] | None = None) -> None:
        """End a run the engine could not grade with an ``error`` result (never a score of 0).

        ``holder``: only while that worker holds the run (else ``Conflict``); None is the reaper's own call.
        """
        with self.session() as session:
            run = storage.get_run(session=session, run_id=run_id)
            submission = storage.get_submission(session=session, submission_id=run.submission_id) if run else None
        if run is None or submission is None:
            return
        task = self.pack_store.task(submission.pack_id, submission.task_id, run.pack_version or submission.pack_version)
        document = engine_error_result(task, submission.submission_digest, reason, started_at=now()).to_document()
        self.store_result(run_id=run_id, document=document, holder=holder)

    def reap_once(self) -> int:
        """Re-queue runs whose worker vanished or whose message was lost; fail those out of attempts."""
        current = utcnow()
        acted = 0
        with self.session() as session:
            stale = storage.stale_runs(
                session=session,
                now=current,
                queued_before=current - timedelta(seconds=self.settings.lease_margin_seconds),
            )
        waiting = [run.id for run in stale if run.state is RunState.QUEUED]
        if waiting:  # queued runs whose message may be lost: one commit for the whole batch, then send each
            with self.session() as session:
                storage.touch_runs(session=session, run_ids=waiting)
            for run_id in waiting:
                self.metrics.requeued.inc()
                self.queue.enqueue(run_id)
        acted += len(waiting)
        for run in stale:
            if run.state is RunState.QUEUED:
                continue
            acted += 1
            if run.attempts >= self.settings.max_attempts:
                if self._still_lapsed(run.id, current):
                    self.fail_run(
                        run_id=run.id,
                        reason=f"the run did not finish after {run.attempts} attempts (workers stopped or timed out)",
                    )
                continue
            with self.session() as session:
                if not storage.release_run(session=session, run_id=run.id, lapsed_before=current):
                    continue  # finished or claimed again since it was read: the new claim stands
                else:
                    self.notify(run.id)
            self.metrics.requeued.inc()
            self.queue.enqueue(run.id)
        return acted + self.requeue_pack_checks(current)

    def requeue_pack_checks(self, current: datetime) -> int:
        """Queue again the check of an upload still ``checking`` long after it was queued (a lost message).

        A second check of the same version is harmless: its first report stands.
        """
        wait = timedelta(seconds=self.settings.pack_check_requeue_seconds)
        with self.session() as session:
            versions = storage.checking_versions(session=session)
        requeued = 0
        for version in versions:
            last = self._checks_queued.get(version.id, _aware(version.created_at))
            if current - last >= wait:
                self._checks_queued[version.id] = current
                self.queue.enqueue_pack_check(version.id)
                requeued += 1
        return requeued

    def _still_lapsed(self, run_id: str, moment) -> bool:
        """Re-read a run the reaper is about to end: a claim taken since it was listed stands."""
        with self.session() as session:
            run = storage.get_run(session=session, run_id=run_id)
            return (
                run is not None
                and run.state in (RunState.RUNNING, RunState.GRADING)
                and run.lease_expires_at is not None
                and _aware(run.lease_expires_at) < moment
            )

    def release_closed(self, current: datetime | None = None) -> int:
        """Refresh the credentials of every member of an assessment that withheld results until its close,
        once it has closed (their results count from then); returns how many assessments were released."""
        current = current or utcnow()
        with self.session() as session:
            due = cohort_storage.closed_unreleased(session=session, now=current)
        for assessment_id in due:
            with self.session() as session:
                candidates = cohort_storage.candidates_with_results(session=session, assessment_id=assessment_id)
            for candidate in candidates:
                self._refresh_credentials(candidate)
            with self.session() as session:
                cohort_storage.mark_released(session=session, assessment_id=assessment_id, at=current)
        return len(due)

    def start_reaper(self, stop: threading.Event) -> threading.Thread:
        def loop() -> None:
            while not stop.wait(self.settings.reaper_interval_seconds):
                try:
                    self.reap_once()
                    self.release_closed()
                except Exception:  # the reaper must outlive a passing database or broker fault
                    log.exception("reaper pass failed")

        thread = threading.Thread(target=loop, name="tasktrial-reaper", daemon=True)
        thread.start()
        return thread


class VersionRetired(Conflict):
    """A submission names a retired pack version (409)."""


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every time here is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def build_pack_store(settings: Settings) -> PackStore:
    missing = [str(p) for p in settings.catalogue_dirs if not p.is_dir()]
    if missing:
        raise ConfigurationError(f"TASKTRIAL_CATALOGUE_DIRS names folders that do not exist: {', '.join(missing)}")
    pack_store = PackStore(
        builtin_dirs=list(settings.catalogue_dirs),
        packs_dir=settings.packs_dir,
        loader=packcheck.loader(),
        validate_upload=packcheck.BoundedValidator(),
    )
    pack_store.refresh()
    return pack_store


def build_service(settings: Settings, queue: JobQueue) -> AppService:
    engine = db.make_engine(settings.database, pool_timeout=settings.database_pool_timeout_seconds)
    db.migrate(engine)
    keyring = Keyring(settings.keys_dir)
    service = AppService(
        settings=settings,
        engine=engine,
        pack_store=build_pack_store(settings),
        key=keyring.active(),
        queue=queue,
        keyring=keyring,
    )
    service.log.seal()  # what a previous run appended, or the empty log's first checkpoint
    service.sync_pack_credentials()
    return service
