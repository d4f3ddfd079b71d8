"""Request size limits as a plain ASGI middleware, so nothing is parsed (or spooled) past the limit.

A declared Content-Length over the limit is refused before the body is read; a chunked body is
counted as it arrives and refused (413) the moment it crosses the limit, before any handler ran.
Upload routes get the upload limit, every other route the JSON limit.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection

from fastapi import HTTPException


class BodyTooLarge(HTTPException):
    """Raised from `receive` mid-body; an HTTPException so FastAPI's body parsing passes it on as a 413."""

    def __init__(self, limit: int):
        super().__init__(413, json.loads(too_large_body(limit))["detail"])


def too_large_body(limit: int) -> bytes:
    mib = limit / 2**20
    size = f"{mib:.0f} MiB" if mib >= 1 else f"{limit // 1024} KiB"
    return json.dumps(
        {
            "error": "too_large",
            "detail": f"The request body is over the {size} limit for this "
            "route: send less (fewer or smaller files), or ask your administrator to raise "
            "DOCENT_API_MAX_UPLOAD_BYTES / DOCENT_API_MAX_BODY_BYTES.",
        }
    ).encode()


class BodyLimitMiddleware:
    def __init__(self, app, max_body: int, max_upload: int, upload_paths: Collection[str]):
        self.app = app
        self.max_body = max_body
        self.max_upload = max_upload
        self.upload_paths = set(upload_paths)

    def limit_for(self, scope) -> int:
        return self.max_upload if scope.get("path") in self.upload_paths else self.max_body

    async def __call__(self, scope, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limit_for(scope)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return await self._refuse(send, limit)
        seen = 0
        started = False

        async def counting_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(send, limit)

    @staticmethod
    async def _refuse(send: Callable, limit: int) -> None:
        body = too_large_body(limit)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
