"""Read a text on standard input and print how many words it holds."""

import sys


def main() -> None:
    print(len(sys.stdin.read().split()))


if __name__ == "__main__":
    main()
