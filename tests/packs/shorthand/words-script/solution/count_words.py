"""Print how many words the text file named on the command line holds.

Usage: python3 count_words.py FILE
"""

import sys


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as fh:
        print(len(fh.read().split()))


if __name__ == "__main__":
    main()
