"""A service published below a path, as behind a reverse proxy that strips the path: the app under a real uvicorn."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.responses import PlainTextResponse


class StripPath:
    """A reverse proxy publishing the app below ``prefix``: it strips the prefix; nothing else is routed."""

    def __init__(self, app, prefix: str):
        self.app, self.prefix = app, prefix

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(self.prefix + "/"):
            await PlainTextResponse("not below the prefix", status_code=404)(scope, receive, send)
            return
        stripped = path.removeprefix(self.prefix)
        await self.app({**scope, "path": stripped, "raw_path": stripped.encode()}, receive, send)


@contextmanager
def served_below(app, prefix: str, port: int) -> Iterator[None]:
    """``app`` answering at ``http://127.0.0.1:port{prefix}/`` (and nowhere else) until the block ends."""
    server = uvicorn.Server(
        uvicorn.Config(StripPath(app, prefix), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, f"uvicorn did not start on port {port} within 20 s"
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(10)
