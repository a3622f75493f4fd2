"""Summarise a payment provider's webhook log (JSON lines on stdin). Reference solution."""

import json
import re
import sys
from datetime import datetime, timezone

KNOWN_TYPES = {"payment.succeeded": 1, "payment.refunded": -1}
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
CURRENCY = re.compile(r"[A-Za-z]{3}")


def utc_date(text):
    """The UTC calendar date of an RFC 3339 timestamp, or None if it is not one."""
    if not isinstance(text, str) or not TIMESTAMP.fullmatch(text):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(timezone.utc).date().isoformat()


def classify(line):
    """("invalid", reason) | ("ignored", None) | ("event", (id, sign, amount, currency, date))."""
    try:
        event = json.loads(line)
    except ValueError:
        return "invalid", "not json"
    if not isinstance(event, dict):
        return "invalid", "not json"
    event_id = event.get("id")
    if not isinstance(event_id, str) or not event_id.strip():
        return "invalid", "bad id"
    kind = event.get("type")
    if not isinstance(kind, str):
        return "invalid", "bad type"
    sign = KNOWN_TYPES.get(kind.strip().lower())
    if sign is None:
        return "ignored", None
    amount = event.get("amount")
    if type(amount) is not int or amount < 0:
        return "invalid", "bad amount"
    currency = event.get("currency")
    if not isinstance(currency, str) or not CURRENCY.fullmatch(currency.strip()):
        return "invalid", "bad currency"
    day = utc_date(event.get("created"))
    if day is None:
        return "invalid", "bad created"
    return "event", (event_id, sign, amount, currency.strip().upper(), day)


def money(cents):
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def summarise(lines):
    seen, invalid, totals = set(), [], {}
    counts = {"accepted": 0, "duplicates": 0, "ignored": 0}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        verdict, detail = classify(line)
        if verdict == "invalid":
            invalid.append(f"line {number}: {detail}")
        elif verdict == "ignored":
            counts["ignored"] += 1
        elif detail[0] in seen:
            counts["duplicates"] += 1
        else:
            event_id, sign, amount, currency, day = detail
            seen.add(event_id)
            counts["accepted"] += 1
            net, events = totals.get((day, currency), (0, 0))
            totals[day, currency] = (net + sign * amount, events + 1)
    out = [f"{name} {count}" for name, count in counts.items()]
    out.append(f"invalid {len(invalid)}")
    out.extend(invalid)
    out.extend(f"{day} {currency} {money(net)} {events}" for (day, currency), (net, events) in sorted(totals.items()))
    return out


def main():
    text = sys.stdin.buffer.read().decode("utf-8")
    for line in summarise(text.split("\n")):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
