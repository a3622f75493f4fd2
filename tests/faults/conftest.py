"""The fault suite's report: time to recover per fault, printed after the run (never asserted)."""

from __future__ import annotations

RECOVERY: list[tuple[str, float, dict]] = []


def record(fault: str, seconds: float, degraded: dict) -> None:
    """Note how long the batch took to finish after ``fault``, and what /healthz named while it lasted."""
    RECOVERY.append((fault, seconds, degraded))


def pytest_terminal_summary(terminalreporter) -> None:
    if not RECOVERY:
        return
    terminalreporter.section("fault suite: time to recover (fault -> every result of the batch stored)")
    for fault, seconds, degraded in RECOVERY:
        named = "; ".join(f"{part}: {state}" for part, state in degraded.items())
        terminalreporter.write_line(f"{fault:<48} {seconds:6.1f} s   /healthz named: {named}")
