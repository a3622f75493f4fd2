"""Vendored browser assets: pinned, licensed, unchanged since vendoring, served under hashed names."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from api.web.assets import CACHE_FOREVER, Assets

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
        p.relative_to(VENDOR).as_posix() for p in VENDOR.rglob("*") if p.is_file() and p.suffix in (".js", ".css")
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


def test_axe_is_not_served():
    assert not any("axe" in name for name in Assets().by_name)
