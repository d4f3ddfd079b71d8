"""The `docent` command. Each package contributes its own commands through `register(app)`.

Imports here stay cheap: heavy libraries (torch, sentence-transformers) load inside commands.
"""

from __future__ import annotations

import importlib
import sys

import click
import typer

app = typer.Typer(
    name="docent",
    help="Docent answers employees' questions from their company's own documents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Modules that add commands to `app`. Each defines `register(app: typer.Typer) -> None`.
COMMAND_MODULES = [
    "cli.ingest",  # ingest, index status
    "cli.ask",  # ask, batch, qa import/list
    "cli.feedback",  # export, stores init
    "finetune.serve",  # serve-model
    "cli.finetune",  # finetune train/deploy/undeploy
    "cli.app",  # app (the web app, listening where DOCENT_SERVER_ADDRESS says)
    "cli.eval",  # eval (issue 10)
    "cli.calibrate",  # calibrate (issue 10)
    "cli.api",  # api (issue 13)
]


_registered = False


def _register_all() -> None:
    global _registered
    if _registered:
        return
    _registered = True
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # that part of Docent is not built in this checkout
                continue
            raise
        module.register(app)


def main(argv: list[str] | None = None) -> None:
    """Run `docent`. Every failure prints its message (and the fix) and exits 1; `--debug` anywhere
    on the command line shows the traceback instead."""
    from config.errors import DocentError

    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    args = [a for a in args if a != "--debug"]
    _register_all()
    try:
        code = app(args=args, prog_name="docent", standalone_mode=False)
    except SystemExit:
        raise
    except click.exceptions.Abort:
        typer.secho("Aborted.", fg=typer.colors.RED, err=True)
        sys.exit(1)
    except click.ClickException as exc:  # usage errors keep click's own message and exit 2
        exc.show()
        sys.exit(exc.exit_code)
    except Exception as exc:
        if debug:
            raise
        typer.secho(_describe(exc, DocentError), fg=typer.colors.RED, err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


def _describe(exc: Exception, known: type[Exception]) -> str:
    if isinstance(exc, known):
        return str(exc)
    detail = str(exc).strip() or "no detail"
    return (
        f"docent: unexpected {type(exc).__name__}: {detail}\n"
        "Run the same command with --debug for the traceback, and report it if the message does not help."
    )


if __name__ == "__main__":
    main()
