"""The web client published below a path (``TASKTRIAL_PUBLIC_URL=…/tasktrial``, a proxy stripping ``/tasktrial``).

Every URL a page, a redirect or a cookie names goes through one rule, ``settings.site_root``: templates write
``{{ root }}/path`` or ``{{ asset(name) }}``, Python redirects through ``routes.see_other``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from api import storage
from api.settings import site_root
from api.tables import Role
from api.web.render import TEMPLATES
from tests.api.cohort_helpers import assessment
from tests.api.conftest import Api, make_api
from tests.api.helpers import work
from tests.proxy import served_below
from tests.services import free_port

PREFIX = "/tasktrial"
TASK = "/tasks/python-foundations/retry-backoff"
#: Attributes whose value is a URL the browser (or htmx, or our own JS through ``data-action``) requests.
URL_ATTRIBUTES = (
    "href",
    "src",
    "action",
    "formaction",
    "hx-get",
    "hx-post",
    "hx-push-url",
    "sse-connect",
    "data-action",
)
#: Values that name no site path: in-page anchors and inline data.
NOT_A_PATH = ("#", "data:")
#: Absolute URLs built in Python from TASKTRIAL_PUBLIC_URL (so they carry its path): (template, attribute value).
ABSOLUTE = {("cohorts/cohort.html", "{{ url }}")}  # an invitation link, api.web.cohort_pages.invitation_url
THROUGH_THE_RULE = ("{{ root }}", "{{ asset(")


# -- the static check: no template writes a site URL except through the rule -------------------------


def test_site_root_is_the_public_urls_path_without_its_final_slash():
    assert site_root("http://127.0.0.1:8000") == ""
    assert site_root("https://example.org/") == ""
    assert site_root("https://example.org/tasktrial") == "/tasktrial"
    assert site_root("https://example.org/a/tasktrial/") == "/a/tasktrial"


ATTRIBUTE = re.compile(r"""\s({})\s*=\s*(["'])(.*?)\2""".format("|".join(map(re.escape, URL_ATTRIBUTES))), re.DOTALL)


def stray_urls(name: str, text: str) -> list[str]:
    """The URL attributes of template ``name`` not written through the rule."""
    stray = []
    for match in ATTRIBUTE.finditer(text):
        value = match.group(3).strip()
        if not value.startswith(THROUGH_THE_RULE + NOT_A_PATH) and (name, value) not in ABSOLUTE:
            stray.append(f"{name}: {match.group(1)}={value!r}")
    return stray


def test_every_url_in_a_template_goes_through_the_site_root():
    templates = sorted(TEMPLATES.rglob("*.html"))
    assert len(templates) > 30
    stray = [s for t in templates for s in stray_urls(t.relative_to(TEMPLATES).as_posix(), t.read_text("utf-8"))]
    assert not stray, "URLs not written as {{ root }}/path or {{ asset(...) }}:\n" + "\n".join(stray)


def test_the_check_sees_a_root_relative_url():
    """The check catches the mistake it guards against, in any URL attribute (a check that cannot fail proves nothing)."""
    sample = (
        '<a href="/tasks">x</a><form action="{{ root }}/signin"></form><div hx-get="/results/{{ id }}"></div>'
        "<img src=\"{{ asset('a.svg') }}\"><a href=\"#main\"></a><section sse-connect='/s/1/events'></section>"
    )
    assert stray_urls("t.html", sample) == [
        "t.html: href='/tasks'",
        "t.html: hx-get='/results/{{ id }}'",
        "t.html: sse-connect='/s/1/events'",
    ]


def test_redirects_in_the_web_client_go_through_see_other():
    web = Path(TEMPLATES).parent
    built = {path.name: path.read_text(encoding="utf-8").count("RedirectResponse(") for path in web.glob("*.py")}
    assert {name: n for name, n in built.items() if n} == {"routes.py": 1}, "a redirect bypasses routes.see_other"


# -- the pages, through a real path-stripping proxy ----------------------------------------------


class Links(HTMLParser):
    """Every (tag, attribute, value) of a page whose attribute is a URL."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found += [(tag, name, value) for name, value in attrs if name in URL_ATTRIBUTES and value]


def urls_of(html: str) -> list[tuple[str, str, str]]:
    parser = Links()
    parser.feed(html)
    return [(tag, name, value) for tag, name, value in parser.found if not value.startswith(NOT_A_PATH)]


@dataclass
class Published:
    api: Api
    public: str
    clients: list[httpx.Client]

    def browser(self, role: Role, subject: str) -> httpx.Client:
        """A cookie jar signed in through a one-time link, every request through the proxy."""
        client = httpx.Client(base_url=self.public.removesuffix(PREFIX), timeout=30)
        self.clients.append(client)
        with self.api.service.session() as session:
            code = storage.create_sign_in_link(session=session, role=role, subject=subject, lifetime=timedelta(days=1))
        confirm = client.get(f"{PREFIX}/signin/{code}")
        assert confirm.status_code == 200, confirm.text
        pre = re.search(r'name="pre" value="([^"]*)"', confirm.text)
        assert pre, "no pre field on the sign-in page"
        action = form_action(confirm.text, "/signin/")
        signed = client.post(action, data={"pre": pre.group(1)})  # the pre-sign-in cookie is scoped to the prefix
        assert signed.status_code == 303, signed.text
        assert signed.headers["location"] == f"{PREFIX}/tasks"
        return client


def form_action(html: str, contains: str) -> str:
    actions = [value for _, name, value in urls_of(html) if name == "action" and contains in value]
    assert actions, f"no form posting to …{contains}… on the page"
    return actions[0]


@pytest.fixture
def published(tmp_path, small_catalogue) -> Iterator[Published]:
    port = free_port()
    public = f"http://127.0.0.1:{port}{PREFIX}"
    for api in make_api(tmp_path / "data", catalogue_dirs=[small_catalogue], public_url=public):
        with served_below(api.app, PREFIX, port):
            published = Published(api=api, public=public, clients=[])
            yield published
            for client in published.clients:
                client.close()


def assert_below_the_prefix(page: httpx.Response) -> list[tuple[str, str, str]]:
    assert page.status_code in (200, 201), f"{page.url}: {page.status_code}"
    urls = urls_of(page.text)
    assert urls, f"{page.url} has no links at all"
    public = f"{page.url.scheme}://{page.url.netloc.decode()}{PREFIX}/"  # absolute links: TASKTRIAL_PUBLIC_URL's
    outside = [u for u in urls if not u[2].startswith((PREFIX + "/", public))]
    assert not outside, f"{page.url.path} names URLs outside {PREFIX}/: {outside}"
    return urls


def test_pages_redirects_and_assets_stay_below_the_public_urls_path(published):
    alice = published.browser(Role.CANDIDATE, "alice")
    assert alice.get(f"{PREFIX}/").headers["location"] == f"{PREFIX}/tasks"
    assert alice.get("/tasks").status_code == 404  # the proxy routes nothing outside the prefix

    seen: dict[str, list[tuple[str, str, str]]] = {}
    catalogue = alice.get(f"{PREFIX}/tasks")
    seen["catalogue"] = assert_below_the_prefix(catalogue)
    task = alice.get(PREFIX + TASK)
    seen["task"] = assert_below_the_prefix(task)

    action = form_action(task.text, "/submit")
    assert action == f"{PREFIX}{TASK}/submit"
    csrf = re.search(r'name="csrf" value="([^"]*)"', task.text)
    assert csrf
    submitted = alice.post(action, data={"csrf": csrf.group(1)}, files=[("files", ("retry.py", b"print('hi')\n"))])
    assert submitted.status_code == 303, submitted.text
    progress_url = submitted.headers["location"]
    assert progress_url.startswith(f"{PREFIX}/submissions/")
    progress = alice.get(progress_url)
    seen["progress"] = assert_below_the_prefix(progress)
    assert any(name == "sse-connect" for _, name, _ in seen["progress"])  # the event stream's URL is checked too

    with published.api.service.session() as session:
        run = storage.latest_run(session=session, submission_id=progress_url.rsplit("/", 1)[1])
    assert run is not None
    work(published.api, run.id)
    done = alice.get(progress_url)
    assert done.status_code == 303 and done.headers["location"].startswith(f"{PREFIX}/results/")
    seen["result"] = assert_below_the_prefix(alice.get(done.headers["location"]))

    reviewer = published.browser(Role.REVIEWER, "rita")
    seen["readiness"] = assert_below_the_prefix(reviewer.get(f"{PREFIX}/review/readiness"))

    # Follow what a reader would: every link and asset of each page (not the open-ended event stream).
    followed = 0
    for page_name, urls in seen.items():
        client = reviewer if page_name == "readiness" else alice
        for tag, name, value in urls:
            if name not in ("href", "src") or tag == "form":
                continue
            response = client.get(value, follow_redirects=True)
            assert response.status_code == 200, f"{page_name}: {tag} {name}={value} answered {response.status_code}"
            assert urlsplit(str(response.url)).path.startswith(PREFIX + "/")
            followed += 1
    assert followed >= 20


def test_the_json_apis_location_and_links_are_below_the_public_urls_path(published):
    """A client follows ``Location`` and ``links`` as given, through the proxy, and reaches what they name."""
    headers = published.api.token(Role.CANDIDATE, "alice")
    with httpx.Client(base_url=published.public.removesuffix(PREFIX), headers=headers, timeout=30) as client:
        posted = client.post(
            f"{PREFIX}/v1/submissions",
            json={"task": "python-foundations/retry-backoff", "files": {"retry.py": "x = 1\n"}},
        )
        assert posted.status_code == 202, posted.text
        accepted = posted.json()
        location = posted.headers["location"]
        assert location == f"{PREFIX}/v1/submissions/{accepted['id']}" == accepted["links"]["self"]
        assert accepted["links"]["result"] == f"{location}/result"
        followed = client.get(location)
        assert followed.status_code == 200 and followed.json()["id"] == accepted["id"]


def test_signing_out_below_a_path_ends_the_session(published):
    alice = published.browser(Role.CANDIDATE, "alice")
    page = alice.get(f"{PREFIX}/tasks")
    csrf = re.search(r'name="csrf" value="([^"]*)"', page.text)
    assert csrf
    out = alice.post(form_action(page.text, "/signout"), data={"csrf": csrf.group(1)})
    assert out.status_code == 303 and out.headers["location"] == f"{PREFIX}/signin"
    assert alice.get(f"{PREFIX}/tasks").headers["location"] == f"{PREFIX}/signin?next=/tasks"


def test_cohort_pages_invitations_and_plots_stay_below_the_public_urls_path(published):
    olga = published.browser(Role.AUTHOR, "olga")
    cohorts = olga.get(f"{PREFIX}/cohorts")
    assert_below_the_prefix(cohorts)
    csrf = re.search(r'name="csrf" value="([^"]*)"', cohorts.text)
    assert csrf
    made = olga.post(form_action(cohorts.text, "/cohorts"), data={"csrf": csrf.group(1), "name": "Spring"})
    assert made.status_code == 303 and made.headers["location"].startswith(f"{PREFIX}/cohorts/"), made.text
    cohort_page = olga.get(made.headers["location"])
    imported = olga.post(
        form_action(cohort_page.text, "/members"),
        data={"csrf": csrf.group(1), "roster_text": "subject,display_name,email\nalice,Alice,alice@example.org\n"},
    )
    assert imported.status_code == 201, imported.text
    urls = assert_below_the_prefix(imported)
    invitations = [value for _, _, value in urls if "/signin/join/" in value]
    assert invitations and all(v.startswith(published.public + "/signin/join/") for v in invitations)
    join = httpx.get(invitations[0])  # a fresh browser opening the mailed link, through the proxy
    assert_below_the_prefix(join)
    assert form_action(join.text, "/signin/join/").startswith(f"{PREFIX}/signin/join/")

    cohort_id = made.headers["location"].rsplit("/", 1)[1]
    test = assessment(published.api, published.api.token(Role.AUTHOR, "olga"), cohort_id)
    matrix = olga.get(f"{PREFIX}/assessments/{test['id']}/matrix")
    for tag, name, value in assert_below_the_prefix(matrix) + assert_below_the_prefix(
        olga.get(f"{PREFIX}/assessments/{test['id']}")
    ):
        if name in ("href", "src") and tag != "form":
            followed = olga.get(value, follow_redirects=True)
            assert followed.status_code == 200, f"{tag} {name}={value} answered {followed.status_code}"
    assert any(tag == "img" and value.endswith(".svg") for tag, _, value in urls_of(matrix.text))


@pytest.mark.browser
def test_a_browser_below_a_path_loads_every_asset_and_follows_the_live_progress(published, page, tmp_path):
    """Chromium through the proxy: stylesheets, scripts (htmx, its SSE extension, Ace, the editor), the event
    stream and htmx's swap of the result all ask for URLs below the prefix, and none answers an error."""
    from playwright.sync_api import expect

    requested: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on(
        "response",
        lambda response: errors.append(f"{response.status} {response.url}") if response.status >= 400 else None,
    )
    with published.api.service.session() as session:
        code = storage.create_sign_in_link(
            session=session, role=Role.CANDIDATE, subject="alice", lifetime=timedelta(days=1)
        )
    page.goto(f"{published.public}/signin/{code}")
    page.get_by_role("button", name="Continue and sign in").click()
    expect(page.get_by_role("button", name="Sign out alice")).to_be_visible()
    page.get_by_role("link", name=re.compile("retr", re.IGNORECASE)).first.click()
    expect(page.get_by_role("region", name="Work in the browser")).to_be_visible()  # Ace and editor.js loaded
    assert page.evaluate("getComputedStyle(document.body).fontFamily") != "", "no stylesheet applied"

    upload = tmp_path / "retry.py"
    upload.write_text("print('hi')\n")
    page.get_by_label("Files to upload").set_input_files(str(upload))
    page.get_by_role("button", name="Submit upload").click()
    expect(page.get_by_role("heading", name=re.compile("^Grading"))).to_be_visible()
    submission_id = urlsplit(page.url).path.rsplit("/", 1)[1]
    with published.api.service.session() as session:
        run = storage.latest_run(session=session, submission_id=submission_id)
    assert run is not None
    work(published.api, run.id)  # the open event stream brings "done"; htmx swaps the result in and pushes its URL
    expect(page.get_by_role("heading", name=re.compile(r"^Score \d"))).to_be_visible(timeout=30_000)
    assert urlsplit(page.url).path.startswith(f"{PREFIX}/results/")

    ours = [url for url in requested if not url.startswith("data:")]
    assert any("/events" in url for url in ours) and any(url.endswith(".js") for url in ours)
    assert [url for url in ours if not urlsplit(url).path.startswith(PREFIX + "/")] == []
    assert any("/static/ace/" in url and url.endswith(".png") for url in ours), "Ace's images were asked for"
    assert errors == []
