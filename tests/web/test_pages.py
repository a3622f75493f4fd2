"""The pages over real storage: sign-in, sessions, CSRF, visibility, escaping, results, packs, readiness."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from datetime import timedelta
from urllib.parse import quote

from markupsafe import escape
from sqlalchemy import update

from api import storage
from api.tables import ApiToken, Role
from api.web.render import CSP
from api.web.session import COOKIE
from engine import archives, signing
from engine.models import RunOutcome, StepOutcome
from engine.ports import GraderRun
from tests.api.conftest import Api
from tests.api.helpers import SECRET_MESSAGE, SECRET_OUTPUT, work
from tests.api.test_pack_credentials_api import TOKENISING, definitions, pack_with
from tests.api.test_packs import (
    GRADER_MARK,
    SOLUTION_MARK,
    WORD_PACK,
    finish_check,
    pack_files,
    post_pack,
    secret_pack_files,
)
from tests.web.conftest import csrf, form_value, sign_in

TASK = "/tasks/python-foundations/retry-backoff"
XSS = '<script>window.__xss=1</script><img src=x onerror="window.__xss=1">'


def submit_files(client, files: dict[str, bytes], task: str = TASK) -> str:
    response = client.post(
        f"{task}/submit",
        data={"csrf": csrf(client)},
        files=[("files", (name, data)) for name, data in files.items()],
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return response.headers["location"].rsplit("/", 1)[1]


def run_of(api: Api, submission_id: str) -> str:
    with api.service.session() as session:
        run = storage.latest_run(session=session, submission_id=submission_id)
    assert run is not None
    return run.id


def result_url(client, submission_id: str) -> str:
    response = client.get(f"/submissions/{submission_id}", follow_redirects=False)
    assert response.status_code == 303
    return response.headers["location"]


# -- sign-in and sessions ---------------------------------------------------------


def test_sign_in_link_opens_a_hardened_session_once(api):
    with api.service.session() as session:
        code = storage.create_sign_in_link(
            session=session, role=Role.CANDIDATE, subject="alice", lifetime=timedelta(days=7)
        )
    browser = api.client
    assert browser.get("/tasks", follow_redirects=False).headers["location"].startswith("/signin")
    confirm = browser.get(f"/signin/{code}")
    signed = browser.post(f"/signin/{code}", data={"pre": form_value(confirm.text, "pre")}, follow_redirects=False)
    assert signed.status_code == 303 and signed.headers["location"] == "/tasks"
    cookie = signed.headers["set-cookie"]
    assert f"{COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "alice" in browser.get("/tasks").text
    again = api.client.__class__(api.app)
    confirm = again.get(f"/signin/{code}")
    spent = again.post(f"/signin/{code}", data={"pre": form_value(confirm.text, "pre")}, follow_redirects=False)
    assert spent.status_code == 401 and "already used" in spent.text


def test_sign_in_post_without_its_form_token_is_refused(api):
    with api.service.session() as session:
        code = storage.create_sign_in_link(
            session=session, role=Role.CANDIDATE, subject="alice", lifetime=timedelta(days=1)
        )
    response = api.client.post(f"/signin/{code}", data={"pre": "forged"}, follow_redirects=False)
    assert response.status_code == 403
    assert COOKIE not in response.headers.get("set-cookie", "")


def test_expired_link_does_not_sign_in(api):
    with api.service.session() as session:
        code = storage.create_sign_in_link(
            session=session, role=Role.CANDIDATE, subject="alice", lifetime=timedelta(seconds=-1)
        )
    confirm = api.client.get(f"/signin/{code}")
    response = api.client.post(f"/signin/{code}", data={"pre": form_value(confirm.text, "pre")})
    assert response.status_code == 401 and "expired" in response.text


def test_a_pasted_token_signs_in_and_a_wrong_one_does_not(api):
    secret = api.token(Role.CANDIDATE, "bob")["Authorization"].split()[1]
    page = api.client.get("/signin")
    wrong = api.client.post("/signin", data={"pre": form_value(page.text, "pre"), "token": "tt_nope", "next": "/tasks"})
    assert wrong.status_code == 401
    right = api.client.post(
        "/signin",
        data={"pre": form_value(page.text, "pre"), "token": secret, "next": "//evil.example/"},
        follow_redirects=False,
    )
    assert right.status_code == 303 and right.headers["location"] == "/tasks"  # never an open redirect
    assert api.client.get("/profile").status_code == 200


def test_revoking_the_token_ends_its_sessions(api):
    alice = sign_in(api, Role.CANDIDATE, "alice")
    assert alice.get("/profile").status_code == 200
    with api.service.session() as session:
        session.exec(update(ApiToken).where(ApiToken.subject == "alice").values(revoked=True))
        session.commit()
    assert alice.get("/profile", follow_redirects=False).headers["location"].startswith("/signin")


def test_sessions_expire(api):
    alice = sign_in(api, Role.CANDIDATE, "alice")
    from api.tables import WebSession, utcnow

    with api.service.session() as session:
        session.exec(update(WebSession).values(expires_at=utcnow() - timedelta(seconds=1)))
        session.commit()
    assert alice.get("/profile", follow_redirects=False).status_code == 303


def test_sign_out_needs_the_csrf_token_and_ends_the_session(api):
    alice = sign_in(api, Role.CANDIDATE, "alice")
    secret = alice.cookies.get(COOKIE)
    assert alice.post("/signout", data={"csrf": "wrong"}).status_code == 403
    assert alice.post("/signout", data={"csrf": csrf(alice)}, follow_redirects=False).status_code == 303
    replay = api.client.__class__(api.app)
    replay.cookies.set(COOKIE, secret)
    assert replay.get("/profile", follow_redirects=False).status_code == 303


# -- headers and sizes ----------------------------------------------------------------


def test_pages_carry_a_strict_csp_and_no_inline_script_or_style(api):
    alice = sign_in(api, Role.CANDIDATE, "alice")
    for path in ("/tasks", TASK, "/profile", "/verify", f"{TASK}/history"):
        response = alice.get(path)
        assert response.status_code == 200, path
        policy = response.headers["content-security-policy"]
        assert policy == CSP and "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy
        assert not re.search(r"<script(?![^>]*\b(src=|type=\"application/json\"))", response.text), path
        assert not re.search(r"\sstyle=|<style|\son[a-z]+=", response.text), path


def test_each_page_with_its_assets_stays_under_150_kb_transferred(api):
    alice = sign_in(api, Role.CANDIDATE, "alice")
    for path in ("/tasks", TASK, "/profile", "/verify"):
        html = alice.get(path, headers={"Accept-Encoding": "gzip"})
        total = len(gzip.compress(html.content))
        for url in re.findall(r'(?:src|href)="(/static/[^"]+)"', html.text):
            if "/ace/" in url:
                continue  # the editor bundle is the documented exception
            asset = alice.get(url, headers={"Accept-Encoding": "gzip"})
            assert asset.status_code == 200
            total += int(asset.headers["content-length"])
        assert total <= 150 * 1024, f"{path}: {total} bytes"


# -- catalogue and task ------------------------------------------------------------------


def test_catalogue_filters_by_micro_skill_and_search(api):
    alice = sign_in(api, Role.CANDIDATE, "alice")
    task = api.service.pack_store.task("python-foundations", "retry-backoff")
    skill = task.micro_skills[0]
    page = alice.get("/tasks", params={"skill": skill}).text
    assert task.title in page
    others = [t for t in api.service.pack_store.pack("python-foundations").tasks if skill not in t.micro_skills]
    assert others and all(f'href="/tasks/{t.pack_id}/{t.id}"' not in page for t in others)
    assert "No task matches" in alice.get("/tasks", params={"q": "zzzz-no-such-thing"}).text


def test_task_page_renders_the_statement_without_raw_html(api):
    alice = sign_in(api, Role.CANDIDATE, "alice")
    page = alice.get(TASK).text
    assert "<h2" in page and "starter.zip" in page and "starter.tar.gz" in page
    from api.web.render import markdown

    rendered = str(markdown("# T\n\n" + XSS + "\n\n```python\nx = 1\n```\n"))
    assert "<script>" not in rendered and "&lt;script&gt;" in rendered and 'class="n"' in rendered


def test_starter_downloads_are_archives_of_the_starter(api):
    alice = sign_in(api, Role.CANDIDATE, "alice")
    for name in ("starter.zip", "starter.tar.gz"):
        response = alice.get(f"{TASK}/{name}")
        assert response.status_code == 200
        files = archives.extract(response.content, caps=archives.ArchiveCaps())
        assert files, name


def test_an_unsafe_upload_is_refused_with_the_reason_and_nothing_stored(api):
    alice = sign_in(api, Role.CANDIDATE, "alice")
    response = alice.post(f"{TASK}/submit", data={"csrf": csrf(alice)}, files=[("files", ("../escape.py", b"x"))])
    assert response.status_code == 422 and "Not submitted" in response.text
    with api.service.session() as session:
        assert storage.list_submissions(session=session, candidate="alice", limit=5, offset=0)[1] == 0


def test_submitting_without_csrf_is_refused(api):
    alice = sign_in(api, Role.CANDIDATE, "alice")
    response = alice.post(f"{TASK}/submit", data={"csrf": "nope"}, files=[("files", ("retry.py", b"x"))])
    assert response.status_code == 403


# -- progress and results ----------------------------------------------------------


def test_progress_page_then_result_with_hidden_checks_withheld(api):
    alice = sign_in(api, Role.CANDIDATE, "alice")
    submission = submit_files(alice, {"retry.py": b"print('hi')\n"})
    progress = alice.get(f"/submissions/{submission}")
    assert progress.status_code == 200 and 'sse-connect="/submissions/' in progress.text
    assert 'aria-current="step"' in progress.text and "position 1 in the queue" in progress.text
    second = submit_files(alice, {"retry.py": b"print('again')\n"})
    assert "position 2 in the queue" in alice.get(f"/submissions/{second}").text
    work(api, run_of(api, submission), passed=False)
    result = alice.get(result_url(alice, submission)).text
    assert "you can read this" in result  # the visible check's message
    assert SECRET_MESSAGE not in result and "withheld from candidates" in result
    assert SECRET_OUTPUT not in result
    assert "Not ready yet" in result  # the verdict in words


def test_event_stream_renders_each_state_as_html_until_done(api):
    alice = sign_in(api, Role.CANDIDATE, "alice")
    submission = submit_files(alice, {"retry.py": b"print('hi')\n"})
    work(api, run_of(api, submission))
    with alice.stream("GET", f"/submissions/{submission}/events") as stream:
        body = "".join(stream.iter_text())
    events = re.findall(r"^event: (\w+)$", body, flags=re.MULTILINE)
    assert events == ["state", "state", "done"]
    assert "See the result" in body and "score 100/100" in body


def test_the_author_of_the_pack_sees_what_candidates_do_not(api):
    alice = sign_in(api, Role.CANDIDATE, "alice")
    submission = submit_files(alice, {"retry.py": b"print('hi')\n"})
    work(api, run_of(api, submission), passed=False)
    url = result_url(alice, submission)
    reviewer = sign_in(api, Role.REVIEWER, "rita")
    page = reviewer.get(url).text
    assert SECRET_MESSAGE in page and SECRET_OUTPUT in page


def test_the_graders_own_sandboxes_show_their_figures_to_staff_and_only_a_limit_hit_to_the_candidate(api):
    alice = sign_in(api, Role.CANDIDATE, "alice")
    submission = submit_files(alice, {"retry.py": b"print('hi')\n"})
    hidden_tests = RunOutcome(
        backend="fake",
        image="sha256:fake",
        steps=(),
        wall_seconds=0.4321,
        cpu_seconds=0.2468,
        peak_memory_bytes=13 * 1048576,
    )
    killed = (StepOutcome(exit_code=None, timed_out=True),)
    variant = RunOutcome(backend="fake", image="sha256:fake", steps=killed, wall_seconds=9.87)
    runs = (GraderRun("hidden tests", hidden_tests), GraderRun("variant 2", variant))
    work(api, run_of(api, submission), grader_runs=runs)
    url = result_url(alice, submission)

    staff = sign_in(api, Role.REVIEWER, "rita").get(url).text
    assert "The grader's own sandboxes" in staff
    assert all(figure in staff for figure in ("hidden tests", "0.43 s", "0.25 s", "13.0 MB", "9.87 s", "time"))
    assert "withheld from candidates: they ran the hidden tests" not in staff
    mine = alice.get(url).text
    assert "hidden tests" in mine and "variant 2" in mine and "withheld from candidates" in mine
    assert not any(figure in mine for figure in ("0.43 s", "0.25 s", "13.0 MB", "9.87 s"))
    assert re.search(r"variant 2</td>.*?<td>time</td>", mine, flags=re.DOTALL), "the limit hit still shows"


def test_another_candidates_pages_answer_404(api):
    alice = sign_in(api, Role.CANDIDATE, "alice")
    submission = submit_files(alice, {"retry.py": b"print('hi')\n"})
    work(api, run_of(api, submission))
    url = result_url(alice, submission)
    mallory = sign_in(api, Role.CANDIDATE, "mallory")
    for path in (f"/submissions/{submission}", f"/submissions/{submission}/events", url, f"{url}/download"):
        response = mallory.get(path, follow_redirects=False)
        assert response.status_code == 404, path
    for path in ("/review/readiness", "/review/candidates/alice", "/author/packs"):
        assert mallory.get(path).status_code == 404, path


def test_limits_are_explained_in_words(api):
    alice = sign_in(api, Role.CANDIDATE, "alice")
    submission = submit_files(alice, {"retry.py": b"print('hi')\n"})
    run_id = run_of(api, submission)
    headers = api.token(Role.WORKER, "w")
    claimed = api.client.post(f"/v1/runs/{run_id}/claim", headers=headers, json={"worker": "w1"}).json()
    from tests.api.helpers import result_document

    document = result_document(api, claimed, passed=False)
    document["runner"].update(timed_out=True, oom_killed=True, output_truncated=True)
    document["status"] = "timeout"
    assert api.client.post(f"/v1/runs/{run_id}/result", headers=headers, json=document).status_code == 201
    page = alice.get(result_url(alice, submission)).text
    limits = api.service.pack_store.task("python-foundations", "retry-backoff").limits
    assert f"stopped after {limits.time_seconds:g} s: the task&#39;s time limit" in page
    assert f"killed at {limits.memory_mb} MB: the memory limit" in page
    assert f"output cut at {limits.output_kb} KB" in page


def test_hostile_names_and_messages_are_escaped(api):
    alice = sign_in(api, Role.CANDIDATE, "alice")
    submission = submit_files(alice, {"retry.py": b"print('hi')\n"})
    run_id = run_of(api, submission)
    headers = api.token(Role.WORKER, "w")
    claimed = api.client.post(f"/v1/runs/{run_id}/claim", headers=headers, json={"worker": "w1"}).json()
    from tests.api.helpers import result_document

    document = result_document(api, claimed, passed=False)
    for check in document["checks"]:
        check["name"], check["message"] = XSS, XSS
    assert api.client.post(f"/v1/runs/{run_id}/result", headers=headers, json=document).status_code == 201
    page = alice.get(result_url(alice, submission)).text
    assert "<script>window.__xss" not in page and "<img src=x" not in page
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in page


def test_the_result_lists_the_candidates_own_files_escaped(api):
    alice = sign_in(api, Role.CANDIDATE, "alice")
    name = "<img src=x onerror=window.__xss=1>.py"
    submission = submit_files(alice, {"retry.py": b"print('mine')\n", name: XSS.encode(), "blob.bin": b"\xff\xfe\x00"})
    work(api, run_of(api, submission))
    url = result_url(alice, submission)
    page = alice.get(url).text
    files = page[page.index('id="files-h"') : page.index("</section>", page.index('id="files-h"'))]
    assert "<code>retry.py</code>" in files and "print(&#39;mine&#39;)" in files and "14 bytes" in files
    assert "<code>&lt;img src=x onerror=window.__xss=1&gt;.py</code>" in files and "<img" not in page
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in files and "<script>window" not in page
    assert "blob.bin</code></th><td>3 bytes</td>" in files and "binary" in files
    # Only what she sent: not the starter's other files, the graders' tests or the reference solution.
    task = api.service.pack_store.task("python-foundations", "retry-backoff")
    assert "test_retry_public.py" not in files and "test_retry.py" not in files
    starter = (task.root / "starter" / "retry.py").read_text().splitlines()
    only_in_solution = [
        line.strip()
        for line in (task.root / "solution" / "retry.py").read_text().splitlines()
        if len(line.strip()) > 12 and line not in starter
    ]
    assert only_in_solution and not any(str(escape(line)) in page for line in only_in_solution)
    # A reviewer reads the same list; another candidate gets nothing.
    assert "<code>retry.py</code>" in sign_in(api, Role.REVIEWER, "rita").get(url).text
    assert sign_in(api, Role.CANDIDATE, "mallory").get(url).status_code == 404


def test_download_verifies_on_the_public_page_and_a_change_is_named(api):
    alice = sign_in(api, Role.CANDIDATE, "alice")
    submission = submit_files(alice, {"retry.py": b"print('hi')\n"})
    work(api, run_of(api, submission))
    download = alice.get(result_url(alice, submission) + "/download")
    assert "attachment" in download.headers["content-disposition"]
    document = download.json()
    assert signing.verify(document, signing.public_jwks([api.service.key])).ok
    public = api.client.__class__(api.app)  # no sign-in
    good = public.post("/verify", files={"file": ("result.json", download.content)})
    assert good.status_code == 200 and "Signature valid" in good.text
    tampered = public.post("/verify", data={"document": json.dumps({**document, "score": 100.5})})
    assert "Not valid" in tampered.text and "score" in tampered.text
    assert public.post("/verify", data={"document": "{nope"}).status_code == 422
    with api.service.session() as session:
        salt = storage.get_submission(session=session, submission_id=submission).subject_salt
    assert f"<code>{salt}</code>" in alice.get(result_url(alice, submission)).text
    bound = public.post(
        "/verify", data={"subject": "alice", "salt": salt}, files={"file": ("r.json", download.content)}
    )
    assert "Bound to candidate <strong>alice</strong>" in bound.text
    other = public.post(
        "/verify", data={"subject": "mallory", "salt": salt}, files={"file": ("r.json", download.content)}
    )
    assert "Not valid" in other.text and "is not bound to &#39;mallory&#39;" in other.text


def test_history_and_profile_show_attempts_and_a_chart(api):
    alice = sign_in(api, Role.CANDIDATE, "alice")
    for passed in (False, True):
        work(api, run_of(api, submit_files(alice, {"retry.py": b"print('hi')\n"})), passed=passed)
    history = alice.get(f"{TASK}/history").text
    assert history.count('href="/results/') == 2 and "<svg" in history and "<title" in history
    profile = alice.get("/profile").text
    assert "<svg" in profile and "Latest" in profile


# -- authors and reviewers ---------------------------------------------------------------


def test_author_uploads_a_broken_pack_and_sees_each_problem(api, tmp_path):
    author = sign_in(api, Role.AUTHOR, "ann")
    files = pack_files(tmp_path, pack_id="broken-pack")
    files["pack.yaml"] = b"id: broken-pack\nversion: not-a-version\n"
    task_yaml = "word-frequency/task.yaml"
    files[task_yaml] = files[task_yaml].replace(b"difficulty:", b"difficulty: impossible\nold_difficulty:")
    response = author.post(
        "/author/packs", data={"csrf": csrf(author)}, files={"archive": ("pack.zip", archives.make_zip(files))}
    )
    assert response.status_code == 422
    assert "was not published" in response.text
    rows = re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", response.text)
    assert len(rows) >= 2 and {"pack.yaml", task_yaml} <= {file for file, _, _ in rows}


def test_author_publishes_a_pack_and_its_preview_hides_grader_and_solution(api, tmp_path):
    author = sign_in(api, Role.AUTHOR, "ann")
    data = archives.make_zip(secret_pack_files(tmp_path))
    response = author.post("/author/packs", data={"csrf": csrf(author)}, files={"archive": ("pack.zip", data)})
    assert response.status_code == 200 and "secret-pack 1.0.0 uploaded" in response.text
    assert "It is <strong>checking</strong>" in response.text
    preview = author.get("/author/packs/secret-pack/1.0.0/upper")
    assert preview.status_code == 200 and "io" in preview.text
    assert GRADER_MARK not in preview.text and SOLUTION_MARK not in preview.text


def test_reviewer_filters_the_readiness_table_and_downloads_csv(api):
    for name, passed in (("alice", True), ("bob", False)):
        client = sign_in(api, Role.CANDIDATE, name)
        work(api, run_of(api, submit_files(client, {"retry.py": b"print('hi')\n"})), passed=passed)
    reviewer = sign_in(api, Role.REVIEWER, "rita")
    skill = api.service.pack_store.task("python-foundations", "retry-backoff").micro_skills[0]
    everyone = reviewer.get("/review/readiness").text
    assert "/review/candidates/alice" in everyone and "/review/candidates/bob" in everyone
    ready = reviewer.get("/review/readiness", params={"ready": skill}).text
    assert "/review/candidates/alice" in ready and "/review/candidates/bob" not in ready
    exported = reviewer.get("/review/readiness.csv", params={"ready": skill})
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows[0][0] == "candidate" and skill in rows[0] and [r[0] for r in rows[1:]] == ["alice"]
    assert "ready" in rows[1][rows[0].index(skill)]
    assert reviewer.get("/review/candidates/bob").status_code == 200


def test_readiness_pages_through_candidates_keeping_filter_and_sort(api, monkeypatch):
    from api.web import routes

    monkeypatch.setattr(routes, "READINESS_PAGE_SIZE", 1)
    for name, passed in (("alice", False), ("bob", True)):
        client = sign_in(api, Role.CANDIDATE, name)
        work(api, run_of(api, submit_files(client, {"retry.py": b"print('hi')\n"})), passed=passed)
    reviewer = sign_in(api, Role.REVIEWER, "rita")
    skill = api.service.pack_store.task("python-foundations", "retry-backoff").micro_skills[0]
    first = reviewer.get("/review/readiness", params={"sort": skill}).text
    assert "2 candidate(s) (page 1 of 2)" in first
    assert "/review/candidates/bob" in first and "/review/candidates/alice" not in first  # the higher score first
    assert "✓ Ready" in first and f"sort={quote(skill)}&amp;page=2" in first
    second = reviewer.get("/review/readiness", params={"sort": skill, "page": 2}).text
    assert (
        "/review/candidates/alice" in second and "/review/candidates/bob" not in second and "✗ Not ready yet" in second
    )
    beyond = reviewer.get("/review/readiness", params={"sort": skill, "page": 9}).text
    assert "page 2 of 2" in beyond and "/review/candidates/alice" in beyond


def test_csv_cells_cannot_become_formulas():
    from api.web.routes import _csv_safe

    assert _csv_safe("=HYPERLINK(1)") == "'=HYPERLINK(1)" and _csv_safe("alice") == "alice"


def test_catalogue_pages_keep_filters_between_pages(api, monkeypatch):
    from api.web import routes

    monkeypatch.setattr(routes, "PAGE_SIZE", 2)
    alice = sign_in(api, Role.CANDIDATE, "alice")
    first = alice.get("/tasks", params={"environment": "python"}).text
    assert "page 1 of 2" in first and 'href="/tasks?environment=python&amp;page=2"' in first
    second = alice.get("/tasks", params={"environment": "python", "page": 2}).text
    assert "page 2 of 2" in second and "Previous page" in second and "Next page" not in second
    shown = set(re.findall(r'<h2><a href="(/tasks/[^"]+)"', first)) | set(
        re.findall(r'<h2><a href="(/tasks/[^"]+)"', second)
    )
    python = [t for p in api.service.pack_store.packs() for t in p.tasks if t.environment == "python"]
    assert shown == {f"/tasks/{t.pack_id}/{t.id}" for t in python}


def test_readiness_uses_the_latest_evidence_like_the_profile(api):
    alice = sign_in(api, Role.CANDIDATE, "alice")
    for passed in (True, False):
        work(api, run_of(api, submit_files(alice, {"retry.py": b"print('hi')\n"})), passed=passed)
    from api.routes.submissions import build_profile

    with api.service.session() as session:
        profile = build_profile(session, "alice")
    reviewer = sign_in(api, Role.REVIEWER, "rita")
    rows = list(csv.reader(io.StringIO(reviewer.get("/review/readiness.csv").text)))
    for skill, standing in profile.skills.items():
        assert rows[1][rows[0].index(skill)] == f"{standing.latest.score:g} {standing.latest.verdict}"
        assert standing.latest.verdict == "not_ready" and standing.best.verdict == "ready"


def test_session_cookie_is_secure_behind_https(api):
    https = api.client.__class__(api.app, base_url="https://testserver")
    with api.service.session() as session:
        code = storage.create_sign_in_link(
            session=session, role=Role.CANDIDATE, subject="alice", lifetime=timedelta(days=1)
        )
    confirm = https.get(f"/signin/{code}")
    signed = https.post(f"/signin/{code}", data={"pre": form_value(confirm.text, "pre")}, follow_redirects=False)
    cookie = next(c for c in signed.headers.get_list("set-cookie") if c.startswith(f"{COOKIE}="))
    assert "Secure" in cookie and "HttpOnly" in cookie


def test_author_uploads_a_pack_folder(api, tmp_path):
    author = sign_in(api, Role.AUTHOR, "ann")
    files = pack_files(tmp_path, pack_id="folder-pack")
    response = author.post(
        "/author/packs",
        data={"csrf": csrf(author)},
        files=[("folder", (f"folder-pack/{path}", data)) for path, data in files.items()],
    )
    assert response.status_code == 200 and "folder-pack 1.0.0 uploaded" in response.text
    assert api.service.pack_store.pack("folder-pack").version == "1.0.0"


def upload_page(api: Api, author, files: dict[str, bytes]):
    return author.post(
        "/author/packs", data={"csrf": csrf(author)}, files={"archive": ("pack.zip", archives.make_zip(files))}
    )


def candidate_meets(candidate, task: str) -> bool:
    """The catalogue lists it, its page and starter open, and the public tests and submit forms reach it."""
    listed = f'href="/tasks/{task}"' in candidate.get("/tasks").text
    page = candidate.get(f"/tasks/{task}").status_code
    starter = candidate.get(f"/tasks/{task}/starter.zip").status_code
    assert (page == 200) == (starter == 200) == listed
    return listed


def test_candidates_meet_an_uploaded_pack_only_once_its_check_passed(api, tmp_path):
    author = sign_in(api, Role.AUTHOR, "ann")
    carol = sign_in(api, Role.CANDIDATE, "carol")
    task = "folder-pack/word-frequency"
    assert upload_page(api, author, pack_files(tmp_path, pack_id="folder-pack")).status_code == 200
    assert not candidate_meets(carol, task)
    refused = carol.post(
        f"/tasks/{task}/submit", data={"csrf": csrf(carol)}, files=[("files", ("top_words.py", b"pass\n"))]
    )
    assert refused.status_code == 404
    assert finish_check(api, "folder-pack", "1.0.0", ok=True) == "live"
    assert candidate_meets(carol, task)


def test_the_author_reads_the_check_report_of_a_rejected_version_and_others_do_not(api, tmp_path):
    author = sign_in(api, Role.AUTHOR, "ann")
    upload_page(api, author, pack_files(tmp_path, pack_id="folder-pack"))
    listed = author.get("/author/packs").text
    assert 'href="/author/packs/folder-pack/1.0.0" class="state-checking">checking</a>' in listed
    assert "The workers are checking this version" in author.get("/author/packs/folder-pack/1.0.0").text
    finish_check(api, "folder-pack", "1.0.0", ok=False, problems=["starter run 1: ready with score 100"])
    page = author.get("/author/packs/folder-pack/1.0.0")
    assert page.status_code == 200 and 'id="version-state">rejected<' in page.text
    assert "starter run 1: ready with score 100" in page.text and "✗ failed" in page.text
    other = sign_in(api, Role.AUTHOR, "bob")
    assert other.get("/author/packs/folder-pack/1.0.0").status_code == 404
    assert "folder-pack" not in other.get("/author/packs").text
    assert other.get("/author/packs/folder-pack/1.0.0/word-frequency").status_code == 404
    assert author.get("/author/packs/folder-pack/1.0.0/word-frequency").status_code == 200
    assert not candidate_meets(sign_in(api, Role.CANDIDATE, "carol"), "folder-pack/word-frequency")


def test_retiring_from_the_pages_retires_the_credentials_no_live_version_declares_at_once(api, tmp_path):
    """The page calls the API's own ``retire``: the same sync of the pack's credentials, not at some later refresh."""
    post_pack(api, api.token(Role.AUTHOR, "ann"), pack_with(tmp_path, "1.0.0", [TOKENISING]))
    assert definitions(api)[f"{WORD_PACK}/tokenising"]["retired_at"] is None
    author = sign_in(api, Role.AUTHOR, "ann")
    retired = author.post(f"/author/packs/{WORD_PACK}/1.0.0/retire", data={"csrf": csrf(author)})
    assert retired.status_code == 200, retired.text
    assert definitions(api)[f"{WORD_PACK}/tokenising"]["retired_at"] is not None


def test_a_retired_version_takes_no_submissions_from_the_pages(api, tmp_path):
    author = sign_in(api, Role.AUTHOR, "ann")
    upload_page(api, author, pack_files(tmp_path, pack_id="folder-pack"))
    finish_check(api, "folder-pack", "1.0.0", ok=True)
    carol = sign_in(api, Role.CANDIDATE, "carol")
    assert candidate_meets(carol, "folder-pack/word-frequency")
    assert author.post("/author/packs/folder-pack/1.0.0/retire", data={}).status_code == 403  # no form token
    retired = author.post("/author/packs/folder-pack/1.0.0/retire", data={"csrf": csrf(author)})
    assert retired.status_code == 200 and 'id="version-state">retired<' in retired.text
    again = author.post("/author/packs/folder-pack/1.0.0/retire", data={"csrf": csrf(author)})
    assert again.status_code == 409 and "only a live version can be retired" in again.text
    assert not candidate_meets(carol, "folder-pack/word-frequency")
    refused = carol.post(
        "/tasks/folder-pack/word-frequency/submit",
        data={"csrf": csrf(carol)},
        files=[("files", ("top_words.py", b"pass\n"))],
    )
    assert refused.status_code == 404


def test_an_expired_token_ends_its_sessions(api):
    from api.tables import utcnow

    alice = sign_in(api, Role.CANDIDATE, "alice")
    assert alice.get("/profile").status_code == 200
    with api.service.session() as session:
        session.exec(
            update(ApiToken).where(ApiToken.subject == "alice").values(expires_at=utcnow() - timedelta(seconds=1))
        )
        session.commit()
    assert alice.get("/profile", follow_redirects=False).headers["location"].startswith("/signin")


def test_submitting_from_the_page_meets_the_apis_rate_limit(api):
    api.service.settings = api.service.settings.model_copy(
        update={"submission_rate_limit": 2, "submission_rate_window_seconds": 60}
    )
    alice = sign_in(api, Role.CANDIDATE, "alice")
    for _ in range(2):
        submit_files(alice, {"retry.py": b"x = 1\n"})
    refused = alice.post(f"{TASK}/submit", data={"csrf": csrf(alice)}, files=[("files", ("retry.py", b"x = 1\n"))])
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert "TASKTRIAL_SUBMISSION_RATE_LIMIT" in refused.text
    with api.service.session() as session:
        assert len(storage.list_submissions(session=session, candidate="alice", limit=10, offset=0)[0]) == 2


def test_event_stream_resumes_after_the_last_event_seen(api):
    alice = sign_in(api, Role.CANDIDATE, "alice")
    submission = submit_files(alice, {"retry.py": b"print('hi')\n"})
    work(api, run_of(api, submission))
    with alice.stream("GET", f"/submissions/{submission}/events") as stream:
        first = "".join(stream.iter_text())
    ids = re.findall(r"^id: (\d+)$", first, flags=re.MULTILINE)
    assert len(ids) == 3 and first.startswith("retry: ")
    with alice.stream("GET", f"/submissions/{submission}/events", headers={"Last-Event-ID": ids[0]}) as stream:
        resumed = "".join(stream.iter_text())
    assert re.findall(r"^id: (\d+)$", resumed, flags=re.MULTILINE) == ids[1:]
    assert re.findall(r"^event: (\w+)$", resumed, flags=re.MULTILINE) == ["state", "done"]
    assert api.service.streams.open_streams == 0  # each stream gave its slot back


def test_the_public_tests_button_meets_the_apis_rate_limit(api):
    api.service.settings = api.service.settings.model_copy(
        update={"public_test_rate_limit": 1, "public_test_rate_window_seconds": 60}
    )
    alice = sign_in(api, Role.CANDIDATE, "alice")
    with api.service.session() as session:  # one run let in already (through the API, say)
        api.service.admit_public_tests(session=session, candidate="alice")
    files = [("files", ("retry.py", b"x = 1\n"))]
    # The editor's button (fetch): the fragment it shows, saying why.
    fragment = alice.post(
        f"{TASK}/public-tests", data={"csrf": csrf(alice)}, files=files, headers={"X-Requested-With": "fetch"}
    )
    assert fragment.status_code == 429 and int(fragment.headers["retry-after"]) >= 1
    assert "Public tests not run" in fragment.text and "TASKTRIAL_PUBLIC_TEST_RATE_LIMIT" in fragment.text
    assert "<html" not in fragment.text
    # The upload form without JavaScript: the task page, with the same message in its public-tests section.
    page = alice.post(f"{TASK}/public-tests", data={"csrf": csrf(alice)}, files=files)
    assert page.status_code == 429 and int(page.headers["retry-after"]) >= 1
    section = page.text[page.text.index('id="public-output"') :]
    assert "Public tests not run" in section and "alice made 1 public-test runs in the last 60 s" in section
