"""Credentials declared in packs: registered when a version goes live, awarded by the one rule,
retired (never revoked) when no live version declares them, their criteria pinned once published."""

from __future__ import annotations

import yaml

from api.tables import Role
from engine import archives
from tests.api.conftest import Api
from tests.api.helpers import submit, work
from tests.api.test_packs import WORD_PACK, finish_check, pack_files, post_pack

TASK = f"{WORD_PACK}/word-frequency"
TOKENISING = {"id": "tokenising", "name": "Tokenising", "skills": ["python.text.tokenising"]}
WORDS = {"id": "words", "name": "Words", "description": "stacks tokenising", "credentials": ["tokenising"]}


def pack_with(tmp_path, version: str, credentials: list[dict]) -> bytes:
    files = pack_files(tmp_path, version=version)
    meta = yaml.safe_load(files["pack.yaml"])
    files["pack.yaml"] = yaml.safe_dump({**meta, "credentials": credentials}).encode()
    return archives.make_zip(files)


def definitions(api: Api) -> dict[str, dict]:
    listed = api.client.get("/v1/credentials/definitions", headers=api.token(Role.CANDIDATE, "x")).json()
    return {d["id"]: d for d in listed["data"]}


def awards(api: Api, headers) -> dict[str, dict]:
    return {a["definition_id"]: a for a in api.client.get("/v1/credentials", headers=headers).json()["data"]}


def passes(api: Api, headers) -> None:
    work(api, submit(api, headers, files={"top_words.py": "pass\n"}, task=TASK)["run_id"])


def test_a_pack_registers_its_credentials_when_live_and_retires_them_with_its_declaration(api, tmp_path):
    author = api.token(Role.AUTHOR, "ada")
    post_pack(api, author, pack_with(tmp_path, "1.0.0", [TOKENISING, WORDS]), check=None)
    assert not {f"{WORD_PACK}/tokenising", f"{WORD_PACK}/words"} & definitions(api).keys()  # still checking
    assert finish_check(api, WORD_PACK, "1.0.0", ok=True) == "live"
    found = definitions(api)
    assert found[f"{WORD_PACK}/words"]["credentials"] == [f"{WORD_PACK}/tokenising"]
    assert (
        found[f"{WORD_PACK}/tokenising"]["pack_id"],
        found[f"{WORD_PACK}/tokenising"]["pack_version"],
        found[f"{WORD_PACK}/tokenising"]["retired_at"],
    ) == (WORD_PACK, "1.0.0", None)

    alice = api.token(Role.CANDIDATE, "alice")
    passes(api, alice)  # the same award rule as API-made definitions: met skills, then the stack
    assert set(awards(api, alice)) == {f"{WORD_PACK}/tokenising", f"{WORD_PACK}/words"}

    # 1.1.0 no longer declares "words": it retires; what it awarded stays valid.
    post_pack(api, author, pack_with(tmp_path, "1.1.0", [TOKENISING]))
    found = definitions(api)
    assert found[f"{WORD_PACK}/words"]["retired_at"] is not None
    assert found[f"{WORD_PACK}/tokenising"]["retired_at"] is None
    assert found[f"{WORD_PACK}/tokenising"]["pack_version"] == "1.1.0"
    bob = api.token(Role.CANDIDATE, "bob")
    passes(api, bob)
    assert set(awards(api, bob)) == {f"{WORD_PACK}/tokenising"}  # no new award of a retired credential
    assert all(a["revoked_at"] is None for a in awards(api, alice).values())

    # Retiring every live version retires every credential the pack declared; awards stay valid.
    for version in ("1.0.0", "1.1.0"):
        retired = api.client.post(f"/v1/packs/{WORD_PACK}/versions/{version}/retire", headers=author)
        assert retired.status_code == 200, retired.text
    assert all(definitions(api)[f"{WORD_PACK}/{c}"]["retired_at"] for c in ("tokenising", "words"))
    assert all(a["revoked_at"] is None for a in awards(api, alice).values())


def test_a_published_credentials_criteria_never_change_an_upload_saying_otherwise_is_refused(api, tmp_path):
    author = api.token(Role.AUTHOR, "ada")
    post_pack(api, author, pack_with(tmp_path, "1.0.0", [TOKENISING]))
    changed = post_pack(api, author, pack_with(tmp_path, "1.1.0", [{**TOKENISING, "within_days": 30}]))
    assert changed.status_code == 422, changed.text
    assert "pack.yaml" in changed.text and "$.credentials[0]" in changed.text and "new id" in changed.text
    renamed = post_pack(api, author, pack_with(tmp_path, "1.1.0", [{**TOKENISING, "name": "Tokenising text"}]))
    assert renamed.status_code == 201, renamed.text  # presentation may change
    assert definitions(api)[f"{WORD_PACK}/tokenising"]["name"] == "Tokenising text"


def test_a_pack_with_inconsistent_credentials_is_refused_naming_file_and_field(api, tmp_path):
    bad = post_pack(
        api,
        api.token(Role.AUTHOR, "ada"),
        pack_with(tmp_path, "1.0.0", [{**TOKENISING, "skills": ["not.in.this.pack"]}]),
    )
    assert bad.status_code == 422
    assert "$.credentials[0].skills[0]" in bad.text and "unknown micro-skill 'not.in.this.pack'" in bad.text
