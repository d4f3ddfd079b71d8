"""The `docent` command. Each package contributes its own commands through `register(app)`.

Imports here stay cheap: heavy libraries (torch, sentence-transformers) load inside commands.
"""

from __future__ import annotations

import importlib
import sys

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


def main() -> None:
    from config.settings import ConfigError

    _register_all()
    try:
        app()
    except ConfigError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
