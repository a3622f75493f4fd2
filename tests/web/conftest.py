"""Pages over real storage with a fake queue; tests sign in through the real sign-in link flow.

Also the real-chromium fixtures of the browser stories (``playwright``, ``browser``, ``page``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from api import storage
from api.tables import Role
from tests.api.conftest import Api, make_api, small_catalogue  # noqa: F401  (fixture reused)


def sign_in(api: Api, role: Role, subject: str, *, lifetime: timedelta = timedelta(days=1)) -> TestClient:
    """A new browser (its own cookie jar) signed in as ``subject`` through a one-time link."""
    client = TestClient(api.app)
    with api.service.session() as session:
        code = storage.create_sign_in_link(session=session, role=role, subject=subject, lifetime=lifetime)
    confirm = client.get(f"/signin/{code}")
    assert confirm.status_code == 200
    response = client.post(f"/signin/{code}", data={"pre": form_value(confirm.text, "pre")}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return client


def form_value(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no {name} field in the page"
    return match.group(1)


def csrf(client: TestClient) -> str:
    return form_value(client.get("/tasks").text, "csrf")


@pytest.fixture
def api(tmp_path, small_catalogue) -> Iterator[Api]:  # noqa: F811
    yield from make_api(tmp_path / "data", catalogue_dirs=[small_catalogue])


@pytest.fixture(scope="module")
def playwright():
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def browser(playwright):
    from tests.web.browser import launch

    context = launch(playwright)
    yield context
    context.close()


@pytest.fixture
def page(browser):
    """A new page that fails its test on any script error, CSP violation or dialog (injected markup ran)."""
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.on("dialog", lambda dialog: errors.append(f"dialog: {dialog.message}") or dialog.dismiss())
    yield page
    browser.clear_cookies()
    page.close()
    assert not errors, errors
