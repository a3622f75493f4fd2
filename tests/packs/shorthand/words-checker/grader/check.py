"""The checker: ``check.py --label LABEL INPUT EXPECTED ACTUAL``; exit 0 when the counts agree, 1 when not.

It insists on receiving ``--label`` and ``word count`` as two arguments, so a
command string split any other way than a shell would is a grader error.
"""

import sys

if sys.argv[1:3] != ["--label", "word count"] or len(sys.argv) != 6:
    print(f"check.py was called with {sys.argv[1:]!r}")
    sys.exit(2)
_, _, label, _, expected, actual = sys.argv
with open(expected, encoding="utf-8") as want, open(actual, encoding="utf-8", errors="replace") as got:
    wanted, printed = want.read().strip(), got.read().strip()
if printed == wanted:
    sys.exit(0)
print(f"{label}: expected {wanted}, got {printed[:100]!r}")
sys.exit(1)
