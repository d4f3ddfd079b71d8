"""Sync an S3 bucket prefix into the knowledge index the way a folder is synced.

Objects are listed (one paginated ListObjectsV2), and only those whose ETag differs from the one
indexed are fetched and converted by the same converters as local files. Each source is named
`s3://bucket/key`, so two buckets (or a bucket and a folder) never collide, and `--delete-missing`
only removes sources under the synced prefix. Links point at the object (its virtual-hosted URL, or
`base_url` + key when the bucket is published elsewhere, e.g. behind CloudFront), plus the page,
sheet or anchor like every other deep link.

>>> S3Location.parse("s3://corp-docs/handbook/").source("handbook/hr/leave.md")
's3://corp-docs/handbook/hr/leave.md'
>>> object_link("corp-docs", "hr/annual leave.pdf", "eu-west-1")
'https://corp-docs.s3.eu-west-1.amazonaws.com/hr/annual%20leave.pdf'
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from config.errors import DocentError
from index.embeddings import Embedder
from index.protocol import KnowledgeIndex, SourceRecord
from ingest.documents import ConversionError, Document
from ingest.sync import FileOutcome, IndexWriter, ProgressFn, SyncOptions, SyncSummary, default_converter

S3_SCHEME = "s3://"
_CHUNK = 1 << 20


class S3SyncError(DocentError):
    """The bucket or prefix cannot be read at all; nothing in the index was changed."""


def is_s3_url(text: str) -> bool:
    return str(text).lower().startswith(S3_SCHEME)


@dataclass(frozen=True)
class S3Location:
    """A bucket and a key prefix. A prefix is a folder (`docs` covers `docs/...`, not `docs2/...`),
    or one object when it names a key exactly."""

    bucket: str
    prefix: str = ""

    @classmethod
    def parse(cls, url: str) -> S3Location:
        if not is_s3_url(url):
            raise S3SyncError(f"{url}: not an S3 URL. Write it as s3://bucket/prefix.")
        bucket, _, prefix = url[len(S3_SCHEME) :].partition("/")
        if not bucket or "*" in url:
            raise S3SyncError(f"{url}: expected s3://bucket or s3://bucket/prefix (no wildcards).")
        return cls(bucket=bucket, prefix=prefix)

    @property
    def url(self) -> str:
        return f"{S3_SCHEME}{self.bucket}/{self.prefix}"

    @property
    def folder(self) -> str:
        return self.prefix if not self.prefix or self.prefix.endswith("/") else self.prefix + "/"

    def contains(self, key: str) -> bool:
        return key == self.prefix or key.startswith(self.folder)

    def relative(self, key: str) -> str:
        return PurePosixPath(key).name if key == self.prefix else key[len(self.folder) :]

    def source(self, key: str) -> str:
        return source_for(self.bucket, key)

    def owns_source(self, source: str) -> bool:
        head = f"{S3_SCHEME}{self.bucket}/"
        return source.startswith(head) and self.contains(source[len(head) :])


def source_for(bucket: str, key: str) -> str:
    """The index's name for an object; the S3-event Lambda uses the same one."""
    return f"{S3_SCHEME}{bucket}/{key}"


def object_link(bucket: str, key: str, region: str | None, base_url: str | None = None) -> str:
    """Where a reader opens the object: `base_url` + key when given, else its virtual-hosted URL."""
    if base_url:
        return base_url.rstrip("/") + "/" + quote(key)
    host = f"{bucket}.s3.{region}.amazonaws.com" if region else f"{bucket}.s3.amazonaws.com"
    return f"https://{host}/{quote(key)}"


def etag_hash(etag: str, fingerprint: str) -> str:
    """The index's content hash for an object: its ETag plus the chunking settings, so a changed
    object or changed settings re-index it and nothing else does."""
    return hashlib.sha256(f"{fingerprint}\ns3-etag:{etag.strip(chr(34))}".encode()).hexdigest()


def make_s3_client(settings: Any):
    """A boto3 S3 client for the configured region (and endpoint, e.g. MinIO or a local emulator)."""
    import boto3

    return boto3.client("s3", region_name=settings.aws_region, endpoint_url=settings.s3_endpoint_url)


def describe_client_error(exc: Exception, what: str) -> str:
    """A boto/botocore failure in words a person can act on."""
    from botocore.exceptions import ClientError, NoCredentialsError

    if isinstance(exc, NoCredentialsError):
        return f"{what}: no AWS credentials found. Configure them (aws configure, AWS_PROFILE or a role) and retry."
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "NoSuchBucket":
            return f"{what}: the bucket does not exist. Check its name (and DOCENT_AWS_REGION) and retry."
        if code in ("AccessDenied", "403", "AllAccessDisabled"):
            return f"{what}: access denied. Grant s3:ListBucket and s3:GetObject on it to these credentials."
        if code in ("NoSuchKey", "404"):
            return f"{what}: the object is gone (deleted since it was listed)."
        return f"{what}: S3 answered {code or 'an error'} ({exc}). Check the bucket and your permissions."
    return f"{what}: cannot reach S3 ({type(exc).__name__}: {exc}). Check the network and DOCENT_S3_ENDPOINT_URL."


def list_objects(s3, location: S3Location) -> Iterator[dict[str, Any]]:
    """Every object under the location (Key, ETag, Size), page by page; raises S3SyncError when the
    bucket cannot be listed."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=location.bucket, Prefix=location.prefix):
            for obj in page.get("Contents", []):
                if location.contains(obj["Key"]):
                    yield obj
    except (ClientError, BotoCoreError) as exc:
        raise S3SyncError(describe_client_error(exc, location.url)) from exc


def download(s3, bucket: str, key: str, folder: Path, max_bytes: int) -> tuple[Path, str]:
    """Fetch one object into `folder` under its file name; returns (path, the ETag actually fetched)."""
    response = s3.get_object(Bucket=bucket, Key=key)
    size = int(response.get("ContentLength") or 0)
    if size > max_bytes:
        response["Body"].close()
        raise ConversionError(f"object is {size / 2**20:.0f} MiB, over the {max_bytes / 2**20:.0f} MiB limit")
    path = folder / (PurePosixPath(key).name or "object")
    written = 0
    with path.open("wb") as out:
        for block in iter(lambda: response["Body"].read(_CHUNK), b""):
            written += len(block)
            if written > max_bytes:
                raise ConversionError(f"object is over the {max_bytes / 2**20:.0f} MiB limit")
            out.write(block)
    return path, str(response.get("ETag", ""))


ConvertFn = Callable[[Path, Path], Document]


class ObjectSync:
    """Indexes objects of one bucket: unchanged ETags are skipped, changed ones fetched and converted.

    Used by `sync_s3` (a listed prefix) and by the S3-event Lambda (the objects an event names).
    """

    def __init__(
        self,
        bucket: str,
        index: KnowledgeIndex,
        embedder: Embedder,
        s3,
        options: SyncOptions,
        summary: SyncSummary,
        progress: ProgressFn | None = None,
        convert: ConvertFn | None = None,
        region: str | None = None,
    ):
        self.bucket, self.index, self.s3, self.options, self.summary = bucket, index, s3, options, summary
        self.convert = convert or default_converter(options)
        self.region = region or getattr(getattr(s3, "meta", None), "region_name", None)
        self.writer = IndexWriter(index, embedder, options, summary, progress)
        index.ensure_model(embedder.model_id, embedder.dim)
        self.known = index.list_sources()

    def skip(self, source: str, reason: str) -> None:
        self.summary.outcomes.append(FileOutcome(source, "skipped", reason))

    def offer(self, key: str, etag: str | None, size: int | None) -> None:
        """Index one object unless its ETag is the one already indexed; problems become `skipped`."""
        from botocore.exceptions import BotoCoreError, ClientError

        from ingest.converters import SUPPORTED_SUFFIXES

        source = source_for(self.bucket, key)
        self.writer.start_file(source)
        suffix = PurePosixPath(key).suffix.lower()
        if suffix not in SUPPORTED_SUFFIXES:
            return self.skip(source, f"unsupported file type '{suffix or 'none'}'")
        limit = self.options.max_file_bytes
        if size is not None and size > limit:
            return self.skip(source, f"object is {size / 2**20:.0f} MiB, over the {limit / 2**20:.0f} MiB limit")
        fingerprint = self.options.fingerprint()
        old = self.known.get(source)
        if etag and old is not None and old.content_hash == etag_hash(etag, fingerprint):
            self.summary.outcomes.append(FileOutcome(source, "unchanged", "", old.parents, old.children))
            return None
        try:
            with tempfile.TemporaryDirectory(prefix="docent-s3-") as tmp:
                path, fetched_etag = download(self.s3, self.bucket, key, Path(tmp), limit)
                t0 = time.perf_counter()
                doc = self.convert(path, Path(tmp))
                self.summary.convert_seconds += time.perf_counter() - t0
                doc.source = source
                doc.url = doc.url or object_link(self.bucket, key, self.region, self.options.base_url)
                parents, children = self.writer.split(doc)
        except ConversionError as exc:
            return self.skip(source, str(exc))
        except (ClientError, BotoCoreError) as exc:
            return self.skip(source, describe_client_error(exc, source))
        except (OSError, UnicodeError, ValueError) as exc:
            return self.skip(source, f"{type(exc).__name__}: {exc}")
        record = SourceRecord(
            source=source,
            content_hash=etag_hash(fetched_etag or etag or "", fingerprint),
            kind=doc.kind,
            title=doc.title,
        )
        self.writer.add(record, "updated" if old is not None else "added", parents, children)
        return None

    def remove(self, key: str) -> None:
        source = source_for(self.bucket, key)
        if source in self.known:
            self.index.delete_source(source)
            self.known.pop(source)
            self.summary.outcomes.append(FileOutcome(source, "deleted"))

    def finish(self) -> None:
        self.writer.flush()
        self.index.flush()


def is_hidden(relative_key: str) -> bool:
    """Like hidden files in a folder sync: any path part starting with a dot."""
    return any(part.startswith(".") for part in relative_key.split("/") if part)


def sync_s3(
    location: S3Location,
    index: KnowledgeIndex,
    embedder: Embedder,
    s3,
    options: SyncOptions | None = None,
    progress: ProgressFn | None = None,
    convert: ConvertFn | None = None,
    region: str | None = None,
) -> SyncSummary:
    """Sync one bucket prefix; with `options.delete_missing`, sources under it whose object is gone
    are removed. Raises S3SyncError (index untouched) when the prefix cannot be listed."""
    opts = options or SyncOptions()
    started = time.perf_counter()
    summary = SyncSummary()
    objects = list(list_objects(s3, location))  # listed in full first: a listing failure changes nothing
    syncer = ObjectSync(location.bucket, index, embedder, s3, opts, summary, progress, convert, region)
    seen: set[str] = set()
    for obj in _visible(location, objects):
        seen.add(location.source(obj["Key"]))
        syncer.offer(obj["Key"], obj.get("ETag"), obj.get("Size"))
    syncer.writer.flush()
    if opts.delete_missing:
        for source in sorted(s for s in syncer.known if location.owns_source(s) and s not in seen):
            syncer.remove(source[len(f"{S3_SCHEME}{location.bucket}/") :])
    syncer.finish()
    summary.seconds = time.perf_counter() - started
    return summary


def _visible(location: S3Location, objects: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for obj in objects:
        key = obj["Key"]
        if key.endswith("/") or is_hidden(location.relative(key)):  # folder markers, hidden files
            continue
        yield obj
