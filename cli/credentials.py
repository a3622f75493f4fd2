"""``tasktrial credentials list|show|export``: a candidate's stackable micro-credentials."""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

import typer
from rich.markup import escape

from cli._output import out


class Format(enum.StrEnum):
    OB3 = "ob3"


def credentials_list() -> None:
    """Your credentials (staff: everyone's), revoked ones marked."""
    from cli import client

    with client.connect() as api:
        body = api.call("GET", "/v1/credentials", what="your credentials")
    awards = body.get("data", [])
    if not awards:
        out.print("no credentials yet")
    for award in awards:  # one line each: ids stay whole and greppable
        status = f"revoked: {award['revoked_reason']}" if award.get("revoked_at") else "valid"
        out.print(
            f"{award['id']}  {escape(award['definition_id'])}  {escape(award['candidate'])}  "
            f"{award['awarded_at'][:19]}  {escape(status)}",
            highlight=False,
            soft_wrap=True,
        )


def credentials_show(award_id: Annotated[str, typer.Argument(help="The credential's id.")]) -> None:
    """One credential: what it certifies, its evidence, its status."""
    from cli import client

    with client.connect() as api:
        award = api.call("GET", f"/v1/credentials/{quote(award_id, safe='')}", what=f"credential {award_id!r}")
        definitions = {
            d["id"]: d
            for d in api.call("GET", "/v1/credentials/definitions", what="the credential definitions").get("data", [])
        }
    definition = definitions.get(award["definition_id"], {})
    out.print(f"[bold]{escape(definition.get('name', award['definition_id']))}[/] ({escape(award['id'])})")
    if definition.get("description"):
        out.print(escape(definition["description"]))
    out.print(
        f"skills: {escape(', '.join(definition.get('skills', [])) or '-')}; "
        f"stacks: {escape(', '.join(definition.get('credentials', [])) or '-')}"
    )
    out.print(f"evidence (results): {escape(', '.join(award['evidence']))}")
    status = f"revoked {award['revoked_at'][:19]}: {award['revoked_reason']}" if award.get("revoked_at") else "valid"
    out.print(f"awarded {award['awarded_at'][:19]}; {escape(status)}", highlight=False)


def credentials_export(
    award_id: Annotated[str, typer.Argument(help="The credential's id.")],
    format: Annotated[
        Format,
        typer.Option("--format", help="ob3: an Open Badges 3.0 OpenBadgeCredential with an eddsa-rdfc-2022 proof."),
    ] = Format.OB3,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write it here (default: stdout).")] = None,
) -> None:
    """Export a credential as a signed Open Badges 3.0 document anyone can verify."""
    from cli import client

    with client.connect() as api:
        credential = api.call(
            "GET", f"/v1/credentials/{quote(award_id, safe='')}/{format.value}", what=f"credential {award_id!r}"
        )
    text = json.dumps(credential, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        out.print(f"saved credential {escape(award_id)} to {escape(str(output))}", highlight=False)
