"""`docent app`: start the web app on DOCENT_SERVER_ADDRESS:DOCENT_SERVER_PORT (loopback by default).

Streamlit listens on every interface unless told otherwise, and in header mode anyone who reaches
the port could send identity headers (issue 11). `make run` and the Dockerfile both start the app
through this command, so one setting decides where it listens.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

APP = Path(__file__).resolve().parents[1] / "Streamlit" / "app.py"


def streamlit_args(settings, port: int | None = None) -> list[str]:
    """The `streamlit run` command line for these settings (pure, so it is tested without starting a server)."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.address",
        settings.server_address,
        "--server.port",
        str(port or settings.server_port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "minimal",
    ]


def exposure_warning(settings) -> str | None:
    """What to tell the operator when the app listens beyond this host, or None."""
    from config.settings import is_loopback

    if is_loopback(settings.server_address):
        return None
    if settings.auth_mode == "local":
        return (
            f"Docent listens on {settings.server_address} with DOCENT_AUTH_MODE=local: everyone who reaches "
            "the port is the local user with every role. Publish it only on this host's loopback "
            "(docker run -p 127.0.0.1:8501:8501) or switch to oidc or header mode."
        )
    if settings.auth_mode == "header" and not settings.auth_alb_arns.strip():
        return "Header mode without DOCENT_AUTH_ALB_ARNS must listen on 127.0.0.1."  # the settings refuse it too
    return None


def run_app(port: int = typer.Option(None, "--port", help="Override DOCENT_SERVER_PORT.")) -> None:
    """Start the web app where DOCENT_SERVER_ADDRESS says (127.0.0.1 unless set otherwise)."""
    from config.settings import load_settings

    settings = load_settings()
    warning = exposure_warning(settings)
    if warning:
        typer.secho(warning, fg=typer.colors.YELLOW, err=True)
    args = streamlit_args(settings, port)
    typer.echo(f"Docent on http://{settings.server_address}:{port or settings.server_port}", err=True)
    os.execv(args[0], args)


def register(app: typer.Typer) -> None:
    app.command("app")(run_app)
