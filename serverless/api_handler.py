"""Lambda entry point for Docent's HTTP API behind API Gateway (`serverless.api_handler.handler`).

The app is `api.app:create_app(settings)`, imported on the first request (so this module loads
without the API package) and kept for the container's life, with the `/rag` page added when the
app does not serve one itself. With DOCENT_AUTH_MODE=header the identity header is taken only from
the claims API Gateway's JWT authorizer verified; a client cannot send it (serverless/asgi_adapter.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from serverless.asgi_adapter import ApiGatewayAdapter
from serverless.rag_page import rag_page_routes


def load_app_factory() -> Callable[..., Any]:
    from api.app import create_app  # the HTTP API package (issue 13 part A)

    return create_app


def with_rag_page(app: Any) -> Any:
    """Add the /rag page's routes to a Starlette or FastAPI app that has no /rag route."""
    if not any(getattr(route, "path", None) == "/rag" for route in app.router.routes):
        app.router.routes.extend(rag_page_routes())
    return app


def build_adapter(settings: Any, factory: Callable[..., Any] | None = None) -> ApiGatewayAdapter:
    app = with_rag_page((factory or load_app_factory())(settings))
    identity_header = settings.auth_header if settings.auth_mode == "header" else None
    return ApiGatewayAdapter(app, identity_header=identity_header)


_adapter: ApiGatewayAdapter | None = None


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    global _adapter
    if _adapter is None:
        from config.settings import load_settings

        _adapter = build_adapter(load_settings())
    return _adapter(event, context)
