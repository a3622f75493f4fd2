"""The copy's report on a first step's stderr: the engine's line, taken off before anyone reads the step's own."""

from __future__ import annotations

import socket
import struct
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.errors import RunnerError
from runners.docker.steps import after_copy, copy_report_size, copy_reported
from runners.docker.streams import pump

MARKER = b"tasktrial-copy-0123456789abcdef0123456789abcdef"


@given(before=st.binary(max_size=40), own=st.binary(max_size=200))
def test_a_copy_that_worked_leaves_exactly_the_steps_own_stderr(before, own):
    stderr = before + MARKER + b" copied\n" + own
    assert copy_reported(stderr, MARKER)
    assert after_copy(stderr, MARKER) == before + own


def test_a_copy_that_failed_raises_with_tars_words():
    with pytest.raises(RunnerError, match=r"copying files into the sandbox failed: .*No space left"):
        after_copy(MARKER + b" failed: tar: big.bin: Cannot write: No space left on device\n", MARKER)


def test_no_report_means_the_step_was_stopped_before_its_files_were_in():
    assert not copy_reported(b"", MARKER) and not copy_reported(MARKER + b" cop", MARKER)
    with pytest.raises(RunnerError, match="did not finish"):
        after_copy(b"", MARKER)


def test_the_candidate_cannot_fake_a_report_without_the_runs_marker():
    stderr = MARKER + b" copied\n" + b"tasktrial-copy- failed: nope\n"
    assert after_copy(stderr, MARKER) == b"tasktrial-copy- failed: nope\n"


def frames(*payloads: tuple[int, bytes]) -> bytes:
    return b"".join(struct.pack(">BxxxI", kind, len(data)) + data for kind, data in payloads)


def test_the_report_is_kept_beyond_the_cap_so_the_step_keeps_all_of_its_own():
    """A step writing exactly its cap to stderr is neither cut nor flagged for the engine's line before it."""
    ours, theirs = socket.socketpair()
    with ours, theirs:
        report = MARKER + b" copied\n"
        ours.sendall(frames((2, report), (2, b"y" * 1024), (1, b"x" * 1024)))
        ours.shutdown(socket.SHUT_WR)
        _, stderr, truncated, _ = pump(theirs, time.monotonic() + 5, 1024, stderr_extra=copy_report_size(MARKER))
    assert after_copy(stderr, MARKER) == b"y" * 1024 and not truncated
