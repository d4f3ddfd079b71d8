"""`docent ingest` and `docent index status`."""

from __future__ import annotations

from pathlib import Path

import typer


def _settings():
    from config.settings import load_settings

    return load_settings()


def ingest(
    paths: list[str] = typer.Argument(
        ..., help="Files or folders to index (folders are walked recursively), or s3://bucket/prefix."),
    delete_missing: bool = typer.Option(
        False, "--delete-missing",
        help="Remove indexed sources that are no longer under the given paths (or S3 prefixes)."),
    base_url: str = typer.Option(
        None, "--base-url",
        help="Where these files are published (e.g. https://wiki.corp/docs): links point there. For S3 it stands "
             "for the bucket's root (e.g. a CloudFront URL); by default links open the object in S3."),
) -> None:
    """Index documents: Markdown, text, HTML, PDF, Excel (.xlsx), CSV and Word (.docx).

    Re-running on the same folder (or S3 prefix) changes nothing; a changed file is re-indexed alone
    (S3 objects are compared by ETag before anything is fetched). Files that cannot be read are
    listed with the reason and skipped; nothing already indexed is lost.
    """
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from index.embeddings import CachedEmbeddings
    from index.factory import make_embedder, open_index
    from index.protocol import EmbeddingModelMismatch
    from ingest.converters import SUPPORTED_SUFFIXES
    from ingest.s3 import S3Location, S3SyncError, is_s3_url, make_s3_client, sync_s3
    from ingest.sync import SyncOptions, SyncSummary, discover, sync_paths

    console = Console(stderr=True)
    settings = _settings()
    local = [Path(p) for p in paths if not is_s3_url(p)]
    try:
        buckets = [S3Location.parse(p) for p in paths if is_s3_url(p)]
        files = list(discover(local, SUPPORTED_SUFFIXES))
    except (FileNotFoundError, S3SyncError) as exc:
        console.print(str(exc), style="red", markup=False, highlight=False)
        raise typer.Exit(2) from None
    index = open_index(settings)
    embedder = CachedEmbeddings(make_embedder(settings), settings.cache_dir / "embeddings.sqlite3")

    def options(link_base: str | None) -> SyncOptions:
        return SyncOptions(child_chars=settings.child_chunk_chars, overlap=settings.child_overlap_chars,
                           parent_chars=settings.parent_chunk_chars, delete_missing=delete_missing,
                           base_url=link_base)

    summary = SyncSummary()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.fields[chunks]} chunks"), console=console, transient=False) as bar:
        task = bar.add_task("files", total=len(files) or None, chunks=0)
        chunks = 0

        def progress(event: str, files_done: int, new_chunks: int) -> None:
            nonlocal chunks
            chunks += new_chunks
            bar.update(task, completed=files_done, chunks=chunks)

        try:
            if local:
                summary.merge(sync_paths(local, index, embedder, options(base_url), progress=progress))
            if buckets:
                s3 = make_s3_client(settings)
                for location in buckets:
                    bar.update(task, description=location.url, completed=0, total=None)
                    summary.merge(sync_s3(location, index, embedder, s3, options(base_url or settings.s3_link_base_url),
                                          progress=progress, region=settings.aws_region))
        except (EmbeddingModelMismatch, S3SyncError) as exc:
            console.print(str(exc), style="red", markup=False, highlight=False)
            raise typer.Exit(2) from None
    console.print(f"[bold]Ingest:[/bold] {summary.describe()} "
                  f"(embedding {summary.embed_seconds:.1f} s, {embedder.hits} cached)")
    for item in summary.skipped:
        console.print(f"  [yellow]skipped[/yellow] {escape(item.source)}: {escape(item.reason)}")
    if summary.count("deleted"):
        for item in summary.outcomes:
            if item.status == "deleted":
                console.print(f"  [cyan]deleted[/cyan] {escape(item.source)}")


def index_status(
    sources: bool = typer.Option(False, "--sources", help="List every indexed source."),
) -> None:
    """Show what the index holds: backend, location, embedding model, counts, version."""
    from index.factory import open_index

    index = open_index(_settings())
    stats = index.stats()
    typer.echo(f"backend:         {stats.backend} ({stats.location})")
    typer.echo(f"embedding model: {stats.embedding_model or '(empty index)'}")
    typer.echo(f"sources:         {stats.sources}")
    typer.echo(f"parents:         {stats.parents}")
    typer.echo(f"chunks:          {stats.children}")
    typer.echo(f"version:         {stats.version or '-'}")
    if sources:
        for rec in index.list_sources().values():
            typer.echo(f"  {rec.source}  [{rec.kind}] {rec.children} chunks, indexed {rec.indexed_at}")


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
    index_app = typer.Typer(help="Inspect the knowledge index.", no_args_is_help=True)
    index_app.command("status")(index_status)
    app.add_typer(index_app, name="index")
