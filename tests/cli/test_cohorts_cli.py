"""``tasktrial cohorts``, ``assessments`` and ``join`` against a served API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from typer.testing import CliRunner

from api.tables import Role
from cli import main
from tests.api.conftest import small_catalogue  # noqa: F401  (a fixture)
from tests.cli.test_log_cli import served  # noqa: F401  (a fixture)

runner = CliRunner()


def as_token(monkeypatch, headers: dict[str, str]) -> None:
    monkeypatch.setenv("TASKTRIAL_TOKEN", headers["Authorization"].removeprefix("Bearer "))


def test_an_organiser_imports_a_member_who_joins_and_takes_a_timed_assessment(served, tmp_path, monkeypatch):  # noqa: F811
    api, url = served
    monkeypatch.setenv("TASKTRIAL_URL", url)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    as_token(monkeypatch, api.token(Role.AUTHOR, "olga"))
    made = runner.invoke(main.app, ["cohorts", "create", "Spring"])
    assert made.exit_code == 0, made.output
    cohort_id = made.output.split()[0]
    bad = tmp_path / "bad.csv"
    bad.write_text("subject,display_name,email\nalice,Alice,alice@example.org\nbob,,bob@example\n")
    refused = runner.invoke(main.app, ["cohorts", "import", cohort_id, str(bad)])
    assert refused.exit_code == 2 and "line 3" in refused.output, refused.output
    good = tmp_path / "good.csv"
    good.write_text("subject,display_name,email\nalice,Alice,alice@example.org\n")
    imported = runner.invoke(main.app, ["cohorts", "import", cohort_id, str(good), "-o", str(tmp_path / "inv.csv")])
    assert imported.exit_code == 0, imported.output
    invitation = (tmp_path / "inv.csv").read_text().splitlines()[1].split(",")[1]
    opens = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    closes = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    created = runner.invoke(main.app, ["assessments", "create", cohort_id, "--title", "Timed", "--task",
                                       "python-foundations/retry-backoff", "--opens", opens, "--closes", closes,
                                       "--duration", "30", "--attempts", "1"])
    assert created.exit_code == 0, created.output
    assessment_id = created.output.split()[0]

    monkeypatch.delenv("TASKTRIAL_TOKEN")
    joined = runner.invoke(main.app, ["join", invitation])
    assert joined.exit_code == 0 and "as alice" in joined.output, joined.output
    again = runner.invoke(main.app, ["join", invitation])
    assert again.exit_code == 2 and "already used" in again.output
    listed = runner.invoke(main.app, ["assessments", "list"])
    assert assessment_id in listed.output and "not started" in listed.output
    work = tmp_path / "work"
    work.mkdir()
    (work / "retry.py").write_text("x = 1\n")
    early = runner.invoke(main.app, ["submit", "python-foundations/retry-backoff", str(work),
                                     "--assessment", assessment_id])
    assert early.exit_code == 2 and "not_started" in early.output, early.output
    started = runner.invoke(main.app, ["assessments", "start", assessment_id])
    assert started.exit_code == 0 and "min" in started.output, started.output
    sent = runner.invoke(main.app, ["submit", "python-foundations/retry-backoff", str(work), "--assessment",
                                    assessment_id])
    assert sent.exit_code == 0, sent.output
    over = runner.invoke(main.app, ["submit", "python-foundations/retry-backoff", str(work), "--assessment",
                                    assessment_id])
    assert over.exit_code == 2 and "attempt_limit" in over.output
