"""A plausible wrong answer: right words, but ties come out in order of first appearance (Counter.most_common)."""

import re
import sys
from collections import Counter


def main() -> int:
    words = [w.strip("'").lower() for w in re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)*'?", sys.stdin.read())]
    for word, count in Counter(w for w in words if w).most_common(5):
        print(count, word)
    return 0


if __name__ == "__main__":
    sys.exit(main())
