"""Vendored browser assets: pinned, licensed, unchanged since vendoring, served under hashed names."""

from __future__ import annotations

import hashlib
import posixpath
import re
from pathlib import Path

import pytest

from api.web.assets import CACHE_FOREVER, CSS_URL, SERVED_SUFFIXES, Assets

VENDOR = Path(__file__).resolve().parents[2] / "api" / "web" / "vendor"
TESTS_VENDOR = Path(__file__).resolve().parent / "vendor"


def manifest(folder: Path) -> list[tuple[str, ...]]:
    lines = (folder / "MANIFEST").read_text().splitlines()
    return [tuple(line.split()) for line in lines if line.strip()]


@pytest.mark.parametrize("folder", [VENDOR, TESTS_VENDOR], ids=["served", "tests-only"])
def test_every_vendored_file_matches_its_manifest_digest(folder):
    entries = manifest(folder)
    assert entries, f"{folder}/MANIFEST is empty"
    for digest, name, spec in entries:
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, f"{name} ({spec}) changed"


def test_every_served_vendor_file_is_in_the_manifest_and_pinned_exactly():
    listed = {name for _, name, _ in manifest(VENDOR)}
    on_disk = {
        p.relative_to(VENDOR).as_posix() for p in VENDOR.rglob("*") if p.is_file() and p.suffix in SERVED_SUFFIXES
    }
    assert on_disk == listed
    for _, _, spec in manifest(VENDOR):
        assert re.fullmatch(r"@?[a-z0-9./-]+@\d+\.\d+\.\d+", spec), f"{spec} is not an exact pin"
    assert "htmx.org@2.0.4" in {s for _, _, s in manifest(VENDOR)}, "htmx must stay on an exact 2.x pin"


def test_each_vendored_package_ships_its_licence():
    packages = {spec.rsplit("@", 1)[0].lstrip("@").replace("/", "_") for _, _, spec in manifest(VENDOR)}
    licences = {p.stem for p in (VENDOR / "licenses").iterdir()}
    assert packages <= licences
    assert (TESTS_VENDOR / "LICENSE-axe-core.txt").read_text().strip()


def test_static_urls_carry_the_content_hash_and_are_cached_for_a_year(api):
    assets = Assets()
    url = assets.url("htmx.min.js")
    body = (VENDOR / "htmx.min.js").read_bytes()
    assert hashlib.sha256(body).hexdigest()[:12] in url
    response = api.client.get(url, headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200 and response.content == body
    assert response.headers["cache-control"] == CACHE_FOREVER
    assert api.client.get(url.replace(url.split(".")[-2], "000000000000")).status_code == 404


def test_a_stylesheets_images_are_served_under_the_hashed_names_it_is_rewritten_to(api):
    """Ace's CSS names its images relatively (``./main-1.png``, the theme ``../chrome-1.png``): each becomes the
    image's hashed name, still relative, and is served; the vendored file on disk is left as it came."""
    assets = Assets()
    followed = 0
    for name in ("ace/ace.css", "ace/theme/chrome.css"):
        stylesheet = assets.by_name[name]
        on_disk = (VENDOR / name).read_text("utf-8")
        assert CSS_URL.findall(on_disk), f"{name} names no image (the check would prove nothing)"
        for _, reference in CSS_URL.findall(stylesheet.body.decode("utf-8")):
            assert reference.startswith(("./", "../")), reference  # relative: it holds below a path too
            url = posixpath.normpath(posixpath.join(posixpath.dirname(stylesheet.url), reference))
            response = api.client.get(url)
            assert response.status_code == 200 and response.headers["content-type"].startswith("image/"), url
            assert response.headers["cache-control"] == CACHE_FOREVER
            followed += 1
    assert followed >= 28
    assert hashlib.sha256((VENDOR / "ace/ace.css").read_bytes()).hexdigest()[:12] not in assets.url("ace/ace.css")


def test_a_reference_to_a_file_that_is_not_served_is_left_as_written(tmp_path):
    (tmp_path / "a.png").write_bytes(b"png")
    (tmp_path / "s.css").write_text('x{background:url("./a.png")} y{background:url(./missing.png)}')
    body = Assets((tmp_path,)).by_name["s.css"].body.decode()
    assert f'url("./{Assets((tmp_path,)).url("a.png").rsplit("/", 1)[1]}")' in body
    assert "url(./missing.png)" in body


def test_axe_is_not_served():
    assert not any("axe" in name for name in Assets().by_name)
