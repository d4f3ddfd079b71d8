"""What every route depends on: the shared services, the caller's identity (auth + rate limit) and
request checks; plus the errors routes raise, each mapped to one status code in api/errors.py."""

from __future__ import annotations

from fastapi import Request

from api.auth import require_role
from config.errors import DocentError
from config.roles import Identity


class NotFound(DocentError):
    """404: the record does not exist, or is not the caller's."""


class BadRequest(DocentError):
    """400: the request is malformed in a way the schema cannot say."""


class InvalidInput(DocentError, ValueError):
    """422: a field the schema accepted fails a rule only the route can check (e.g. a blank title)."""


class UnsupportedMediaType(DocentError):
    """415: wrong Content-Type, or a file type Docent cannot read."""


class RateLimited(DocentError):
    """429: too many requests from one identity; `retry_after` seconds until the next may go."""

    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after


def services(request: Request):
    return request.app.state.services


def caller(request: Request) -> Identity:
    """The verified identity of this request (401/503 otherwise), counted against its rate limit (429)."""
    cached = getattr(request.state, "identity", None)
    if cached is not None:
        return cached
    identity = request.app.state.auth.identify(request.headers)
    wait = request.app.state.limiter.check(identity.user)
    if wait > 0:
        per_minute = request.app.state.limiter.per_minute
        raise RateLimited(
            f"{identity.user} sent more than {per_minute} requests a minute; wait {wait:.0f} s "
            "(DOCENT_API_RATE_LIMIT_PER_MINUTE sets the limit).",
            wait,
        )
    request.state.identity = identity
    return identity


def role(name: str, what: str):
    """A dependency: the caller, who must have role `name`."""

    def check(request: Request) -> Identity:
        identity = caller(request)
        require_role(identity, name, what)
        return identity

    return check


def json_body(request: Request) -> None:
    """415 unless the body is declared JSON (FastAPI would otherwise guess)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise UnsupportedMediaType(
            f"This route takes a JSON body: send `Content-Type: application/json` (got {kind or 'none'})."
        )


def multipart_body(request: Request) -> None:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "multipart/form-data":
        raise UnsupportedMediaType(
            f"This route takes files as multipart/form-data (field `files`), e.g. "
            f"curl -F files=@guide.pdf (got {kind or 'none'})."
        )
