"""The published OpenAPI document describes every /v1 route as it behaves.

schemathesis is not installed, so the document is checked against the app's
own routes and against the statuses the behaviour tests observe.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections import Counter

import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute

from api import routes as route_package
from tests.api.test_cohort_access import COHORT_RULES

V1_OPERATIONS = {
    ("get", "/v1/packs"),
    ("post", "/v1/packs"),
    ("get", "/v1/packs/{pack_id}"),
    ("get", "/v1/tasks"),
    ("get", "/v1/tasks/{pack_id}/{task_id}"),
    ("get", "/v1/tasks/{pack_id}/{task_id}/starter.tar.gz"),
    ("get", "/v1/tasks/{pack_id}/{task_id}/starter.zip"),
    ("post", "/v1/tasks/{pack_id}/{task_id}/public-tests"),
    ("post", "/v1/submissions"),
    ("get", "/v1/submissions"),
    ("get", "/v1/submissions/{submission_id}"),
    ("get", "/v1/submissions/{submission_id}/result"),
    ("get", "/v1/submissions/{submission_id}/events"),
    ("get", "/v1/results/{result_id}"),
    ("get", "/v1/profile"),
    ("get", "/v1/candidates/{candidate}/profile"),
    ("post", "/v1/runs/{run_id}/claim"),
    ("post", "/v1/runs/{run_id}/progress"),
    ("post", "/v1/runs/{run_id}/release"),
    ("post", "/v1/runs/{run_id}/result"),
    ("post", "/v1/runs/{run_id}/fail"),
    ("post", "/v1/public-test-jobs/{job_id}/claim"),
    ("post", "/v1/public-test-jobs/{job_id}/outcome"),
    ("get", "/v1/admin/tokens"),
    ("delete", "/v1/admin/tokens/{token_id}"),
    ("get", "/v1/results/{result_id}/inclusion"),
    ("post", "/v1/credentials/definitions"),
    ("get", "/v1/credentials/definitions"),
    ("get", "/v1/credentials"),
    ("get", "/v1/credentials/{award_id}"),
    ("get", "/v1/credentials/{award_id}/ob3"),
    ("post", "/v1/credentials/{award_id}/revoke"),
    ("get", "/v1/authoring/packs"),
    ("get", "/v1/packs/{pack_id}/versions"),
    ("get", "/v1/packs/{pack_id}/versions/{version}"),
    ("post", "/v1/packs/{pack_id}/versions/{version}/retire"),
    ("get", "/v1/packs/{pack_id}/stats"),
    ("get", "/v1/pack-checks/{version_id}"),
    ("post", "/v1/pack-checks/{version_id}"),
    *((method.lower(), path) for method, path, _ in COHORT_RULES if path.startswith("/v1")),
}

# Statuses the behaviour tests in this folder observe, beyond authentication (401/403).
DOCUMENTED = {
    ("post", "/v1/packs"): {"200", "201", "409", "413", "422"},
    ("post", "/v1/submissions"): {"202", "404", "409", "413", "415", "422", "429"},
    ("get", "/v1/submissions/{submission_id}/events"): {"200", "429"},
    ("delete", "/v1/admin/tokens/{token_id}"): {"200", "404"},
    ("post", "/v1/packs/{pack_id}/versions/{version}/retire"): {"200", "409"},
    ("post", "/v1/pack-checks/{version_id}"): {"200", "409"},
    ("post", "/v1/tasks/{pack_id}/{task_id}/public-tests"): {"200", "404", "415", "422", "429"},
    ("post", "/v1/runs/{run_id}/claim"): {"200", "409"},
    ("post", "/v1/runs/{run_id}/progress"): {"200", "409"},
    ("post", "/v1/runs/{run_id}/release"): {"200", "409"},
    ("post", "/v1/runs/{run_id}/result"): {"200", "201", "409", "422"},
    ("post", "/v1/runs/{run_id}/fail"): {"201", "409"},
    ("post", "/v1/public-test-jobs/{job_id}/claim"): {"200", "409"},
    ("post", "/v1/public-test-jobs/{job_id}/outcome"): {"200", "409"},
}


@pytest.fixture
def document(api) -> dict:
    response = api.client.get("/openapi.json")  # public: no token
    assert response.status_code == 200
    return response.json()


def operations(document: dict) -> dict[tuple[str, str], dict]:
    return {(method, path): operation for path, item in document["paths"].items() for method, operation in item.items()}


def declared_routes() -> set[tuple[str, str]]:
    """Every (method, path) declared by a router in ``api.routes`` (any module, so a new one is not missed)."""
    found = set()
    for module in pkgutil.iter_modules(route_package.__path__):
        for value in vars(importlib.import_module(f"api.routes.{module.name}")).values():
            if isinstance(value, APIRouter):
                found |= {
                    (method.lower(), route.path)
                    for route in value.routes
                    if isinstance(route, APIRoute)
                    for method in route.methods or ()
                }
    return found


def test_every_v1_route_is_served_and_in_the_document(api, document):
    routed = {key for key in declared_routes() if key[1].startswith("/v1")}
    for method, path in routed:  # mounted: without a token the app answers 401, not 404 or 405
        assert api.client.request(method, path.replace("{", "").replace("}", "")).status_code == 401, (method, path)
    listed = {key for key in operations(document) if key[1].startswith("/v1")}
    assert routed == listed
    assert listed == V1_OPERATIONS


def test_every_v1_operation_requires_a_bearer_token_and_public_ones_do_not(document):
    assert document["components"]["securitySchemes"]["HTTPBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token from `tasktrial admin create-token`.",
    }
    for (method, path), operation in operations(document).items():
        if path.startswith("/v1"):
            assert operation.get("security") == [{"HTTPBearer": []}], (method, path)
        else:
            assert "security" not in operation, (method, path)


def test_operation_ids_are_unique(document):
    ids = Counter(operation["operationId"] for operation in operations(document).values())
    assert [name for name, count in ids.items() if count > 1] == []


@pytest.mark.parametrize(("key", "statuses"), list(DOCUMENTED.items()), ids=[f"{m} {p}" for m, p in DOCUMENTED])
def test_the_statuses_the_api_answers_are_documented(document, key, statuses):
    assert statuses <= set(operations(document)[key]["responses"])


def test_submission_bodies_are_documented_for_json_and_multipart(document):
    content = operations(document)[("post", "/v1/submissions")]["requestBody"]["content"]
    assert set(content) == {"application/json", "multipart/form-data"}
    json_schema, form = content["application/json"]["schema"], content["multipart/form-data"]["schema"]
    assert set(json_schema["required"]) == {"task", "files"}
    assert json_schema["properties"]["files"]["additionalProperties"] == {"type": "string"}
    assert set(form["required"]) == {"task", "archive"}
    assert form["properties"]["archive"]["format"] == "binary"


def test_pack_uploads_and_downloads_name_their_media_types(document):
    ops = operations(document)
    assert "multipart/form-data" in ops[("post", "/v1/packs")]["requestBody"]["content"]
    assert (
        "application/gzip"
        in ops[("get", "/v1/tasks/{pack_id}/{task_id}/starter.tar.gz")]["responses"]["200"]["content"]
    )
    assert "application/zip" in ops[("get", "/v1/tasks/{pack_id}/{task_id}/starter.zip")]["responses"]["200"]["content"]
    assert "text/event-stream" in ops[("get", "/v1/submissions/{submission_id}/events")]["responses"]["200"]["content"]
