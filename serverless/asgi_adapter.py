"""Run any ASGI app (FastAPI, Starlette) behind API Gateway HTTP API events (payload format 2.0).

Why our own and not a framework: the translation is small, and owning it lets the adapter drop a
client-sent identity header and set it from the claims API Gateway's JWT authorizer verified
(so DOCENT_AUTH_MODE=header is safe behind API Gateway). Lambda returns one buffered response
(at most 6 MB): a `text/event-stream` answer arrives whole, not token by token (docs/serverless.md).

The event loop and the app's lifespan live as long as the Lambda container: startup runs on the
first request, state it yields is handed to every request, shutdown never runs (Lambda freezes).

>>> async def app(scope, receive, send):
...     await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
...     await send({"type": "http.response.body", "body": scope["path"].encode()})
>>> event = {"version": "2.0", "rawPath": "/a%20b", "rawQueryString": "", "headers": {"host": "x.example"},
...          "requestContext": {"http": {"method": "GET", "sourceIp": "10.0.0.1"}, "stage": "$default"}}
>>> ApiGatewayAdapter(app, lifespan="off")(event, None)["body"]
'/a b'
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote

log = logging.getLogger(__name__)

LAMBDA_RESPONSE_LIMIT = 6 * 1024 * 1024  # bytes of the whole JSON response Lambda accepts
_TEXT_TYPES = (
    "text/",
    "application/json",
    "application/problem+json",
    "application/javascript",
    "application/xml",
    "application/x-www-form-urlencoded",
    "image/svg+xml",
    "+json",
    "+xml",
)

ASGIApp = Callable[..., Any]


class UnsupportedEvent(ValueError):
    """The event is not an API Gateway HTTP API 2.0 proxy event."""


def scope_from_event(
    event: dict[str, Any], identity_header: str | None = None, identity_claims: Iterable[str] = ("email", "sub")
) -> tuple[dict[str, Any], bytes]:
    """The ASGI HTTP scope and request body for one event.

    With `identity_header`, any value the client sent under that name is dropped and, when API
    Gateway's JWT authorizer verified a token, replaced by its first present claim.
    """
    if event.get("version") != "2.0" or "http" not in (event.get("requestContext") or {}):
        raise UnsupportedEvent(
            "not an API Gateway HTTP API event with payload format 2.0: point an HTTP API route at this "
            "function (PayloadFormatVersion 2.0)"
        )
    context = event["requestContext"]
    http = context["http"]
    raw_path = event.get("rawPath") or http.get("path") or "/"
    headers = [(k.lower(), str(v)) for k, v in (event.get("headers") or {}).items()]
    if event.get("cookies"):
        headers = [h for h in headers if h[0] != "cookie"] + [("cookie", "; ".join(event["cookies"]))]
    if identity_header:
        name = identity_header.lower()
        headers = [h for h in headers if h[0] != name]
        claims = ((context.get("authorizer") or {}).get("jwt") or {}).get("claims") or {}
        identity = next((str(claims[c]) for c in identity_claims if claims.get(c)), None)
        if identity:
            headers.append((name, identity))
    lookup = dict(headers)
    host = lookup.get("host") or context.get("domainName") or "localhost"
    port = int(lookup.get("x-forwarded-port") or 443)
    stage = context.get("stage") or "$default"
    root_path = f"/{stage}" if stage != "$default" and (raw_path + "/").startswith(f"/{stage}/") else ""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": str(http.get("protocol") or "HTTP/1.1").removeprefix("HTTP/"),
        "method": http["method"].upper(),
        "scheme": lookup.get("x-forwarded-proto") or "https",
        "path": unquote(raw_path),
        "raw_path": raw_path.encode(),
        "root_path": root_path,
        "query_string": (event.get("rawQueryString") or "").encode(),
        "headers": [(k.encode("latin-1"), v.encode("latin-1", "replace")) for k, v in headers],
        "server": (host.split(":")[0], port),
        "client": (http.get("sourceIp") or "0.0.0.0", 0),
        "extensions": {},
        "aws.event": event,
    }
    body = event.get("body") or ""
    data = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode("utf-8")
    return scope, data


def is_text(content_type: str, content_encoding: str = "") -> bool:
    if content_encoding and content_encoding.lower() != "identity":
        return False
    kind = content_type.lower().split(";")[0].strip()
    return any(kind.startswith(t) or kind.endswith(t) for t in _TEXT_TYPES)


def event_from_response(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> dict[str, Any]:
    """The HTTP API 2.0 response: repeated headers joined, Set-Cookie as `cookies`, binary as base64."""
    joined: dict[str, str] = {}
    cookies: list[str] = []
    for raw_name, raw_value in headers:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        if name == "set-cookie":
            cookies.append(value)
        else:
            joined[name] = f"{joined[name]}, {value}" if name in joined else value
    text = is_text(joined.get("content-type", ""), joined.get("content-encoding", ""))
    if text:
        try:
            payload, encoded = body.decode("utf-8"), False
        except UnicodeDecodeError:
            text = False
    if not text:
        payload, encoded = base64.b64encode(body).decode("ascii"), True
    response: dict[str, Any] = {"statusCode": status, "headers": joined, "body": payload, "isBase64Encoded": encoded}
    if cookies:
        response["cookies"] = cookies
    return response


def error_response(status: int, detail: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"detail": detail}),
        "isBase64Encoded": False,
    }


async def call_asgi(app: ASGIApp, scope: dict[str, Any], body: bytes) -> tuple[int, list, bytes]:
    """Run one request through the app; returns (status, headers, whole body)."""
    state = {"status": None, "headers": [], "chunks": []}
    done = asyncio.Event()
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await done.wait()  # a client that never disconnects early: only after the response is complete
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            state["status"] = message["status"]
            state["headers"] = list(message.get("headers") or [])
        elif message["type"] == "http.response.body":
            state["chunks"].append(bytes(message.get("body") or b""))
            if not message.get("more_body"):
                done.set()

    try:
        await app(scope, receive, send)
    finally:
        done.set()
    if state["status"] is None:
        raise RuntimeError("the app returned without sending a response")
    return state["status"], state["headers"], b"".join(state["chunks"])


class _Lifespan:
    """Runs the app's lifespan startup once and keeps the task parked (Lambda never shuts down)."""

    def __init__(self, app: ASGIApp, mode: str):
        self.app, self.mode, self.state, self.started = app, mode, {}, False
        self._task: asyncio.Task | None = None
        self._inbox: asyncio.Queue | None = None

    async def startup(self) -> None:
        if self.started or self.mode == "off":
            return
        self.started = True
        inbox: asyncio.Queue = asyncio.Queue()
        self._inbox = inbox
        outcome: asyncio.Future = asyncio.get_running_loop().create_future()
        await inbox.put({"type": "lifespan.startup"})

        async def send(message: dict[str, Any]) -> None:
            if message["type"] in ("lifespan.startup.complete", "lifespan.startup.failed") and not outcome.done():
                outcome.set_result(message)

        async def run() -> None:
            scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.3"}, "state": self.state}
            try:
                await self.app(scope, inbox.get, send)
            except BaseException as exc:  # an app without lifespan support raises here
                if not outcome.done():
                    outcome.set_exception(exc)

        self._task = asyncio.get_running_loop().create_task(run())
        try:
            message = await outcome
        except Exception:
            if self.mode == "on":
                raise
            log.info("the app does not support lifespan events; running without them")
            return
        if message["type"] == "lifespan.startup.failed":
            raise RuntimeError(f"the app failed to start: {message.get('message', '')}")

    async def shutdown(self) -> None:
        if self._task is None or self._inbox is None:
            return
        if not self._task.done():
            await self._inbox.put({"type": "lifespan.shutdown"})
            try:
                await asyncio.wait_for(self._task, timeout=10)
            except (TimeoutError, Exception):  # a shutdown that hangs or fails must not block the exit
                log.warning("the app's lifespan shutdown did not complete", exc_info=True)
        self._task = None


class ApiGatewayAdapter:
    """A Lambda handler (`adapter(event, context)`) over an ASGI app.

    `lifespan`: "auto" (run it when the app supports it), "on" (fail when it does not) or "off".
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        lifespan: str = "auto",
        identity_header: str | None = None,
        identity_claims: Iterable[str] = ("email", "sub"),
        response_limit: int = LAMBDA_RESPONSE_LIMIT,
    ):
        if lifespan not in ("auto", "on", "off"):
            raise ValueError("lifespan must be 'auto', 'on' or 'off'")
        self.app = app
        self.identity_header = identity_header
        self.identity_claims = tuple(identity_claims)
        self.response_limit = response_limit
        self._lifespan = _Lifespan(app, lifespan)
        self._loop = asyncio.new_event_loop()

    def close(self) -> None:
        """Run the app's lifespan shutdown and close the loop (tests, local runs; Lambda never calls it)."""
        if not self._loop.is_closed():
            self._loop.run_until_complete(self._lifespan.shutdown())
            self._loop.close()

    def __call__(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        scope, body = scope_from_event(event, self.identity_header, self.identity_claims)
        return self._loop.run_until_complete(self._handle(scope, body))

    async def _handle(self, scope: dict[str, Any], body: bytes) -> dict[str, Any]:
        await self._lifespan.startup()
        scope["state"] = dict(self._lifespan.state)
        try:
            status, headers, data = await call_asgi(self.app, scope, body)
        except Exception:
            log.exception("unhandled error in %s %s", scope["method"], scope["path"])
            return error_response(
                500,
                "Internal server error: the request failed on the server; try again, "
                "and report it if it keeps failing.",
            )
        response = event_from_response(status, headers, data)
        if len(json.dumps(response)) > self.response_limit:
            return error_response(
                502,
                f"The response is larger than AWS Lambda can return ({self.response_limit // 2**20} MB): "
                "ask for less (e.g. a shorter export date range).",
            )
        return response
