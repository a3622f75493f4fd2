"""A small items API on the standard library's http.server. See statement.md.

Run it with ``python3 server.py PORT``. The plumbing is here; every route
still answers 501. Replace ``handle`` with the real routes.
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.handle_method("GET")

    def do_POST(self):
        self.handle_method("POST")

    def do_DELETE(self):
        self.handle_method("DELETE")

    def do_PUT(self):
        self.handle_method("PUT")

    def do_PATCH(self):
        self.handle_method("PATCH")

    def handle_method(self, method):
        # TODO: route GET/POST /items and GET/DELETE /items/{id} as the statement says.
        self.send(501, {"error": "not_implemented"})

    def send(self, status, body, headers=None):
        """Answer with ``status``; ``body`` (any JSON value, or None for no body) is sent as JSON."""
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        data = b"" if body is None else json.dumps(body).encode()
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def make_server(port, host="0.0.0.0"):
    """A server with an empty store; port 0 picks a free port (see ``server_address``)."""
    return ThreadingHTTPServer((host, port), Handler)


def main(argv):
    port = int(argv[1]) if len(argv) > 1 else 8080
    server = make_server(port)
    print(f"listening on port {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv)
