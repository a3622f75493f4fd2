"""Health, metrics, the public signing keys and the credentials' DID document."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, HTTPException, Request, Response, status
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import ServiceDep
from api.tables import Role
from engine import openbadges
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


@router.get(openbadges.DID_DOCUMENT_AT_ROOT)
def did_document(service: ServiceDep) -> dict:
    """The issuer of every credential, ``did:web`` of the public URL: each key a Multikey ``DID#KID``, active and
    retired ones assertion methods (what they signed verifies), revoked ones not. Where did:web resolves it
    for a public URL without a path (and still served below one, for links made before)."""
    return service.did_document()


@router.get(
    openbadges.DID_DOCUMENT_BELOW_PATH,
    responses={404: {"description": "the public URL has no path: the document is at /.well-known/did.json"}},
)
def did_document_below_path(service: ServiceDep) -> dict:
    """The same document where did:web resolves it for a public URL with a path: ``did:web:example.org:tasktrial``
    at ``https://example.org/tasktrial/did.json``, which reaches the API as ``/did.json`` through a reverse
    proxy that strips the path."""
    document = service.did_document()
    if openbadges.did_document_path(service.credentials.public_url) != openbadges.DID_DOCUMENT_BELOW_PATH:
        raise NotFound(
            f"the DID document of {document['id']} is at {openbadges.DID_DOCUMENT_AT_ROOT}: "
            "its public URL has no path (TASKTRIAL_PUBLIC_URL)"
        )
    return document


@router.get("/keys/{kid}")
def key(kid: str, service: ServiceDep) -> dict:
    """One published key by its id (the ``kid`` in a signature's header)."""
    for entry in service.jwks()["keys"]:
        if entry.get("kid") == kid:
            return entry
    raise NotFound(f"no signing key has id {kid!r} (unknown to this service)")
