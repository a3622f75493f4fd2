"""io cases start from a clean state, in the real sandbox (issue 14, finding 4).

A program saves its input in every writable place during a hidden case and
prints what it finds during a later, visible case: with one sandbox per case
it finds nothing, and the candidate's view of the result holds no trace of
the hidden input.
"""

from __future__ import annotations

import json

import pytest

from engine import packs
from engine.grading import grade_submission
from engine.models import CheckStatus
from engine.results import candidate_view
from graders import GraderSet
from runners import images
from runners.docker import DockerRunner
from tests import factories

pytestmark = pytest.mark.docker

SECRET = "HIDDEN-INPUT-5F1E9C"
HOARDER = """\
import os, sys
data = sys.stdin.read()
places = ["/tmp/saved", "/workspace/saved", "/dev/shm/saved"]
found = [open(p).read() for p in places if os.path.exists(p)]
if found:
    sys.stderr.write("LEAKED: " + " | ".join(found))
    sys.exit(1)
for place in places:
    with open(place, "w") as f:
        f.write(data)
sys.stdout.write(data.upper())
"""


@pytest.fixture
def hoarding_task(tmp_path):
    """Cases run in name order: the hidden one first, the visible one after it."""
    files = factories.io_task_files(
        {"a-hidden": (f"{SECRET.lower()}\n", f"{SECRET}\n"), "b-visible": ("hello\n", "HELLO\n")}
    )
    task_yaml = factories.io_task_yaml(
        grader={"kind": "io", "command": ["python3", "main.py"], "checks": [{"match": "b-visible", "visible": True}]}
    )
    root = factories.write_pack(tmp_path / "pack", {"sample": {"task": task_yaml, "files": files}})
    return packs.load_pack(root, environments=images.environments()).task("sample")


@pytest.mark.parametrize("warm", [0, 1], ids=["cold", "warm"])
def test_a_hidden_input_saved_in_one_case_never_reaches_a_later_visible_case(docker_client, hoarding_task, warm):
    runner = DockerRunner(docker_client, warm=warm)
    try:
        result = grade_submission(
            hoarding_task,
            {"main.py": HOARDER.encode()},
            runner=runner,
            grader=GraderSet(runner).for_task(hoarding_task),
        )
    finally:
        runner.close()
    by_id = {check.id: check for check in result.checks}
    assert by_id["b-visible"].status is CheckStatus.PASS, by_id["b-visible"].message
    assert by_id["a-hidden"].status is CheckStatus.PASS
    assert SECRET.lower() not in json.dumps(candidate_view(result.to_document()))
