"""Print the five most frequent words of stdin. See the statement."""

import sys


def main() -> int:
    text = sys.stdin.read()
    # TODO: count the words of `text` and print the top five as "COUNT WORD".
    return 0


if __name__ == "__main__":
    sys.exit(main())
