"""Reading request bodies with a byte cap, before anything parses or spools them."""

from __future__ import annotations

from fastapi import Request

from api.errors import PayloadTooLarge


async def read_body(request: Request, cap: int) -> bytes:
    """The whole body, refused (413) as soon as it passes ``cap`` bytes, whatever Content-Length claims.

    Afterwards Starlette's ``request.form()`` parses from what was read here.
    """
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > cap:
        raise PayloadTooLarge(f"the request body is larger than the {cap}-byte limit")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > cap:
            raise PayloadTooLarge(f"the request body is larger than the {cap}-byte limit")
    request._body = bytes(body)
    return request._body
