"""Inclusion and consistency proofs of the transparency log at 100k leaves: stored subtrees against rebuilding.

One SQLite log of ``--leaves`` sealed leaves (one checkpoint over them, then a
second a few leaves later). Three sides, interleaved, each asked for proofs of
random leaves and sizes:

- ``naive_in_process`` (the baseline): ``engine.merkle.inclusion_proof`` /
  ``consistency_proof`` over the leaf hashes already in memory: the O(n)
  rebuild with no database at all;
- ``before``: what the service did before subtrees were stored: read every
  leaf digest of the tree from the database, hash the leaves, rebuild;
- ``after``: the service now (``api.transparency.TransparencyLog``): O(log n)
  stored subtrees in one query, through its own session.

Every side's proof is checked equal to the baseline's. Also printed: the cost
of sealing the whole log at once (storing every subtree).

Run: ``.venv/bin/python bench/bench_log_proofs.py [--leaves 100000] [-k 15]``. Prints medians and ratios.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert
from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from api import db, storage
from api.tables import LogEntry
from api.transparency import TransparencyLog
from engine import merkle, transparency
from engine.signing import SigningKey
from testkit.results import stored_result


def build(path: Path, leaves: int) -> tuple[TransparencyLog, list[str], float]:
    engine = db.make_engine(f"sqlite:///{path}")
    db.migrate(engine)
    with Session(engine) as session:
        stored_result(session, candidate="bench", document={"id": "r", "score": 1.0, "verdict": "not_ready"})
        digests = [f"sha256:{i:064x}" for i in range(leaves)]
        session.execute(insert(LogEntry), [{"digest": d, "result_id": "r", "view": "full"} for d in digests])
        session.commit()
    log = TransparencyLog(
        session=lambda: Session(engine, expire_on_commit=False),
        origin="bench/log",
        key=SigningKey.generate,
        batch_leaves=leaves - 10,
    )
    started = time.perf_counter()
    log.seal()  # two checkpoints: leaves - 10, then leaves
    return log, digests, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaves", type=int, default=100_000)
    parser.add_argument("-k", type=int, default=15, help="proofs per side and kind")
    args = parser.parse_args()
    n, first = args.leaves, args.leaves - 10
    with tempfile.TemporaryDirectory() as folder:
        log, digests, sealing = build(Path(folder) / "log.db", n)
        hashes = [transparency.leaf_hash(d) for d in digests]
        rng = random.Random(7)

        def before_inclusion(index: int) -> list[bytes]:
            with log.session() as session:
                stored = storage.leaf_digests(session=session, size=n)
            return merkle.inclusion_proof([transparency.leaf_hash(d) for d in stored], index, n)

        def before_consistency() -> list[bytes]:
            with log.session() as session:
                stored = storage.leaf_digests(session=session, size=n)
            return merkle.consistency_proof([transparency.leaf_hash(d) for d in stored], first, n)

        sides = {
            "inclusion": {
                "naive_in_process": lambda i: merkle.inclusion_proof(hashes, i, n),
                "before": before_inclusion,
                "after": lambda i: transparency.decode_proof(
                    log.inclusion(digest=digests[i], size=n)["inclusion_proof"], "proof"
                ),
            },
            "consistency": {
                "naive_in_process": lambda i: merkle.consistency_proof(hashes, first, n),
                "before": lambda i: before_consistency(),
                "after": lambda i: transparency.decode_proof(
                    log.consistency(first=first, second=n)["consistency_proof"], "proof"
                ),
            },
        }
        print(f"{n} leaves; sealing them all at once (every subtree stored): {sealing:.2f} s")
        for kind, funcs in sides.items():
            times: dict[str, list[float]] = {name: [] for name in funcs}
            for _ in range(args.k):
                index = rng.randrange(n)
                expected = None
                for name, func in funcs.items():
                    started = time.perf_counter()
                    proof = func(index)
                    times[name].append(time.perf_counter() - started)
                    expected = expected if expected is not None else proof
                    assert proof == expected, f"{kind}: {name} gave another proof"
            base = statistics.median(times["naive_in_process"])
            for name, samples in times.items():
                median = statistics.median(samples)
                print(
                    f"{kind:12} {name:17} median {median * 1000:9.3f} ms   ratio to naive in-process "
                    f"{median / base:8.4f}"
                )


if __name__ == "__main__":
    main()
