"""The service's transparency log: appended with each result, sealed in batches, proven on request.

Leaves are appended in the result's own transaction (``storage.record_result``);
a background thread seals what waits into the next signed checkpoint every
``log_seal_seconds``, or sooner once ``log_batch_leaves`` wait. Proofs are
made with ``engine.merkle`` from the perfect subtrees stored as each batch is sealed:
O(log n) reads, never the whole list of leaves.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlmodel import Session

from api import storage
from engine import checkpoints, merkle, signing, transparency
from engine.checkpoints import Checkpoint
from engine.errors import NotFound

log = logging.getLogger("tasktrial.log")


@dataclass
class TransparencyLog:
    session: Callable[[], Session]
    origin: str
    #: The key that signs new checkpoints (the service's current signing key).
    key: Callable[[], signing.SigningKey]
    batch_leaves: int = 256
    seal_seconds: float = 10.0
    _wake: threading.Event = field(default_factory=threading.Event)
    _appended: int = 0

    def appended(self, count: int) -> None:
        """Leaves were just stored: wake the sealer once a batch is waiting."""
        self._appended += count
        if self._appended >= self.batch_leaves:
            self._wake.set()

    def seal(self) -> Checkpoint | None:
        """Seal every waiting leaf into new checkpoints; the last one made, or None if nothing waited."""
        sealed = None
        while True:
            self._appended = 0
            with self.session() as session:
                row = storage.seal_log(session=session, limit=self.batch_leaves, make_checkpoint=self._sign)
            if row is None:
                return sealed
            sealed = Checkpoint(origin=self.origin, size=row.size, root_hash=bytes.fromhex(row.root_hash))
            log.info("sealed checkpoint %s of %s", row.size, self.origin)

    def _sign(
        self,
        old_size: int,
        digests: list[str],
        lookup: merkle.NodeLookup,
    ) -> tuple[dict[merkle.Node, bytes], str, str]:
        """The subtrees a batch completes, the new root (from O(log n) stored subtrees) and its signed note."""
        nodes = merkle.completed_nodes(old_size, [transparency.leaf_hash(d) for d in digests], lookup)
        size = old_size + len(digests)
        root = merkle.root_from(_with(nodes, lookup), size)
        note = checkpoints.sign(Checkpoint(origin=self.origin, size=size, root_hash=root), self.key().private_key)
        return nodes, root.hex(), note

    def start(self, stop: threading.Event) -> threading.Thread:
        def loop() -> None:
            while not stop.is_set():
                self._wake.wait(self.seal_seconds)
                self._wake.clear()
                if stop.is_set():
                    break
                try:
                    self.seal()
                except Exception:  # the sealer must outlive a passing database fault
                    log.exception("sealing the transparency log failed")

        def wake_on_stop() -> None:
            stop.wait()
            self._wake.set()

        thread = threading.Thread(target=loop, name="tasktrial-log-sealer", daemon=True)
        thread.start()
        threading.Thread(target=wake_on_stop, name="tasktrial-log-stop", daemon=True).start()
        return thread

    # -- reads -------------------------------------------------------------

    def checkpoint(self, size: int | None = None) -> str:
        """The signed note of checkpoint ``size`` (default: the latest).

        Raises:
            NotFound: no such checkpoint (or none yet).
        """
        with self.session() as session:
            row = (
                storage.latest_checkpoint(session=session)
                if size is None
                else storage.get_checkpoint(session=session, size=size)
            )
        if row is None:
            raise NotFound(
                "the log has no checkpoint yet"
                if size is None
                else f"the log has no checkpoint of size {size} (one is published per sealed batch)"
            )
        return row.note

    def inclusion(self, *, digest: str, size: int | None) -> dict:
        """The proof that the leaf ``digest`` is in the checkpoint of ``size`` (default: the latest).

        Raises:
            NotFound: the digest is not (yet) sealed into the log, or within that size, or no such checkpoint.
        """
        with self.session() as session:
            row = (
                storage.latest_checkpoint(session=session)
                if size is None
                else storage.get_checkpoint(session=session, size=size)
            )
            if row is None:
                raise NotFound(
                    "the log has no checkpoint yet" if size is None else f"the log has no checkpoint of size {size}"
                )
            entry = storage.log_entry_by_digest(session=session, digest=digest)
            if entry is None or entry.log_index is None:
                raise NotFound(
                    f"no sealed log entry has digest {digest} (entries are sealed in batches: "
                    "try again after the next checkpoint)"
                )
            if entry.log_index >= row.size:
                raise NotFound(
                    f"entry {entry.log_index} is not in the checkpoint of size {row.size}: ask for a later checkpoint"
                )
            proof = merkle.inclusion_proof_from(_reader(session), entry.log_index, row.size)
        return {
            "origin": self.origin,
            "log_index": entry.log_index,
            "tree_size": row.size,
            "leaf_digest": digest,
            "inclusion_proof": transparency.encode_proof(proof),
        }

    def consistency(self, *, first: int, second: int) -> dict:
        """The proof that checkpoint ``first`` is a prefix of checkpoint ``second``.

        Raises:
            NotFound: either size names no checkpoint.
        """
        with self.session() as session:
            for size in (first, second):
                if storage.get_checkpoint(session=session, size=size) is None:
                    raise NotFound(f"the log has no checkpoint of size {size}")
            proof = merkle.consistency_proof_from(_reader(session), first, second) if first else []
        return {
            "origin": self.origin,
            "first": first,
            "second": second,
            "consistency_proof": transparency.encode_proof(proof),
        }

    def verifier_keys(self, publics: list[bytes]) -> list[str]:
        return [checkpoints.verifier_key(self.origin, public) for public in publics]


def _reader(session: Session) -> merkle.NodeLookup:
    """Stored subtrees through ``session``: what proofs are made from (never the whole list of leaves)."""
    return lambda nodes: storage.log_nodes(session=session, nodes=nodes)


def _with(new: dict[merkle.Node, bytes], stored: merkle.NodeLookup) -> merkle.NodeLookup:
    """Subtrees from ``new`` (not stored yet) first, the rest from the store."""

    def lookup(nodes):
        found = {node: new[node] for node in nodes if node in new}
        return {**stored([node for node in nodes if node not in new]), **found}

    return lookup
