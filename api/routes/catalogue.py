"""Catalogue: packs and tasks as candidates see them, starters, and pack uploads by authors.

Nothing here ever reads a task's grader/ or solution/ folder.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api import storage
from api.auth import Principal
from api.deps import AuthorDep, PersonDep, PrincipalDep, ServiceDep, SessionDep
from api.routes._uploads import read_body
from api.tables import PackState, PackVersion, Role
from engine import archives, packs
from engine.errors import NotFound, PackError
from engine.models import Pack, Task
from engine.public_tests import public_test_files

router = APIRouter(prefix="/v1", tags=["catalogue"])


class TaskPublic(BaseModel):
    pack: str
    pack_version: str
    id: str
    title: str
    summary: str
    micro_skills: list[str]
    difficulty: str
    environment: str
    limits: dict
    grader_kind: str
    pass_threshold: float
    task_digest: str


class TaskDetail(TaskPublic):
    statement: str


class PackPublic(BaseModel):
    id: str
    version: str
    title: str
    description: str
    authors: list[str]
    license: str
    tasks: list[TaskPublic]


class PackUploaded(BaseModel):
    id: str
    version: str
    digest: str
    created: bool
    tasks: list[str]
    #: ``checking`` until the workers' pack check publishes it (``live``) or refuses it (``rejected``).
    state: str
    links: dict[str, str]


class ListPacks(BaseModel):
    data: list[PackPublic]
    count: int


class ListTasks(BaseModel):
    data: list[TaskPublic]
    count: int


def task_public(task: Task) -> TaskPublic:
    return TaskPublic(
        pack=task.pack_id,
        pack_version=task.pack_version,
        id=task.id,
        title=task.title,
        summary=task.summary,
        micro_skills=list(task.micro_skills),
        difficulty=task.difficulty.value,
        environment=task.environment,
        limits=task.limits.to_document(),
        grader_kind=task.grader_kind,
        pass_threshold=task.pass_threshold,
        task_digest=task.digest,
    )


def pack_public(pack: Pack) -> PackPublic:
    return PackPublic(
        id=pack.id,
        version=pack.version,
        title=pack.title,
        description=pack.description,
        authors=list(pack.authors),
        license=pack.license,
        tasks=[task_public(t) for t in pack.tasks],
    )


@router.get("/packs", response_model=ListPacks)
def list_packs(service: ServiceDep, session: SessionDep, _: PrincipalDep) -> ListPacks:
    data = [pack_public(p) for p in service.pack_store.packs(service.pack_state(session))]
    return ListPacks(data=data, count=len(data))


@router.get("/packs/{pack_id}", response_model=PackPublic)
def get_pack(
    pack_id: str, service: ServiceDep, session: SessionDep, _: PrincipalDep, version: str | None = None
) -> PackPublic:
    return pack_public(service.pack_store.pack(pack_id, version, service.pack_state(session)))


@router.get("/tasks", response_model=ListTasks)
def list_tasks(service: ServiceDep, session: SessionDep, _: PrincipalDep) -> ListTasks:
    data = [task_public(t) for p in service.pack_store.packs(service.pack_state(session)) for t in p.tasks]
    return ListTasks(data=data, count=len(data))


@router.get("/tasks/{pack_id}/{task_id}", response_model=TaskDetail)
def get_task(
    pack_id: str, task_id: str, service: ServiceDep, session: SessionDep, _: PrincipalDep, version: str | None = None
) -> TaskDetail:
    task = service.pack_store.task(pack_id, task_id, version, service.pack_state(session))
    return TaskDetail(**task_public(task).model_dump(), statement=task.statement)


@router.get(
    "/tasks/{pack_id}/{task_id}/starter.tar.gz",
    response_class=Response,
    responses={200: {"content": {"application/gzip": {}}}},
)
def starter_tar_gz(
    pack_id: str, task_id: str, service: ServiceDep, session: SessionDep, _: PrincipalDep, version: str | None = None
) -> Response:
    task = service.pack_store.task(pack_id, task_id, version, service.pack_state(session))
    body = archives.make_tar_gz(packs.starter_files(task), prefix=task.id)
    return Response(
        body, media_type="application/gzip", headers={"Content-Disposition": f'attachment; filename="{task.id}.tar.gz"'}
    )


@router.get(
    "/tasks/{pack_id}/{task_id}/starter.zip",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}}},
)
def starter_zip(
    pack_id: str, task_id: str, service: ServiceDep, session: SessionDep, _: PrincipalDep, version: str | None = None
) -> Response:
    task = service.pack_store.task(pack_id, task_id, version, service.pack_state(session))
    body = archives.make_zip(packs.starter_files(task), prefix=task.id)
    return Response(
        body, media_type="application/zip", headers={"Content-Disposition": f'attachment; filename="{task.id}.zip"'}
    )


PACK_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["archive"],
                    "properties": {
                        "archive": {"type": "string", "format": "binary", "description": "the pack as .zip or .tar.gz"}
                    },
                }
            }
        },
    }
}


@router.post(
    "/packs",
    response_model=PackUploaded,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=PACK_BODY,
    responses={
        200: {"model": PackUploaded, "description": "the same content was already stored"},
        409: {"description": "this version exists with different content"},
        413: {"description": "the archive is too large"},
        422: {"description": "the archive is unsafe or the pack is malformed (every problem listed)"},
    },
)
async def upload_pack(
    request: Request, service: ServiceDep, session: SessionDep, author: AuthorDep, response: Response
) -> PackUploaded:
    await read_body(request, service.settings.max_upload_bytes)
    async with request.form() as form:  # closes the spooled upload
        upload = form.get("archive")
        if upload is None or isinstance(upload, str):
            raise HTTPException(422, [{"loc": ["body", "archive"], "msg": "a .zip or .tar.gz file is required"}])
        data = await upload.read()
    pack, digest, created, row = await publish_pack(service=service, session=session, author=author, data=data)
    if not created:
        response.status_code = status.HTTP_200_OK
    location = service.settings.link(f"/v1/packs/{pack.id}/versions/{pack.version}")
    return PackUploaded(
        id=pack.id,
        version=pack.version,
        digest=digest,
        created=created,
        tasks=[t.id for t in pack.tasks],
        state=row.state,
        links={"self": location},
    )


async def publish_pack(*, service, session, author: Principal, data: bytes) -> tuple[Pack, str, bool, PackVersion]:
    """Validate and store an uploaded pack archive for ``author`` and queue its check (the API and the web
    pages both call this). Returns the pack, its digest, whether it is new, and its stored version row.

    Raises:
        HTTPException: 403 when the pack id belongs to another author or the built-in catalogue.
        SubmissionRejected, PackError, PackConflict: as ``PackStore.add``.
    """

    def authorise(pack: Pack) -> None:
        """Only the pack's first uploader (or an admin) publishes its versions; built-in ids are reserved."""
        if author.role is not Role.ADMIN:
            builtin = any(service.pack_store.is_builtin(p) for p in service.pack_store.packs() if p.id == pack.id)
            owners = storage.pack_owners(session=session, pack_id=pack.id)
            if builtin or (owners and author.subject not in owners):
                raise HTTPException(status.HTTP_403_FORBIDDEN, f"pack {pack.id!r} belongs to another author")
        changed = service.credentials.criteria_changes(pack)  # published credentials keep their criteria
        if changed:
            raise PackError(changed)

    # Extraction and validation block for as long as the pack makes them: never on the event loop.
    pack, digest, created = await run_in_threadpool(
        service.pack_store.add, data, max_bytes=service.settings.max_upload_bytes, authorise=authorise
    )
    row = storage.get_pack_version(session=session, pack_id=pack.id, version=pack.version)
    if row is None:  # a new version: it goes live only once the workers' pack check passes
        row = storage.record_pack_version(
            session=session, pack_id=pack.id, version=pack.version, digest=digest, owner=author.subject
        )
        service.queue.enqueue_pack_check(row.id)
    elif (
        storage.move_pack_version(
            session=session, version_id=row.id, from_states=[PackState.REJECTED], to=PackState.CHECKING
        )
        or row.state == PackState.CHECKING.value
    ):
        service.queue.enqueue_pack_check(row.id)  # the same content again: check it again (e.g. after a fault)
    session.refresh(row)
    return pack, digest, created, row


PUBLIC_TESTS_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {
                            "type": "object",
                            "additionalProperties": {"type": "string"},
                            "description": "path -> UTF-8 content",
                        }
                    },
                }
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["archive"],
                    "properties": {
                        "archive": {
                            "type": "string",
                            "format": "binary",
                            "description": ".zip or .tar.gz of the folder",
                        }
                    },
                }
            },
        },
    }
}


class PublicTestsRequest(BaseModel):
    files: dict[str, str]


@router.post(
    "/tasks/{pack_id}/{task_id}/public-tests",
    openapi_extra=PUBLIC_TESTS_BODY,
    responses={
        404: {"description": "unknown task, or the task has no public tests"},
        413: {"description": "upload too large"},
        415: {"description": "neither application/json nor multipart/form-data"},
        422: {"description": "unsafe or malformed files"},
        429: {"description": "this candidate's public-test rate is reached: see Retry-After"},
        503: {"description": "no sandbox engine on this server (or, with a broker, no worker answered in time)"},
    },
)
async def public_tests(
    pack_id: str,
    task_id: str,
    request: Request,
    service: ServiceDep,
    session: SessionDep,
    person: PersonDep,
    version: str | None = None,
) -> dict:
    """Run the task's public example tests over the given files, in the grading image and limits.

    Nothing is signed, stored or counted: the answer is the tests' own output. Admitted as
    submissions are (a per-candidate rate), before the body is read.
    """
    from api.routes.submissions import admit_public_tests

    task = service.pack_store.task(pack_id, task_id, version, service.pack_state(session))
    if not public_test_files(task):
        raise NotFound(f"task {pack_id}/{task_id} has no public tests")
    await admit_public_tests(service, person)
    files = await read_files(request, service.settings.max_upload_bytes)
    ran = await service.public_tests(task, files)
    if ran is None:
        raise NotFound(f"task {pack_id}/{task_id} has no public tests")
    return ran.to_document()


async def read_files(request: Request, cap: int) -> dict[str, bytes]:
    """A folder sent as JSON ``{files}`` or as a multipart ``archive``, under the engine's own path and size rules
    and the submissions' exact media types; parsing and extraction off the event loop."""
    from pydantic import ValidationError

    from api.routes.submissions import _media_type
    from engine.trees import from_mapping

    media_type = _media_type(request, "send application/json ({files}) or multipart/form-data (archive)")
    body = await read_body(request, cap)
    if media_type == "application/json":
        try:
            data = await run_in_threadpool(PublicTestsRequest.model_validate_json, body)
        except ValidationError as exc:
            raise HTTPException(422, exc.errors(include_url=False, include_context=False, include_input=False)) from exc
        return from_mapping({path: text.encode("utf-8") for path, text in data.files.items()})
    async with request.form() as form:
        upload = form.get("archive")
        if upload is None or isinstance(upload, str):
            raise HTTPException(422, [{"loc": ["body", "archive"], "msg": "a .zip or .tar.gz file is required"}])
        archive = await upload.read()
    return await run_in_threadpool(archives.extract, archive, caps=archives.ArchiveCaps(max_archive_bytes=cap))
