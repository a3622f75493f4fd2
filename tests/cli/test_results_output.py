"""A result in the terminal: the grader's own sandboxes, with their figures or (a candidate's view) without."""

from __future__ import annotations

from cli._output import out
from cli._results import print_result
from engine.results import candidate_view
from testkit.results import result_document

JOB = {
    "run_id": "r1",
    "pack_id": "p",
    "pack_version": "1.0.0",
    "task_id": "t",
    "task_digest": "sha256:" + "1" * 64,
    "submission_digest": "sha256:" + "2" * 64,
}
GRADER_RUNS = [
    {
        "purpose": "hidden tests",
        "image": "sha256:x",
        "wall_seconds": 0.4321,
        "cpu_seconds": 0.2468,
        "peak_memory_bytes": 13_000_000,
        "exit_code": 1,
        "timed_out": False,
        "oom_killed": False,
    },
    {
        "purpose": "variant 2",
        "image": "sha256:x",
        "wall_seconds": 9.87,
        "cpu_seconds": None,
        "peak_memory_bytes": None,
        "exit_code": None,
        "timed_out": True,
        "oom_killed": False,
    },
]


def printed(document: dict) -> str:
    with out.capture() as captured:
        print_result(document)
    return captured.get()


def test_the_graders_runs_are_printed_with_their_figures():
    document = result_document(JOB)
    document["runner"]["grader_runs"] = GRADER_RUNS
    text = printed(document)
    assert "the grader's hidden tests sandbox: 0.43 s, CPU 0.25 s, peak memory 13.0 MB, exit 1" in text
    assert "the grader's variant 2 sandbox: 9.87 s, hit the time limit" in text


def test_a_candidates_view_shows_that_they_ran_and_a_limit_hit_never_their_figures():
    document = result_document(JOB)
    document["runner"]["grader_runs"] = GRADER_RUNS
    text = printed(candidate_view(document))
    assert "the grader's hidden tests sandbox: figures withheld" in text
    assert "the grader's variant 2 sandbox: hit the time limit" in text
    assert "0.43" not in text and "9.87" not in text
