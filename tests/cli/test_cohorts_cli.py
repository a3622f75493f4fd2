"""``tasktrial cohorts``, ``assessments`` and ``join`` against a served API."""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import pytest
from typer.testing import CliRunner

from api.tables import Role
from cli import main
from tests.api.conftest import small_catalogue  # noqa: F401  (a fixture)
from tests.api.test_reviews import writing_catalogue  # noqa: F401  (a fixture)
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
    created = runner.invoke(
        main.app,
        [
            "assessments",
            "create",
            cohort_id,
            "--title",
            "Timed",
            "--task",
            "python-foundations/retry-backoff",
            "--opens",
            opens,
            "--closes",
            closes,
            "--duration",
            "30",
            "--attempts",
            "1",
        ],
    )
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
    early = runner.invoke(
        main.app, ["submit", "python-foundations/retry-backoff", str(work), "--assessment", assessment_id]
    )
    assert early.exit_code == 2 and "not_started" in early.output, early.output
    started = runner.invoke(main.app, ["assessments", "start", assessment_id])
    assert started.exit_code == 0 and "min" in started.output, started.output
    sent = runner.invoke(
        main.app, ["submit", "python-foundations/retry-backoff", str(work), "--assessment", assessment_id]
    )
    assert sent.exit_code == 0, sent.output
    over = runner.invoke(
        main.app, ["submit", "python-foundations/retry-backoff", str(work), "--assessment", assessment_id]
    )
    assert over.exit_code == 2 and "attempt_limit" in over.output


def test_staff_export_the_matrix_filter_and_plot(served, tmp_path, monkeypatch):  # noqa: F811
    from tests.api.cohort_helpers import attempt, setup
    from tests.api.helpers import work

    api, url = served
    made, test, organiser, alice = setup(api)
    work(api, attempt(api, alice, test["id"]).json()["run_id"], passed=True)
    monkeypatch.setenv("TASKTRIAL_URL", url)
    as_token(monkeypatch, organiser)
    matrix = runner.invoke(
        main.app, ["assessments", "matrix", test["id"], "--by", "tasks", "-o", str(tmp_path / "m.csv")]
    )
    assert matrix.exit_code == 0, matrix.output
    lines = (tmp_path / "m.csv").read_text().splitlines()
    assert lines[1].startswith("alice,Alice A,") and lines[1].endswith(",ready")
    skill = api.service.pack_store.task("python-foundations", "retry-backoff").micro_skills[0]
    hired = runner.invoke(main.app, ["assessments", "hiring", test["id"], "--skill", skill])
    assert hired.exit_code == 0 and "1,alice" in hired.output
    plot = runner.invoke(
        main.app, ["assessments", "plot", test["id"], "--kind", "readiness", "-o", str(tmp_path / "r.svg")]
    )
    assert plot.exit_code == 0 and (tmp_path / "r.svg").read_text().startswith("<svg")
    board = runner.invoke(main.app, ["assessments", "dashboard", test["id"]])
    assert "graded 1, ready 1" in board.output
    missing = runner.invoke(
        main.app, ["assessments", "plot", test["id"], "--kind", "pie", "-o", str(tmp_path / "x.svg")]
    )
    assert missing.exit_code == 2


def staff_on_a_graded_assessment(served, monkeypatch) -> str:  # noqa: F811
    """An assessment with one graded attempt, the CLI pointed at it as its organiser; its id."""
    from tests.api.cohort_helpers import attempt, setup
    from tests.api.helpers import work

    api, url = served
    made, test, organiser, alice = setup(api)
    work(api, attempt(api, alice, test["id"]).json()["run_id"], passed=True)
    monkeypatch.setenv("TASKTRIAL_URL", url)
    as_token(monkeypatch, organiser)
    return test["id"]


def png_size(data: bytes) -> tuple[int, int]:
    """A PNG's width and height, from its IHDR chunk (the first, right after the signature)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", data[:16]
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.mark.parametrize("kind", ["readiness", "scores"])
def test_a_plot_saves_as_png_converted_from_the_servers_svg(served, tmp_path, monkeypatch, kind):  # noqa: F811
    assessment = staff_on_a_graded_assessment(served, monkeypatch)
    svg = runner.invoke(main.app, ["assessments", "plot", assessment, "--kind", kind, "-o", str(tmp_path / "p.svg")])
    assert svg.exit_code == 0, svg.output
    root = ElementTree.fromstring((tmp_path / "p.svg").read_text())
    size = int(root.get("width")), int(root.get("height"))
    by_suffix = runner.invoke(
        main.app, ["assessments", "plot", assessment, "--kind", kind, "-o", str(tmp_path / "p.png")]
    )
    assert by_suffix.exit_code == 0, by_suffix.output
    assert png_size((tmp_path / "p.png").read_bytes()) == size
    by_option = runner.invoke(
        main.app, ["assessments", "plot", assessment, "--kind", kind, "--format", "PNG", "-o", str(tmp_path / "chart")]
    )
    assert by_option.exit_code == 0, by_option.output
    assert png_size((tmp_path / "chart").read_bytes()) == size


def test_an_unknown_plot_format_is_refused_before_anything_is_written(served, tmp_path, monkeypatch):  # noqa: F811
    assessment = staff_on_a_graded_assessment(served, monkeypatch)
    refused = runner.invoke(
        main.app,
        ["assessments", "plot", assessment, "--kind", "readiness", "--format", "gif", "-o", str(tmp_path / "r.gif")],
    )
    assert refused.exit_code == 2, refused.output
    assert "unknown plot format 'gif'" in refused.output and "svg or png" in refused.output
    assert not (tmp_path / "r.gif").exists()


def test_png_without_its_converter_names_what_to_install(served, tmp_path, monkeypatch):  # noqa: F811
    assessment = staff_on_a_graded_assessment(served, monkeypatch)
    monkeypatch.setitem(sys.modules, "cairosvg", None)  # as if CairoSVG were not installed
    no_library = runner.invoke(
        main.app, ["assessments", "plot", assessment, "--kind", "scores", "-o", str(tmp_path / "s.png")]
    )
    assert no_library.exit_code == 3 and "pip install cairosvg" in no_library.output, no_library.output
    # CairoSVG installed but no libcairo: cairocffi's import raises OSError, as this stand-in does.
    (tmp_path / "fake").mkdir()
    (tmp_path / "fake" / "cairosvg.py").write_text("raise OSError(\"no library called 'cairo-2' was found\")\n")
    monkeypatch.delitem(sys.modules, "cairosvg")
    monkeypatch.syspath_prepend(str(tmp_path / "fake"))
    no_cairo = runner.invoke(
        main.app, ["assessments", "plot", assessment, "--kind", "scores", "-o", str(tmp_path / "s.png")]
    )
    assert no_cairo.exit_code == 3 and "apt-get install libcairo2" in no_cairo.output, no_cairo.output
    assert not (tmp_path / "s.png").exists()


def test_a_reviewer_lists_shows_and_scores_from_the_cli(tmp_path, monkeypatch, writing_served):
    api, url, accepted, rita = writing_served
    monkeypatch.setenv("TASKTRIAL_URL", url)
    as_token(monkeypatch, rita)
    listed = runner.invoke(main.app, ["reviews", "list"])
    assert listed.exit_code == 0 and "professional-writing/design-brief" in listed.output, listed.output
    review_id = listed.output.split()[0]
    shown = runner.invoke(main.app, ["reviews", "show", review_id])
    assert "reference answer" in shown.output and "alice" not in shown.output.lower().replace("alice's brief", "")
    short = runner.invoke(main.app, ["reviews", "score", review_id, "--score", "audience=4"])
    assert short.exit_code == 2 and "'options' has no score" in short.output
    done = runner.invoke(
        main.app,
        [
            "reviews",
            "score",
            review_id,
            "--score",
            "audience=4",
            "--score",
            "options=4",
            "--score",
            "rollout=3",
            "--comment",
            "options=clear",
        ],
    )
    assert done.exit_code == 0 and "ready 100" in done.output, done.output


def test_a_reviewer_pages_through_a_long_queue_from_the_cli(monkeypatch, writing_served):
    from api.tables import utcnow
    from tests.api.cohort_helpers import queued_reviews

    api, url, accepted, rita = writing_served
    first = api.client.get("/v1/reviews", headers=rita).json()["data"][0]
    older = queued_reviews(api, first["assessment_id"], [utcnow() - timedelta(hours=h) for h in (4, 3, 2, 1)])
    monkeypatch.setenv("TASKTRIAL_URL", url)
    as_token(monkeypatch, rita)
    seen = []
    for offset, footer in (
        (0, "1-2 of 5; the next: --offset 2"),
        (2, "3-4 of 5; the next: --offset 4"),
        (4, "5-5 of 5"),
    ):
        listed = runner.invoke(main.app, ["reviews", "list", "--limit", "2", "--offset", str(offset)])
        assert listed.exit_code == 0 and listed.output.splitlines()[-1] == footer, listed.output
        seen += re.findall(r"^([0-9a-f]{32}) ", listed.output, re.MULTILINE)
    assert seen == [*older, first["id"]]
    past = runner.invoke(main.app, ["reviews", "list", "--offset", "9"])
    assert past.exit_code == 0 and "nothing past the first 9 of 5" in past.output
    bad = runner.invoke(main.app, ["reviews", "list", "--limit", "0"])
    assert bad.exit_code == 2 and "--limit" in bad.output


@pytest.fixture
def writing_served(tmp_path, writing_catalogue, monkeypatch):  # noqa: F811
    """A served API with the writing pack, one design brief by alice awaiting review, reviewer rita on staff."""
    import threading
    import time

    import uvicorn

    from tests.api.cohort_helpers import assessment, cohort, member
    from tests.api.conftest import make_api
    from tests.api.test_reviews import BRIEF, _grade
    from tests.cli.test_log_cli import free_port

    monkeypatch.delenv("TASKTRIAL_URL", raising=False)
    for api in make_api(tmp_path / "data", catalogue_dirs=[writing_catalogue]):
        organiser = api.token(Role.AUTHOR, "olga")
        made = cohort(api, organiser)
        test = assessment(api, organiser, made["id"], tasks=[{"task": BRIEF}])
        api.client.post(f"/v1/cohorts/{made['id']}/staff", headers=organiser, json={"subject": "rita"})
        alice = member(api, made["invitations"]["alice"])
        accepted = api.client.post(
            "/v1/submissions",
            headers=alice,
            json={"task": BRIEF, "assessment": test["id"], "files": {"brief.md": "# Alice's brief\n"}},
        ).json()
        _grade(api, accepted)
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(api.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        try:
            yield api, f"http://127.0.0.1:{port}", accepted, api.token(Role.REVIEWER, "rita")
        finally:
            server.should_exit = True
            thread.join(10)


def test_regrade_from_the_cli_reports_the_changed_verdict(served, tmp_path, monkeypatch):  # noqa: F811
    from tests.api.cohort_helpers import attempt, setup
    from tests.api.helpers import work

    api, url = served
    made, test, organiser, alice = setup(api)
    accepted = attempt(api, alice, test["id"]).json()
    work(api, accepted["run_id"], passed=True)
    monkeypatch.setenv("TASKTRIAL_URL", url)
    as_token(monkeypatch, organiser)
    started = runner.invoke(main.app, ["assessments", "regrade", test["id"]])
    assert started.exit_code == 0 and "1 submission(s) queued" in started.output, started.output
    regrade_id = started.output.split()[0]
    work(api, api.queue.run_ids[-1], passed=False)
    shown = runner.invoke(main.app, ["regrades", "show", regrade_id])
    assert "1/1 regraded (finished); 1 verdict(s) changed" in shown.output
    assert "alice" in shown.output and "ready 100 → not_ready 0" in shown.output


def test_webhooks_from_the_cli(served, tmp_path, monkeypatch):  # noqa: F811
    from tests.api.cohort_helpers import attempt, setup
    from tests.api.helpers import work
    from tests.api.test_webhooks import Receiver
    from tests.services import free_port

    api, url = served
    made, test, organiser, alice = setup(api)
    monkeypatch.setenv("TASKTRIAL_URL", url)
    as_token(monkeypatch, organiser)
    receiver = Receiver(free_port())
    try:
        added = runner.invoke(main.app, ["webhooks", "add", made["id"], receiver.url, "--event", "result.created"])
        assert added.exit_code == 0 and "whsec_" in added.output, added.output
        endpoint_id = added.output.split()[0]
        work(api, attempt(api, alice, test["id"]).json()["run_id"])
        api.service.webhooks.deliver_due()
        log = runner.invoke(main.app, ["webhooks", "deliveries", endpoint_id])
        assert "result.created  delivered  tries: 200" in log.output, log.output
        delivery_id = log.output.split()[0]
        again = runner.invoke(main.app, ["webhooks", "redeliver", delivery_id])
        assert again.exit_code == 0 and "queued again" in again.output
        bad = runner.invoke(main.app, ["webhooks", "add", made["id"], receiver.url, "--event", "nope"])
        assert bad.exit_code == 2
    finally:
        receiver.close()
