"""Print how many words the text file named on the command line holds.

Usage: python3 count_words.py FILE
"""

import sys


def main() -> None:
    path = sys.argv[1]
    raise NotImplementedError(f"read {path}, count its words and print the count")


if __name__ == "__main__":
    main()
