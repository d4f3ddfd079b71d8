"""Lambda that keeps the index in step with the documents bucket, one S3 event at a time.

An event is only a trigger: for each object it names, the handler asks S3 what is there now
(HeadObject). An object that exists is indexed unless its ETag is the one already indexed; one that
is gone is removed from the index. So duplicate, late or out-of-order deliveries (S3 promises none
of these away) all leave the index matching the bucket. Sources are named `s3://bucket/key`, the
same as `docent ingest s3://bucket/prefix`, so the command and the Lambda never index an object twice.

A file that cannot be converted is logged and reported in the result (retrying would not help);
S3 or index failures raise, so Lambda retries the event and then hands it to the dead-letter queue.

>>> [(r.bucket, r.key) for r in parse_records({"Records": [{"eventSource": "aws:s3",
...     "eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "docs"},
...     "object": {"key": "hr/annual+leave.pdf", "eTag": "abc", "size": 10}}}]})]
[('docs', 'hr/annual leave.pdf')]
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from ingest.s3 import ObjectSync, describe_client_error, is_hidden
from ingest.sync import SyncOptions, SyncSummary

log = logging.getLogger("docent.ingest_handler")
log.setLevel(logging.INFO)


@dataclass(frozen=True)
class ObjectEvent:
    action: str  # "created" | "removed" (what the event said; the handler checks what is true now)
    bucket: str
    key: str


def parse_records(event: dict[str, Any]) -> list[ObjectEvent]:
    """The S3 records of a notification event; other records (and S3's test event) are ignored."""
    found: list[ObjectEvent] = []
    for record in event.get("Records") or []:
        if record.get("eventSource") != "aws:s3" or "s3" not in record:
            continue
        name = str(record.get("eventName", ""))
        action = (
            "created" if name.startswith("ObjectCreated") else "removed" if name.startswith("ObjectRemoved") else ""
        )
        if not action:
            continue
        key = unquote_plus(record["s3"]["object"]["key"])  # S3 event keys are form-encoded
        found.append(ObjectEvent(action, record["s3"]["bucket"]["name"], key))
    return found


def current_object(s3, bucket: str, key: str) -> dict[str, Any] | None:
    """HeadObject, or None when the object no longer exists."""
    from botocore.exceptions import ClientError

    try:
        return s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def handle_event(
    event: dict[str, Any], index, embedder, s3, options: SyncOptions, region: str | None = None
) -> dict[str, Any]:
    """Bring every object the event names in line with the bucket; returns the run's report."""
    from botocore.exceptions import BotoCoreError, ClientError

    started = time.perf_counter()
    summary = SyncSummary()
    syncers: dict[str, ObjectSync] = {}
    for item in parse_records(event):
        if item.key.endswith("/") or is_hidden(item.key):
            continue  # folder markers and hidden files are never indexed (as in a folder sync)
        syncer = syncers.get(item.bucket)
        if syncer is None:
            syncer = syncers[item.bucket] = ObjectSync(
                item.bucket, index, embedder, s3, options, summary, region=region
            )
        try:
            head = current_object(s3, item.bucket, item.key)
        except (ClientError, BotoCoreError) as exc:
            raise RuntimeError(describe_client_error(exc, f"s3://{item.bucket}/{item.key}")) from exc
        if head is None:
            syncer.remove(item.key)
        else:
            syncer.offer(item.key, head.get("ETag"), head.get("ContentLength"))
    for syncer in syncers.values():
        syncer.finish()
    summary.seconds = time.perf_counter() - started
    report = {status: summary.count(status) for status in ("added", "updated", "unchanged", "deleted", "skipped")}
    report["skipped_sources"] = [{"source": o.source, "reason": o.reason} for o in summary.skipped]
    report["seconds"] = round(summary.seconds, 3)
    for item in summary.skipped:
        log.warning("skipped %s: %s", item.source, item.reason)
    log.info(json.dumps({"ingest": report}))
    return report


@dataclass
class IngestDeps:
    """What the handler needs, built once per Lambda container from DOCENT_* settings."""

    index: Any
    embedder: Any
    s3: Any
    options: SyncOptions
    region: str | None

    @classmethod
    def from_settings(cls, settings) -> IngestDeps:
        from index.embeddings import CachedEmbeddings
        from index.factory import make_embedder, open_index
        from ingest.s3 import make_s3_client

        options = SyncOptions.from_settings(settings, base_url=settings.s3_link_base_url)
        embedder = CachedEmbeddings(make_embedder(settings), settings.cache_dir / "embeddings.sqlite3")
        return cls(open_index(settings), embedder, make_s3_client(settings), options, settings.aws_region)


_deps: IngestDeps | None = None


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """The Lambda entry point (`serverless.ingest_handler.handler`)."""
    global _deps
    if _deps is None:
        from config.settings import load_settings

        _deps = IngestDeps.from_settings(load_settings())
    return handle_event(event, _deps.index, _deps.embedder, _deps.s3, _deps.options, _deps.region)
