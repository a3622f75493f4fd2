"""Summarise a payment provider's webhook log (JSON lines on stdin). See the statement."""

import sys


def main():
    text = sys.stdin.buffer.read().decode("utf-8")
    accepted = duplicates = ignored = 0
    invalid = []
    # TODO: classify every line of `text` and total the accepted events per day and currency.
    print(f"accepted {accepted}")
    print(f"duplicates {duplicates}")
    print(f"ignored {ignored}")
    print(f"invalid {len(invalid)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
