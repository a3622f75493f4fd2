"""Runs in the client sandbox of an http task: sends the checks' requests to the candidate's service.

Started as ``python3 -I http_harness.py BASE_URL REQUESTS REPORT``. It only
sends requests and records what came back (status, headers, a capped body);
the expectations never leave the host, which compares them. The report is
rewritten after every request, so a run cut short still reports what it
did. What it keeps of the answers is capped (per body, per header, and in
total), so the report stays far below what the runner reads back whatever
the service sends. This file is copied into the sandbox as data: standard
library only.
"""

import base64
import http.client
import json
import os
import sys
import time
import urllib.parse

BASE_URL, REQUESTS, REPORT = sys.argv[1], sys.argv[2], sys.argv[3]
BODY_CAP = 64 * 1024
HEADER_COUNT_CAP = 50
HEADER_VALUE_CAP = 1024
# Past this many bytes of report, each answer is shrunk to a few headers and the start of its body.
REPORT_BUDGET = 2 * 1024 * 1024
SHRUNK_BODY = 1024
SHRUNK_HEADERS = 10
SHRUNK_HEADER_VALUE = 100


def send(base, request, timeout):
    """One request on a fresh connection; returns the recorded response or ``{"error": ...}``."""
    parts = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    began = time.monotonic()
    try:
        body = base64.b64decode(request["body_b64"]) if request.get("body_b64") is not None else None
        connection.request(request["method"], request["path"], body=body, headers=request.get("headers", {}))
        response = connection.getresponse()
        data = response.read(BODY_CAP + 1)
        headers = response.getheaders()[:HEADER_COUNT_CAP]
        return {
            "status": response.status,
            "headers": [[name[:HEADER_VALUE_CAP], value[:HEADER_VALUE_CAP]] for name, value in headers],
            "body_b64": base64.b64encode(data[:BODY_CAP]).decode("ascii"),
            "truncated": len(data) > BODY_CAP,
            "seconds": round(time.monotonic() - began, 4),
        }
    except Exception as exc:  # noqa: BLE001  (any failure of the candidate's service is a recorded result)
        return {"error": f"{type(exc).__name__}: {exc}"[:500], "seconds": round(time.monotonic() - began, 4)}
    finally:
        connection.close()


def shrink(answer):
    if "headers" not in answer:
        return answer
    body = base64.b64decode(answer["body_b64"])
    return {
        **answer,
        "headers": [[n[:SHRUNK_HEADER_VALUE], v[:SHRUNK_HEADER_VALUE]] for n, v in answer["headers"][:SHRUNK_HEADERS]],
        "body_b64": base64.b64encode(body[:SHRUNK_BODY]).decode("ascii"),
        "truncated": answer["truncated"] or len(body) > SHRUNK_BODY,
    }


def write(report):
    temporary = REPORT + ".tmp"
    with open(temporary, "w", encoding="utf-8") as fh:
        json.dump(report, fh)
    os.replace(temporary, REPORT)


def main():
    with open(REQUESTS, encoding="utf-8") as fh:
        document = json.load(fh)
    report: dict[str, dict[str, object]] = {"responses": {}}
    write(report)
    size = 0
    for request in document["requests"]:
        answer = send(BASE_URL, request, document["timeout"])
        if size + len(json.dumps(answer)) > REPORT_BUDGET:
            answer = shrink(answer)
        size += len(json.dumps(answer))
        report["responses"][request["name"]] = answer
        write(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
