"""Run summarise.py on every examples/NAME.jsonl and compare with examples/NAME.expected.

    python3 check_examples.py
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main():
    failures = 0
    for given in sorted((HERE / "examples").glob("*.jsonl")):
        expected = given.with_suffix(".expected").read_text(encoding="utf-8")
        run = subprocess.run([sys.executable, str(HERE / "summarise.py")], input=given.read_bytes(),
                             capture_output=True, timeout=30)
        got = run.stdout.decode("utf-8", "replace")
        if run.returncode == 0 and got.rstrip("\n") == expected.rstrip("\n"):
            print(f"ok    {given.name}")
            continue
        failures += 1
        print(f"FAIL  {given.name} (exit {run.returncode})")
        want_lines, got_lines = expected.splitlines(), got.splitlines()
        for number, (want, have) in enumerate(zip(want_lines, got_lines + [""] * len(want_lines)), start=1):
            if want != have:
                print(f"      line {number}: expected {want!r}, got {have!r}")
                break
        else:
            print(f"      {len(got_lines) - len(want_lines)} extra line(s) after the expected output")
        if run.stderr:
            print("      " + run.stderr.decode("utf-8", "replace").strip().replace("\n", "\n      "))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
