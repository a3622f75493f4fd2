"""The access rules of every cohort route, for each standing: the cohort's organiser, staff and member,
another cohort's organiser, staff and member, a bystander of each role, and no token."""

from __future__ import annotations

import pytest

from api.tables import Role
from tests.api.cohort_helpers import assessment, cohort, member, when

AUTHORS = {Role.AUTHOR, Role.ADMIN}
PEOPLE = {Role.CANDIDATE, Role.AUTHOR, Role.REVIEWER, Role.ADMIN}
# (method, path, roles admitted by role alone) for the generic table in test_access.py.
COHORT_RULES = [
    ("POST", "/v1/cohorts", AUTHORS),
    ("GET", "/v1/cohorts", PEOPLE),
    ("GET", "/v1/cohorts/{cohort_id}", PEOPLE),
    ("POST", "/v1/cohorts/{cohort_id}/staff", AUTHORS),
    ("POST", "/v1/cohorts/{cohort_id}/members", AUTHORS),
    ("GET", "/v1/cohorts/{cohort_id}/members", PEOPLE),
    ("POST", "/v1/cohorts/{cohort_id}/members/{subject}/invitation", AUTHORS),
    ("POST", "/invitations/redeem", "page"),
    ("POST", "/v1/cohorts/{cohort_id}/assessments", AUTHORS),
    ("GET", "/v1/assessments", PEOPLE),
    ("GET", "/v1/assessments/{assessment_id}", PEOPLE),
    ("POST", "/v1/assessments/{assessment_id}/start", PEOPLE),
    ("GET", "/v1/assessments/{assessment_id}/dashboard", PEOPLE),
    ("GET", "/v1/assessments/{assessment_id}/matrix", PEOPLE),
    ("GET", "/v1/assessments/{assessment_id}/hiring", PEOPLE),
    ("GET", "/v1/assessments/{assessment_id}/plots/{kind}.svg", PEOPLE),
    ("POST", "/v1/assessments/{assessment_id}/regrade", AUTHORS),
    ("GET", "/v1/regrades/{regrade_id}", PEOPLE),
    ("GET", "/v1/assessments/{assessment_id}/similarity", PEOPLE),
    ("GET", "/v1/assessments/{assessment_id}/similarity/{a}/{b}", PEOPLE),
    ("POST", "/v1/cohorts/{cohort_id}/webhooks", AUTHORS),
    ("GET", "/v1/cohorts/{cohort_id}/webhooks", AUTHORS),
    ("GET", "/v1/webhooks/{endpoint_id}/deliveries", AUTHORS),
    ("POST", "/v1/webhooks/deliveries/{delivery_id}/redeliver", AUTHORS),
    ("GET", "/v1/reviews", PEOPLE),
    ("GET", "/v1/reviews/{review_id}", PEOPLE),
    ("POST", "/v1/reviews/{review_id}", PEOPLE),
]

# What each standing gets from each cohort route of cohort A: "ok" (2xx) or a status.
# Columns: organiser, staff, member, other organiser, other staff, other member.
STANDINGS = ["organiser", "staff", "member", "other_organiser", "other_staff", "other_member"]
MATRIX = {
    ("GET", "/v1/cohorts/{cohort_id}"): ["ok", "ok", "ok", 404, 404, 404],
    ("POST", "/v1/cohorts/{cohort_id}/staff"): ["ok", 403, 403, 404, 403, 403],
    ("POST", "/v1/cohorts/{cohort_id}/members"): ["ok", 403, 403, 404, 403, 403],
    ("GET", "/v1/cohorts/{cohort_id}/members"): ["ok", "ok", 404, 404, 404, 404],
    ("POST", "/v1/cohorts/{cohort_id}/members/{subject}/invitation"): ["ok", 403, 403, 404, 403, 403],
    ("POST", "/v1/cohorts/{cohort_id}/assessments"): ["ok", 403, 403, 404, 403, 403],
    ("GET", "/v1/assessments/{assessment_id}"): ["ok", "ok", "ok", 404, 404, 404],
    ("POST", "/v1/assessments/{assessment_id}/start"): [404, 404, "ok", 404, 404, 404],
    ("GET", "/v1/assessments/{assessment_id}/dashboard"): ["ok", "ok", 404, 404, 404, 404],
    ("GET", "/v1/assessments/{assessment_id}/matrix"): ["ok", "ok", 404, 404, 404, 404],
    ("GET", "/v1/assessments/{assessment_id}/hiring"): ["ok", "ok", 404, 404, 404, 404],
    ("GET", "/v1/assessments/{assessment_id}/plots/{kind}.svg"): ["ok", "ok", 404, 404, 404, 404],
    ("POST", "/v1/assessments/{assessment_id}/regrade"): ["ok", 403, 403, 404, 403, 403],
    ("GET", "/v1/regrades/{regrade_id}"): ["ok", "ok", 404, 404, 404, 404],
    ("GET", "/v1/assessments/{assessment_id}/similarity"): ["ok", "ok", 404, 404, 404, 404],
    ("POST", "/v1/cohorts/{cohort_id}/webhooks"): ["ok", 403, 403, 404, 403, 403],
    ("GET", "/v1/cohorts/{cohort_id}/webhooks"): ["ok", 403, 403, 404, 403, 403],
    ("GET", "/v1/webhooks/{endpoint_id}/deliveries"): ["ok", 403, 403, 404, 403, 403],
    ("POST", "/v1/webhooks/deliveries/{delivery_id}/redeliver"): ["ok", 403, 403, 404, 403, 403],
}


def cohort_ids(api) -> dict[str, str]:
    """A cohort (organised by ``olga``, member ``alice``) with a timed, open assessment."""
    organiser = api.token(Role.AUTHOR, "olga")
    made = cohort(api, organiser)
    test = assessment(api, organiser, made["id"], duration_seconds=600)
    return {
        "cohort_id": made["id"],
        "assessment_id": test["id"],
        "subject": "alice",
        "kind": "scores",
        "review_id": "no-such-review",
        "regrade_id": "no-such-regrade",
        "a": "x",
        "b": "y",
        "endpoint_id": "no-such-endpoint",
        "delivery_id": "no-such-delivery",
    }


def body(template: str) -> dict | None:
    if template == "/v1/cohorts":
        return {"json": {"name": "c"}}
    if template.endswith("/staff"):
        return {"json": {"subject": "rita"}}
    if template.endswith("/members"):
        return {
            "content": b"subject,display_name,email\nnew,New,new@example.org\n",
            "headers": {"content-type": "text/csv"},
        }
    if template.endswith("/redeem"):
        return {"json": {"invitation": "tt_no-such-invitation"}}
    if template.endswith("/webhooks"):
        return {"json": {"url": "http://127.0.0.1:9/hook", "events": ["result.created"]}}
    if template.endswith("/regrade"):
        return {"json": {}}
    if template == "/v1/reviews/{review_id}":
        return {"json": {"scores": {"x": 1}}}
    if template.endswith("/hiring"):
        return {"params": {"skill": "python.x"}}
    if template.endswith("/assessments"):
        return {
            "json": {
                "title": "t",
                "tasks": [{"task": "python-foundations/retry-backoff"}],
                "opens_at": when(hours=-1),
                "closes_at": when(hours=1),
            }
        }
    return None


@pytest.fixture
def two_cohorts(api):
    olga, oscar = api.token(Role.AUTHOR, "olga"), api.token(Role.AUTHOR, "oscar")
    mine = cohort(api, olga)
    theirs = cohort(api, oscar, "subject,display_name,email\nzoe,Zoe,zoe@example.org\n", name="Other")
    for organiser, made, staff in ((olga, mine, "rita"), (oscar, theirs, "rex")):
        assert (
            api.client.post(f"/v1/cohorts/{made['id']}/staff", headers=organiser, json={"subject": staff}).status_code
            == 201
        )
    test = assessment(api, olga, mine["id"], duration_seconds=600)
    people = {
        "organiser": olga,
        "staff": api.token(Role.REVIEWER, "rita"),
        "member": member(api, mine["invitations"]["alice"]),
        "other_organiser": oscar,
        "other_staff": api.token(Role.REVIEWER, "rex"),
        "other_member": member(api, theirs["invitations"]["zoe"]),
    }
    regrade = api.client.post(f"/v1/assessments/{test['id']}/regrade", headers=olga, json={}).json()
    endpoint = api.client.post(
        f"/v1/cohorts/{mine['id']}/webhooks",
        headers=olga,
        json={"url": "http://127.0.0.1:9/hook", "events": ["result.created"]},
    ).json()
    api.service.webhooks.emit(cohort_id=mine["id"], event_type="result.created", data={})
    delivery = api.service.webhooks.deliveries(endpoint_id=endpoint["id"])[0][0]
    return {
        "cohort_id": mine["id"],
        "assessment_id": test["id"],
        "subject": "alice",
        "kind": "readiness",
        "regrade_id": regrade["id"],
        "endpoint_id": endpoint["id"],
        "delivery_id": delivery.id,
    }, people


@pytest.mark.parametrize(("method", "template"), list(MATRIX), ids=[f"{m} {p}" for m, p in MATRIX])
@pytest.mark.parametrize("who", STANDINGS)
def test_each_standing_in_a_cohort(api, two_cohorts, method, template, who):
    ids, people = two_cohorts
    expected = MATRIX[(method, template)][STANDINGS.index(who)]
    extra = body(template) or {}
    headers = {**people[who], **extra.pop("headers", {})}
    response = api.client.request(method, template.format(**ids), headers=headers, **extra)
    if expected == "ok":
        assert response.status_code < 300, response.text
    else:
        assert response.status_code == expected, response.text


def test_no_token_is_401_on_every_cohort_route(api):
    for method, template, admitted in COHORT_RULES:
        if admitted == "page":
            continue
        path = template.format(
            cohort_id="c",
            assessment_id="a",
            subject="s",
            kind="scores",
            review_id="r",
            regrade_id="g",
            a="x",
            b="y",
            endpoint_id="e",
            delivery_id="d",
        )
        assert api.client.request(method, path).status_code == 401, path
