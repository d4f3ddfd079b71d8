"""`docent ingest` and `docent index status`."""

from __future__ import annotations

from pathlib import Path

import typer


def _settings():
    from config.settings import load_settings

    return load_settings()


def ingest(
    paths: list[str] = typer.Argument(
        ..., help="Files or folders to index (folders are walked recursively), or s3://bucket/prefix."
    ),
    delete_missing: bool = typer.Option(
        False,
        "--delete-missing",
        help="Remove indexed sources that are no longer under the given paths (or S3 prefixes).",
    ),
    base_url: str = typer.Option(
        None,
        "--base-url",
        help="Where these files are published (e.g. https://wiki.corp/docs): links point there. For S3 it stands "
        "for the bucket's root (e.g. a CloudFront URL); by default links open the object in S3.",
    ),
) -> None:
    """Index documents: Markdown, text, HTML, PDF, Excel (.xlsx), CSV and Word (.docx).

    Re-running on the same folder (or S3 prefix) changes nothing; a changed file is re-indexed alone
    (S3 objects are compared by ETag before anything is fetched). Files that cannot be read are
    listed with the reason and skipped; nothing already indexed is lost.
    """
    from rich.console import Console
    from rich.markup import escape

    from index.embeddings import CachedEmbeddings
    from index.factory import make_embedder, open_index
    from index.protocol import EmbeddingModelMismatch
    from ingest.converters import SUPPORTED_SUFFIXES
    from ingest.s3 import S3Location, S3SyncError, is_s3_url, make_s3_client, sync_s3
    from ingest.sync import SyncOptions, SyncSummary, discover, ingest_report, sync_paths

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
    # the cache keeps every embedded batch on disk: a stopped run resumes without embedding it again
    embedder = CachedEmbeddings(make_embedder(settings), settings.cache_dir / "embeddings.sqlite3")
    options = SyncOptions.from_settings(settings, delete_missing=delete_missing, base_url=base_url)
    s3_options = SyncOptions.from_settings(
        settings, delete_missing=delete_missing, base_url=base_url or settings.s3_link_base_url
    )
    summary = SyncSummary()
    display = IngestProgress(console, len(files))
    try:
        with display:
            if local:
                summary.merge(sync_paths(local, index, embedder, options, progress=display.update))
            if buckets:
                s3 = make_s3_client(settings)
                for location in buckets:
                    display.start(location.url, total=None)
                    summary.merge(
                        sync_s3(
                            location,
                            index,
                            embedder,
                            s3,
                            s3_options,
                            progress=display.update,
                            region=settings.aws_region,
                        )
                    )
    except (EmbeddingModelMismatch, S3SyncError) as exc:
        console.print(str(exc), style="red", markup=False, highlight=False)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        console.print(
            f"[yellow]Stopped[/yellow] after {display.files_done}{'' if buckets else f' of {len(files)}'} files; "
            f"{display.chunks:,} chunks embedded and kept. Run the same command again to resume: "
            "files already indexed are skipped and finished batches are not embedded again.",
            soft_wrap=True,
        )
        raise typer.Exit(130) from None
    totals, *details = ingest_report(summary, cached=embedder.hits)  # the Knowledge page shows the same report
    console.print(f"[bold]{totals.label}:[/bold] {totals.text}")
    for line in details:
        colour = "yellow" if line.label == "skipped" else "cyan"
        console.print(f"  [{colour}]{line.label}[/{colour}] {escape(line.text)}", highlight=False)


class IngestProgress:
    """A progress bar on a terminal; plain lines otherwise (logs, CI, `nohup`, a pipe), so a long run
    without a terminal still shows it is alive: one line per file and one per embedded batch, at most
    every `every_s` seconds for batches (the first batch of each file always)."""

    def __init__(self, console, total_files: int | None, every_s: float = 5.0):
        self.console, self.total, self.every_s = console, total_files, every_s
        self.files_done = self.chunks = 0
        self._files_before = 0  # files of earlier runs (a folder, then each S3 prefix)
        self._bar = self._task = None
        self._last_line = 0.0
        self._file_chunks = 0

    def __enter__(self) -> IngestProgress:
        if self.console.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[chunks]} chunks"),
                console=self.console,
                transient=False,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task("files", total=self.total, chunks=0)
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)

    def start(self, description: str, total: int | None) -> None:
        """A new run (an S3 prefix, whose object count is known only once listed); files keep counting."""
        self._files_before, self.total = self.files_done, total
        if self._bar is not None:
            self._bar.update(self._task, description=description, completed=0, total=total)
        else:
            self._line(description)

    def update(self, event) -> None:
        import time

        self.files_done = self._files_before + event.files_done
        self.chunks += event.chunks
        if self._bar is not None:
            self._bar.update(self._task, completed=event.files_done, chunks=self.chunks)
            return
        now = time.monotonic()
        if event.event == "file":
            self._file_chunks = 0
            of_total = f"/{self.total}" if self.total is not None else ""
            self._line(f"[{event.files_done}{of_total}] {event.source}")
        elif event.event == "embedded":
            first = self._file_chunks == 0
            self._file_chunks += event.chunks
            if first or now - self._last_line >= self.every_s:
                self._line(f"  embedded {self.chunks:,} chunks so far ({event.source})")

    def _line(self, text: str) -> None:
        import time

        self.console.print(text, markup=False, highlight=False, soft_wrap=True)
        self._last_line = time.monotonic()


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
    health = getattr(index, "health", None)  # issue 11: a lost database or a rebuilt vector file
    problems = health() if health else []
    for problem in problems:
        typer.secho(f"warning: {problem}", fg=typer.colors.YELLOW, err=True)
    if problems:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
    index_app = typer.Typer(help="Inspect the knowledge index.", no_args_is_help=True)
    index_app.command("status")(index_status)
    app.add_typer(index_app, name="index")
