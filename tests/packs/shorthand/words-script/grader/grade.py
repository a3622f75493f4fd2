"""Hidden grader: runs the candidate's count_words.py on each data file.

It reports only through /grader/results.json (tasktrial's subset of
Gradescope's results.json): one test per data file, scored 0 or 1. The
candidate's program runs as a child process, so its output is data here,
never results.
"""

import contextlib
import json
import os
import signal
import subprocess

CASES = {"poem": 10, "blank": 0, "columns": 6}  # data file -> expected word count


def count(name):
    """What the candidate's program printed for one data file, or why it failed."""
    try:
        proc = subprocess.run(["python3", "count_words.py", f"/grader/data/{name}.txt"], cwd="/workspace",
                              capture_output=True, text=True, timeout=5)
    except subprocess.TimeoutExpired:
        return None, "count_words.py took longer than 5 s"
    if proc.returncode != 0:
        return None, f"count_words.py exited with code {proc.returncode}: {proc.stderr[-300:]}"
    return proc.stdout.strip(), ""


def main():
    tests = []
    for name, expected in CASES.items():
        printed, problem = count(name)
        ok = printed == str(expected)
        tests.append({"name": f"counts-{name}", "score": 1 if ok else 0, "max_score": 1,
                      "status": "passed" if ok else "failed",
                      "output": "" if ok else problem or f"printed {printed!r}, expected {expected}"})
    # The candidate's program ran as this user: stop anything it left behind before writing,
    # so no leftover process can rewrite the results.
    with contextlib.suppress(ProcessLookupError):  # nothing was left running
        os.kill(-1, signal.SIGKILL)
    with open("/grader/results.json", "w", encoding="utf-8") as fh:
        json.dump({"tests": tests}, fh)


if __name__ == "__main__":
    main()
