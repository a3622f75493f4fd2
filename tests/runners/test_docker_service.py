"""Service runs on the real Docker engine: a candidate's service, a client, and a network that reaches nothing else."""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import json
import os
import select
import socket
import time
import uuid

import docker.errors
import pytest

from engine.errors import RunnerError
from engine.models import ResourceLimits, RunSpec, Service, Step
from runners import docker as docker_backend
from runners.docker import service as service_module
from runners.docker.sandbox import Sandboxes

pytestmark = pytest.mark.docker

SERVER = b"""
import http.server, sys
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"pong from " + self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
print("serving", flush=True)
http.server.HTTPServer(("0.0.0.0", int(sys.argv[1])), Handler).serve_forever()
"""
FETCH = (
    "python3",
    "-c",
    "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=20).read().decode())",
)


def service_spec(
    workspace=None,
    *,
    argv=("python3", "-u", "server.py", "8080"),
    ready=10.0,
    client_steps=None,
    client_grader_files=None,
    client_workspace=None,
    limits=ResourceLimits(),
    client_limits=ResourceLimits(time_seconds=30),
    labels=None,
):
    client = RunSpec(
        environment="python",
        limits=client_limits,
        steps=client_steps if client_steps is not None else (Step((*FETCH, "http://candidate:8080/ping")),),
        grader_files=client_grader_files or {},
        workspace=client_workspace or {},
    )
    return RunSpec(
        environment="python",
        limits=limits,
        steps=(),
        workspace=workspace or {"server.py": SERVER},
        service=Service(tuple(argv), 8080, ready),
        client=client,
        labels=labels or {},
    )


def labelled(docker_client, label: str):
    filters = {"label": f"tasktrial.test={label}"}
    return (docker_client.containers.list(all=True, filters=filters), docker_client.networks.list(filters=filters))


def test_the_client_reaches_the_service_and_its_output_is_kept(docker_runner, docker_client):
    mark = uuid.uuid4().hex
    outcome = docker_runner.run(service_spec(labels={"tasktrial.test": mark}))

    assert outcome.service.ready and outcome.service.ready_seconds < 10
    assert outcome.service.exit_code is None, "still running until the run stopped it"
    assert outcome.client.steps[0].exit_code == 0
    assert outcome.client.steps[0].stdout == b"pong from /ping\n"
    assert outcome.service.stdout == b"serving\n"
    assert b'"GET /ping HTTP/1.1" 200' in outcome.service.stderr
    assert not outcome.timed_out and not outcome.oom_killed
    assert labelled(docker_client, mark) == ([], []), "containers and network are removed"


def test_a_service_that_exits_is_not_ready_and_the_client_does_not_run(docker_runner):
    spec = service_spec({"server.py": b"import sys\nprint('bad config', file=sys.stderr)\nsys.exit(3)\n"})
    outcome = docker_runner.run(spec)

    assert not outcome.service.ready
    assert outcome.service.exit_code == 3
    assert outcome.service.stderr == b"bad config\n"
    assert outcome.client.steps[0].exit_code is None
    assert b"never became ready" in outcome.client.steps[0].stderr


def test_a_service_that_never_listens_is_given_up_on_after_the_wait(docker_runner):
    began = time.monotonic()
    outcome = docker_runner.run(service_spec({"server.py": b"import time\ntime.sleep(600)\n"}, ready=3))

    assert not outcome.service.ready
    assert outcome.service.exit_code is None
    assert time.monotonic() - began < 3 + 20, "the readiness wait is bounded"
    assert outcome.client.steps[0].exit_code is None


def test_a_service_that_never_answers_makes_the_client_time_out(docker_runner):
    hang = b"import socket, time\ns = socket.socket()\ns.bind(('0.0.0.0', 8080))\ns.listen()\ntime.sleep(600)\n"
    spec = service_spec(
        {"server.py": hang},
        client_limits=ResourceLimits(time_seconds=3),
        client_steps=(Step((*FETCH, "http://candidate:8080/")),),
    )
    began = time.monotonic()
    outcome = docker_runner.run(spec)

    assert outcome.service.ready
    assert outcome.client.steps[0].timed_out
    assert outcome.timed_out, "a client cut short by the service counts as the run timing out"
    assert time.monotonic() - began < 3 + 25


def test_the_service_is_held_to_the_memory_limit(docker_runner):
    hog = b"blocks = []\nwhile True:\n    blocks.append(bytearray(16 * 1024 * 1024))\n"
    outcome = docker_runner.run(service_spec({"server.py": hog}, limits=ResourceLimits(memory_mb=64)))

    assert not outcome.service.ready
    assert outcome.oom_killed


def test_the_candidate_container_never_holds_the_client_files(docker_runner):
    secret = uuid.uuid4().hex.encode()
    look = b"""
import os, sys
found = [os.path.join(d, f) for d, _, fs in os.walk("/") if not d.startswith(("/proc", "/sys")) for f in fs
         if f == "hidden-checks.json"]
print("found:", found, "grader:", sorted(os.listdir("/grader")), flush=True)
exec(open("server.py").read())
"""
    spec = service_spec(
        {"look.py": look, "server.py": SERVER.replace(b"int(sys.argv[1])", b"8080")},
        argv=("python3", "-u", "look.py"),
        client_grader_files={"hidden-checks.json": secret},
        client_steps=(Step(("cat", "/grader/hidden-checks.json")), Step((*FETCH, "http://candidate:8080/"))),
    )
    outcome = docker_runner.run(spec)

    assert outcome.service.ready
    assert b"found: [] grader: []" in outcome.service.stdout
    assert outcome.client.steps[0].stdout == secret, "the client does hold them"


def _host_addresses(docker_client) -> list[str]:
    config = docker_client.networks.get("bridge").attrs["IPAM"]["Config"][0]
    addresses = [config.get("Gateway") or str(next(ipaddress.ip_network(config["Subnet"]).hosts()))]
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
        addresses.append(probe.getsockname()[0])
    except OSError:
        pass
    finally:
        probe.close()
    return addresses


PROBE = b"""
import socket, threading

def run(targets):
    \"\"\"Try each (host, port), plus this container's default gateway and a public DNS name.\"\"\"
    route = [line.split() for line in open("/proc/net/route").read().splitlines()[1:]]
    gateway = next(fields[2] for fields in route if fields[1] == "00000000")
    targets = [*targets, [socket.inet_ntoa(bytes.fromhex(gateway)[::-1]), targets[0][1]]]
    results = {}

    def attempt(host, port):
        try:
            socket.create_connection((host, port), timeout=4).close()
            results[host] = "reached"
        except OSError as exc:
            results[host] = type(exc).__name__

    threads = [threading.Thread(target=attempt, args=tuple(t)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        socket.getaddrinfo("deb.debian.org", 80)
        results["dns"] = "reached"
    except OSError as exc:
        results["dns"] = type(exc).__name__
    return results
"""
REPORT_PROBE = "import json, sys, probe; print(json.dumps(probe.run(json.loads(sys.argv[1]))), flush=True)"


def test_neither_container_reaches_the_host_or_beyond(docker_runner, docker_client):
    with socket.socket() as listener:
        listener.bind(("0.0.0.0", 0))
        listener.listen()
        targets = json.dumps(
            [[address, listener.getsockname()[1]] for address in _host_addresses(docker_client)] + [["1.1.1.1", 53]]
        )
        main = (REPORT_PROBE + "\nsys.argv = ['server.py', '8080']\nexec(open('server.py').read())\n").encode()
        spec = service_spec(
            {"server.py": SERVER, "probe.py": PROBE, "main.py": main},
            argv=("python3", "-u", "main.py", targets),
            ready=30,
            client_steps=(Step((*FETCH, "http://candidate:8080/")), Step(("python3", "-c", REPORT_PROBE, targets))),
            client_workspace={"probe.py": PROBE},
        )
        outcome = docker_runner.run(spec)
        accepted, _, _ = select.select([listener], [], [], 0)

    assert outcome.service.ready, outcome.service.stderr
    assert outcome.client.steps[0].stdout == b"pong from /\n", "the client reaches the service"
    from_candidate = json.loads(outcome.service.stdout.splitlines()[0])
    from_client = json.loads(outcome.client.steps[1].stdout)
    network_errors = {"ConnectionRefusedError", "OSError", "TimeoutError", "gaierror", "timeout"}
    for results in (from_candidate, from_client):
        assert len(results) == len(json.loads(targets)) + 2
        assert set(results.values()) <= network_errors, results
    assert not accepted, "the host's listener saw no connection"


def test_containers_and_network_are_removed_when_the_run_fails(docker_runner, docker_client, monkeypatch):
    mark = uuid.uuid4().hex

    def broken(api, candidate, client, spec, image_ids, started):
        assert labelled(docker_client, mark)[1], "the network exists during the run"
        raise RunnerError("injected failure")

    monkeypatch.setattr(service_module, "serve", broken)
    with pytest.raises(RunnerError, match="injected failure"):
        docker_runner.run(service_spec(labels={"tasktrial.test": mark}))
    assert labelled(docker_client, mark) == ([], [])


def test_reaping_a_dead_workers_sandboxes_removes_their_service_network_too(docker_client):
    """A worker that died mid service run leaves a private network beside its sandboxes: its successor takes both."""
    import os

    from runners import images

    host = f"test-host-{uuid.uuid4().hex[:8]}"
    run_id = uuid.uuid4().hex
    predecessor = docker_backend.DockerRunner(docker_client, owner=f"{host}:{os.getpid()}")
    network = predecessor._sandboxes.create_network(run_id, service_spec())
    container = predecessor._sandboxes.create(service_spec(), images.runtime_image("python").tag, run_id=run_id)
    try:
        successor = docker_backend.DockerRunner(docker_client, owner=f"{host}:{os.getpid()}")
        assert successor.reap_orphans(host=host) == 1
        assert docker_client.networks.list(filters={"label": f"tasktrial.run={run_id}"}) == []
    finally:
        for remove in (
            lambda: docker_client.api.remove_container(container, force=True),
            lambda: docker_client.api.remove_network(network),
        ):
            with contextlib.suppress(docker.errors.APIError):  # already removed by reaping, as it should be
                remove()


def test_a_dead_workers_network_without_sandboxes_is_reaped_and_a_live_ones_kept(docker_client):
    """Killed between making the network and its sandboxes, a worker leaves a network no sandbox names."""
    host = f"test-host-{uuid.uuid4().hex[:8]}"
    dead = docker_backend.DockerRunner(docker_client, owner=f"{host}:{_a_dead_pid()}")
    live = docker_backend.DockerRunner(docker_client, owner=f"{host}:1")  # pid 1 is alive
    orphan = dead._sandboxes.create_network(uuid.uuid4().hex, service_spec())
    kept = live._sandboxes.create_network(uuid.uuid4().hex, service_spec())
    try:
        successor = docker_backend.DockerRunner(docker_client, owner=f"{host}:{os.getpid()}")
        assert successor.reap_orphans(host=host) == 0  # no container: only the network went
        remaining = {n.id for n in docker_client.networks.list(filters={"label": docker_backend.OWNER_LABEL})}
        assert orphan not in remaining and kept in remaining
    finally:
        for network in (orphan, kept):
            with contextlib.suppress(docker.errors.APIError):  # the orphan is already gone, as it should be
                docker_client.api.remove_network(network)


def _a_dead_pid() -> int:
    """The pid of a process that has ended (and been waited for)."""
    import subprocess

    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_runs_without_a_service_still_have_no_network(docker_runner):
    spec = RunSpec(
        environment="python",
        limits=ResourceLimits(),
        steps=(Step(("python3", "-c", "import socket; print(socket.if_nameindex())")),),
    )
    outcome = docker_runner.run(spec)
    assert outcome.steps[0].stdout.strip() == b"[(1, 'lo')]"
    assert outcome.service is None and outcome.client is None


def test_warm_service_runs_take_fresh_sandboxes_started_ahead_and_leave_nothing(docker_client):
    """Trios (network, candidate, client) started ahead: each run still gets its own, and close() removes the spare."""
    runner = docker_backend.DockerRunner(docker_client, warm=1)
    try:
        spec = service_spec(
            client_steps=(
                Step(("sh", "-c", ("cat /tmp/left-behind 2>/dev/null; hostname; echo x > /tmp/left-behind"))),
            )
        )
        outcomes = [runner.run(spec) for _ in range(3)]
        clients = [o.client.steps[0].stdout.strip().splitlines() for o in outcomes]
        assert all(len(lines) == 1 for lines in clients), clients  # only the host name: no file of a previous run
        assert len({lines[-1] for lines in clients}) == 3, "every run gets its own client sandbox"
        assert all(o.service is not None and o.service.ready for o in outcomes)
    finally:
        runner.close()  # the autouse fixture then proves no sandbox or network is left


def test_a_loopback_service_run_makes_no_network_and_its_sandboxes_share_a_bare_loopback(docker_runner, docker_client):
    """The pytest kind's shape: the candidate joins the client's network namespace, which holds a loopback alone."""
    mark = uuid.uuid4().hex
    interfaces = ("python3", "-c", "import socket; print(socket.if_nameindex())")
    spec = service_spec(
        labels={"tasktrial.test": mark}, client_steps=(Step((*FETCH, "http://candidate:8080/ping")), Step(interfaces))
    )
    spec = dataclasses.replace(spec, service=dataclasses.replace(spec.service, loopback=True))
    seen: list = []
    real_serve = service_module.serve

    def serve(api, candidate, client, spec, image_ids, started):
        run = docker_client.api.inspect_container(candidate)["Config"]["Labels"]["tasktrial.run"]
        filters = {"label": f"tasktrial.run={run}"}
        seen.append(
            (
                {c.id for c in docker_client.containers.list(all=True, filters=filters)},
                docker_client.networks.list(filters=filters),
                {candidate, client},
            )
        )
        return real_serve(api, candidate, client, spec, image_ids, started)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(service_module, "serve", serve)
        outcome = docker_runner.run(spec)

    containers, networks, pair = seen[0]
    assert containers == pair and networks == [], "two sandboxes, no network of the run's own"
    assert outcome.service.ready and outcome.client.steps[0].stdout == b"pong from /ping\n"
    assert outcome.client.steps[1].stdout.strip() == b"[(1, 'lo')]"
    assert labelled(docker_client, mark) == ([], [])


def test_a_loopback_run_whose_candidate_sandbox_cannot_start_fails_as_the_engines_fault_and_leaves_nothing(
    docker_runner, docker_client, monkeypatch
):
    """Made on the run's path, the client's sandbox starts first and its step runs while the candidate's starts:
    when that start fails the run raises (an engine fault, retried), and the client's sandbox goes too."""
    real_create = Sandboxes.create

    def create(self, spec, image, **options):
        if options.get("joins"):
            raise RunnerError("injected failure")
        return real_create(self, spec, image, **options)

    mark = uuid.uuid4().hex
    spec = service_spec(client_steps=(Step(("sleep", "20")),))
    spec = dataclasses.replace(
        spec,
        service=dataclasses.replace(spec.service, probe=False, loopback=True),
        client=dataclasses.replace(spec.client, labels={"tasktrial.test": mark}),
    )
    monkeypatch.setattr(Sandboxes, "create", create)
    began = time.monotonic()
    with pytest.raises(RunnerError, match="injected failure"):
        docker_runner.run(spec)
    assert time.monotonic() - began < 15, "the client's step is stopped, not waited for"
    assert labelled(docker_client, mark) == ([], []), "the client's sandbox is removed"


def slow_copies(monkeypatch, seconds=1.5):
    """The service's files start to arrive ``seconds`` late: its client has ended by then."""
    real_feed = service_module.feed

    def feed(sock, data):
        time.sleep(seconds)
        real_feed(sock, data)

    monkeypatch.setattr(service_module, "feed", feed)


def test_a_loopback_run_whose_candidate_files_do_not_fit_fails_as_the_engines_fault(docker_runner, monkeypatch):
    """The candidate's files ride in its service's exec: a copy that fails is the engine's fault, never a
    verdict, even when the client ended before the copy did (stopping the service then hid the failure)."""
    slow_copies(monkeypatch)
    spec = service_spec(
        {"big.bin": b"x" * (3 * 1024 * 1024)}, limits=ResourceLimits(disk_mb=1), client_steps=(Step(("true",)),)
    )
    spec = dataclasses.replace(spec, service=dataclasses.replace(spec.service, probe=False, loopback=True))
    with pytest.raises(RunnerError, match="copying files into the sandbox failed"):
        docker_runner.run(spec)


def test_a_client_that_ends_before_the_services_copy_leaves_only_the_services_own_output(docker_runner, monkeypatch):
    """The copy's report is the engine's: the service's stderr holds what the candidate's program wrote."""
    slow_copies(monkeypatch)
    spec = service_spec(
        {"server.py": b"import sys; print('up', file=sys.stderr, flush=True); import time; time.sleep(30)"},
        client_steps=(Step(("true",)),),
    )
    spec = dataclasses.replace(spec, service=dataclasses.replace(spec.service, probe=False, loopback=True))
    outcome = docker_runner.run(spec)
    assert outcome.client is not None and outcome.client.steps[0].exit_code == 0
    assert outcome.service is not None and b"tasktrial-copy-" not in outcome.service.stderr
