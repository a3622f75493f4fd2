"""Started as ``python3 server.py PORT``; answers POST /count (see the statement)."""

import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.send_error(501, "count the words of the body and answer {\"words\": N}")


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", int(sys.argv[1])), Handler).serve_forever()
