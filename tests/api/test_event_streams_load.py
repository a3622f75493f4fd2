"""Many candidates following their submissions at once must not starve the API of database connections."""

from __future__ import annotations

import contextlib

from api.tables import Role
from tests.api.helpers import submit, work

#: More open streams than the connection pool holds (SQLAlchemy's default: 5 + 10 overflow).
STREAMS = 24


def test_open_event_streams_hold_no_database_connection(api):
    # One candidate each: a token may hold only a few streams (TASKTRIAL_MAX_STREAMS_PER_TOKEN).
    candidates = [api.token(Role.CANDIDATE, f"candidate-{i}") for i in range(STREAMS)]
    accepted = [submit(api, headers) for headers in candidates]
    with contextlib.ExitStack() as stack:
        streams = [
            stack.enter_context(api.client.stream("GET", f"/v1/submissions/{a['id']}/events", headers=h))
            for a, h in zip(accepted, candidates, strict=True)
        ]
        assert all(s.status_code == 200 for s in streams)
        # With every stream open, requests that need the database still get one ...
        assert api.client.get(f"/v1/submissions/{accepted[0]['id']}", headers=candidates[0]).status_code == 200
        for item in accepted:  # ... and so do the workers posting results
            work(api, item["run_id"])
        for stream in streams:  # every follower hears its verdict
            done = next(line for line in stream.iter_lines() if line.startswith("event: done") or "timeout" in line)
            assert done == "event: done"
