"""A cohort's members from CSV (subject, display name, email): all rows good, or none taken.

The CSV comes from an organiser's spreadsheet; every bad row is reported with its line number.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from engine.errors import TaskTrialError

COLUMNS = ("subject", "display_name", "email")
MAX_ROWS = 10_000
MAX_BYTES = 2 * 1024 * 1024
SUBJECT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,127}")
EMAIL = re.compile(r"[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+")


class RosterError(TaskTrialError):
    """A member list with bad rows; ``problems`` holds every one, each naming its line (422, exit 2)."""

    def __init__(self, problems: list[str]):
        self.problems = problems[:200]
        more = f"\n  ... and {len(problems) - 200} more" if len(problems) > 200 else ""
        super().__init__(
            f"the member list has {len(problems)} problem(s); nothing was imported:\n"
            + "\n".join(f"  - {p}" for p in self.problems)
            + more
        )


@dataclass(frozen=True)
class MemberRow:
    line: int
    subject: str
    display_name: str
    email: str


def parse_members(data: bytes) -> list[MemberRow]:
    """Parse a UTF-8 CSV with a header naming the three columns (any order).

    Raises:
        RosterError: not UTF-8, too big, a header without the columns, or any bad row
            (a missing field, a malformed subject or email, a subject or email twice).
    """
    if len(data) > MAX_BYTES:
        raise RosterError([f"the file is {len(data)} bytes; at most {MAX_BYTES} are accepted"])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RosterError([f"the file is not UTF-8 (byte {exc.start})"]) from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        raise RosterError(["the file is empty: line 1 must be a header (subject,display_name,email)"])
    names = [h.strip().lower().replace(" ", "_") for h in header]
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise RosterError(
            [(f"line 1: the header lacks the column(s) {', '.join(missing)} (found: {', '.join(header) or 'nothing'})")]
        )
    at = {c: names.index(c) for c in COLUMNS}
    rows: list[MemberRow] = []
    problems: list[str] = []
    subjects: dict[str, int] = {}
    emails: dict[str, int] = {}
    try:
        for fields in reader:
            line = reader.line_num
            if not any(f.strip() for f in fields):
                continue
            if len(rows) + len(problems) >= MAX_ROWS:
                problems.append(f"line {line}: more than {MAX_ROWS} members in one file")
                break
            if len(fields) != len(header):
                problems.append(f"line {line}: {len(fields)} field(s), the header has {len(header)}")
                continue
            subject, name, email = (fields[at[c]].strip() for c in COLUMNS)
            found = []
            if not SUBJECT.fullmatch(subject):
                found.append(f"subject {subject!r} is not 1-128 letters, digits, '.', '_', '@' or '-'")
            if not name or len(name) > 200:
                found.append("display_name is empty or longer than 200 characters")
            if not EMAIL.fullmatch(email):
                found.append(f"email {email!r} is not an address")
            if subject in subjects:
                found.append(f"subject {subject!r} already on line {subjects[subject]}")
            if email.lower() in emails:
                found.append(f"email {email!r} already on line {emails[email.lower()]}")
            subjects.setdefault(subject, line)
            emails.setdefault(email.lower(), line)
            if found:
                problems.append(f"line {line}: " + "; ".join(found))
            else:
                rows.append(MemberRow(line=line, subject=subject, display_name=name, email=email))
    except csv.Error as exc:
        problems.append(f"line {reader.line_num}: not valid CSV ({exc})")
    if problems:
        raise RosterError(problems)
    if not rows:
        raise RosterError(["the file lists no members (only a header)"])
    return rows
