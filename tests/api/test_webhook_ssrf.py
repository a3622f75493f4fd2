"""Webhooks never reach the server's own network: loopback, private, link-local (cloud metadata) and other
non-public addresses are refused at registration (422) and again at every delivery (DNS rebinding)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine import webhooks as standard
from tests.api.cohort_helpers import attempt, setup
from tests.api.conftest import Api, make_api
from tests.api.helpers import work
from tests.api.test_webhooks import Receiver, receiver  # noqa: F401  (a fixture)

PUBLIC = "93.184.215.14"


@pytest.fixture
def api(tmp_path, small_catalogue) -> Iterator[Api]:
    """The production default: webhooks to public addresses only."""
    yield from make_api(tmp_path / "data", catalogue_dirs=[small_catalogue], webhook_allow_private=False)


class Dns:
    """The resolver seam: answers what the test says, as a rebinding attacker's DNS server would."""

    def __init__(self, answers: dict[str, list[str]]):
        self.answers = answers
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host not in self.answers:
            raise OSError(f"no such host {host}")
        return self.answers[host]


@pytest.mark.parametrize(
    "url, address",
    [
        ("http://127.0.0.1:9/hook", "127.0.0.1"),
        ("http://localhost/hook", "127.0.0.1"),
        ("http://2130706433/hook", "127.0.0.1"),  # 127.0.0.1 as one number
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("http://10.1.2.3/hook", "10.1.2.3"),
        ("http://192.168.0.10/hook", "192.168.0.10"),
        ("http://100.64.0.1/hook", "100.64.0.1"),
        ("http://0.0.0.0/hook", "0.0.0.0"),
        ("http://[::1]/hook", "::1"),
        ("http://[::ffff:127.0.0.1]/hook", "::ffff:127.0.0.1"),
        ("http://[fe80::1]/hook", "fe80::1"),
    ],
)
def test_registering_a_non_public_address_is_422_naming_it(api, url, address):
    made, test, organiser, alice = setup(api)
    response = api.client.post(
        f"/v1/cohorts/{made['id']}/webhooks", headers=organiser, json={"url": url, "events": ["result.created"]}
    )
    assert response.status_code == 422, response.text
    assert address in response.json()["detail"] and "public addresses only" in response.json()["detail"]
    assert api.client.get(f"/v1/cohorts/{made['id']}/webhooks", headers=organiser).json()["count"] == 0


def test_a_host_that_does_not_resolve_is_422(api):
    made, test, organiser, alice = setup(api)
    response = api.client.post(
        f"/v1/cohorts/{made['id']}/webhooks",
        headers=organiser,
        json={"url": "http://no-such-host.invalid/hook", "events": ["result.created"]},
    )
    assert response.status_code == 422 and "does not resolve" in response.json()["detail"]


def test_a_host_rebound_to_loopback_after_registration_is_refused_at_delivery(api, receiver):  # noqa: F811
    dns = Dns({"hooks.example.com": [PUBLIC]})
    api.service.webhooks._resolve = dns
    made, test, organiser, alice = setup(api)
    url = f"http://hooks.example.com:{receiver.port}/hook"
    made_hook = api.client.post(
        f"/v1/cohorts/{made['id']}/webhooks", headers=organiser, json={"url": url, "events": ["result.created"]}
    )
    assert made_hook.status_code == 201, made_hook.text
    dns.answers["hooks.example.com"] = ["127.0.0.1"]  # the attacker's DNS answers differently now
    work(api, attempt(api, alice, test["id"]).json()["run_id"])
    assert api.service.webhooks.deliver_due() == 1
    assert receiver.received == []  # nothing reached the loopback
    log = api.client.get(f"/v1/webhooks/{made_hook.json()['id']}/deliveries", headers=organiser).json()["data"]
    assert log[0]["state"] == "pending"  # retried later, in case the host is public again
    assert log[0]["tries"][0]["error"].startswith("refused:") and "127.0.0.1" in log[0]["tries"][0]["error"]


def test_a_delivery_connects_to_the_address_it_checked(tmp_path, small_catalogue, receiver):  # noqa: F811
    """No second lookup: the request goes to the checked address, the host name rides in the Host header."""
    for api in make_api(tmp_path / "data", catalogue_dirs=[small_catalogue], webhook_allow_private=True):
        dns = Dns({"hooks.example.com": ["127.0.0.1"]})
        api.service.webhooks._resolve = dns
        made, test, organiser, alice = setup(api)
        url = f"http://hooks.example.com:{receiver.port}/hook"
        assert (
            api.client.post(
                f"/v1/cohorts/{made['id']}/webhooks", headers=organiser, json={"url": url, "events": ["result.created"]}
            ).status_code
            == 201
        )
        work(api, attempt(api, alice, test["id"]).json()["run_id"])
        assert api.service.webhooks.deliver_due() == 1
        headers, _ = receiver.received[0]
        assert headers["host"] == f"hooks.example.com:{receiver.port}"
        assert dns.asked == ["hooks.example.com", "hooks.example.com"]  # at registration, and at delivery


@pytest.mark.parametrize(
    "address, problem",
    [
        ("8.8.8.8", None),
        ("2606:4700::1111", None),
        ("127.0.0.2", "loopback"),
        ("169.254.169.254", "link-local"),
        ("fd00:ec2::254", "private"),
        ("172.16.5.4", "private"),
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("224.0.0.1", "multicast"),
        ("::", "unspecified"),
    ],
)
def test_address_problem(address, problem):
    found = standard.address_problem(address)
    assert (found is None) if problem is None else (found is not None and found.startswith(problem))
