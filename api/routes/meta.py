"""Health, metrics and the public signing keys."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import ServiceDep
from engine.errors import NotFound

router = APIRouter(tags=["meta"])


@router.get("/healthz", responses={503: {"description": "the database is down (the body names it)"}})
def healthz(service: ServiceDep, response: Response) -> dict:
    """Each part and its state; ``degraded`` names what is not ``ok``. 503 only when the database is down:
    with the broker, workers or disk degraded the API still answers and keeps what it accepted."""
    health = service.health.check()
    if not health.serving:
        response.status_code = 503
    return health.document()


@router.get("/metrics", response_class=Response)
def metrics(service: ServiceDep) -> Response:
    return Response(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/.well-known/jwks.json")
def jwks(service: ServiceDep) -> dict:
    """Every signing key, each with its ``status``: ``active``, ``retired`` (what it signed verifies) or ``revoked``."""
    return service.jwks()


@router.get("/keys/{kid}")
def key(kid: str, service: ServiceDep) -> dict:
    """One published key by its id (the ``kid`` in a signature's header)."""
    for entry in service.jwks()["keys"]:
        if entry.get("kid") == kid:
            return entry
    raise NotFound(f"no signing key has id {kid!r} (unknown to this service)")
