"""Parallel gradings per host: defaults from the host, bad values refused at the edge (exit 2 naming the variable)."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from api.settings import Settings, host_parallelism
from cli.main import app


def test_workers_default_to_what_the_host_takes(monkeypatch):
    for name in ("TASKTRIAL_EMBEDDED_WORKERS", "TASKTRIAL_WORKER_CONCURRENCY", "TASKTRIAL_WARM_SANDBOXES"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert (
        settings.embedded_workers == settings.worker_concurrency == host_parallelism() == len(os.sched_getaffinity(0))
    )
    assert settings.warm_for(3) == 3  # one sandbox started ahead per parallel grading
    assert Settings(warm_sandboxes=0).warm_for(3) == 0


@pytest.mark.parametrize(
    ("command", "variable", "value", "problem"),
    [
        ("serve", "TASKTRIAL_EMBEDDED_WORKERS", "0", "greater than or equal to 1"),
        ("serve", "TASKTRIAL_EMBEDDED_WORKERS", "lots", "valid integer"),
        ("serve", "TASKTRIAL_WARM_SANDBOXES", "-1", "greater than or equal to 0"),
        ("worker", "TASKTRIAL_WORKER_CONCURRENCY", "0", "greater than or equal to 1"),
    ],
)
def test_a_bad_parallelism_setting_exits_2_naming_the_variable(tmp_path, command, variable, value, problem):
    result = CliRunner().invoke(
        app, [command], env={variable: value, "TASKTRIAL_DATA_DIR": str(tmp_path), "COLUMNS": "250"}
    )
    assert result.exit_code == 2
    assert f"{variable}: " in result.output and problem in result.output
    assert not (tmp_path / "tasktrial.db").exists()  # refused before anything was written


def test_worker_concurrency_below_one_on_the_command_line_exits_2():
    result = CliRunner().invoke(app, ["worker", "--concurrency", "0"], env={"COLUMNS": "250"})
    assert result.exit_code == 2 and "Invalid value for '--concurrency'" in result.output
