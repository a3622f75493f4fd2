"""The transparency log through the HTTP API: batches, checkpoints, inclusion and consistency proofs."""

from __future__ import annotations

import base64

from sqlmodel import select

from api.tables import LogEntry, Role
from engine import checkpoints, merkle, transparency
from engine.checkpoints import NoteKey
from tests.api.conftest import Api, make_api
from tests.api.helpers import submit, work


def graded(api: Api, candidate: str = "alice") -> tuple[dict[str, str], str]:
    headers = api.token(Role.CANDIDATE, candidate)
    accepted = submit(api, headers)
    work(api, accepted["run_id"])
    result_id = api.client.get(f"/v1/submissions/{accepted['id']}", headers=headers).json()["result_id"]
    return headers, result_id


def note_key(api: Api) -> NoteKey:
    return NoteKey(label=api.service.key.kid, public=checkpoints.raw_public(api.service.key.private_key))


def latest(api: Api):
    response = api.client.get("/log/checkpoint")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return checkpoints.verify(response.text, [note_key(api)])[0]


def test_results_wait_for_the_batch_then_one_checkpoint_covers_them(api):
    assert latest(api).size == 0 and latest(api).root_hash == merkle.EMPTY_ROOT  # a log always has a checkpoint
    graded(api)
    graded(api, "bob")
    assert latest(api).size == 0  # appended, not yet sealed
    sealed = api.service.log.seal()
    assert sealed is not None and sealed.size == 4  # two results, two signed views each
    assert latest(api) == sealed
    assert api.service.log.seal() is None  # nothing waited: no new checkpoint
    assert api.client.get("/log/checkpoint/4").text == api.client.get("/log/checkpoint").text
    assert api.client.get("/log/checkpoint/3").status_code == 404


def test_a_result_comes_with_an_inclusion_proof_that_verifies(api):
    headers, result_id = graded(api)
    api.service.log.seal()
    response = api.client.get(f"/v1/results/{result_id}/inclusion", headers=headers)
    assert response.status_code == 200, response.text
    bundle = response.json()
    assert bundle["result"] == api.client.get(f"/v1/results/{result_id}", headers=headers).json()
    checkpoint, _ = checkpoints.verify(bundle["checkpoint"], [note_key(api)])
    assert transparency.verify_inclusion(bundle["result"], bundle["log"], checkpoint) == bundle["log"]["log_index"]
    other_headers = api.token(Role.CANDIDATE, "mallory")
    assert api.client.get(f"/v1/results/{result_id}/inclusion", headers=other_headers).status_code == 404


def test_proofs_against_a_named_older_checkpoint_and_consistency_between_sizes(api):
    headers, first_id = graded(api)
    first = api.service.log.seal()
    graded(api, "bob")
    graded(api, "carol")
    second = api.service.log.seal()
    assert (first.size, second.size) == (2, 6)
    bundle = api.client.get(f"/v1/results/{first_id}/inclusion", params={"size": 2}, headers=headers).json()
    assert bundle["log"]["tree_size"] == 2
    transparency.verify_inclusion(bundle["result"], bundle["log"], first)
    proof = api.client.get("/log/consistency", params={"first": 2, "second": 6}).json()
    merkle.verify_consistency(
        old_size=2,
        new_size=6,
        old_root=first.root_hash,
        new_root=second.root_hash,
        proof=[base64.b64decode(p) for p in proof["consistency_proof"]],
    )
    by_digest = api.client.get("/log/inclusion", params={"digest": bundle["log"]["leaf_digest"], "size": 6})
    assert by_digest.status_code == 200 and by_digest.json()["tree_size"] == 6
    assert api.client.get("/log/consistency", params={"first": 6, "second": 2}).status_code == 404
    assert api.client.get("/log/consistency", params={"first": 3, "second": 6}).status_code == 404
    assert api.client.get("/log/inclusion", params={"digest": "sha256:xyz"}).status_code == 422


def test_the_log_holds_digests_only(api):
    graded(api)
    api.service.log.seal()
    with api.service.session() as session:
        entries = session.exec(select(LogEntry)).all()
    assert {e.view for e in entries} == {"full", "candidate"}
    assert all(e.digest.startswith("sha256:") and len(e.digest) == 71 for e in entries)
    assert "alice" not in api.client.get("/log/checkpoint").text


def test_the_log_key_is_published_as_a_signed_note_verifier_key(api):
    text = api.client.get("/log/key").text
    origin = api.service.settings.origin
    assert text == checkpoints.verifier_key(origin, note_key(api).public) + "\n"


def test_the_log_on_both_databases_and_two_sealers_never_fork_it(tmp_path, small_catalogue, database_url):
    """Two sealers racing (two API processes) leave one history: each position and size is taken once."""
    import threading

    for api in make_api(tmp_path / "data", database_url=database_url, catalogue_dirs=[small_catalogue]):
        for name in ("alice", "bob", "carol"):
            graded(api, name)
        barrier = threading.Barrier(4)
        made: list = []

        def seal(api: Api, barrier: threading.Barrier, made: list) -> None:
            barrier.wait()
            made.append(api.service.log.seal())

        threads = [threading.Thread(target=seal, args=(api, barrier, made)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [c.size for c in made if c is not None] == [6]
        with api.service.session() as session:
            indices = sorted(e.log_index for e in session.exec(select(LogEntry)).all())
        assert indices == list(range(6))
        assert latest(api).size == 6


def test_the_sealer_thread_seals_a_full_batch_without_waiting_for_its_interval(tmp_path, small_catalogue):
    import threading
    import time

    for api in make_api(tmp_path / "data", catalogue_dirs=[small_catalogue]):
        api.service.log.batch_leaves = 4
        api.service.log.seal_seconds = 3600.0  # only a full batch can wake it within this test
        stop = threading.Event()
        api.service.log.start(stop)
        try:
            graded(api)
            time.sleep(0.5)
            assert latest(api).size == 0  # two leaves wait: not a batch yet
            graded(api, "bob")
            deadline = time.monotonic() + 20
            while latest(api).size == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert latest(api).size == 4
        finally:
            stop.set()
