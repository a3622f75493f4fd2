"""Public examples: run with ``python3 -m pytest`` in this folder. The hidden checks are many more."""

import json
import threading
import urllib.error
import urllib.request

import pytest

from server import make_server


@pytest.fixture
def base_url():
    server = make_server(0, host="127.0.0.1")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def call(method, url, payload=None):
    """``(status, headers, parsed JSON body or None)``; error statuses are answers too, not exceptions."""
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            status, headers, body = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, headers, body = error.code, error.headers, error.read()
    return status, headers, json.loads(body) if body else None


def test_create_then_fetch(base_url):
    status, headers, item = call("POST", f"{base_url}/items", {"name": "Desk lamp", "price": 24.5})
    assert status == 201
    assert item == {"id": 1, "name": "Desk lamp", "price": 24.5, "tags": []}
    assert headers["Location"] == "/items/1"
    assert call("GET", f"{base_url}/items/1")[2] == item


def test_pages(base_url):
    for name in ("a", "b", "c"):
        call("POST", f"{base_url}/items", {"name": name, "price": 1})
    status, _, page = call("GET", f"{base_url}/items?limit=2&offset=2")
    assert status == 200
    assert page == {"items": [{"id": 3, "name": "c", "price": 1, "tags": []}], "total": 3, "limit": 2, "offset": 2}


def test_rejects_a_negative_price(base_url):
    status, _, body = call("POST", f"{base_url}/items", {"name": "x", "price": -1})
    assert (status, body) == (422, {"error": "invalid_field", "field": "price"})
