"""``tasktrial log watch``: a monitor of the transparency log; ``tasktrial proof``: a result with its proof.

The monitor keeps the last checkpoint it verified in a state file. Each pass
fetches the latest checkpoint, checks its signature against the service's keys,
and asks the log for a consistency proof from the remembered checkpoint to the
new one. A log that shrank, changed a root for a size, or cannot prove that the
old tree is a prefix of the new one was rewritten: the monitor says so loudly
and exits 1, keeping the old checkpoint as evidence.

Exit codes (``cli._output``): 0 consistent; 1 the log is inconsistent or
sends a malformed checkpoint or proof; 2 bad input (a bad state file or JWKS);
3 the service cannot be reached.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.markup import escape

from cli._output import EXIT_BAD_INPUT, EXIT_INFRASTRUCTURE, EXIT_PROBLEMS, err, fail, out
from cli.verify import JWKS_PATH, _fetch, _fetch_json, _read_json
from engine import merkle
from engine.merkle import ProofError

if TYPE_CHECKING:
    from engine.checkpoints import Checkpoint

CHECKPOINT_PATH = "/log/checkpoint"
CONSISTENCY_PATH = "/log/consistency"


def watch(
    url: Annotated[str, typer.Argument(help=f"The service's URL (or its {CHECKPOINT_PATH} URL).")],
    state: Annotated[
        Path | None,
        typer.Option(
            help="Where the last verified checkpoint is kept (default: one file per log under $XDG_STATE_HOME)."
        ),
    ] = None,
    jwks: Annotated[
        str | None, typer.Option(help=f"The log's public keys, a JWKS file or URL (default: URL{JWKS_PATH}).")
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="Check the latest checkpoint once and exit.")] = False,
    interval: Annotated[float, typer.Option(min=1.0, help="Seconds between checks when watching.")] = 30.0,
) -> None:
    """Watch the transparency log: every new checkpoint must extend the last one seen (exit 1 if the log was rewritten)."""
    base = url.rstrip("/").removesuffix(CHECKPOINT_PATH)
    if not base.startswith(("http://", "https://")):
        fail(f"{url!r} is not an http(s) URL", EXIT_BAD_INPUT)
    state = state or _default_state(base)
    while True:
        check_once(base, state, jwks)
        if once:
            return
        time.sleep(interval)


def check_once(base: str, state: Path, jwks: str | None) -> None:
    from engine import checkpoints, transparency
    from engine.checkpoints import CheckpointError

    source = jwks or base + JWKS_PATH
    keys = _fetch_json(source) if source.startswith(("http://", "https://")) else _read_json(Path(source), "JWKS")
    response = _fetch(base + CHECKPOINT_PATH, "checkpoint")
    try:
        new, key = checkpoints.verify(response.content, transparency.note_keys(keys))
    except CheckpointError as exc:
        _inconsistent(f"the latest checkpoint of {base} does not verify: {exc}")
    old = _remembered(state)
    if old is None:
        out.print(
            f"[green]✓[/] first checkpoint of log {escape(new.origin)}: size {new.size} "
            f"(signed by key {escape(key.label)}); remembered in {escape(str(state))}",
            highlight=False,
        )
    else:
        try:
            _check_extends(base, old, new)
        except ProofError as exc:
            _inconsistent(f"log {old.origin}: {exc}")
        out.print(
            f"[green]✓[/] log {escape(new.origin)}: size {new.size} is consistent with the size {old.size} seen before",
            highlight=False,
        )
    _remember(state, response.text)


def _check_extends(base: str, old: Checkpoint, new: Checkpoint) -> None:
    from engine import transparency

    if new.origin != old.origin:
        raise ProofError(f"the service now serves log {new.origin!r}, not {old.origin!r}")
    if new.size < old.size:
        raise ProofError(f"the log shrank from size {old.size} to {new.size}: it was rewritten")
    if old.size == 0:
        return  # every tree extends the empty one
    if new.size == old.size:
        merkle.verify_consistency(
            old_size=old.size, new_size=new.size, old_root=old.root_hash, new_root=new.root_hash, proof=[]
        )
        return
    import httpx

    url = f"{base}{CONSISTENCY_PATH}?first={old.size}&second={new.size}"
    try:
        response = httpx.get(url, timeout=30.0)
    except httpx.HTTPError as exc:
        fail(f"cannot fetch the consistency proof from {url}: {str(exc) or type(exc).__name__}", EXIT_INFRASTRUCTURE)
    if response.status_code == 404:  # the log cannot prove its own history
        raise ProofError(f"the log cannot prove that size {new.size} extends size {old.size}: {response.text[:200]}")
    if response.status_code != 200:
        fail(f"cannot fetch the consistency proof from {url}: HTTP {response.status_code}", EXIT_INFRASTRUCTURE)
    try:
        body: Any = response.json()
    except ValueError as exc:
        raise ProofError(f"the consistency proof from {old.size} to {new.size} is not JSON") from exc
    hashes = body.get("consistency_proof") if isinstance(body, dict) else None
    merkle.verify_consistency(
        old_size=old.size,
        new_size=new.size,
        old_root=old.root_hash,
        new_root=new.root_hash,
        proof=transparency.decode_proof(hashes, "consistency proof"),
    )


def _remembered(state: Path) -> Checkpoint | None:
    from engine import checkpoints
    from engine.checkpoints import CheckpointError

    try:
        text = state.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        fail(f"cannot read the monitor's state file {state}: {exc.strerror or exc}", EXIT_BAD_INPUT)
    try:
        return checkpoints.parse(text)[0]  # verified when it was remembered
    except CheckpointError as exc:
        fail(
            f"the monitor's state file {state} does not hold a checkpoint ({exc}); move it away to start again",
            EXIT_BAD_INPUT,
        )


def _remember(state: Path, note: str) -> None:
    state.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{state.name}.", dir=state.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(note)
    os.replace(temporary, state)


def _default_state(base: str) -> Path:
    root = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(root) / "tasktrial" / f"log-{hashlib.sha256(base.encode()).hexdigest()[:16]}.checkpoint"


def _inconsistent(message: str) -> NoReturn:
    err.print(f"[bold red]✗ LOG INCONSISTENT:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_PROBLEMS)


def proof(
    result_id: Annotated[str, typer.Argument(help="The result's id (`tasktrial submit --json` prints it).")],
    size: Annotated[
        int | None, typer.Option(min=0, help="Prove against the checkpoint of this size (default: latest).")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the bundle here (default: stdout).")
    ] = None,
) -> None:
    """Fetch a result with its log index and inclusion proof, for `tasktrial verify BUNDLE --log CHECKPOINT`."""
    from cli import client

    with client.connect() as api:
        bundle = api.result_inclusion(result_id, size)
    text = json.dumps(bundle, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        out.print(
            f"saved result {escape(result_id)} with its proof against size {bundle['log']['tree_size']} "
            f"to {escape(str(output))}",
            highlight=False,
        )
