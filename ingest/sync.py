"""Incremental sync of files into the knowledge index.

Each source keeps a content hash (file bytes + chunking settings): unchanged files are skipped
without converting them, a changed file is re-indexed alone, and `delete_missing` removes sources
that are no longer under the given paths. A file that cannot be read is reported with its name and
reason; the run goes on and nothing already indexed is lost.

>>> # summary = sync_paths([Path("docs")], index, embedder, SyncOptions())
>>> # print(summary.describe())
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from index.embeddings import Embedder
from index.protocol import Child, KnowledgeIndex, Parent, SourceRecord
from ingest.converters.base import DEFAULT_MAX_OFFICE_RATIO, DEFAULT_MAX_OFFICE_UNCOMPRESSED_BYTES
from ingest.documents import ConversionError, Document
from ingest.splitter import split_document

CONVERTER_VERSION = "1"  # bump when converters change what they extract: forces a re-index


@dataclass
class SyncOptions:
    child_chars: int = 500
    overlap: int = 80
    parent_chars: int = 2400
    delete_missing: bool = False
    base_url: str | None = None
    embed_batch: int = 256  # children embedded per call (across files for throughput; a big file in several)
    max_file_bytes: int = 512 * 1024 * 1024
    max_chunks_per_file: int = 100_000  # DOCENT_INGEST_MAX_CHUNKS_PER_FILE; also bounds a file's memory
    max_office_uncompressed_bytes: int = DEFAULT_MAX_OFFICE_UNCOMPRESSED_BYTES
    max_office_ratio: int = DEFAULT_MAX_OFFICE_RATIO

    @classmethod
    def from_settings(cls, settings, **overrides) -> SyncOptions:
        """Options from the typed settings (chunk sizes and the issue-11 limits), plus per-run overrides."""
        return cls(
            child_chars=settings.child_chunk_chars,
            overlap=settings.child_overlap_chars,
            parent_chars=settings.parent_chunk_chars,
            max_chunks_per_file=settings.ingest_max_chunks_per_file,
            max_office_uncompressed_bytes=settings.ingest_max_office_uncompressed_mb * 2**20,
            max_office_ratio=settings.ingest_max_office_ratio,
            **overrides,
        )

    def fingerprint(self) -> str:
        return f"v{CONVERTER_VERSION}:{self.child_chars}:{self.overlap}:{self.parent_chars}:{self.base_url or ''}"


@dataclass
class FileOutcome:
    source: str
    status: str  # added | updated | unchanged | deleted | skipped
    reason: str = ""
    parents: int = 0
    children: int = 0


@dataclass
class SyncSummary:
    outcomes: list[FileOutcome] = field(default_factory=list)
    seconds: float = 0.0
    embed_seconds: float = 0.0
    convert_seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def skipped(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status == "skipped"]

    @property
    def children(self) -> int:
        return sum(o.children for o in self.outcomes if o.status in ("added", "updated"))

    def merge(self, other: SyncSummary) -> SyncSummary:
        """Add another run's outcomes and times (one report for folders and S3 prefixes together)."""
        self.outcomes.extend(other.outcomes)
        self.seconds += other.seconds
        self.embed_seconds += other.embed_seconds
        self.convert_seconds += other.convert_seconds
        return self

    def describe(self) -> str:
        parts = [f"{self.count(s)} {s}" for s in ("added", "updated", "unchanged", "deleted", "skipped")]
        return f"{', '.join(parts)}; {self.children} chunks embedded in {self.seconds:.1f} s"


@dataclass(frozen=True)
class ReportLine:
    """One line of an ingest report: `label` is "Ingest" (the totals), "skipped" or "deleted"."""

    label: str
    text: str


def ingest_report(summary: SyncSummary, cached: int | None = None) -> list[ReportLine]:
    """What `docent ingest` prints at the end, and the Knowledge page shows after an upload: the totals,
    then each skipped file with its reason and each deleted source. `cached`: embeddings served by the cache.

    >>> [line.text for line in ingest_report(SyncSummary([FileOutcome("a.pdf", "skipped", "not a PDF")]), 0)]
    ['0 added, 0 updated, 0 unchanged, 0 deleted, 1 skipped; 0 chunks embedded in 0.0 s (embedding 0.0 s, 0 cached)', 'a.pdf: not a PDF']
    """
    timing = f"embedding {summary.embed_seconds:.1f} s" + (f", {cached} cached" if cached is not None else "")
    lines = [ReportLine("Ingest", f"{summary.describe()} ({timing})")]
    lines += [ReportLine("skipped", f"{o.source}: {o.reason}") for o in summary.skipped]
    lines += [ReportLine("deleted", o.source) for o in summary.outcomes if o.status == "deleted"]
    return lines


def file_hash(path: Path, fingerprint: str) -> str:
    digest = hashlib.sha256(fingerprint.encode())
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def discover(paths: Sequence[Path], suffixes: Sequence[str]) -> Iterator[tuple[Path, Path]]:
    """(file, root) pairs: a folder is walked recursively (hidden entries skipped), a file is its own."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for file in sorted(path.rglob("*")):
                rel = file.relative_to(path)
                if file.is_file() and not any(part.startswith(".") for part in rel.parts):
                    yield file, path
        elif path.is_file():
            yield path, path.parent
        else:
            raise FileNotFoundError(f"{raw}: no such file or folder. Check the path and run `docent ingest` again.")


@dataclass
class _Pending:
    record: SourceRecord
    status: str
    parents: list[Parent]
    children: list[Child]


@dataclass(frozen=True)
class Progress:
    """What a progress display needs: `event` is "file" (a file starts), "embedded" (a batch of
    chunks was embedded and cached) or "committed" (files written to the index)."""

    event: str
    files_done: int
    source: str = ""
    chunks: int = 0  # chunks embedded by this event


ProgressFn = Callable[[Progress], None]


class IndexWriter:
    """Embeds converted documents `embed_batch` chunks at a time, across sources, and writes each
    source to the index whole. Shared by the folder sync below and the S3 sync (ingest/s3.py), so
    both resume, limit and report the same way: `start_file(source)` per file, `add(record, status,
    *split(doc))` per converted document, `flush()` at the end.
    """

    def __init__(
        self,
        index: KnowledgeIndex,
        embedder: Embedder,
        options: SyncOptions,
        summary: SyncSummary,
        progress: ProgressFn | None = None,
    ):
        self.index, self.embedder, self.options, self.summary = index, embedder, options, summary
        self.progress = progress
        self.files_done = 0
        self._pending: list[_Pending] = []
        self._pending_children = 0

    def report(self, event: str, source: str = "", chunks: int = 0) -> None:
        if self.progress:
            self.progress(Progress(event, self.files_done, source, chunks))

    def start_file(self, source: str) -> None:
        self.files_done += 1
        self.report("file", source)

    def split(self, doc: Document) -> tuple[list[Parent], list[Child]]:
        """Parents and children of one document; ConversionError when it has no text or passes the chunk limit."""
        t0 = time.perf_counter()
        parents, children = _split_within_limit(doc, self.options)
        self.summary.convert_seconds += time.perf_counter() - t0
        if not children:
            raise ConversionError("no text could be extracted")
        return parents, children

    def add(self, record: SourceRecord, status: str, parents: list[Parent], children: list[Child]) -> None:
        self._pending.append(_Pending(record, status, parents, children))
        self._pending_children += len(children)
        if self._pending_children >= self.options.embed_batch:
            self.flush()

    def flush(self) -> None:
        """Embed what is pending, batch by batch (each batch is cached by a CachedEmbeddings embedder,
        so a stopped run resumes), then write each pending source to the index."""
        pending = self._pending
        if not pending:
            return
        batch_size = max(1, self.options.embed_batch)
        texts = [c.embedding_text() for p in pending for c in p.children]
        parts = []
        for start in range(0, len(texts), batch_size):
            batch = texts[start : start + batch_size]
            t0 = time.perf_counter()
            parts.append(np.asarray(self.embedder.embed_documents(batch), dtype=np.float32))
            self.summary.embed_seconds += time.perf_counter() - t0
            self.report("embedded", pending[-1].record.source, len(batch))
        vectors = np.concatenate(parts) if parts else np.zeros((0, self.embedder.dim), np.float32)
        offset = 0
        for item in pending:
            n = len(item.children)
            self.index.replace_source(item.record, item.parents, item.children, vectors[offset : offset + n])
            offset += n
            self.summary.outcomes.append(FileOutcome(item.record.source, item.status, "", len(item.parents), n))
        self.report("committed", pending[-1].record.source)
        self._pending, self._pending_children = [], 0


def is_remote_source(source: str) -> bool:
    """Sources synced from a bucket (`s3://bucket/key`): a folder sync never deletes them."""
    return "://" in source


def sync_paths(
    paths: Sequence[Path],
    index: KnowledgeIndex,
    embedder: Embedder,
    options: SyncOptions | None = None,
    progress: ProgressFn | None = None,
    convert: Callable[[Path, Path], Document] | None = None,
) -> SyncSummary:
    """Index the files under `paths`. Embeddings are computed `embed_batch` chunks at a time, so with a
    CachedEmbeddings embedder every finished batch is on disk: a run that is stopped (Ctrl-C, a crash)
    and started again re-embeds nothing that was done. Each file reaches the index whole or not at all.
    """
    from ingest.converters import SUPPORTED_SUFFIXES

    opts = options or SyncOptions()
    convert = convert or default_converter(opts)
    started = time.perf_counter()
    summary = SyncSummary()
    index.ensure_model(embedder.model_id, embedder.dim)
    known = index.list_sources()
    seen: set[str] = set()
    writer = IndexWriter(index, embedder, opts, summary, progress)

    for file, root in discover(paths, SUPPORTED_SUFFIXES):
        source = file.relative_to(root).as_posix()
        seen.add(source)
        writer.start_file(source)
        if file.suffix.lower() not in SUPPORTED_SUFFIXES:
            summary.outcomes.append(FileOutcome(source, "skipped", f"unsupported file type '{file.suffix or 'none'}'"))
            continue
        try:
            size = file.stat().st_size
            if size > opts.max_file_bytes:
                raise ConversionError(
                    f"file is {size / 2**20:.0f} MiB, over the {opts.max_file_bytes / 2**20:.0f} MiB limit"
                )
            digest = file_hash(file, opts.fingerprint())
            old = known.get(source)
            if old is not None and old.content_hash == digest:
                summary.outcomes.append(FileOutcome(source, "unchanged", "", old.parents, old.children))
                continue
            t0 = time.perf_counter()
            doc = convert(file, root)
            summary.convert_seconds += time.perf_counter() - t0
            parents, children = writer.split(doc)
        except ConversionError as exc:
            summary.outcomes.append(FileOutcome(source, "skipped", str(exc)))
            continue
        except (OSError, UnicodeError, ValueError) as exc:  # unreadable, permissions, bad encoding
            summary.outcomes.append(FileOutcome(source, "skipped", f"{type(exc).__name__}: {exc}"))
            continue
        record = SourceRecord(source=source, content_hash=digest, kind=doc.kind, title=doc.title)
        writer.add(record, "updated" if old is not None else "added", parents, children)
    writer.flush()

    if opts.delete_missing:
        for source in sorted(set(known) - seen):
            if is_remote_source(source):
                continue
            index.delete_source(source)
            summary.outcomes.append(FileOutcome(source, "deleted"))
    index.flush()
    summary.seconds = time.perf_counter() - started
    return summary


def delete_source(index: KnowledgeIndex, source: str) -> None:
    """Remove one source from the index and make it durable (the app's Knowledge page, the HTTP API)."""
    index.delete_source(source)
    index.flush()


def default_converter(opts: SyncOptions) -> Callable[[Path, Path], Document]:
    """convert_file with the options' zip limits (the same converters for folders, uploads and S3)."""
    from ingest.converters import convert_file, limited_converters

    converters = limited_converters(opts.max_office_uncompressed_bytes, opts.max_office_ratio)
    return lambda file, root: convert_file(file, root, converters)


def _split_within_limit(doc: Document, opts: SyncOptions) -> tuple[list[Parent], list[Child]]:
    """The document's parents and children; stops (ConversionError) as soon as it passes the chunk limit,
    so a file that would explode into chunks never sits whole in memory."""
    parents: list[Parent] = []
    children: list[Child] = []
    for parent, kids in split_document(
        doc, child_chars=opts.child_chars, overlap=opts.overlap, parent_chars=opts.parent_chars, base_url=opts.base_url
    ):
        parents.append(parent)
        children.extend(kids)
        if len(children) > opts.max_chunks_per_file:
            raise ConversionError(
                f"it splits into more than {opts.max_chunks_per_file:,} chunks (the per-file limit, "
                "DOCENT_INGEST_MAX_CHUNKS_PER_FILE): split it into smaller files, or raise the limit, "
                "and ingest again"
            )
    return parents, children
