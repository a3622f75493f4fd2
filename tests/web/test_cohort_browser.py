"""Cohort stories in real chromium against a real ``tasktrial serve`` grading in real Docker.

An organiser imports a roster with a bad row and opens a timed assessment; a member joins by their
invitation link and is stopped at the end of their time; a member's work is graded, reviewed blind,
exported in the matrix and regraded against a fixed grader. axe runs on every cohort page.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.conftest import CATALOGUE
from tests.web.browser import assert_accessible, assert_sandboxes_removed, screenshot, start_server

pytestmark = [pytest.mark.browser, pytest.mark.docker]
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

RETRY_TASK = CATALOGUE / "python-foundations" / "retry-backoff"
IGNORES_DEADLINE = (RETRY_TASK / "wrong" / "ignores-deadline" / "retry.py").read_text()
BRIEF = "# Rate limits for the public API\n\nDecision asked: approve per-key limits this quarter.\n"
GRADING_TIMEOUT_MS = 180_000
#: The buggy grader of the demo pack's first version: its deadline test never tests a deadline.
LENIENT_DEADLINE_TEST = """def test_deadline_stops_before_an_overlong_wait():
    clock = FakeClock()
    assert retry(Script(OSError(), "ok"), attempts=10, base_delay=1, max_delay=100, deadline=50,
                 sleep=clock.sleep, clock=clock) == "ok"


def test_deadline_allows_a_wait_that_fits_exactly():"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    catalogue = tmp_path_factory.mktemp("catalogue")
    for pack in ("python-foundations", "professional-writing"):
        shutil.copytree(CATALOGUE / pack, catalogue / pack)
    # The story's webhook receiver is on 127.0.0.1 (nothing listens: each try is logged as refused).
    os.environ["TASKTRIAL_WEBHOOK_ALLOW_PRIVATE"] = "true"
    try:
        yield from start_server(tmp_path_factory.mktemp("data"), catalogue)
    finally:
        os.environ.pop("TASKTRIAL_WEBHOOK_ALLOW_PRIVATE", None)


@pytest.fixture(autouse=True)
def sandboxes_removed(server):
    yield
    assert_sandboxes_removed(server)


def sign_in(page, server, role: str, subject: str) -> None:
    page.context.clear_cookies()
    page.goto(server.sign_in_link(role, subject))
    page.get_by_role("button", name="Continue and sign in").click()
    expect(page.get_by_role("button", name=f"Sign out {subject}")).to_be_visible()


def local(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


def token(server, role: str, subject: str) -> dict[str, str]:
    secret = server.cli("admin", "create-token", "--role", role, "--subject", subject).stdout.strip()
    return {"Authorization": f"Bearer {secret}"}


def test_organiser_imports_a_roster_with_a_bad_row_and_a_member_is_stopped_at_the_end_of_their_time(
    page, server, tmp_path
):
    sign_in(page, server, "author", "olga")
    page.get_by_role("link", name="Cohorts").click()
    assert_accessible(page)
    page.get_by_label("Cohort name").fill("Spring intake")
    page.get_by_role("button", name="Create cohort").click()
    expect(page.get_by_role("heading", name="Spring intake", level=1)).to_be_visible()
    assert_accessible(page)

    # A roster with a bad row: every bad line named, nobody imported.
    bad = tmp_path / "roster.csv"
    bad.write_text(
        "subject,display_name,email\nalice,Alice A,alice@example.org\nbob,Bob B,not-an-email\n"
        "alice,Alice again,alice2@example.org\n"
    )
    page.get_by_label("Member list (CSV file)").set_input_files(str(bad))
    page.get_by_role("button", name="Import members").click()
    problems = page.get_by_role("alert")
    expect(problems).to_contain_text("Nothing was imported")
    expect(problems).to_contain_text("line 3")
    expect(problems).to_contain_text("line 4")
    expect(page.get_by_text("No members yet.")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "cohort-import-problems")

    good = tmp_path / "good.csv"
    good.write_text("subject,display_name,email\nalice,Alice A,alice@example.org\nbob,Bob B,bob@example.org\n")
    page.get_by_label("Member list (CSV file)").set_input_files(str(good))
    page.get_by_role("button", name="Import members").click()
    expect(page.get_by_role("heading", name="Invitation links")).to_be_visible()
    alice_link = page.get_by_role("row", name=re.compile("^alice ")).get_by_role("link").get_attribute("href")
    assert_accessible(page)

    # A timed assessment of one minute; a window that closes before it opens is refused beside the form.
    page.get_by_role("link", name="New assessment").click()
    assert_accessible(page)
    now = datetime.now(UTC)
    page.get_by_label("Title").fill("Timed warm-up")
    page.get_by_label(re.compile("^Tasks, one")).fill("python-foundations/word-frequency")
    page.get_by_label("Opens (UTC)").fill(local(now + timedelta(hours=2)))
    page.get_by_label("Closes (UTC)").fill(local(now + timedelta(hours=1)))
    page.get_by_label(re.compile("^Time per attempt in minutes")).fill("1")
    page.get_by_role("button", name="Create assessment").click()
    expect(page.get_by_role("alert")).to_contain_text("must be after opens_at")
    assert_accessible(page)
    page.get_by_label("Opens (UTC)").fill(local(now - timedelta(hours=1)))
    page.get_by_role("button", name="Create assessment").click()
    expect(page.get_by_role("heading", name="Timed warm-up", level=1)).to_be_visible()
    expect(page.get_by_role("heading", name="Progress")).to_be_visible()
    assert_accessible(page)

    # Alice joins with her one-time link and starts the clock.
    page.context.clear_cookies()
    page.goto(alice_link)
    assert_accessible(page)
    page.get_by_role("button", name="Join and sign in").click()
    expect(page.get_by_role("heading", name="My assessments")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name="Timed warm-up").click()
    expect(page.get_by_role("button", name=re.compile("^Submit an attempt at"))).to_have_count(0)
    page.get_by_role("button", name="Start the assessment").click()
    clock = page.get_by_role("timer")
    expect(clock).to_contain_text(re.compile(r"^0 min \d+ s left$|^1 min 0 s left$"))
    submit = page.get_by_role("button", name=re.compile("^Submit an attempt at"))
    expect(submit).to_be_enabled()
    assert_accessible(page)
    screenshot(page, "assessment-countdown")
    # The end: the page says submission is closed and the form closes; the server says so on reload too.
    expect(page.get_by_text("Your time is up: submission is closed.")).to_be_visible(timeout=90_000)
    expect(submit).to_be_disabled()
    page.reload()
    expect(page.get_by_text("Your time is up: submission is closed.")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("^Submit an attempt at"))).to_have_count(0)
    assert_accessible(page)


def _demo_pack(root: Path, version: str, *, lenient: bool) -> Path:
    """A one-task pack around retry-backoff; ``lenient``: the first version's grader never tests a deadline."""
    pack = root / f"regrade-demo-{version}"
    shutil.copytree(RETRY_TASK, pack / "retry-backoff")
    (pack / "pack.yaml").write_text(
        f"id: regrade-demo\nversion: {version}\ntitle: Regrade demo\n"
        "description: A grader fixed in its second version.\nauthors: [olga]\n"
        "license: Apache-2.0\n"
    )
    if lenient:
        tests = pack / "retry-backoff" / "grader" / "tests" / "test_retry.py"
        text = tests.read_text()
        start = text.index("def test_deadline_stops_before_an_overlong_wait")
        end = text.index("def test_deadline_allows_a_wait_that_fits_exactly():") + len(
            "def test_deadline_allows_a_wait_that_fits_exactly():"
        )
        tests.write_text(text[:start] + LENIENT_DEADLINE_TEST + text[end:])
        spec = pack / "retry-backoff" / "task.yaml"
        text = spec.read_text()
        start = text.index("  - name: ignores-deadline")
        end = text.index("  - name: no-cap")
        spec.write_text(text[:start] + text[end:])
        shutil.rmtree(pack / "retry-backoff" / "wrong" / "ignores-deadline")
    return Path(shutil.make_archive(str(pack), "zip", pack))


def publish(page, server, archive: Path, version: str) -> None:
    """Upload on the Packs page, then wait for the workers' pre-publication check to make it live."""
    page.goto(f"{server.url}/author/packs")
    page.get_by_label("Pack archive (.zip or .tar.gz)").set_input_files(str(archive))
    page.get_by_role("button", name="Upload and validate").click()
    base = server.url
    deadline = time.monotonic() + GRADING_TIMEOUT_MS / 1000
    while True:
        page.goto(f"{base}/author/packs/regrade-demo/{version}")
        state = page.locator("#version-state").inner_text()
        if state == "live":
            return
        assert state == "checking" and time.monotonic() < deadline, page.content()
        time.sleep(2)


def test_work_is_graded_reviewed_blind_exported_and_regraded(page, server, tmp_path):
    olga = token(server, "author", "olga")
    sign_in(page, server, "author", "olga")
    publish(page, server, _demo_pack(tmp_path, "1.0.0", lenient=True), "1.0.0")

    api = httpx.Client(base_url=server.url, timeout=30)
    made = api.post("/v1/cohorts", headers=olga, json={"name": "Hiring round"}).json()
    roster = "subject,display_name,email\nalice,Alice A,alice@example.org\nbob,Bob B,bob@example.org\n"
    imported = api.post(
        f"/v1/cohorts/{made['id']}/members", headers={**olga, "content-type": "text/csv"}, content=roster
    ).json()
    invitations = {i["subject"]: i["invitation"] for i in imported["invitations"]}
    assert api.post(f"/v1/cohorts/{made['id']}/staff", headers=olga, json={"subject": "rita"}).status_code == 201
    now = datetime.now(UTC)
    test = api.post(
        f"/v1/cohorts/{made['id']}/assessments",
        headers=olga,
        json={
            "title": "Backend screen",
            "tasks": [{"task": "regrade-demo/retry-backoff"}, {"task": "professional-writing/design-brief"}],
            "opens_at": (now - timedelta(hours=1)).isoformat(),
            "closes_at": (now + timedelta(days=1)).isoformat(),
        },
    )
    assert test.status_code == 201, test.text
    assessment_id = test.json()["id"]

    # Bob sends the same wrong answer through the API (a pair for the similarity report).
    bob = api.post("/invitations/redeem", json={"invitation": invitations["bob"]}).json()["token"]
    sent = api.post(
        "/v1/submissions",
        headers={"Authorization": f"Bearer {bob}"},
        json={
            "task": "regrade-demo/retry-backoff",
            "assessment": assessment_id,
            "files": {"retry.py": IGNORES_DEADLINE},
        },
    )
    assert sent.status_code == 202, sent.text
    api.close()

    # Alice joins in the browser and submits the same wrong answer and a brief.
    page.context.clear_cookies()
    page.goto(f"{server.url}/signin/join/{invitations['alice']}")
    page.get_by_role("button", name="Join and sign in").click()
    page.get_by_role("link", name="Backend screen").click()
    assert_accessible(page)
    answer = tmp_path / "retry.py"
    answer.write_text(IGNORES_DEADLINE)
    page.get_by_label("Files to upload for Retry a flaky call with exponential backoff").set_input_files(str(answer))
    page.get_by_role("button", name="Submit an attempt at Retry a flaky call with exponential backoff").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Score 100"))).to_be_visible(timeout=GRADING_TIMEOUT_MS)
    page.goto(f"{server.url}/assessments/{assessment_id}")
    brief = tmp_path / "brief.md"
    brief.write_text(BRIEF)
    page.get_by_label("Files to upload for Write a short design brief for stakeholders").set_input_files(str(brief))
    page.get_by_role("button", name="Submit an attempt at Write a short design brief for stakeholders").click()
    page.goto(f"{server.url}/assessments/{assessment_id}")
    expect(page.get_by_role("link", name="Waiting for grading or review")).to_be_visible()

    # Rita reviews the brief blind.
    sign_in(page, server, "reviewer", "rita")
    deadline = time.monotonic() + GRADING_TIMEOUT_MS / 1000
    while True:
        page.goto(f"{server.url}/reviews")
        if page.get_by_role("link", name="Review 1").count():
            break
        assert time.monotonic() < deadline, "the brief never reached the review queue"
        time.sleep(1)
    assert_accessible(page)
    page.get_by_role("link", name="Review 1").click()
    expect(page.get_by_role("heading", name="Review: Write a short design brief for stakeholders")).to_be_visible()
    expect(page.get_by_role("region", name="Submitted file brief.md")).to_contain_text("Decision asked")
    body = page.locator("main").inner_text()
    assert "alice" not in body.lower() and "Alice A" not in body
    assert_accessible(page)
    page.get_by_label(
        "4 points: States the problem, the decision asked for and its cost in the first paragraph."
    ).check()
    page.get_by_label("4 points: At least two options").check()
    page.get_by_label("3 points: A staged rollout").check()
    page.get_by_label("Comment on audience").fill("The ask is in the first line.")
    page.get_by_role("button", name="Submit the review").click()
    expect(page.get_by_role("status")).to_contain_text("Review saved")
    expect(page.get_by_role("status")).to_contain_text("Score 100/100")
    screenshot(page, "blind-review")

    # Olga reads the progress, exports the matrix, filters for hiring and opens the similarity report.
    sign_in(page, server, "author", "olga")
    page.goto(f"{server.url}/assessments/{assessment_id}")
    expect(page.get_by_role("heading", name="Backend screen", level=1)).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name="Readiness matrix").click()
    page.get_by_role("link", name="Members × tasks").click()
    expect(page.get_by_role("row", name=re.compile("^Alice A"))).to_contain_text("Ready")
    assert_accessible(page)
    screenshot(page, "readiness-matrix")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines[0] == (
        "subject,display_name,regrade-demo/retry-backoff:score,regrade-demo/retry-backoff:verdict,"
        "professional-writing/design-brief:score,professional-writing/design-brief:verdict"
    )
    assert "alice,Alice A,100.0,ready,100.0,ready" in lines and "bob,Bob B,100.0,ready,," in lines, lines
    page.get_by_role("link", name="Members × micro-skills").click()
    assert_accessible(page)
    page.goto(f"{server.url}/assessments/{assessment_id}/hiring")
    page.get_by_label("writing.briefings.stakeholder").check()
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text(re.compile(r"^1 member\(s\) ready in all of"))).to_be_visible()
    assert_accessible(page)
    page.goto(f"{server.url}/assessments/{assessment_id}/similarity")
    assert_accessible(page)
    page.get_by_role("link", name=re.compile("^Side by side:")).click()
    expect(page.get_by_role("region", name=re.compile("^retry.py from "))).to_have_count(2)
    assert_accessible(page)

    # A webhook for the cohort; its log.
    page.goto(f"{server.url}/cohorts/{made['id']}/webhooks")
    page.get_by_label("Receiver URL").fill("http://127.0.0.1:9/tasktrial")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("status")).to_contain_text("signing secret")
    assert_accessible(page)
    page.get_by_role("link", name="http://127.0.0.1:9/tasktrial").click()
    expect(page.get_by_role("heading", name=re.compile("^Deliveries to"))).to_be_visible()
    assert_accessible(page)

    # The grader is fixed in 1.0.1: regrade the task; the report shows both changed verdicts.
    publish(page, server, _demo_pack(tmp_path, "1.0.1", lenient=False), "1.0.1")
    page.goto(f"{server.url}/assessments/{assessment_id}")
    page.get_by_label("Task", exact=True).select_option("regrade-demo/retry-backoff")
    page.get_by_role("button", name="Regrade").click()
    expect(page.get_by_role("heading", name="Regrade report")).to_be_visible()
    assert_accessible(page)
    expect(page.get_by_text("Finished: 2 of 2 submission(s)")).to_be_visible(timeout=GRADING_TIMEOUT_MS)
    for who in ("alice", "bob"):
        row = page.get_by_role("row", name=re.compile(f"^{who} "))
        expect(row).to_contain_text("✓ Ready")
        expect(row).to_contain_text("✗ Not ready yet")
    assert_accessible(page)
    screenshot(page, "regrade-report")
