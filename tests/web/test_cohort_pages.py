"""Cohort pages over real storage (fake queue): organisers, staff, reviewers and members, each through sign-in."""

from __future__ import annotations

import gzip
import re
import shutil
from datetime import timedelta

import pytest
from sqlmodel import select

from api.tables import AssessmentStart, Role, utcnow
from api.web.render import CSP
from tests.api.cohort_helpers import ROSTER, assessment, cohort, member, queued_reviews, reviewers_assessments
from tests.api.conftest import make_api
from tests.api.helpers import RETRY, work
from tests.api.test_reviews import _grade
from tests.conftest import CATALOGUE
from tests.web.conftest import form_value, sign_in

BRIEF = "professional-writing/design-brief"


@pytest.fixture(scope="module")
def writing_catalogue(tmp_path_factory):
    root = tmp_path_factory.mktemp("writing")
    for pack in ("python-foundations", "professional-writing"):
        shutil.copytree(CATALOGUE / pack, root / pack)
    return root


@pytest.fixture
def api(tmp_path, writing_catalogue):
    yield from make_api(tmp_path / "data", catalogue_dirs=[writing_catalogue])


def csrf_of(client, path: str) -> str:
    return form_value(client.get(path).text, "csrf")


@pytest.fixture
def world(api):
    """Cohort A (organiser olga, staff rita, members alice and bob) with a timed assessment, and cohort B
    (organiser oscar, staff rex, member zoe); a signed-in browser for each."""
    olga, oscar = api.token(Role.AUTHOR, "olga"), api.token(Role.AUTHOR, "oscar")
    mine = cohort(api, olga)
    theirs = cohort(api, oscar, "subject,display_name,email\nzoe,Zoe,zoe@example.org\n", name="Other")
    for organiser, made, staff in ((olga, mine, "rita"), (oscar, theirs, "rex")):
        assert (
            api.client.post(f"/v1/cohorts/{made['id']}/staff", headers=organiser, json={"subject": staff}).status_code
            == 201
        )
    test = assessment(api, olga, mine["id"], duration_seconds=600)
    alice = member(api, mine["invitations"]["alice"])
    member(api, theirs["invitations"]["zoe"])
    regrade = api.client.post(f"/v1/assessments/{test['id']}/regrade", headers=olga, json={}).json()
    endpoint = api.client.post(
        f"/v1/cohorts/{mine['id']}/webhooks",
        headers=olga,
        json={"url": "http://127.0.0.1:9/hook", "events": ["result.created"]},
    ).json()
    api.service.webhooks.emit(cohort_id=mine["id"], event_type="result.created", data={})
    delivery = api.service.webhooks.deliveries(endpoint_id=endpoint["id"])[0][0]
    browsers = {
        "organiser": sign_in(api, Role.AUTHOR, "olga"),
        "staff": sign_in(api, Role.REVIEWER, "rita"),
        "member": sign_in(api, Role.CANDIDATE, "alice"),
        "other_organiser": sign_in(api, Role.AUTHOR, "oscar"),
        "other_staff": sign_in(api, Role.REVIEWER, "rex"),
        "other_member": sign_in(api, Role.CANDIDATE, "zoe"),
    }
    ids = {
        "cohort_id": mine["id"],
        "assessment_id": test["id"],
        "regrade_id": regrade["id"],
        "endpoint_id": endpoint["id"],
        "delivery_id": delivery.id,
        "other_cohort": theirs["id"],
    }
    return ids, browsers, {"olga": olga, "alice": alice}


# What each standing gets from each new page of cohort A: 200 or 404 (never 403: ids cannot be probed).
# Columns: organiser, staff, member, other organiser, other staff, other member.
STANDINGS = ["organiser", "staff", "member", "other_organiser", "other_staff", "other_member"]
PAGES = {
    "/cohorts/{cohort_id}": [200, 200, 404, 404, 404, 404],
    "/cohorts/{cohort_id}/assessments/new": [200, 404, 404, 404, 404, 404],
    "/cohorts/{cohort_id}/webhooks": [200, 404, 404, 404, 404, 404],
    "/assessments/{assessment_id}": [200, 200, 200, 404, 404, 404],
    "/assessments/{assessment_id}/matrix": [200, 200, 404, 404, 404, 404],
    "/assessments/{assessment_id}/matrix.csv": [200, 200, 404, 404, 404, 404],
    "/assessments/{assessment_id}/matrix.json?by=tasks": [200, 200, 404, 404, 404, 404],
    "/assessments/{assessment_id}/plots/scores.svg": [200, 200, 404, 404, 404, 404],
    "/assessments/{assessment_id}/plots/readiness.svg": [200, 200, 404, 404, 404, 404],
    "/assessments/{assessment_id}/hiring?skill=python.resilience.retry-backoff": [200, 200, 404, 404, 404, 404],
    "/assessments/{assessment_id}/hiring.csv?skill=python.resilience.retry-backoff": [200, 200, 404, 404, 404, 404],
    "/assessments/{assessment_id}/similarity": [200, 200, 404, 404, 404, 404],
    "/regrades/{regrade_id}": [200, 200, 404, 404, 404, 404],
    "/regrades/{regrade_id}/report": [200, 200, 404, 404, 404, 404],
    "/webhooks/{endpoint_id}": [200, 404, 404, 404, 404, 404],
    "/assessments": [200, 200, 200, 200, 200, 200],
    "/cohorts": [200, 200, 404, 200, 200, 404],
    "/reviews": [200, 200, 404, 200, 200, 404],
}
# State-changing forms of cohort A: the organiser's go through (2xx/303); everyone else gets 404.
FORMS = {
    "/cohorts/{cohort_id}/members": {"roster_text": "subject,display_name,email\nnew,New,new@example.org\n"},
    "/cohorts/{cohort_id}/staff": {"subject": "rhea"},
    "/cohorts/{cohort_id}/members/alice/invitation": {},
    "/cohorts/{cohort_id}/webhooks": {"url": "http://127.0.0.1:9/h", "events": "result.created"},
    "/assessments/{assessment_id}/regrade": {},
    "/webhooks/deliveries/{delivery_id}/redeliver": {},
}


@pytest.mark.parametrize("path", list(PAGES))
def test_each_standing_on_each_new_page(world, path):
    ids, browsers, _ = world
    for who, expected in zip(STANDINGS, PAGES[path], strict=True):
        response = browsers[who].get(path.format(**ids), follow_redirects=False)
        assert response.status_code == expected, (who, path, response.text[:300])
        if expected == 404 and response.headers["content-type"].startswith("text/html"):
            assert "Not found" in response.text


@pytest.mark.parametrize("path", list(FORMS))
def test_each_standing_on_each_new_form(world, path):
    ids, browsers, _ = world
    for who in reversed(STANDINGS):  # the organiser last: their change must not hide anyone else's refusal
        client = browsers[who]
        token = csrf_of(client, "/assessments")
        response = client.post(path.format(**ids), data={"csrf": token, **FORMS[path]}, follow_redirects=False)
        if who == "organiser":
            assert response.status_code in (200, 201, 303), (who, path, response.text[:500])
        else:
            assert response.status_code == 404, (who, path, response.status_code)


def test_pages_need_a_session(api):
    from fastapi.testclient import TestClient

    anonymous = TestClient(api.app)
    for path in ("/cohorts", "/assessments", "/reviews", "/assessments/x", "/assessments/x/matrix.csv"):
        response = anonymous.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/signin"), path


def test_new_pages_carry_the_csp_no_inline_script_and_stay_small(world):
    ids, browsers, _ = world
    for who, path in (
        ("organiser", "/cohorts"),
        ("organiser", "/cohorts/{cohort_id}"),
        ("organiser", "/cohorts/{cohort_id}/assessments/new"),
        ("organiser", "/assessments/{assessment_id}"),
        ("organiser", "/assessments/{assessment_id}/matrix"),
        ("organiser", "/assessments/{assessment_id}/hiring"),
        ("organiser", "/assessments/{assessment_id}/similarity"),
        ("organiser", "/regrades/{regrade_id}"),
        ("organiser", "/cohorts/{cohort_id}/webhooks"),
        ("organiser", "/webhooks/{endpoint_id}"),
        ("staff", "/reviews"),
        ("member", "/assessments"),
        ("member", "/assessments/{assessment_id}"),
    ):
        client = browsers[who]
        response = client.get(path.format(**ids))
        assert response.status_code == 200, path
        assert response.headers["content-security-policy"] == CSP
        assert not re.search(r"<script(?![^>]*\bsrc=)", response.text), path
        assert not re.search(r"\sstyle=|<style|\son[a-z]+=", response.text), path
        total = len(gzip.compress(response.content))
        for url in re.findall(r'(?:src|href)="(/static/[^"]+)"', response.text):
            total += int(client.get(url, headers={"Accept-Encoding": "gzip"}).headers["content-length"])
        assert total <= 150 * 1024, f"{path}: {total} bytes"


# -- organiser ------------------------------------------------------------------------------


def test_a_csv_with_bad_rows_shows_each_line_and_imports_nothing(api):
    olga = sign_in(api, Role.AUTHOR, "olga")
    token = csrf_of(olga, "/cohorts")
    made = olga.post("/cohorts", data={"csrf": token, "name": "Autumn <b>"}, follow_redirects=False)
    assert made.status_code == 303
    cohort_url = made.headers["location"]
    bad = "subject,display_name,email\nann,Ann,ann@example.org\nbad subject!,B,b@example.org\ncat,Cat,not-an-email\n"
    response = olga.post(
        f"{cohort_url}/members", data={"csrf": token}, files={"roster": ("roster.csv", bad.encode(), "text/csv")}
    )
    assert response.status_code == 422
    assert "line 3" in response.text and "line 4" in response.text and "Nothing was imported" in response.text
    assert "No members yet." in response.text
    good = olga.post(f"{cohort_url}/members", data={"csrf": token, "roster_text": ROSTER})
    assert good.status_code == 201
    links = re.findall(r'href="(http[^"]+/signin/join/[^"]+)"', good.text)
    assert len(links) == 2 and "Autumn &lt;b&gt;" in good.text
    # A link signs its member in once, onto their assessments.
    from fastapi.testclient import TestClient

    browser = TestClient(api.app)
    path = "/" + links[0].split("/", 3)[3]
    confirm = browser.get(path)
    assert confirm.status_code == 200 and "Join and sign in" in confirm.text
    joined = browser.post(path, data={"pre": form_value(confirm.text, "pre")}, follow_redirects=False)
    assert joined.status_code == 303 and joined.headers["location"] == "/assessments"
    assert "My assessments" in browser.get("/assessments").text
    again = TestClient(api.app)
    confirm = again.get(path)
    assert again.post(path, data={"pre": form_value(confirm.text, "pre")}).status_code == 404


def test_assessment_form_shows_the_apis_422_inline_and_creates(api):
    olga = sign_in(api, Role.AUTHOR, "olga")
    made = cohort(api, api.token(Role.AUTHOR, "olga"))
    url = f"/cohorts/{made['id']}/assessments"
    token = csrf_of(olga, url + "/new")
    form = {
        "csrf": token,
        "title": "Week 2",
        "tasks": RETRY,
        "opens_at": "2030-01-02T10:00",
        "closes_at": "2030-01-01T10:00",
        "duration_minutes": "30",
        "attempt_limit": "2",
        "scoring": "last",
        "late": "refuse",
        "result_visibility": "after_close",
        "check_visibility": "always",
    }
    refused = olga.post(url, data=form)
    assert refused.status_code == 422 and "must be after opens_at" in refused.text
    assert 'value="Week 2"' in refused.text  # the form keeps what was typed
    unknown = olga.post(url, data={**form, "closes_at": "2030-01-03T10:00", "tasks": "python-foundations/nope"})
    assert unknown.status_code == 422 and "nope" in unknown.text
    created = olga.post(url, data={**form, "closes_at": "2030-01-03T10:00"}, follow_redirects=False)
    assert created.status_code == 303
    shown = api.client.get("/v1" + created.headers["location"], headers=api.token(Role.AUTHOR, "olga")).json()
    assert shown["duration_seconds"] == 1800 and shown["attempt_limit"] == 2 and shown["scoring"] == "last"
    assert shown["result_visibility"] == "after_close" and shown["opens_at"].startswith("2030-01-02T10:00")


# -- candidate --------------------------------------------------------------------------------


def test_a_timed_attempt_shows_the_clock_and_closes_at_its_end(api, world):
    ids, browsers, _ = world
    alice = browsers["member"]
    url = f"/assessments/{ids['assessment_id']}"
    before = alice.get(url)
    assert "Start the assessment" in before.text and "Submit an attempt" not in before.text
    token = form_value(before.text, "csrf")
    assert alice.post(f"{url}/start", data={"csrf": token}, follow_redirects=False).status_code == 303
    running = alice.get(url)
    assert 'role="timer"' in running.text and re.search(r"(9|10) min \d+ s left", running.text)
    assert "Submit an attempt" in running.text
    # The clock ran out (the start moved ten minutes back): the server refuses, the page says so.
    with api.service.session() as session:
        start = session.exec(select(AssessmentStart)).one()
        start.started_at = utcnow() - timedelta(seconds=601)
        session.add(start)
        session.commit()
    closed = alice.get(url)
    assert "Your time is up: submission is closed." in closed.text and "Submit an attempt" not in closed.text
    refused = alice.post(
        f"{url}/tasks/{RETRY}/submit",
        data={"csrf": token},
        files={"files": ("retry.py", b"print(1)\n", "text/x-python")},
    )
    assert refused.status_code == 409 and "time" in refused.text.lower()
    assert "Your time is up" in refused.text


def test_results_follow_the_visibility_policy(api):
    olga = api.token(Role.AUTHOR, "olga")
    made = cohort(api, olga)
    test = assessment(api, olga, made["id"], result_visibility="after_close")
    member(api, made["invitations"]["alice"])
    alice = sign_in(api, Role.CANDIDATE, "alice")
    url = f"/assessments/{test['id']}"
    token = csrf_of(alice, url)
    sent = alice.post(
        f"{url}/tasks/{RETRY}/submit",
        data={"csrf": token},
        files={"files": ("retry.py", b"print(1)\n", "text/x-python")},
        follow_redirects=False,
    )
    assert sent.status_code == 303
    submission = sent.headers["location"].rsplit("/", 1)[1]
    from api import storage

    with api.service.session() as session:
        run = storage.latest_run(session=session, submission_id=submission)
    work(api, run.id)
    page = alice.get(url).text
    assert "Result withheld: shown after the assessment closes" in page and "/results/" not in page
    olga_page = sign_in(api, Role.AUTHOR, "olga").get(url).text
    assert "1 attempt(s)" in olga_page


# -- reviewer ----------------------------------------------------------------------------------


def test_a_reviewer_scores_blind_and_a_wrong_level_is_shown_inline(api):
    olga = api.token(Role.AUTHOR, "olga")
    made = cohort(api, olga)
    test = assessment(api, olga, made["id"], tasks=[{"task": BRIEF}])
    api.client.post(f"/v1/cohorts/{made['id']}/staff", headers=olga, json={"subject": "rita"})
    alice = member(api, made["invitations"]["alice"])
    accepted = api.client.post(
        "/v1/submissions",
        headers=alice,
        json={"task": BRIEF, "assessment": test["id"], "files": {"brief.md": "# Rate limits <script>x</script>\n"}},
    ).json()
    _grade(api, accepted)
    rita = sign_in(api, Role.REVIEWER, "rita")
    queue = rita.get("/reviews").text
    review_url = re.search(r'href="(/reviews/[^"]+)"', queue).group(1)
    page = rita.get(review_url).text
    assert "alice" not in page.lower() and "Alice A" not in page
    assert "&lt;script&gt;" in page and "<script>x" not in page
    token = form_value(page, "csrf")
    wrong = rita.post(
        review_url, data={"csrf": token, "score-audience": "3", "score-options": "4", "score-rollout": "3"}
    )
    assert wrong.status_code == 422 and "audience" in wrong.text
    done = rita.post(
        review_url,
        data={
            "csrf": token,
            "score-audience": "4",
            "score-options": "4",
            "score-rollout": "3",
            "comment-audience": "Clear ask.",
        },
    )
    assert done.status_code == 200 and "Review saved" in done.text and "Score 100/100" in done.text
    again = rita.post(
        review_url, data={"csrf": token, "score-audience": "4", "score-options": "4", "score-rollout": "3"}
    )
    assert again.status_code in (409, 422) and "Submit the review" not in again.text
    # Another cohort's reviewer, and the member, get 404.
    assert sign_in(api, Role.REVIEWER, "rex").get(review_url).status_code == 404
    assert sign_in(api, Role.CANDIDATE, "alice").get(review_url).status_code == 404


def test_a_long_review_queue_is_paged_and_keeps_to_the_reviewers_cohorts(api):
    tests = reviewers_assessments(api)
    start = utcnow() - timedelta(days=1)
    hers = queued_reviews(api, tests["rita"], [start + timedelta(minutes=2 * i) for i in range(60)])
    his = queued_reviews(api, tests["rex"], [start + timedelta(minutes=2 * i + 1) for i in range(5)])
    rita = sign_in(api, Role.REVIEWER, "rita")
    first = rita.get("/reviews").text
    listed = re.findall(r'href="/reviews/([0-9a-f]+)"', first)
    assert listed == hers[:50] and "60 awaiting" in first and "Page 1 of 2" in first
    assert 'aria-label="Pages of the review queue"' in first and "Previous page" not in first
    second = rita.get(re.search(r'href="([^"]+)" rel="next"', first).group(1)).text
    assert re.findall(r'href="/reviews/([0-9a-f]+)"', second) == hers[50:] and "Review 51" in second
    assert "Page 2 of 2" in second and "Next page" not in second
    assert re.findall(r'href="/reviews/([0-9a-f]+)"', rita.get("/reviews?page=99").text) == hers[50:]
    assert re.findall(r'href="/reviews/([0-9a-f]+)"', rita.get(f"/reviews?page={10**30}").text) == hers[50:]
    theirs = sign_in(api, Role.REVIEWER, "rex").get("/reviews").text
    assert re.findall(r'href="/reviews/([0-9a-f]+)"', theirs) == his and "Next page" not in theirs


# -- staff views ------------------------------------------------------------------------------------


def test_matrix_hiring_and_exports_over_a_graded_attempt(api, world):
    ids, browsers, headers = world
    sent = api.client.post("/v1/assessments/{}/start".format(ids["assessment_id"]), headers=headers["alice"])
    assert sent.status_code == 200
    submitted = api.client.post(
        "/v1/submissions",
        headers=headers["alice"],
        json={"task": RETRY, "assessment": ids["assessment_id"], "files": {"retry.py": "print(1)\n"}},
    ).json()
    work(api, submitted["run_id"])
    olga = browsers["organiser"]
    base = f"/assessments/{ids['assessment_id']}"
    board = olga.get(base).text
    assert "✓ ready" in board and "Alice A (alice)" in board
    page = olga.get(f"{base}/matrix?by=tasks").text
    assert "Alice A (alice)" in page and "Ready" in page
    csv_text = olga.get(f"{base}/matrix.csv?by=tasks").text
    assert csv_text.splitlines()[0] == f"subject,display_name,{RETRY}:score,{RETRY}:verdict"
    assert any(line.startswith("alice,Alice A,") and line.endswith(",ready") for line in csv_text.splitlines())
    svg = olga.get(f"{base}/plots/readiness.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml") and "<svg" in svg.text
    hiring = olga.get(f"{base}/hiring?skill=python.resilience.retry-backoff").text
    assert "1 member(s) ready" in hiring
    hiring_csv = olga.get(f"{base}/hiring.csv?skill=python.resilience.retry-backoff").text
    assert hiring_csv.splitlines()[1].startswith("1,alice,")


def test_a_webhook_the_service_refuses_is_explained_beside_the_form(tmp_path, writing_catalogue):
    for strict in make_api(tmp_path / "strict", catalogue_dirs=[writing_catalogue], webhook_allow_private=False):
        made = cohort(strict, strict.token(Role.AUTHOR, "olga"))
        olga = sign_in(strict, Role.AUTHOR, "olga")
        url = f"/cohorts/{made['id']}/webhooks"
        refused = olga.post(
            url, data={"csrf": csrf_of(olga, url), "url": "http://127.0.0.1:9/hook", "events": "result.created"}
        )
        assert refused.status_code == 422 and "loopback" in refused.text
        assert "No webhooks yet." in refused.text


def test_big_cohorts_are_paged_on_every_staff_table(api):
    olga = api.token(Role.AUTHOR, "olga")
    roster = "subject,display_name,email\n" + "".join(f"m{i:03d},Member {i},m{i}@example.org\n" for i in range(60))
    made = cohort(api, olga, roster)
    test = assessment(api, olga, made["id"])
    browser = sign_in(api, Role.AUTHOR, "olga")
    for path in (f"/cohorts/{made['id']}", f"/assessments/{test['id']}", f"/assessments/{test['id']}/matrix?by=tasks"):
        first = browser.get(path).text
        assert "Page 1 of 2" in first and "m000" in first, path
        assert "m050" not in first, path
        link = re.search(r'href="([^"]+page=2)" rel="next"', first).group(1).replace("&amp;", "&")
        second = browser.get(link).text
        assert "Page 2 of 2" in second and "m050" in second and "m049" not in second, path
