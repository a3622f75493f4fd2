"""Turning data into HTML: the Jinja environment, statements, limits in words, SVG charts.

Templates are autoescaped; the only markup built in Python is Markdown from
markdown-it-py with raw HTML off (Pygments highlighting) and SVG built from
numbers, so no text a candidate or author wrote reaches a page unescaped.
"""

from __future__ import annotations

import functools
import html
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markdown_it import MarkdownIt
from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

from api.web.assets import Assets

TEMPLATES = Path(__file__).resolve().parent / "templates"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
VERDICT_WORDS = {"ready": "Ready", "not_ready": "Not ready yet", "error": "Not graded (engine error)"}
STATUS_WORDS = {"pass": "passed", "fail": "failed", "error": "error", "skipped": "skipped"}


def _highlight(code: str, language: str, _attrs: str) -> str:
    try:
        lexer = get_lexer_by_name(language) if language else None
    except ClassNotFound:
        lexer = None
    if lexer is None:
        return ""  # markdown-it escapes and wraps the code itself
    return highlight(code, lexer, HtmlFormatter(nowrap=True))


_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "highlight": _highlight}).enable("table")


def markdown(text: str) -> Markup:
    """A statement as HTML: raw HTML in the source is shown as text, never passed through."""
    return Markup(_markdown.render(text))  # noqa: S704 - markdown-it escapes: raw HTML is off ("html": False)


def limits_in_words(runner: dict[str, Any]) -> list[str]:
    """Why a run stopped early, in the words the result page shows (never colour alone)."""
    limits = runner.get("limits") or {}
    words = []
    if runner.get("timed_out"):
        words.append(f"stopped after {limits.get('time_seconds', 0):g} s: the task's time limit")
    if runner.get("oom_killed"):
        words.append(f"killed at {limits.get('memory_mb', 0)} MB: the memory limit")
    if runner.get("output_truncated"):
        words.append(f"output cut at {limits.get('output_kb', 0)} KB: the output limit")
    return words


def score_chart(points: list[tuple[datetime, float]], *, title: str, width: int = 560, height: int = 160) -> Markup:
    """A line chart of scores (0–100) over attempts as inline SVG, with a text title for screen readers."""
    pad = 28
    if not points:
        return Markup("")
    count = len(points)
    step = (width - 2 * pad) / max(count - 1, 1)

    def xy(i: int, score: float) -> tuple[float, float]:
        return pad + i * step, height - pad - (height - 2 * pad) * max(0.0, min(score, 100.0)) / 100

    coords = [xy(i, s) for i, (_, s) in enumerate(points)]
    path = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(coords))
    dots = "".join(
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3"><title>{html.escape(when.strftime("%Y-%m-%d %H:%M"))}: '
        f"{score:g}</title></circle>"
        for (x, y), (when, score) in zip(coords, points, strict=True)
    )
    grid = "".join(
        f'<line class="grid" x1="{pad}" x2="{width - pad}" y1="{xy(0, v)[1]:.1f}" y2="{xy(0, v)[1]:.1f}"/>'
        f'<text x="2" y="{xy(0, v)[1] + 4:.1f}">{v}</text>'
        for v in (0, 50, 100)
    )
    svg = (
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" aria-labelledby="chart-title">'
        f'<title id="chart-title">{html.escape(title)}</title>{grid}'
        f'<path d="{path}"/>{dots}</svg>'
    )
    return Markup(svg)  # noqa: S704 - every text interpolated above is html.escape()d or a number formatted here


#: Submitted text files are shown on the result page up to these sizes (each, and all together): the page stays small.
SHOWN_FILE_CAP = 32 * 1024
SHOWN_FILES_TOTAL = 96 * 1024


def submitted_files_view(files: dict[str, bytes]) -> list[dict[str, Any]]:
    """Path, size and, for small text files, the text of each submitted file, in path order."""
    shown, rows = 0, []
    for path, data in sorted(files.items()):
        text, note = None, None
        if len(data) > SHOWN_FILE_CAP or shown + len(data) > SHOWN_FILES_TOTAL:
            note = "too large to show here"
        else:
            try:
                text = data.decode("utf-8")
                shown += len(data)
            except UnicodeDecodeError:
                note = "binary"
        rows.append({"path": path, "size": len(data), "text": text, "note": note})
    return rows


def size_in_words(size: int) -> str:
    if size < 1024:
        return f"{size} byte{'' if size == 1 else 's'}"
    return f"{size / 1024:.1f} KB" if size < 1024 * 1024 else f"{size / 1048576:.1f} MB"


VERDICT_MARKS = {"ready": "✓", "not_ready": "✗", "error": "!"}


@functools.lru_cache(maxsize=64)  # a handful of verdicts, rendered on every row of the big tables
def verdict_badge(verdict: str) -> Markup:
    """A verdict in words, with a mark: never told by colour alone."""
    return Markup('<span class="verdict verdict-{0}">{1} {2}</span>').format(
        verdict, VERDICT_MARKS.get(verdict, ""), VERDICT_WORDS.get(verdict, verdict)
    )


def make_environment(assets: Assets, root: str = "") -> Environment:
    """Templates write every site URL as ``{{ root }}/path`` or ``{{ asset(name) }}`` (tests/web check it)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True
    )
    env.globals.update(
        root=root, asset=lambda name: root + assets.url(name), verdict_badge=verdict_badge, status_words=STATUS_WORDS
    )
    env.filters.update(markdown=markdown, limits_in_words=limits_in_words, size=size_in_words)
    env.filters["when"] = lambda moment: moment.strftime("%Y-%m-%d %H:%M UTC") if moment else ""
    return env


def pygments_css() -> str:
    return HtmlFormatter(style="default").get_style_defs(".highlight, pre code")
