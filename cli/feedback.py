"""`docent export` and `docent stores init`."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

from feedback.export import EXPORT_FORMATS, EXPORT_WHAT


def parse_day(value: str | None, flag: str) -> date | None:
    """'2026-11-01' -> date; anything else is refused with a message naming the flag."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date; use YYYY-MM-DD, e.g. 2026-11-01.", param_hint=flag
        ) from None


def export(
    what: str = typer.Option(
        ...,
        "--what",
        help="turns (one row per answer), feedback (one row per rating, "
        "joined with its answer) or finetune (Q&A set + approved corrections).",
    ),
    fmt: str = typer.Option("csv", "--format", help="csv, xlsx, parquet or jsonl."),
    out: Path = typer.Option(..., "--out", help="File to write, e.g. exports/feedback-2026-11.xlsx."),
    since: str = typer.Option(None, "--since", help="First day included, YYYY-MM-DD (UTC)."),
    until: str = typer.Option(None, "--until", help="Last day included, YYYY-MM-DD (UTC)."),
) -> None:
    """Export conversations, feedback or the fine-tuning set.

    finetune writes `instruction,response[,context][,images]` (CSV: images joined with ';'),
    the format `docent finetune train` reads. Dates are inclusive and in UTC.

    Example: docent export --what feedback --format xlsx --out feedback.xlsx --since 2026-11-01
    """
    from config.settings import load_settings
    from feedback.export import export as run_export
    from feedback.factory import open_store
    from feedback.store import StoreError

    if what not in EXPORT_WHAT:
        raise typer.BadParameter(f"{what!r} is unknown; use one of {', '.join(EXPORT_WHAT)}.", param_hint="--what")
    if fmt not in EXPORT_FORMATS:
        raise typer.BadParameter(f"{fmt!r} is unknown; use one of {', '.join(EXPORT_FORMATS)}.", param_hint="--format")
    first, last = parse_day(since, "--since"), parse_day(until, "--until")
    if first and last and first > last:
        raise typer.BadParameter(f"--since {first} is after --until {last}; swap them.", param_hint="--since")
    store = open_store(load_settings())
    try:
        rows = run_export(store, what, fmt, out, first, last)
    except StoreError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    finally:
        store.close()
    typer.echo(f"Wrote {rows} {what} rows to {out}")


def stores_init() -> None:
    """Prepare the conversation + feedback store chosen by DOCENT_STORE_BACKEND.

    dynamodb: creates the missing tables (on-demand billing) and waits until they are active;
    uses DOCENT_AWS_REGION, DOCENT_DYNAMODB_TABLE_PREFIX and DOCENT_DYNAMODB_ENDPOINT_URL.
    sqlite: applies the schema migrations and prints the database path.
    """
    from config.settings import load_settings
    from feedback.store import StoreError

    settings = load_settings()
    if settings.store_backend == "sqlite":
        from feedback.sqlite import SQLiteFeedbackStore

        store = SQLiteFeedbackStore(settings.sqlite_path)
        applied = store.applied_migrations
        store.close()
        typer.echo(
            f"SQLite store ready at {settings.sqlite_path}"
            + (f" (applied {', '.join(applied)})" if applied else " (schema up to date)")
        )
        return
    from feedback.dynamodb import DynamoDBFeedbackStore, table_definitions

    store = DynamoDBFeedbackStore.from_settings(settings)
    try:
        created = store.create_tables()
    except StoreError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    names = [d["TableName"] for d in table_definitions(store.prefix)]
    typer.echo(
        f"DynamoDB tables ready: {', '.join(names)}"
        + (f" (created {', '.join(created)})" if created else " (all existed)")
    )


def stores_outbox(
    replay: list[int] = typer.Option(None, "--replay", help="Put this dead entry back in the queue (repeatable)."),
    replay_all: bool = typer.Option(False, "--replay-all", help="Put every dead entry back and deliver now."),
    discard: list[int] = typer.Option(None, "--discard", help="Delete this dead entry for good (repeatable)."),
    show: int = typer.Option(None, "--show", help="Print this entry's full record as JSON (to copy text out)."),
) -> None:
    """List the writes waiting in the local outbox (DynamoDB store), and replay or discard dead ones.

    A dead entry is one the store refused for good (e.g. feedback on a turn it does not hold); it stays
    until replayed or discarded. Example: docent stores outbox --replay 12
    """
    import json

    from config.settings import load_settings
    from feedback.factory import open_store

    settings = load_settings()
    store = open_store(settings)
    try:
        if not hasattr(store, "entries"):
            typer.echo(f"The {settings.store_backend} store writes directly; there is no outbox.")
            return
        if show is not None:
            entry = next((e for e in store.entries() if e.seq == show), None)
            if entry is None:
                raise typer.BadParameter(
                    f"there is no outbox entry {show}; run `docent stores outbox`.", param_hint="--show"
                )
            typer.echo(json.dumps(entry.payload, indent=2, ensure_ascii=False))
            return
        if discard:
            typer.echo(f"Discarded {store.discard(discard)} dead entr{'y' if len(discard) == 1 else 'ies'}.")
        if replay or replay_all:
            report = store.replay(None if replay_all else replay)
            typer.echo(f"Delivered {report.delivered}; {report.pending} still waiting; {report.failed} refused again.")
        entries = store.entries()
        waiting = [e for e in entries if not e.dead]
        dead = [e for e in entries if e.dead]
        typer.echo(f"Outbox {store.outbox_path}: {len(waiting)} waiting, {len(dead)} dead.")
        for e in entries:
            state = "DEAD   " if e.dead else "waiting"
            typer.echo(f"  {e.seq:>5}  {state}  {e.enqueued_at[:19]}  tries={e.attempts}  {e.summary}")
            if e.dead or e.last_error:
                typer.echo(f"         reason: {e.last_error}")
        if dead:
            typer.echo(
                "Replay with --replay SEQ (or --replay-all) once the cause is fixed; --show SEQ prints a "
                "record, --discard SEQ deletes it."
            )
    finally:
        store.close()


def register(app: typer.Typer) -> None:
    app.command("export")(export)
    stores_app = typer.Typer(help="Set up the conversation + feedback store.", no_args_is_help=True)
    stores_app.command("init")(stores_init)
    stores_app.command("outbox")(stores_outbox)
    app.add_typer(stores_app, name="stores")
