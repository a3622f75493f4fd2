"""A small items API on the standard library's http.server. See statement.md.

Run it with ``python3 server.py PORT``.
"""

import json
import math
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

DEFAULT_LIMIT = 10
MAX_LIMIT = 50
MAX_BODY_BYTES = 64 * 1024
ITEM_PATH = re.compile(r"^/items/([^/]+)$")
POSITIVE = re.compile(r"^[1-9][0-9]*$")
NATURAL = re.compile(r"^[0-9]+$")


class Problem(Exception):
    """An error answer: an HTTP status and a JSON body."""

    def __init__(self, status, body):
        super().__init__(body)
        self.status = status
        self.body = body


class Store:
    """Items in memory, by id; ids start at 1 and are never reused."""

    def __init__(self):
        self._items = {}
        self._next_id = 1
        self._lock = threading.Lock()

    def add(self, fields):
        with self._lock:
            item = {"id": self._next_id, **fields}
            self._items[item["id"]] = item
            self._next_id += 1
            return item

    def get(self, item_id):
        with self._lock:
            return self._items.get(item_id)

    def delete(self, item_id):
        with self._lock:
            return self._items.pop(item_id, None) is not None

    def page(self, limit, offset):
        with self._lock:
            ordered = [self._items[key] for key in sorted(self._items)]
        return ordered[offset:offset + limit], len(ordered)


def validate(payload):
    """The item fields of a POST body, or a Problem naming the first invalid field."""
    if not isinstance(payload, dict):
        raise Problem(400, {"error": "invalid_json"})
    name = payload.get("name")
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 100:
        raise Problem(422, {"error": "invalid_field", "field": "name"})
    price = payload.get("price")
    if isinstance(price, bool) or not isinstance(price, (int, float)) or not math.isfinite(price) or price < 0:
        raise Problem(422, {"error": "invalid_field", "field": "price"})
    tags = payload.get("tags", [])
    if not isinstance(tags, list) or len(tags) > 10 or not all(isinstance(tag, str) for tag in tags):
        raise Problem(422, {"error": "invalid_field", "field": "tags"})
    return {"name": name.strip(), "price": price, "tags": list(tags)}


def query_number(query, field, default, lowest, highest=None):
    values = query.get(field)
    if values is None:
        return default
    text = values[0]
    if not NATURAL.match(text) or int(text) < lowest or (highest is not None and int(text) > highest):
        raise Problem(400, {"error": "invalid_query", "field": field})
    return int(text)


class Handler(BaseHTTPRequestHandler):
    store = None  # set by make_server

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def dispatch(self, method):
        url = urlsplit(self.path)
        try:
            if url.path == "/items":
                routes = {"GET": lambda: self.list_items(url.query), "POST": self.create_item}
            elif ITEM_PATH.match(url.path):
                item_id = ITEM_PATH.match(url.path).group(1)
                routes = {"GET": lambda: self.get_item(item_id), "DELETE": lambda: self.delete_item(item_id)}
            else:
                raise Problem(404, {"error": "not_found"})
            if method not in routes:
                raise Problem(405, {"error": "method_not_allowed"})
            status, body, headers = routes[method]()
        except Problem as problem:
            status, body, headers = problem.status, problem.body, {}
        self.send(status, body, headers)

    def list_items(self, raw_query):
        query = parse_qs(raw_query, keep_blank_values=True)
        limit = query_number(query, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        offset = query_number(query, "offset", 0, 0)
        items, total = self.store.page(limit, offset)
        return 200, {"items": items, "total": total, "limit": limit, "offset": offset}, {}

    def create_item(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(min(length, MAX_BODY_BYTES))
        try:
            payload = json.loads(raw)
        except ValueError:
            raise Problem(400, {"error": "invalid_json"}) from None
        item = self.store.add(validate(payload))
        return 201, item, {"Location": f"/items/{item['id']}"}

    def find(self, item_id):
        item = self.store.get(int(item_id)) if POSITIVE.match(item_id) else None
        if item is None:
            raise Problem(404, {"error": "not_found"})
        return item

    def get_item(self, item_id):
        return 200, self.find(item_id), {}

    def delete_item(self, item_id):
        self.store.delete(self.find(item_id)["id"])
        return 204, None, {}

    def send(self, status, body, headers):
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        data = b"" if body is None else json.dumps(body).encode()
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def make_server(port, host="0.0.0.0"):
    """A server with an empty store; port 0 picks a free port (see ``server_address``)."""
    handler = type("BoundHandler", (Handler,), {"store": Store()})
    return ThreadingHTTPServer((host, port), handler)


def main(argv):
    port = int(argv[1]) if len(argv) > 1 else 8080
    server = make_server(port)
    print(f"listening on port {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv)
