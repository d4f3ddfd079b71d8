"""`docent api`: the HTTP API (api/app.py) under uvicorn, on loopback unless told otherwise."""

from __future__ import annotations

import typer

from config.errors import DocentError
from config.settings import is_loopback


class UnsafeBind(DocentError):
    """Binding beyond loopback while every caller would be the local admin."""


def api(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (loopback by default)."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on."),
) -> None:
    """Serve the REST API: /v1/ask, /v1/feedback, /v1/conversations, /v1/export, /v1/documents, /v1/qa.

    The OpenAPI document is at /openapi.json (viewer at /docs); docs/api.md has examples.
    """
    import uvicorn

    from api.app import create_app
    from config.settings import load_settings

    settings = load_settings()
    if settings.api_auth_mode == "local" and not is_loopback(host):
        raise UnsafeBind(
            f"--host {host} would let anyone on the network call Docent as the local user with every "
            "role. Set DOCENT_API_AUTH=jwt (with DOCENT_API_JWT_ISSUER) or header (behind your proxy), "
            "or keep --host 127.0.0.1."
        )
    app = create_app(settings)
    typer.echo(
        f"Loading Docent's models ({settings.embeddings_backend} embeddings, {settings.llm_backend} answers)…", err=True
    )
    app.state.services.warm_up()
    typer.echo(f"Docent API on http://{host}:{port} (auth: {settings.api_auth_mode}; OpenAPI at /docs)", err=True)
    # Keep-alive longer than a load balancer's idle timeout (ALB: 60 s), or the server closes a connection
    # the balancer (or a client sending its next request) is about to reuse, and that request is reset.
    uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=False, timeout_keep_alive=75)


def register(app: typer.Typer) -> None:
    app.command("api")(api)
