"""Read a text on standard input and print how many words it holds."""

import sys


def main() -> None:
    text = sys.stdin.read()
    raise NotImplementedError(f"count the words of the {len(text)} characters read and print the count")


if __name__ == "__main__":
    main()
