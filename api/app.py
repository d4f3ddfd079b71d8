"""Docent's HTTP API: the same chain, stores and index as the app, for bots, search boxes and scripts.

    from api.app import create_app
    app = create_app(load_settings())          # any ASGI server; `docent api` runs it with uvicorn

Routes: /v1/ask, /v1/feedback, /v1/conversations, /v1/shared, /v1/export, /v1/documents, /v1/qa, /healthz,
/readyz; the OpenAPI document at /openapi.json and its viewer at /docs (see docs/api.md).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api.auth import ApiAuth, JwtVerifier, RateLimiter
from api.errors import install_error_handlers
from api.limits import BodyLimitMiddleware
from api.schemas import ErrorBody, Health
from api.services import Services
from config.settings import Settings

UPLOAD_PATHS = ("/v1/documents",)
ERRORS = {code: {"model": ErrorBody} for code in (400, 401, 403, 404, 413, 415, 422, 429, 503)}


def create_app(
    settings: Settings, *, store=None, chain=None, index=None, embedder=None, verifier: JwtVerifier | None = None
) -> FastAPI:
    """The ASGI app. Pass any of store/chain/index/embedder/verifier to use yours; the rest is built from
    `settings` (the chain on first use, or at start-up by `docent api`)."""
    from api import routes_admin, routes_chat, routes_conversations

    app = FastAPI(
        title="Docent API",
        version="1",
        responses=ERRORS,
        description="Answers from your company's documents; see docs/api.md.",
    )
    app.state.settings = settings
    app.state.services = Services(settings, store=store, chain=chain, index=index, embedder=embedder)
    app.state.auth = ApiAuth(settings, verifier)
    app.state.limiter = RateLimiter(settings.api_rate_limit_per_minute)
    install_error_handlers(app)
    app.include_router(routes_chat.router)
    app.include_router(routes_conversations.router)
    app.include_router(routes_admin.router)
    app.add_middleware(
        BodyLimitMiddleware,
        max_body=settings.api_max_body_bytes,
        max_upload=settings.api_max_upload_bytes,
        upload_paths=UPLOAD_PATHS,
    )

    @app.get("/healthz", tags=["health"], response_model=Health)
    def healthz():
        """The process answers (no credentials needed; says nothing about the data)."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], response_model=Health, responses={503: {"model": Health}})
    def readyz(request: Request):
        """The index and the store are reachable (no credentials needed; 503 names what is not)."""
        svc = request.app.state.services
        checks: dict[str, str] = {}
        for name, probe in (("index", lambda: svc.index.stats()), ("store", lambda: svc.store.qa_version())):
            try:
                probe()
                checks[name] = "ok"
            except Exception as exc:  # noqa: BLE001 - readiness reports, never raises
                checks[name] = f"unreachable: {type(exc).__name__}"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503
        )

    return app
