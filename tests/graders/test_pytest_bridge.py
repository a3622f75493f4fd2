"""The pytest bridge: the candidate's module in another process, used through proxies, and a hostile peer.

The candidate's side runs as a real separate process (``pytest_bridge.py serve``) on a local port;
the hostile-peer tests speak the wire protocol by hand over a socket pair.
"""

from __future__ import annotations

import datetime
import importlib.util
import inspect
import json
import math
import socket
import subprocess
import sys
import textwrap
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest

HARNESS = Path(__file__).resolve().parents[2] / "graders" / "harness" / "pytest_bridge.py"
spec = importlib.util.spec_from_file_location("tasktrial_bridge_under_test", HARNESS)
assert spec is not None and spec.loader is not None
bridge_module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bridge_module)

CANDIDATE = textwrap.dedent("""
    import decimal

    LIMIT = 100

    class InvalidThing(ValueError):
        def __init__(self, message, code):
            super().__init__(message)
            self.code = code

    class Box:
        def __init__(self, items):
            self.items = items
        def first(self):
            return self.items[0]
        def __len__(self):
            return len(self.items)
        def __eq__(self, other):
            return isinstance(other, Box) and other.items == self.items
        def __add__(self, other):
            return Box(self.items + [other])
        def __radd__(self, other):
            return Box([other] + self.items)

    def echo(value):
        return value

    def mutate(order):
        order["seen"] = True
        order["lines"].append("x")
        return None

    def same(value):
        return value

    def call_back(fn, *args):
        return fn(*args)

    def consume(iterable):
        return [item * 2 for item in iterable]

    def fail(code):
        raise InvalidThing("bad thing", code)

    def passes_through(fn):
        try:
            fn()
        except OSError:
            raise

    def signature_of(a, b=2, *, c, **rest):
        return a

    def reach(fn, name):
        return getattr(fn, name)

    def reach_globals(fn):
        return fn.__globals__
""")


@pytest.fixture(scope="module")
def remote(tmp_path_factory):
    """The candidate's module ``cand``, served by a real bridge process; yields the grader's bridge."""
    workspace = tmp_path_factory.mktemp("workspace")
    (workspace / "cand.py").write_text(CANDIDATE)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-I", str(HARNESS), "serve", str(port), str(workspace)])
    try:
        for _ in range(100):
            try:
                bridge = bridge_module.connect("127.0.0.1", port)
                break
            except OSError:
                time.sleep(0.05)
        else:
            pytest.fail("the bridge never listened")
        yield bridge
        bridge.close()
    finally:
        server.kill()
        server.wait()


@pytest.fixture(scope="module")
def cand(remote):
    return remote.remote_module("cand")


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        0,
        -7,
        2**80,
        1.5,
        math.inf,
        -math.inf,
        "héllo",
        b"\x00\xff",
        (1, (2, "x")),
        frozenset({1, 2}),
        {1, 2, 3},
        {"a": [1, {"b": None}]},
        {(1, 2): "tuple key", 3: "int key"},
        Decimal("1.10"),
        datetime.datetime(2026, 3, 1, 10, 0),  # noqa: DTZ001 - a naive datetime must cross as one too
        datetime.date(2026, 3, 1),
        datetime.timedelta(seconds=90),
        2 + 3j,
    ],
)
def test_values_cross_by_value_with_their_types(cand, value):
    back = cand.echo(value)
    assert back == value and type(back) is type(value)


def test_nan_crosses(cand):
    assert math.isnan(cand.echo(math.nan))


def test_a_module_constant_and_a_missing_attribute(cand):
    assert cand.LIMIT == 100
    with pytest.raises(AttributeError):
        cand.nothing_here  # noqa: B018


def test_the_callees_changes_to_its_arguments_come_back_in_place(cand):
    lines = ["a"]
    order = {"lines": lines}
    assert cand.mutate(order) is None
    assert order == {"lines": ["a", "x"], "seen": True} and order["lines"] is lines


def test_an_argument_returned_is_the_callers_own_object(cand):
    items = [{"id": 1}, {"id": 2}]
    back = cand.same(items)
    assert back is items and back[0] is items[0]


def test_a_candidate_class_instance_is_a_proxy(cand):
    box = cand.Box([3, 4])
    assert len(box) == 2 and box.first() == 3 and box.items == [3, 4]
    assert isinstance(box, cand.Box)
    assert box == cand.Box([3, 4])
    assert (box + 5).items == [3, 4, 5] and (1 + box).items == [1, 3, 4]


def test_callbacks_and_iterators_are_called_back(cand):
    calls = []
    assert cand.call_back(lambda x: calls.append(x) or x + 1, 41) == 42
    assert calls == [41]
    assert cand.consume(n for n in range(3)) == [0, 2, 4]


def test_a_candidates_exception_is_a_mirror_of_its_class(cand):
    with pytest.raises(cand.InvalidThing) as raised:
        cand.fail(7)
    assert isinstance(raised.value, ValueError) and issubclass(cand.InvalidThing, ValueError)
    assert str(raised.value) == "bad thing" and raised.value.code == 7


def test_the_tests_own_exception_comes_back_as_the_same_object(cand):
    last = TimeoutError("third")

    def fn():
        raise last

    with pytest.raises(TimeoutError) as raised:
        cand.passes_through(fn)
    assert raised.value is last


def test_signature_crosses(cand):
    parameters = inspect.signature(cand.signature_of).parameters
    assert list(parameters) == ["a", "b", "c", "rest"]
    assert parameters["b"].default == 2 and parameters["c"].kind is inspect.Parameter.KEYWORD_ONLY


@pytest.mark.parametrize("name", ["__globals__", "__code__", "__dict__", "__closure__", "__defaults__", "_private"])
def test_the_candidate_cannot_reach_into_the_tests_objects(cand, name):
    def callback():
        return 1

    with pytest.raises(AttributeError):
        cand.reach(callback, name)
    with pytest.raises(AttributeError):
        cand.reach_globals(callback)


def test_the_candidate_cannot_reach_a_generators_frame(cand):
    generator = (n for n in range(3))
    with pytest.raises(AttributeError):
        cand.reach(generator, "gi_frame")


# -- a hostile peer, by hand ------------------------------------------------------------------------


OPEN: list[socket.socket] = []


@pytest.fixture(autouse=True)
def _close_sockets():
    yield
    while OPEN:
        OPEN.pop().close()


def answering(*answers):
    """A guarded bridge whose peer reads each request and sends the next crafted line."""
    ours, theirs = socket.socketpair()
    OPEN.extend((ours, theirs))

    def peer():
        try:
            with theirs.makefile("rb") as reader:
                for answer in answers:
                    if not reader.readline():
                        break
                    theirs.sendall(answer if isinstance(answer, bytes) else json.dumps(answer).encode() + b"\n")
            theirs.shutdown(socket.SHUT_WR)  # then the peer goes away
        except OSError:
            pass  # the test ended and closed both ends first

    threading.Thread(target=peer, daemon=True).start()
    bridge = bridge_module.Bridge(ours.makefile("rb"), ours.makefile("wb"), guarded=True, sock=ours)
    OPEN.append(bridge)
    return bridge


@pytest.mark.parametrize(
    "answer",
    [
        b"not json\n",
        b"[1, 2]\n",
        {"r": {"$o": 12345}},
        {"r": {"$B": "eval"}},
        {"r": {"$B": "__import__"}},
        {"r": {"$v": "os.system", "s": "id"}},
        {"r": {"$r": ["n", 1]}},
        {"r": {"unknown": 1}},
        {"e": 5},
        {"e": {"$e": {"$B": "int"}, "args": [], "s": "", "n": 1}},
        {"r": None, "sync": [[99, []]]},
    ],
)
def test_a_malformed_answer_is_a_protocol_error(answer):
    bridge = answering(answer)
    with pytest.raises(bridge_module.ProtocolError):
        bridge.request("import", "anything")


def test_an_answer_over_the_cap_is_refused(monkeypatch):
    monkeypatch.setattr(bridge_module, "MESSAGE_CAP", 100)
    bridge = answering(json.dumps({"r": "x" * 500}).encode() + b"\n")
    with pytest.raises(bridge_module.ProtocolError):
        bridge.request("import", "anything")


def test_a_peer_that_goes_away_is_a_protocol_error():
    bridge = answering()
    with pytest.raises(bridge_module.ProtocolError):
        bridge.request("import", "anything")


def test_a_candidate_exception_class_named_like_pytests_is_a_new_class():
    crafted = {
        "e": {
            "$e": {"$h": 1, "name": "Skipped", "cls": True, "bases": [{"$B": "BaseException"}]},
            "args": ["skip me"],
            "s": "skip me",
            "n": 2,
        }
    }
    bridge = answering(crafted)
    with pytest.raises(BaseException) as raised:
        bridge.request("import", "anything")
    assert not isinstance(raised.value, pytest.skip.Exception)
    assert type(raised.value).__module__ == "candidate"


def test_pytests_own_names_are_never_asked_of_the_candidate():
    bridge = answering({"r": True})
    proxy = bridge.decode({"$h": 1, "name": "retry"})
    for name in ("__test__", "pytestmark", "_pytestfixturefunction", "__wrapped__"):
        with pytest.raises(AttributeError):
            getattr(proxy, name)
