"""A whole Exercism track: ``tasktrial pack check --jobs 2`` against Exercism's way of running it, in one run.

The corpus is the Python track's practice exercises (``../shared/corpora/exercism-python``, MIT: see
its NOTICE.md). Each exercise gives two jobs: its example solution (Exercism expects it to pass) and
its stub (expected to fail, except the refactoring exercises ``ledger`` and ``markdown``).

- ours: the track imported with ``tasktrial pack import-exercism``, then ``tasktrial pack check OUT
  --jobs 2 --json`` with an empty collection cache, timed from the command's start to its exit (CLI
  start, pack load, every grading, sandboxes removed);
- the peer: Exercism's test runner's way, a fresh ``docker run --rm --network none`` of pytest per
  job, 2 at a time, in our python runtime image, with the files bind-mounted read-only in one folder
  (the stub or the example under the stub's name, beside the tests) and the task's limits; a job
  passes when pytest exits 0.

The ratio is ours / peer (goal: at most 0.5). Verdicts are compared job by job: our reference ready
<=> the example passed, our starter ready <=> the stub passed; and both sides against Exercism's
own expectations. ``--rounds 2`` measures ours, peer, peer, ours and reports the sum of each side.

Run: ``.venv/bin/python bench/bench_exercism.py [--limit N] [--rounds R]`` (the full track takes
minutes: run it in the background).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from engine.authoring._exercism import IMPORT_LIMITS  # noqa: E402
from engine.models import ResourceLimits  # noqa: E402
from runners import images  # noqa: E402
from runners.docker import LABEL  # noqa: E402
from testkit.raw_docker import PYTEST, raw_docker_run  # noqa: E402

BIN = Path(sys.executable).parent
TRACK = REPO.parent / "shared" / "corpora" / "exercism-python"  # ../shared beside the repository
#: Exercism's refactoring exercises: their stubs already pass their tests.
STUBS_THAT_PASS = {"ledger", "markdown"}


def exercises(track: Path, limit: int | None) -> list[str]:
    practice = track / "exercises" / "practice"
    slugs = sorted(p.name for p in practice.iterdir() if (p / ".meta" / "config.json").is_file())
    return slugs[:limit] if limit else slugs


def import_track(track: Path, slugs: list[str], out: Path, everything: bool) -> None:
    picked = [] if everything else [arg for slug in slugs for arg in ("--exercise", slug)]
    subprocess.run(
        [str(BIN / "tasktrial"), "pack", "import-exercism", str(track), str(out), *picked],
        check=True,
        capture_output=True,
    )


def ours(pack: Path, jobs: int, work: Path) -> tuple[float, dict[str, dict[str, str]]]:
    """Seconds for ``pack check --jobs`` and each task's ``{reference, starter}`` verdicts."""
    cache = Path(tempfile.mkdtemp(prefix="cache-", dir=work))  # cold: the collections are part of the job
    began = time.perf_counter()
    proc = subprocess.run(
        [str(BIN / "tasktrial"), "pack", "check", str(pack), "--jobs", str(jobs), "--json", "--cache-dir", str(cache)],
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - began
    if proc.returncode not in (0, 1):
        raise SystemExit(f"pack check failed (exit {proc.returncode}): {proc.stderr[-3000:]}")
    report = json.loads(proc.stdout)
    return elapsed, {
        t["task"]: {
            "reference": t["reference"][0]["verdict"],
            "starter": t["starter"][0]["verdict"],
            "problems": t["problems"],
        }
        for t in report["tasks"]
    }


def peer_jobs(track: Path, slugs: list[str], work: Path) -> list[tuple[str, str, Path]]:
    """``(slug, "example"|"stub", folder)``: what Exercism's runner gets for each job, the exercise's
    folder without ``.meta`` and ``.docs`` (for the example, its example file in the stub's place)."""
    jobs = []
    for slug in slugs:
        folder = track / "exercises" / "practice" / slug
        files = json.loads((folder / ".meta" / "config.json").read_text())["files"]
        for kind in ("example", "stub"):
            target = work / "peer" / slug / kind
            shutil.copytree(folder, target, ignore=shutil.ignore_patterns(".meta", ".docs", ".approaches", ".articles"))
            if kind == "example":
                solutions = {Path(n).name: n for n in files["solution"]}
                for example in files["example"]:
                    name = solutions.get(Path(example).name, files["solution"][0])
                    shutil.copyfile(folder / example, target / name)
            jobs.append((slug, kind, target))
    return jobs


def peer(jobs: list[tuple[str, str, Path]], image: str, concurrency: int) -> tuple[float, dict[tuple[str, str], str]]:
    def run(job: tuple[str, str, Path]) -> tuple[tuple[str, str], str]:
        slug, kind, folder = job
        command = raw_docker_run(
            image,
            [*PYTEST, "/solution"],
            limits=ResourceLimits.from_mapping(IMPORT_LIMITS),
            mounts={folder: "/solution"},
            workdir="/solution",
        )
        code = subprocess.run(command, capture_output=True, check=False).returncode
        return (slug, kind), {0: "pass", 1: "fail"}.get(code, f"error (exit {code})")

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        verdicts = dict(pool.map(run, jobs))
    return time.perf_counter() - began, verdicts


def compare(slugs: list[str], mine: dict[str, dict[str, str]], theirs: dict[tuple[str, str], str]) -> dict:
    disagree, ours_unexpected, peer_unexpected = [], [], []
    for slug in slugs:
        task = mine.get(slug, {})
        for kind, role in (("example", "reference"), ("stub", "starter")):
            passed_ours = task.get(role) == "ready"
            passed_peer = theirs.get((slug, kind)) == "pass"
            expected = kind == "example" or slug in STUBS_THAT_PASS
            if passed_ours != passed_peer:
                disagree.append(f"{slug} {kind}: ours {task.get(role)}, peer {theirs.get((slug, kind))}")
            if passed_ours != expected:
                ours_unexpected.append(f"{slug} {kind}: {task.get(role)} {task.get('problems', [])[:1]}")
            if passed_peer != expected:
                peer_unexpected.append(f"{slug} {kind}: {theirs.get((slug, kind))}")
    return {
        "jobs_compared": 2 * len(slugs),
        "disagreements": disagree,
        "ours_unlike_exercism_expectations": ours_unexpected,
        "peer_unlike_exercism_expectations": peer_unexpected,
    }


def leftovers() -> int:
    out = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label={LABEL}.bench"], capture_output=True, text=True, check=False
    )
    return len(out.stdout.split())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--track", type=Path, default=TRACK)
    parser.add_argument("--limit", type=int, default=None, help="only the first N exercises (for development)")
    parser.add_argument("--jobs", type=int, default=2, help="our --jobs and the peer's concurrency")
    parser.add_argument("--rounds", type=int, default=1, help="1: ours then peer; 2: ours, peer, peer, ours")
    args = parser.parse_args()
    if args.jobs < 1 or args.rounds < 1 or (args.limit is not None and args.limit < 1):
        parser.error("--jobs, --rounds and --limit must be at least 1")
    image = images.runtime_image("python").tag
    slugs = exercises(args.track, args.limit)
    with tempfile.TemporaryDirectory(prefix="tasktrial-bench-exercism-") as tmp:
        work = Path(tmp)
        pack = work / "pack"
        import_track(args.track, slugs, pack, everything=args.limit is None)
        jobs = peer_jobs(args.track, slugs, work)
        # Warm both paths once (image layers, page cache) on one exercise, untimed.
        import_track(args.track, slugs[:1], work / "one", everything=False)
        ours(work / "one", args.jobs, work)
        peer(jobs[:2], image, args.jobs)
        times: dict[str, list[float]] = {"ours": [], "peer": []}
        mine: dict[str, dict[str, str]] = {}
        theirs: dict[tuple[str, str], str] = {}
        order = ["ours", "peer"]
        for round_ in range(args.rounds):
            for side in order if round_ % 2 == 0 else order[::-1]:
                if side == "ours":
                    elapsed, mine = ours(pack, args.jobs, work)
                else:
                    elapsed, theirs = peer(jobs, image, args.jobs)
                times[side].append(elapsed)
                print(f"round {round_ + 1}: {side} {elapsed:.1f} s", file=sys.stderr, flush=True)
    ours_s, peer_s = sum(times["ours"]), sum(times["peer"])
    report = {
        "track": str(args.track),
        "exercises": len(slugs),
        "gradings_per_side": 2 * len(slugs) * args.rounds,
        "concurrency": args.jobs,
        "cpus": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
        "ours_pack_check_s": [round(t, 2) for t in times["ours"]],
        "peer_docker_run_s": [round(t, 2) for t in times["peer"]],
        "ratio_ours_to_peer": round(ours_s / peer_s, 3),
        "target_ratio_at_most": 0.5,
        "verdicts": compare(slugs, mine, theirs),
        "peer_containers_left": leftovers(),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
