"""What a pack's results say about its tasks: attempts, score spread, the checks that fail most.

The signal an author needs to see a task that is too hard or a check that is broken. Plain
arithmetic over stored result documents (the full, staff view); no I/O.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

#: Score buckets: 0-9, 10-19, ..., 90-99, and 100 on its own (a perfect score is worth telling apart).
BUCKETS = [f"{low}-{low + 9}" for low in range(0, 100, 10)] + ["100"]
TOP_CHECKS = 5


def bucket(score: float) -> str:
    return "100" if score >= 100 else BUCKETS[max(0, min(9, int(score // 10)))]


def task_statistics(documents: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per task id: ``attempts``, ``verdicts``, ``faults`` (engine and grader errors, never scored),
    ``mean_score`` and ``score_distribution`` over scored attempts, and ``failed_most``: the checks
    failed (or in error) most often, with how often."""
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for document in documents:
        grouped[document["task"]["id"]].append(document)
    out: dict[str, dict[str, Any]] = {}
    for task_id, results in sorted(grouped.items()):
        scored = [d for d in results if d["verdict"] != "error"]
        failures: Counter[str] = Counter()
        names: dict[str, str] = {}
        for document in scored:
            for check in document.get("checks", []):
                names.setdefault(check["id"], check.get("name", check["id"]))
                if check["status"] in ("fail", "error"):
                    failures[check["id"]] += 1
        distribution = Counter(bucket(float(d["score"])) for d in scored)
        out[task_id] = {
            "attempts": len(results),
            "verdicts": dict(Counter(d["verdict"] for d in results)),
            "faults": {
                status: count
                for status, count in Counter(d["status"] for d in results).items()
                if status in ("engine_error", "grader_error")
            },
            "versions": sorted({d["task"]["pack_version"] for d in results}),
            "mean_score": round(sum(float(d["score"]) for d in scored) / len(scored), 2) if scored else None,
            "score_distribution": {name: distribution.get(name, 0) for name in BUCKETS},
            "failed_most": [
                {"check": check_id, "name": names[check_id], "failed": count, "rate": round(count / len(scored), 3)}
                for check_id, count in failures.most_common(TOP_CHECKS)
            ],
        }
    return out
