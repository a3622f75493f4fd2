"""The hand-written SVG charts: well-formed, names escaped, bars in proportion."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from engine import plots

SVG = "{http://www.w3.org/2000/svg}"


def test_histogram_bins_put_100_in_the_last_bin():
    assert plots.histogram_bins([0, 9.9, 10, 55, 100]) == [2, 1, 0, 0, 0, 1, 0, 0, 0, 1]


def test_names_from_packs_are_escaped():
    svg = plots.readiness({"<script>alert(1)</script>": (1, 2)}, title='a "quoted" <title>')
    root = ET.fromstring(svg)
    assert "<script>" not in svg
    assert root.find(f"{SVG}title").text == 'a "quoted" <title>'


def test_readiness_bars_are_in_proportion():
    root = ET.fromstring(plots.readiness({"a": (3, 4), "b": (0, 4)}))
    ready = [float(r.get("width")) for r in root.findall(f"{SVG}rect") if r.get("class") == "ready"]
    assert ready == [plots.BAR_WIDTH * 0.75, 0.0]
