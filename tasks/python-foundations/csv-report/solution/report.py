"""Summarise a messy sales CSV as JSON. Reference solution."""

import csv
import datetime
import json
import re
import sys

AMOUNT = re.compile(r"^\$?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$")


def parse_amount(text):
    text = text.strip()
    if not AMOUNT.match(text):
        return None
    return float(text.lstrip("$").replace(",", ""))


def parse_date(text):
    text = text.strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return None
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        return None


def summarise(path):
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    header = [name.strip().lower() for name in rows[0]]
    index = {name: header.index(name) for name in ("date", "region", "amount")}
    accepted, rejected, totals = 0, [], {}
    for line, row in enumerate(rows[1:], start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            rejected.append({"line": line, "reason": "wrong field count"})
            continue
        region = row[index["region"]].strip().lower()
        amount = parse_amount(row[index["amount"]])
        reason = ("missing region" if not region else "bad amount" if amount is None
                  else "bad date" if parse_date(row[index["date"]]) is None else None)
        if reason:
            rejected.append({"line": line, "reason": reason})
            continue
        accepted += 1
        totals[region] = totals.get(region, 0.0) + amount
    return {"rows": accepted, "rejected": rejected,
            "totals": {region: round(total, 2) for region, total in sorted(totals.items())}}


if __name__ == "__main__":
    print(json.dumps(summarise(sys.argv[1])))
