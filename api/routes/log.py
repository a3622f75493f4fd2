"""The transparency log: signed checkpoints, inclusion and consistency proofs.

Everything under ``/log`` is public (outside ``/v1``, where every route needs a
token): the log holds only digests of signed documents. A result's own proof
bundle needs the same access as the result, so it lives under ``/v1``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from api import storage
from api.deps import PersonDep, ServiceDep, SessionDep
from api.routes.submissions import MAX_OFFSET, ResultId, result_view, visible_submission
from engine.errors import NotFound

router = APIRouter(tags=["transparency log"])
NOTE = "text/plain; charset=utf-8"
Size = Annotated[
    int | None, Query(ge=0, le=MAX_OFFSET, description="A checkpoint's tree size (default: the latest checkpoint).")
]


@router.get(
    "/log/checkpoint",
    response_class=Response,
    responses={200: {"content": {NOTE: {}}, "description": "the latest signed checkpoint (C2SP signed note)"}},
)
def latest_checkpoint(service: ServiceDep) -> Response:
    return Response(service.log.checkpoint(), media_type=NOTE, headers={"Cache-Control": "no-cache"})


@router.get(
    "/log/checkpoint/{size}",
    response_class=Response,
    responses={200: {"content": {NOTE: {}}, "description": "the signed checkpoint of this tree size"}},
)
def checkpoint(size: Annotated[int, Path(ge=0, le=MAX_OFFSET)], service: ServiceDep) -> Response:
    return Response(service.log.checkpoint(size), media_type=NOTE)


@router.get("/log/key", response_class=Response, responses={200: {"content": {NOTE: {}}}})
def verifier_keys(service: ServiceDep) -> Response:
    """The signed-note verifier key(s) of the log, one per line (``name+keyid+base64``)."""
    return Response(
        "".join(f"{key}\n" for key in service.log.verifier_keys(service.checkpoint_keys())), media_type=NOTE
    )


@router.get("/log/inclusion")
def inclusion_by_digest(
    service: ServiceDep,
    digest: Annotated[
        str, Query(pattern="^sha256:[0-9a-f]{64}$", description="sha256 of the signed document's canonical JSON")
    ],
    size: Size = None,
) -> dict[str, Any]:
    return service.log.inclusion(digest=digest, size=size)


@router.get("/log/consistency")
def consistency(
    service: ServiceDep,
    first: Annotated[int, Query(ge=0, le=MAX_OFFSET)],
    second: Annotated[int, Query(ge=0, le=MAX_OFFSET)],
) -> dict[str, Any]:
    if first > second:
        raise NotFound(f"no consistency proof from size {first} back to the smaller size {second}")
    return service.log.consistency(first=first, second=second)


@router.get("/v1/results/{result_id}/inclusion")
def result_inclusion(
    result_id: ResultId, session: SessionDep, service: ServiceDep, person: PersonDep, size: Size = None
) -> dict[str, Any]:
    """The result document this caller may see, with its log index and inclusion proof against a checkpoint.

    Save it and check it offline: ``tasktrial verify BUNDLE.json --log CHECKPOINT``.
    """
    result = storage.get_result(session=session, result_id=result_id)
    if result is None:
        raise NotFound(f"unknown result {result_id!r}")
    view = result_view(session, person, visible_submission(session, person, result.submission_id))
    entry = storage.log_entry(session=session, result_id=result.id, view=view)
    if entry is None:
        raise NotFound(f"result {result_id!r} was stored before the transparency log existed")
    proof = service.log.inclusion(digest=entry.digest, size=size)
    return {"result": result.document[view], "log": proof, "checkpoint": service.log.checkpoint(proof["tree_size"])}
