"""Hand-written SVG charts for staff: score distribution per task, readiness per micro-skill.

No plotting library: a few rectangles and labels, every text escaped (task and skill names come
from packs), so the SVG is safe to serve inline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from xml.sax.saxutils import escape

BINS = 10
ROW = 26
LABEL_WIDTH = 260
BAR_WIDTH = 360


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title, {chr(34): "&quot;"})}">'
        f"<title>{escape(title)}</title>"
        "<style>text{font:12px sans-serif;fill:#222}.bar{fill:#3b6ea5}.ready{fill:#2e8540}.rest{fill:#ddd}</style>"
        + "".join(body)
        + "</svg>\n"
    )


def histogram_bins(scores: Sequence[float]) -> list[int]:
    """Counts of scores in [0,10), [10,20), ..., [90,100] (100 falls in the last bin)."""
    bins = [0] * BINS
    for score in scores:
        bins[min(BINS - 1, max(0, int(score // (100 / BINS))))] += 1
    return bins


def score_distribution(per_task: Mapping[str, Sequence[float]], *, title: str = "Score distribution per task") -> str:
    """One small histogram (10 bins over 0–100) per task, stacked."""
    panel_height, bar = 90, 24
    width = LABEL_WIDTH + BINS * (bar + 4) + 20
    body: list[str] = []
    y = 10
    for task, scores in per_task.items():
        bins = histogram_bins(scores)
        top = max(bins) or 1
        body.append(f'<text x="10" y="{y + 40}">{escape(task)} (n={len(scores)})</text>')
        for index, count in enumerate(bins):
            height = round(60 * count / top)
            x = LABEL_WIDTH + index * (bar + 4)
            body.append(
                f'<rect class="bar" x="{x}" y="{y + 70 - height}" width="{bar}" height="{height}">'
                f"<title>{index * 10}–{index * 10 + 10}: {count}</title></rect>"
            )
            if count:
                body.append(f'<text x="{x + 4}" y="{y + 68 - height}">{count}</text>')
        body.append(
            f'<text x="{LABEL_WIDTH}" y="{y + 84}">0</text>'
            f'<text x="{LABEL_WIDTH + BINS * (bar + 4) - 20}" y="{y + 84}">100</text>'
        )
        y += panel_height
    return _svg(width, y + 10, title, body)


def readiness(per_skill: Mapping[str, tuple[int, int]], *, title: str = "Readiness per micro-skill") -> str:
    """One bar per skill: the share of assessed members who are ready."""
    body: list[str] = []
    for index, (skill, (ready, assessed)) in enumerate(per_skill.items()):
        y = 10 + index * ROW
        share = ready / assessed if assessed else 0.0
        body.append(f'<text x="10" y="{y + 15}">{escape(skill)}</text>')
        body.append(f'<rect class="rest" x="{LABEL_WIDTH}" y="{y}" width="{BAR_WIDTH}" height="18"/>')
        body.append(
            f'<rect class="ready" x="{LABEL_WIDTH}" y="{y}" width="{round(BAR_WIDTH * share)}" height="18">'
            f"<title>{ready} of {assessed} ready</title></rect>"
        )
        body.append(
            f'<text x="{LABEL_WIDTH + BAR_WIDTH + 8}" y="{y + 15}">{ready}/{assessed} ({round(100 * share)}%)</text>'
        )
    return _svg(LABEL_WIDTH + BAR_WIDTH + 110, 20 + len(per_skill) * ROW, title, body)
