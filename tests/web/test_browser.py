"""User stories in real chromium against a real ``tasktrial serve`` grading in real Docker."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest

from tests.conftest import CATALOGUE
from tests.web.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    assert_accessible,
    assert_sandboxes_removed,
    screenshot,
    start_server,
)

pytestmark = [pytest.mark.browser, pytest.mark.docker]
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

SOLUTION = (CATALOGUE / "python-foundations" / "word-frequency" / "solution" / "top_words.py").read_text()
RETRY_SOLUTION = (CATALOGUE / "python-foundations" / "retry-backoff" / "solution" / "retry.py").read_text()
GRADING_TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    catalogue = tmp_path_factory.mktemp("catalogue")
    shutil.copytree(CATALOGUE / "python-foundations", catalogue / "python-foundations")
    yield from start_server(tmp_path_factory.mktemp("data"), catalogue)


@pytest.fixture(autouse=True)
def sandboxes_removed(server):
    yield
    assert_sandboxes_removed(server)


def sign_in(page, server, role: str, subject: str, *, axe: bool = True) -> None:
    page.goto(server.sign_in_link(role, subject))
    if axe:  # axe runs in the page: not with JavaScript off
        assert_accessible(page)
    page.get_by_role("button", name="Continue and sign in").click()
    expect(page.get_by_role("button", name=f"Sign out {subject}")).to_be_visible()


def wait_for_result(page) -> None:
    expect(page.get_by_role("heading", name=re.compile(r"^Score \d"))).to_be_visible(timeout=GRADING_TIMEOUT_MS)


def upload(page, files: dict[str, str], tmp_path: Path) -> None:
    paths = []
    for name, text in files.items():
        path = tmp_path / name
        path.write_text(text)
        paths.append(str(path))
    page.get_by_label("Files to upload").set_input_files(paths)
    page.get_by_role("button", name="Submit upload").click()


def test_candidate_finds_edits_submits_watches_and_verifies(page, server, tmp_path):
    page.goto(server.url + "/signin")
    assert_accessible(page)
    screenshot(page, "sign-in")
    sign_in(page, server, "candidate", "alice")
    assert_accessible(page)
    page.get_by_label("Micro-skill").select_option("python.resilience.retry-backoff")
    page.get_by_role("button", name="Find tasks").click()
    expect(page.get_by_text(re.compile(r"^1 of \d+ tasks$"))).to_be_visible()
    assert_accessible(page)
    screenshot(page, "catalogue")
    page.get_by_role("link", name="Retry a flaky call with exponential backoff").click()
    expect(page.get_by_role("heading", name="Statement")).to_be_visible()

    # The editor: open the starter, replace it with a solution; the draft survives a reload.
    page.get_by_role("button", name="retry.py", exact=True).click()
    editor = page.get_by_role("region", name="Code editor").get_by_role("textbox")
    editor.focus()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(RETRY_SOLUTION)
    page.reload()
    expect(page.get_by_text("Editing retry.py")).to_be_visible()
    expect(page.locator("#editor")).to_contain_text("def retry(")
    assert_accessible(page)

    # The public tests run on the server, in the grading image; their output shows; nothing is counted.
    page.get_by_role("button", name="Run the public tests", exact=True).click()
    expect(page.get_by_role("heading", name="Public tests: ✓ passed")).to_be_visible(timeout=GRADING_TIMEOUT_MS)
    expect(page.locator("#public-output")).to_contain_text("passed")
    assert_accessible(page)
    screenshot(page, "task-editor")

    page.get_by_role("button", name="Submit these files").click()
    expect(page.get_by_role("status")).to_contain_text(re.compile(r"Current step|Done"))
    screenshot(page, "progress")
    wait_for_result(page)
    expect(page.get_by_text("✓ Ready").first).to_be_visible()
    assert "/results/" in page.url
    assert_accessible(page)
    screenshot(page, "result")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the signed result (JSON)").click()
    saved = tmp_path / "result.json"
    download_info.value.save_as(saved)
    verified = server.cli("verify", str(saved), "--jwks", server.url + "/.well-known/jwks.json")
    assert "signature valid" in verified.stdout

    page.get_by_role("link", name="Verify a result publicly").click()
    page.get_by_label("Or upload the file").set_input_files(str(saved))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="✓ Signature valid")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "verify")

    page.goto(server.url + "/tasks/python-foundations/retry-backoff/history")
    expect(page.get_by_role("img", name=re.compile("Score per attempt"))).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name="Profile").click()
    expect(page.get_by_role("img", name=re.compile("micro-skills ready"))).to_be_visible()
    assert_accessible(page)
    screenshot(page, "profile")


def test_wrong_solution_shows_failing_visible_checks_and_withholds_hidden_ones(page, server, tmp_path):
    sign_in(page, server, "candidate", "bob")
    page.goto(server.url + "/tasks/python-foundations/word-frequency")
    upload(page, {"top_words.py": "print('0 nothing')\n"}, tmp_path)
    wait_for_result(page)
    expect(page.get_by_text("✗ Not ready yet").first).to_be_visible()
    visible_row = page.get_by_role("row", name=re.compile("empty-input"))
    expect(visible_row).to_contain_text("failed")
    expect(page.get_by_role("row", name=re.compile(r"\(hidden check\)")).first).to_contain_text(
        "withheld from candidates"
    )
    hidden = page.get_by_role("row", name=re.compile(r"\(hidden check\)"))
    expect(hidden.filter(has_text="0 nothing")).to_have_count(0)  # no output of hidden cases comes back
    assert_accessible(page)


def test_time_limit_submission_says_so_in_words(page, server, tmp_path):
    sign_in(page, server, "candidate", "carol")
    page.goto(server.url + "/tasks/python-foundations/word-frequency")
    upload(page, {"top_words.py": "while True:\n    pass\n"}, tmp_path)
    expect(page.get_by_role("list").filter(has_text="grading")).to_be_visible()
    assert_accessible(page)  # the progress page, its event stream open
    wait_for_result(page)
    expect(page.get_by_text("stopped after 5 s: the task's time limit")).to_be_visible()


#: Set in every page before its own scripts run: any CSP violation is recorded where the test can read it.
CSP_WATCH = (
    "window.__csp = []; document.addEventListener('securitypolicyviolation',"
    " (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
)


def test_hostile_file_names_and_output_never_execute(page, server):
    """Names, output and messages carrying markup reach the pages as text: nothing runs, the CSP is never tested."""
    image = "<img src=x onerror=window.__xss=1;alert(1)>.py"
    script = "<script>window.__xss=2;alert(2)</script>.py"  # its slash makes a folder: shown as the same path
    printed = "<script>window.__xss=3;alert(3)</script>"
    page.add_init_script(CSP_WATCH)
    sign_in(page, server, "candidate", "eve")
    page.goto(server.url + "/tasks/python-foundations/word-frequency")
    page.get_by_label("Files to upload").set_input_files(
        [
            {
                "name": "top_words.py",
                "mimeType": "text/x-python",
                "buffer": f"import sys\nprint({printed!r})\nprint({image!r}, file=sys.stderr)\n".encode(),
            },
            {"name": image, "mimeType": "text/plain", "buffer": f"# {printed}\n".encode()},
            {"name": script, "mimeType": "text/plain", "buffer": b"x = 1\n"},
        ]
    )
    page.get_by_role("button", name="Submit upload").click()
    wait_for_result(page)

    def nothing_ran() -> None:
        assert page.evaluate("window.__xss") is None
        assert page.evaluate("window.__csp") == []  # no injected element ever reached the CSP
        assert page.evaluate("document.querySelectorAll('main img, main script').length") == 0

    files = page.get_by_role("region", name="Submitted files")
    for name in (image, script, "top_words.py"):
        expect(files.get_by_role("rowheader", name=name, exact=True)).to_be_visible()
    files.get_by_text(f"Show the text of {image}", exact=True).click()  # the hostile file's own text, as text
    expect(files.get_by_text(f"# {printed}", exact=True)).to_be_visible()
    expect(page.get_by_text(printed).first).to_be_visible()  # the output, in the visible check's message
    nothing_ran()
    # A reviewer sees the same files and the raw output, still as text.
    url = page.url
    page.context.clear_cookies()
    sign_in(page, server, "reviewer", "rita")
    page.goto(url)
    expect(
        page.get_by_role("region", name="Submitted files").get_by_role("rowheader", name=image, exact=True)
    ).to_be_visible()
    expect(page.get_by_text(image).first).to_be_visible()
    nothing_ran()


def test_another_candidates_result_is_not_found(page, server, tmp_path):
    sign_in(page, server, "candidate", "dan")
    page.goto(server.url + "/tasks/python-foundations/word-frequency")
    upload(page, {"top_words.py": "print('')\n"}, tmp_path)
    wait_for_result(page)
    url = page.url
    page.context.clear_cookies()
    sign_in(page, server, "candidate", "mallory")
    response = page.goto(url)
    assert response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    assert_accessible(page)


def test_author_uploads_a_broken_pack_and_sees_each_problem(page, server, tmp_path):
    from engine import archives
    from engine.trees import read_tree

    folder = tmp_path / "pack"
    shutil.copytree(CATALOGUE / "python-foundations" / "word-frequency", folder / "word-frequency")
    (folder / "pack.yaml").write_text("id: Broken Pack\nversion: one\n")
    task_yaml = folder / "word-frequency" / "task.yaml"
    task_yaml.write_text(task_yaml.read_text().replace("difficulty: intro", "difficulty: impossible"))
    archive = tmp_path / "broken.zip"
    archive.write_bytes(archives.make_zip(read_tree(folder)))
    sign_in(page, server, "author", "ann")
    page.get_by_role("link", name="Packs").click()
    page.get_by_label("Pack archive (.zip or .tar.gz)").set_input_files(str(archive))
    page.get_by_role("button", name="Upload and validate").click()
    expect(page.get_by_role("heading", name="✗ The pack was not published")).to_be_visible()
    report = page.get_by_role("alert")
    expect(report.get_by_role("cell", name="pack.yaml").first).to_be_visible()
    expect(report.get_by_role("cell", name="word-frequency/task.yaml").first).to_be_visible()
    assert_accessible(page)
    screenshot(page, "pack-upload")
    page.get_by_role("link", name="retry-backoff").first.click()
    expect(page.get_by_role("heading", name=re.compile("^Preview:"))).to_be_visible()
    expect(page.get_by_text("Grader kind")).to_be_visible()
    assert_accessible(page)


def test_author_sees_an_upload_checked_by_the_workers_then_candidates_meet_it(page, server, tmp_path):
    from engine import archives
    from engine.trees import read_tree

    folder = tmp_path / "pack"
    shutil.copytree(CATALOGUE / "python-foundations" / "word-frequency", folder / "word-frequency")
    task_yaml = folder / "word-frequency" / "task.yaml"  # its own title: other tests find the built-in by name
    task_yaml.write_text(re.sub(r"(?m)^title: .*$", "title: Ann's word counter", task_yaml.read_text()))
    (folder / "pack.yaml").write_text(
        "id: ann-pack\nversion: 1.0.0\ntitle: Ann's pack\nauthors: [ann]\nlicense: MIT\ndescription: one task\n"
    )
    archive = tmp_path / "ann.zip"
    archive.write_bytes(archives.make_zip(read_tree(folder)))
    sign_in(page, server, "candidate", "carol")
    page.goto(f"{server.url}/tasks?pack=ann-pack")
    expect(page.locator('a[href="/tasks/ann-pack/word-frequency"]')).to_have_count(0)  # not before its check
    sign_in(page, server, "author", "ann")
    page.goto(f"{server.url}/author/packs")
    page.get_by_label("Pack archive (.zip or .tar.gz)").set_input_files(str(archive))
    page.get_by_role("button", name="Upload and validate").click()
    expect(page.get_by_role("status")).to_contain_text("It is checking")
    page.get_by_role("link", name="Its state and check report").click()
    deadline = time.monotonic() + GRADING_TIMEOUT_MS / 1000
    while page.locator("#version-state").inner_text() == "checking" and time.monotonic() < deadline:
        time.sleep(1)
        page.reload()
    expect(page.locator("#version-state")).to_have_text("live")
    expect(page.get_by_role("heading", name="Check report")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("word-frequency.*ok"))).to_be_visible()
    assert_accessible(page)
    screenshot(page, "pack-version")
    sign_in(page, server, "candidate", "carol")
    page.goto(f"{server.url}/tasks?pack=ann-pack")
    expect(page.locator('a[href="/tasks/ann-pack/word-frequency"]').first).to_be_visible()


def test_reviewer_filters_readiness_and_downloads_csv(page, server, tmp_path):
    sign_in(page, server, "candidate", "fay")
    page.goto(server.url + "/tasks/python-foundations/word-frequency")
    upload(page, {"top_words.py": SOLUTION}, tmp_path)
    wait_for_result(page)
    page.context.clear_cookies()
    sign_in(page, server, "reviewer", "rita")
    page.get_by_role("link", name="Readiness").click()
    page.get_by_label("python.text.tokenising").check()
    page.get_by_role("button", name="Filter").click()
    table = page.get_by_role("table")
    expect(table.get_by_role("link", name="fay")).to_be_visible()
    expect(table.get_by_role("link", name="bob")).to_have_count(0)  # bob's attempt was not ready
    assert_accessible(page)
    screenshot(page, "readiness")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download as CSV").click()
    text = Path(download_info.value.path()).read_text()
    assert text.splitlines()[0].startswith("candidate,") and "\nfay," in text and "\nbob," not in text
    table.get_by_role("link", name="fay").click()
    expect(page.get_by_role("heading", name="Candidate fay")).to_be_visible()
    assert_accessible(page)


def test_reading_works_with_javascript_off(playwright, server, tmp_path):
    """Catalogue, task and result pages read without JavaScript (a fresh browser with scripts disabled)."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    try:
        page = browser.new_context(java_script_enabled=False).new_page()
        sign_in(page, server, "candidate", "gil", axe=False)
        page.get_by_role("link", name="Top words of a text, as a command-line filter").click()
        expect(page.get_by_role("heading", name="Statement")).to_be_visible()
        expect(page.get_by_role("region", name="Work in the browser")).to_be_hidden()  # the editor needs JS
        upload(page, {"top_words.py": SOLUTION}, tmp_path)
        wait_for_result(page)  # the progress page refreshes itself without JavaScript
        expect(page.get_by_text("✓ Ready").first).to_be_visible()
    finally:
        browser.close()


def test_cli_runs_the_public_tests_on_the_server(server, tmp_path):
    token = server.cli("admin", "create-token", "--role", "candidate", "--subject", "hal").stdout.strip()
    env = {**server.env, "TASKTRIAL_TOKEN": token}
    work = tmp_path / "retry"
    shutil.copytree(CATALOGUE / "python-foundations" / "retry-backoff" / "starter", work)
    import subprocess
    import sys

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "cli.main", "test", "python-foundations/retry-backoff", str(work), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    failing = run()
    assert failing.returncode == 1, failing.stderr
    assert "public tests did not pass" in failing.stdout and "failed" in failing.stdout
    (work / "retry.py").write_text(RETRY_SOLUTION)
    passing = run("--json")
    assert passing.returncode == 0, passing.stderr
    assert '"passed": true' in passing.stdout and '"signed": false' in passing.stdout
    profile = subprocess.run(
        [
            sys.executable,
            "-c",
            (
                "import httpx,os,sys; r = httpx.get(os.environ['TASKTRIAL_URL'] + "
                "'/v1/submissions', headers={'Authorization': 'Bearer ' + os.environ['TASKTRIAL_TOKEN']}); "
                "print(r.json()['count'])"
            ),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert profile.stdout.strip() == "0"  # nothing was submitted or counted
