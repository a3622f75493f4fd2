"""Hidden grader for csv-report: runs the candidate's report.py on hidden files.

Writes /grader/results.json (tasktrial's Gradescope-style subset).
"""

import contextlib
import json
import os
import signal
import subprocess

CASES = {
    "basic": {"rows": 3, "rejected": [{"line": 4, "reason": "bad date"}], "totals": {"north": 30.5, "south": 12.0}},
    "messy": {
        "rows": 2,
        "rejected": [
            {"line": 4, "reason": "bad amount"},
            {"line": 5, "reason": "missing region"},
            {"line": 6, "reason": "bad amount"},
            {"line": 7, "reason": "bad date"},
            {"line": 8, "reason": "wrong field count"},
            {"line": 10, "reason": "bad amount"},
        ],
        "totals": {"east": 1204.5, "west": 3.0},
    },
}


def run(name):
    proc = subprocess.run(["python3", "report.py", f"/grader/data/{name}.csv"], cwd="/workspace",
                          capture_output=True, text=True, timeout=8)
    if proc.returncode != 0:
        raise RuntimeError(f"report.py exited {proc.returncode}: {proc.stderr[-500:]}")
    return json.loads(proc.stdout)


def main():
    tests = []
    for name, expected in CASES.items():
        try:
            got = run(name)
            error = None
        except Exception as exc:  # the candidate's program failed: that's a failed test, not a grader crash
            got, error = {}, str(exc)
        for part in ("totals", "rejects"):
            key = "rejected" if part == "rejects" else "totals"
            ok = error is None and isinstance(got, dict) and got.get(key) == expected[key] and \
                (part != "totals" or got.get("rows") == expected["rows"])
            tests.append({"name": f"{part}-{name}", "score": 1 if ok else 0, "max_score": 1,
                          "status": "passed" if ok else "failed",
                          "output": "" if ok else (error or f"{key} differs from the expected report")})
    # report.py ran as this user: stop anything it left behind before writing, so no
    # leftover process can rewrite the results (the engine also requires exit status 0).
    with contextlib.suppress(ProcessLookupError):  # nothing was left running
        os.kill(-1, signal.SIGKILL)
    with open("/grader/results.json", "w") as fh:
        json.dump({"tests": tests}, fh)


if __name__ == "__main__":
    main()
