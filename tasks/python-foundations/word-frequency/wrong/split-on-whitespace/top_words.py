"""A plausible wrong answer: words are whatever whitespace separates, so punctuation sticks to them."""

import sys
from collections import Counter


def main() -> int:
    counts = Counter(sys.stdin.read().lower().split())
    for word, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:5]:
        print(count, word)
    return 0


if __name__ == "__main__":
    sys.exit(main())
