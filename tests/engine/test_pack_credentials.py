"""Credentials declared in pack.yaml: checked when the pack loads, every problem naming its file and field."""

from __future__ import annotations

import pytest

from engine.credentials import Criteria
from tests import factories
from tests.conftest import CATALOGUE
from tests.engine.test_packs import has, load, problems_of

SKILL = "python.basics.sample"


def pack_with(tmp_path, credentials):
    return factories.write_pack(
        tmp_path / "demo",
        {"sample": {"task": factories.pytest_task_yaml("sample"), "files": factories.pytest_task_files()}},
        pack={**factories.PACK_YAML, "credentials": credentials},
    )


def test_declared_credentials_load_with_their_criteria_and_stacking(tmp_path):
    pack = load(
        pack_with(
            tmp_path,
            [
                {
                    "id": "adds",
                    "name": "Adds",
                    "description": "adds numbers",
                    "image": "https://img.example/a.png",
                    "skills": [SKILL],
                    "within_days": 30,
                },
                {"id": "all", "name": "All of it", "credentials": ["adds"]},
            ],
        )
    )
    assert [(c.id, c.name, c.criteria) for c in pack.credentials] == [
        ("adds", "Adds", Criteria(skills=(SKILL,), within_days=30)),
        ("all", "All of it", Criteria(credentials=("adds",))),
    ]
    assert pack.credentials[0].image == "https://img.example/a.png"


def test_the_built_in_backend_pack_declares_a_stacked_credential():
    pack = load(CATALOGUE / "backend-services")
    stacked = {c.id: c for c in pack.credentials}["back-end-foundations"]
    assert set(stacked.criteria.credentials) == {"async-resilience", "sql-performance", "http-apis"}
    assert all({c.id for c in pack.credentials} >= set(c.criteria.credentials) for c in pack.credentials)


@pytest.mark.parametrize(
    "credentials, location, text",
    [
        (
            [{"id": "a", "name": "A", "skills": ["no.such.skill"]}],
            "$.credentials[0].skills[0]",
            "unknown micro-skill 'no.such.skill'",
        ),
        (
            [{"id": "a", "name": "A", "skills": [SKILL]}, {"id": "b", "name": "B", "credentials": ["a", "zzz"]}],
            "$.credentials[1].credentials[1]",
            "stacks unknown credential 'zzz'",
        ),
        (
            [{"id": "a", "name": "A", "credentials": ["b"]}, {"id": "b", "name": "B", "credentials": ["a"]}],
            "$.credentials[0].credentials",
            "cycle: a -> b -> a",
        ),
        (
            [{"id": "a", "name": "A", "skills": [SKILL]}, {"id": "a", "name": "again", "skills": [SKILL]}],
            "$.credentials[1].id",
            "declared twice",
        ),
    ],
)
def test_inconsistent_declarations_name_the_file_and_field(tmp_path, credentials, location, text):
    assert has(problems_of(pack_with(tmp_path, credentials)), "pack.yaml", location, text)


@pytest.mark.parametrize(
    "credential, location",
    [
        ({"id": "a", "name": "A"}, "$.credentials[0]"),  # requires nothing
        ({"id": "Bad Id", "name": "A", "skills": [SKILL]}, "$.credentials[0].id"),
        ({"id": "a", "name": "A", "skills": [SKILL], "within_days": 0}, "$.credentials[0].within_days"),
        ({"id": "a", "name": "A", "skills": [SKILL], "image": "http://plain.example/a.png"}, "$.credentials[0].image"),
        ({"id": "a", "name": "A", "skills": [SKILL], "criteria": "x"}, "$.credentials[0]"),
    ],
)
def test_the_pack_schema_refuses_malformed_declarations(tmp_path, credential, location):
    problems = problems_of(pack_with(tmp_path, [credential]))
    assert any(p.file == "pack.yaml" and p.location == location for p in problems), [str(p) for p in problems]
