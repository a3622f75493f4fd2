"""Checkpoints as C2SP signed notes: the Go reference vector, round trips, tampering, malformed notes."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from engine import checkpoints
from engine.checkpoints import Checkpoint, CheckpointError, NoteKey

# The example key and note of golang.org/x/mod/sumdb/note (note_test.go, BSD-3-Clause, The Go Authors):
# Ed25519 is deterministic, so signing the same text with the same key must give the same bytes.
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_NOTE = (
    GO_TEXT
    + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def test_the_go_reference_note_is_reproduced_byte_for_byte():
    seed = base64.b64decode(GO_SKEY.split("+", 4)[4])[1:]  # the base64 may itself hold a "+"
    private = Ed25519PrivateKey.from_private_bytes(seed)
    assert checkpoints.verifier_key("PeterNeumann", checkpoints.raw_public(private)) == GO_VKEY
    assert checkpoints.sign_note(GO_TEXT, "PeterNeumann", private) == GO_NOTE


@pytest.fixture
def private() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def key_of(private: Ed25519PrivateKey, label: str = "k1") -> NoteKey:
    return NoteKey(label=label, public=checkpoints.raw_public(private))


def test_a_signed_checkpoint_round_trips(private):
    checkpoint = Checkpoint(origin="tasktrial.example/log", size=12, root_hash=bytes(range(32)))
    note = checkpoints.sign(checkpoint, private)
    assert note.startswith(
        "tasktrial.example/log\n12\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n\n\u2014 tasktrial.example/log "
    )
    assert checkpoints.verify(note, [key_of(private)]) == (checkpoint, key_of(private))
    assert (
        checkpoints.verify(note.encode("utf-8"), [key_of(Ed25519PrivateKey.generate(), "other"), key_of(private)])[0]
        == checkpoint
    )


def test_a_changed_size_or_root_fails(private):
    note = checkpoints.sign(Checkpoint(origin="log", size=12, root_hash=bytes(32)), private)
    with pytest.raises(CheckpointError, match="by key 'k1' does not verify"):
        checkpoints.verify(note.replace("\n12\n", "\n13\n"), [key_of(private)])
    with pytest.raises(CheckpointError, match="does not verify"):
        checkpoints.verify(note.replace("AAAA", "AAAB", 1), [key_of(private)])


def test_a_checkpoint_by_an_unknown_key_names_the_key_ids_seen(private):
    note = checkpoints.sign(Checkpoint(origin="log", size=1, root_hash=bytes(32)), private)
    kid = checkpoints.key_id("log", checkpoints.raw_public(private)).hex()
    with pytest.raises(CheckpointError, match=f"no known key of log 'log' \\(signatures by log\\+{kid}\\)"):
        checkpoints.verify(note, [key_of(Ed25519PrivateKey.generate())])


@pytest.mark.parametrize(
    ("note", "message"),
    [
        ("log\n1\n" + "A" * 43 + "=\n", "no signature block"),
        ("log\n1\n\n\u2014 log AAAA\n", "origin, size and root hash"),
        ("log\n01\n" + "A" * 43 + "=\n\n\u2014 log AAAAAAAA\n", "leading zeros"),
        ("log\n-1\n" + "A" * 43 + "=\n\n\u2014 log AAAAAAAA\n", "not a decimal"),
        ("log\n1\nnot base64!\n\n\u2014 log AAAAAAAA\n", "root hash \\(line 3\\) is not standard base64"),
        ("log\n1\nAAAA\n\n\u2014 log AAAAAAAA\n", "3 bytes, not 32"),
        ("l og\n1\n" + "A" * 43 + "=\n\n\u2014 log AAAAAAAA\n", "origin"),
        ("log\n1\n" + "A" * 43 + "=\n\n- log AAAAAAAA\n", "em dash"),
        ("log\n1\n" + "A" * 43 + "=\n\n\u2014 log AAAA\n", "too short"),
        ("log\n1\n" + "A" * 43 + "=\n\n\u2014 log AAAAAAAA", "newline"),
        ("log\n1\n" + "A" * 43 + "=\n\n\u2014 log AAAAAAAA\n\x00", "control character"),
        (b"\xff\xfe", "not UTF-8"),
        ("", "no signature block"),
    ],
)
def test_malformed_checkpoints_are_refused_with_a_reason(private, note, message):
    with pytest.raises(CheckpointError, match=message):
        checkpoints.verify(note, [key_of(private)])


def test_a_checkpoint_by_a_revoked_key_is_refused_naming_it(private):
    note = checkpoints.sign(Checkpoint(origin="log", size=1, root_hash=bytes(32)), private)
    revoked = NoteKey(label="old-kid", public=checkpoints.raw_public(private), revoked=True)
    with pytest.raises(CheckpointError, match="signed by revoked key 'old-kid'"):
        checkpoints.verify(note, [revoked])
