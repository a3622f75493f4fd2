"""Print the five most frequent words of stdin. Reference solution."""

import sys
from collections import Counter


def words(text):
    word = []
    for char in text + " ":
        if char.isalpha() or (char == "'" and word):
            word.append(char)
            continue
        while word and word[-1] == "'":
            word.pop()
        if word:
            yield "".join(word).lower()
        word = []


def main() -> int:
    counts = Counter(words(sys.stdin.read()))
    for word, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:5]:
        print(count, word)
    return 0


if __name__ == "__main__":
    sys.exit(main())
