"""An assessment's attempt limit holds under concurrent submissions, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from api import cohort_storage, cohorts, storage
from api.routes import submissions as submissions_api
from engine.assessments import AssessmentRuleBroken
from tests.api.cohort_helpers import setup
from tests.api.conftest import Api, make_api
from tests.api.helpers import RETRY

FILES = {"retry.py": b"print('hi')\n"}


@pytest.fixture
def api(tmp_path, small_catalogue, database_url) -> Iterator[Api]:
    yield from make_api(tmp_path / "data", database_url=database_url, catalogue_dirs=[small_catalogue])


def _alice(api: Api, headers: dict[str, str]):
    return api.service.principal(headers["Authorization"].removeprefix("Bearer "))


def _stored(api: Api, assessment_id: str) -> int:
    pack_id, _, task_id = RETRY.partition("/")
    with api.service.session() as session:
        return len(
            cohort_storage.assessment_submissions(
                session=session, assessment_id=assessment_id, pack_id=pack_id, task_id=task_id
            )
        )


def test_two_attempts_that_both_passed_the_first_check_store_only_one(api):
    """The interleaving of a race, made deterministic: the second request passed its check (0 of 1 used)
    before the first stored; its storing transaction checks again and refuses."""
    made, test, organiser, alice = setup(api, attempt_limit=1)
    pack_id, _, task_id = RETRY.partition("/")
    with api.service.session() as session:
        pinned, _, limit = cohorts.admit(session, _alice(api, alice), test["id"], pack_id, task_id)
    assert limit == 1
    submissions_api._accept(api.service, _alice(api, alice), RETRY, None, test["id"], FILES)
    with api.service.session() as session, pytest.raises(AssessmentRuleBroken, match="attempt_limit: 1 of 1"):
        storage.create_submission(
            session=session,
            candidate="alice",
            pack_id=pack_id,
            pack_version=pinned["pack_version"],
            task_id=task_id,
            task_digest=pinned["task_digest"],
            submission_digest="sha256:x",
            archive=b"x",
            assessment_id=test["id"],
            attempt_limit=limit,
        )
    assert _stored(api, test["id"]) == 1
    progress = api.client.get(f"/v1/assessments/{test['id']}/dashboard", headers=organiser).json()
    assert progress["members"][0]["tasks"][RETRY]["attempts"] == 1  # the refused attempt was not counted


def test_concurrent_submissions_never_exceed_the_limit(api):
    made, test, organiser, alice = setup(api, attempt_limit=2)
    person = _alice(api, alice)
    threads, barrier = 6, threading.Barrier(6)
    outcomes: list[str] = []
    lock = threading.Lock()

    def submit() -> None:
        barrier.wait()
        try:
            submissions_api._accept(api.service, person, RETRY, None, test["id"], FILES)
            outcome = "stored"
        except AssessmentRuleBroken as exc:
            outcome = exc.rule
        with lock:
            outcomes.append(outcome)

    workers = [threading.Thread(target=submit) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert sorted(outcomes) == ["attempt_limit"] * 4 + ["stored"] * 2
    assert _stored(api, test["id"]) == 2
