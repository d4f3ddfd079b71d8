"""Every error the API answers is JSON `{"error": code, "detail": message}`; never a traceback.

DocentError subclasses carry messages for people; this module only picks their status code.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.auth import AuthError, AuthUnavailable, ForbiddenError
from api.deps import BadRequest, NotFound, RateLimited, UnsupportedMediaType
from config.errors import DocentError

log = logging.getLogger("docent.api")

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
    500: "internal",
    503: "unavailable",
}


def status_for(exc: DocentError) -> int:
    """The HTTP status of a DocentError (most specific first)."""
    from chain.pipeline import InvalidQuestion
    from config.text import TextError
    from feedback.records import RecordError
    from feedback.store import RecordTooLargeError, SessionOwnerError, StoreUnavailableError, UnknownTurnError
    from index.protocol import EmbeddingModelMismatch
    from ingest.documents import ConversionError

    table: list[tuple[type, int]] = [
        (AuthError, 401),
        (ForbiddenError, 403),
        (AuthUnavailable, 503),
        (RateLimited, 429),
        (NotFound, 404),
        (UnknownTurnError, 404),
        (SessionOwnerError, 404),  # someone else's conversation reads as an unknown one
        (BadRequest, 400),
        (UnsupportedMediaType, 415),
        (InvalidQuestion, 422),
        (RecordError, 422),
        (TextError, 422),
        (RecordTooLargeError, 422),
        (ConversionError, 422),
        (StoreUnavailableError, 503),
        (EmbeddingModelMismatch, 409),
        (ValueError, 422),  # any other DocentError about an input the caller sent
    ]
    for kind, status in table:
        if isinstance(exc, kind):
            return status
    return 500


def error_response(status: int, detail: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": CODES.get(status, "error"), "detail": detail}, status_code=status, headers=headers)


def describe_validation(exc: RequestValidationError) -> tuple[int, str]:
    """pydantic's errors as one readable sentence per field; bad JSON is a 400 of its own."""
    parts = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            ctx = err.get("ctx") or {}
            return 400, (
                f"The request body is not valid JSON ({ctx.get('error', 'parse error')} at character "
                f"{(err.get('loc') or ['', '?'])[-1]}); send a JSON object."
            )
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
        where = ".".join(loc) or "body"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return 422, "The request is not valid: " + "; ".join(parts) + ". See /docs for the expected fields."


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DocentError)
    async def docent_error(request: Request, exc: DocentError):
        from feedback.store import SessionOwnerError

        status = status_for(exc)
        detail = str(exc)
        if isinstance(exc, SessionOwnerError):  # only a race reaches here (routes check the owner first)
            detail = "There is no conversation of yours with this id: omit conversation_id to start a new one."
        headers = None
        if status == 401:
            headers = {"WWW-Authenticate": "Bearer"}
        elif isinstance(exc, RateLimited):
            headers = {"Retry-After": str(max(1, round(exc.retry_after)))}
        if status == 500:
            log.warning("%s %s failed: %s", request.method, request.url.path, exc, exc_info=exc)
        return error_response(status, detail, headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        status, detail = describe_validation(exc)
        return error_response(status, detail)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"There is no route {request.method} {request.url.path}; /docs lists the routes."
        elif exc.status_code == 405:
            detail = f"{request.url.path} does not take {request.method}; /docs lists what it takes."
        return error_response(exc.status_code, detail, getattr(exc, "headers", None))

    @app.exception_handler(ValueError)
    async def value_error(request: Request, exc: ValueError):  # the shared helpers' input errors
        return error_response(422, str(exc))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return error_response(
            500,
            f"Docent failed unexpectedly ({type(exc).__name__}); the server log has the "
            "details. Try again, and tell your administrator if it keeps failing.",
        )
