"""Health, metrics and the public signing keys."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, HTTPException, Request, Response, status
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import ServiceDep
from api.tables import Role
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


@router.get(
    "/metrics",
    response_class=Response,
    responses={401: {"description": "TASKTRIAL_METRICS_TOKEN is set and the request does not bear it"}},
)
def metrics(service: ServiceDep, request: Request) -> Response:
    """Prometheus metrics: public unless ``TASKTRIAL_METRICS_TOKEN`` is set (then that token, or an admin's)."""
    required = service.settings.metrics_token
    if required is not None:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        given = given.strip() if scheme.lower() == "bearer" else ""
        if not hmac.compare_digest(given.encode(), required.get_secret_value().encode()):
            principal = service.principal(given) if given else None
            if principal is None or principal.role is not Role.ADMIN:
                raise HTTPException(
                    status.HTTP_401_UNAUTHORIZED,
                    "the metrics need the metrics token (TASKTRIAL_METRICS_TOKEN) or an admin token",
                    headers={"WWW-Authenticate": "Bearer"},
                )
    return Response(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/.well-known/jwks.json")
def jwks(service: ServiceDep) -> dict:
    """Every signing key, each with its ``status``: ``active``, ``retired`` (what it signed verifies) or ``revoked``."""
    return service.jwks()


@router.get("/.well-known/did.json")
def did_document(service: ServiceDep) -> dict:
    """The issuer of every credential, ``did:web`` of the public URL: each key a Multikey ``DID#KID``, active and
    retired ones assertion methods (what they signed verifies), revoked ones not."""
    return service.did_document()


@router.get("/keys/{kid}")
def key(kid: str, service: ServiceDep) -> dict:
    """One published key by its id (the ``kid`` in a signature's header)."""
    for entry in service.jwks()["keys"]:
        if entry.get("kid") == kid:
            return entry
    raise NotFound(f"no signing key has id {kid!r} (unknown to this service)")
