"""The minimal HTML page at `/rag`: ask a question, see the answer, its confidence and its links.

A static page and two static assets; the page posts to `/v1/ask` (relative, so it also works
under an API Gateway stage prefix). Text from the server is set with textContent only, and a
strict Content-Security-Policy (no inline script, fetches to this origin only) backs that up.
The API mounts it with `app.router.routes.extend(rag_page_routes())`; the Lambda handler adds it
when the API has not.

>>> [route.path for route in rag_page_routes()]
['/rag', '/rag/rag.js', '/rag/rag.css']
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

STATIC = Path(__file__).parent / "static"
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
_ASSETS = {
    "rag.html": "text/html; charset=utf-8",
    "rag.js": "text/javascript; charset=utf-8",
    "rag.css": "text/css; charset=utf-8",
}


def _static(name: str, segment: str):
    body = (STATIC / name).read_bytes()  # read once: the files ship with the package
    if name == "rag.html":  # its assets sit under the page's own path
        body = body.replace(b'"rag/rag.', f'"{segment}/rag.'.encode())
    media_type = _ASSETS[name]

    async def endpoint(request: Request) -> Response:
        return Response(body, media_type=media_type, headers=_SECURITY_HEADERS)

    endpoint.__name__ = f"rag_{name.replace('.', '_')}"
    return endpoint


def rag_page_routes(path: str = "/rag") -> list[Route]:
    """Routes for the page and its script and style sheet, to add to any Starlette/FastAPI app.

    `path` is one segment at the API's root, because the page calls `v1/ask` relative to itself.
    """
    segment = path.strip("/")
    if not segment or "/" in segment or not segment.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"rag page path {path!r}: use one segment at the root, such as /rag")
    return [
        Route(f"/{segment}", _static("rag.html", segment), methods=["GET"], include_in_schema=False),
        Route(f"/{segment}/rag.js", _static("rag.js", segment), methods=["GET"], include_in_schema=False),
        Route(f"/{segment}/rag.css", _static("rag.css", segment), methods=["GET"], include_in_schema=False),
    ]
