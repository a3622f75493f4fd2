"""``tasktrial verify``: check a signed result offline against the service's public keys.

With ``--log CHECKPOINT`` it also checks that the result is in the transparency
log: the file must be a bundle from ``tasktrial proof`` (the result with its
inclusion proof), and the checkpoint (a file, or a URL the user names) must be
signed by a key of the JWKS. Nothing named inside the checked file is fetched.
With ``--subject`` and ``--salt`` it also checks the result is that candidate's.

Exit codes (``cli._output``): 0 the signature holds and nothing changed
(and, with ``--subject`` and ``--salt``, the result is that candidate's);
1 problems found (each printed; also a malformed proof or checkpoint); 2 bad
input (an unreadable or invalid result or JWKS, no JWKS given); 3 the JWKS or
checkpoint URL cannot be fetched.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from cli._output import EXIT_BAD_INPUT, EXIT_INFRASTRUCTURE, EXIT_PROBLEMS, err, fail, out

JWKS_PATH = "/.well-known/jwks.json"
FETCH_TIMEOUT_SECONDS = 10.0


def verify(
    result: Annotated[Path, typer.Argument(help="The signed result document (JSON).")],
    jwks: Annotated[
        str | None,
        typer.Option("--jwks", help=f"The public keys: a JWKS file or URL (default: $TASKTRIAL_URL{JWKS_PATH})."),
    ] = None,
    subject: Annotated[
        str | None, typer.Option(help="Also check the result belongs to this candidate id (needs --salt).")
    ] = None,
    salt: Annotated[
        str | None, typer.Option(help="The subject salt the server gave the candidate with the submission.")
    ] = None,
    log: Annotated[
        str | None,
        typer.Option(
            "--log",
            help="A log checkpoint (file or URL): also check the result is in the log it commits to. "
            "RESULT must then be a bundle from `tasktrial proof`.",
        ),
    ] = None,
) -> None:
    """Check a signed result offline: its signature, that no field changed since, and (with --subject and
    --salt) that it is that candidate's; exit 1 naming each problem."""
    from engine import results, signing

    if (subject is None) != (salt is None):
        fail("--subject and --salt go together: the salt proves the subject", EXIT_BAD_INPUT)
    # A malformed JWKS raises ConfigurationError: translate_errors (cli._output) makes it exit 2.
    document = _read_json(result, "result")
    if not isinstance(document, dict):
        fail(f"{result} is not a result document: expected a JSON object", EXIT_BAD_INPUT)
    if "proof" in document and "@context" in document:  # an Open Badges 3.0 credential
        _verify_credential(document, jwks, result)
        return
    inclusion = None
    if signing.SIGNATURE_FIELD not in document and {"result", "log"} <= document.keys():  # a proof bundle
        document, inclusion = document["result"], document["log"]
        if not isinstance(document, dict):
            fail(f"the 'result' of the bundle {result} is not a JSON object", EXIT_PROBLEMS)
    source = jwks or _default_jwks_url()
    keys = _fetch_json(source) if source.startswith(("http://", "https://")) else _read_json(Path(source), "JWKS")
    verification = signing.verify(document, keys)
    problems = list(verification.problems)
    if verification.ok and subject is not None and salt is not None:
        problems += results.subject_problems(document, subject=subject, salt=salt)
    if problems:
        for problem in problems:
            err.print(f"[red]✗[/] {escape(problem)}", highlight=False, soft_wrap=True)
        err.print(f"{len(problems)} problem(s) in {escape(str(result))}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_PROBLEMS)
    out.print(f"[green]✓[/] {escape(_summary(document, verification.kid))}", highlight=False, soft_wrap=True)
    if subject is not None:
        out.print(f"[green]✓[/] bound to candidate {escape(subject)}", highlight=False, soft_wrap=True)
    if log is not None:
        _check_inclusion(document, inclusion, log, keys, result)


def _verify_credential(credential: dict[str, Any], jwks: str | None, path: Path) -> None:
    """``engine.openbadges.check``, as the public verification page runs it: the proof, the issuer (the
    configured service's did:web, its DID document rebuilt from the JWKS), revocation through the status list.

    The status list is fetched only when it lives at the configured service ($TASKTRIAL_URL): a
    URL named inside the credential is never followed anywhere else.
    """
    from engine import openbadges

    source = jwks or _default_jwks_url()
    keys = _fetch_json(source) if source.startswith(("http://", "https://")) else _read_json(Path(source), "JWKS")
    service = os.environ.get("TASKTRIAL_URL", "").rstrip("/")
    if not service:
        fail(
            "set TASKTRIAL_URL to the issuing service: a credential's issuer and status list are checked against it",
            EXIT_BAD_INPUT,
        )

    def status_list(url: str) -> Any:
        try:
            return _fetch(url, "status list").json()
        except ValueError:
            return None  # reported as a status list that does not verify

    report = openbadges.check(credential, service_url=service, jwks=keys, status_list=status_list)
    if not report.ok:
        for problem in report.problems:
            err.print(f"[red]✗[/] {escape(problem)}", highlight=False, soft_wrap=True)
        err.print(f"{len(report.problems)} problem(s) in {escape(str(path))}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_PROBLEMS)
    out.print(
        f"[green]✓[/] credential {escape(str(report.achievement or '?'))}: proof valid (eddsa-rdfc-2022), "
        f"issuer key known, {escape(report.status)}",
        highlight=False,
        soft_wrap=True,
    )


def _check_inclusion(document: dict[str, Any], inclusion: Any, source: str, keys: Any, path: Path) -> None:
    from engine import checkpoints, transparency
    from engine.checkpoints import CheckpointError
    from engine.merkle import ProofError

    if inclusion is None:
        fail(
            f"{path} holds no inclusion proof: save the result with `tasktrial proof RESULT_ID` "
            "to check it against the log",
            EXIT_PROBLEMS,
        )
    note = (
        _fetch(source, "checkpoint").content
        if source.startswith(("http://", "https://"))
        else _read_bytes(Path(source), "checkpoint")
    )
    try:
        checkpoint, key = checkpoints.verify(note, transparency.note_keys(keys))
        index = transparency.verify_inclusion(document, inclusion, checkpoint)
    except (CheckpointError, ProofError) as exc:
        err.print(f"[red]✗[/] not proven in the log: {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_PROBLEMS) from None
    out.print(
        f"[green]✓[/] in log {escape(checkpoint.origin)} at index {index} of the checkpoint of size "
        f"{checkpoint.size} (signed by key {escape(key.label)})",
        highlight=False,
        soft_wrap=True,
    )


def _summary(document: dict[str, Any], kid: str | None) -> str:
    task = document.get("task")
    name = f"{task.get('pack')}/{task.get('id')}" if isinstance(task, dict) else "?"
    score = document.get("score")
    score_text = f"{score:g}/100" if isinstance(score, int | float) and not isinstance(score, bool) else repr(score)
    return f"signature valid, key {kid}: task {name}, score {score_text}, verdict {document.get('verdict', '?')}"


def _default_jwks_url() -> str:
    base = os.environ.get("TASKTRIAL_URL")
    if not base:
        fail("no public keys to check against: pass --jwks FILE_OR_URL or set TASKTRIAL_URL", EXIT_BAD_INPUT)
    return base.rstrip("/") + JWKS_PATH


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_bytes())
    except OSError as exc:
        fail(f"cannot read the {what} {path}: {exc.strerror or exc}", EXIT_BAD_INPUT)
    except ValueError as exc:
        fail(f"the {what} {path} is not valid JSON: {exc}", EXIT_BAD_INPUT)


def _read_bytes(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        fail(f"cannot read the {what} {path}: {exc.strerror or exc}", EXIT_BAD_INPUT)


def _fetch(url: str, what: str):
    import httpx  # only when a URL is given: keeps every other command's start-up light

    try:
        response = httpx.get(url, timeout=FETCH_TIMEOUT_SECONDS, follow_redirects=True)
        response.raise_for_status()
    except httpx.HTTPStatusError as exc:
        fail(f"cannot fetch the {what} from {url}: HTTP {exc.response.status_code}", EXIT_INFRASTRUCTURE)
    except httpx.InvalidURL as exc:
        fail(f"the {what} URL {url} is invalid: {exc}", EXIT_BAD_INPUT)
    except httpx.HTTPError as exc:
        fail(f"cannot fetch the {what} from {url}: {str(exc) or type(exc).__name__}", EXIT_INFRASTRUCTURE)
    return response


def _fetch_json(url: str) -> Any:
    response = _fetch(url, "JWKS")
    try:
        return response.json()
    except ValueError as exc:
        fail(f"the JWKS at {url} is not valid JSON: {exc}", EXIT_BAD_INPUT)
