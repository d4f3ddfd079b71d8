"""The S3-event ingest Lambda: recorded S3 notification events, the bucket in moto, a real embedded index."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

moto = pytest.importorskip("moto")

import boto3  # noqa: E402

from index.embedded import EmbeddedIndex  # noqa: E402
from ingest.s3 import S3Location, sync_s3  # noqa: E402
from ingest.sync import SyncOptions  # noqa: E402
from serverless import ingest_handler  # noqa: E402
from serverless.ingest_handler import handle_event, parse_records  # noqa: E402
from tests.fixtures.documents import PDF_PAGE_SENTENCES, build_corrupt, build_pdf, build_text  # noqa: E402
from tests.fixtures.toy_embedder import ToyEmbedder  # noqa: E402

EVENTS = Path(__file__).parent / "events"
REGION = "eu-west-1"
BUCKET = "corp-docs"
PDF_KEY = "docs/policies/travel-policy.pdf"
TEXT_KEY = "docs/office hours (HQ).txt"  # arrives form-encoded in the event: docs/office+hours+%28HQ%29.txt


def recorded(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


@pytest.fixture
def s3(tmp_path):
    with moto.mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        files = tmp_path / "files"
        files.mkdir()
        client.put_object(Bucket=BUCKET, Key=PDF_KEY, Body=build_pdf(files).read_bytes())
        client.put_object(Bucket=BUCKET, Key=TEXT_KEY, Body=build_text(files).read_bytes())
        client.files = files
        yield client


@pytest.fixture
def index(tmp_path):
    return EmbeddedIndex(tmp_path / "index")


def handle(event, index, s3, embedder=None):
    return handle_event(event, index, embedder or ToyEmbedder(), s3, SyncOptions(), region=REGION)


def test_records_are_parsed_with_form_encoded_keys():
    records = parse_records(recorded("s3_object_created.json"))
    assert [(r.action, r.bucket, r.key) for r in records] == [
        ("created", BUCKET, PDF_KEY),
        ("created", BUCKET, TEXT_KEY),
    ]
    assert [r.action for r in parse_records(recorded("s3_object_removed.json"))] == ["removed"]
    assert parse_records({"Service": "Amazon S3", "Event": "s3:TestEvent"}) == []
    assert parse_records({"Records": [{"eventSource": "aws:sqs", "body": "{}"}]}) == []


def test_object_created_indexes_it_with_links_to_the_object(s3, index):
    report = handle(recorded("s3_object_created.json"), index, s3)
    assert report["added"] == 2 and report["skipped"] == 0
    sources = index.list_sources()
    assert set(sources) == {f"s3://{BUCKET}/{PDF_KEY}", f"s3://{BUCKET}/{TEXT_KEY}"}
    hits, _ = index.candidates(PDF_PAGE_SENTENCES[2], ToyEmbedder().embed_query(PDF_PAGE_SENTENCES[2]), 5)
    page = next(p for p in index.get_parents([h.parent_id for h in hits]).values() if PDF_PAGE_SENTENCES[2] in p.text)
    assert page.url == f"https://{BUCKET}.s3.{REGION}.amazonaws.com/{PDF_KEY}#page=3"


def test_a_duplicate_delivery_changes_nothing(s3, index):
    handle(recorded("s3_object_created.json"), index, s3)
    embedder = ToyEmbedder()
    report = handle(recorded("s3_object_created.json"), index, s3, embedder)
    assert report["unchanged"] == 2 and report["added"] == report["updated"] == 0
    assert embedder.calls == 0


def test_object_removed_removes_it_and_only_it(s3, index):
    handle(recorded("s3_object_created.json"), index, s3)
    s3.delete_object(Bucket=BUCKET, Key=PDF_KEY)
    report = handle(recorded("s3_object_removed.json"), index, s3)
    assert report["deleted"] == 1
    assert set(index.list_sources()) == {f"s3://{BUCKET}/{TEXT_KEY}"}


def test_events_are_reconciled_with_what_is_in_the_bucket_now(s3, index):
    """Late or out-of-order deliveries: the handler trusts S3's current state, not the event name."""
    handle(recorded("s3_object_created.json"), index, s3)
    # A removal event for an object that was uploaded again since: it stays indexed.
    assert handle(recorded("s3_object_removed.json"), index, s3)["deleted"] == 0
    assert f"s3://{BUCKET}/{PDF_KEY}" in index.list_sources()
    # A late "created" event for an object deleted since: it leaves the index.
    s3.delete_object(Bucket=BUCKET, Key=TEXT_KEY)
    report = handle(recorded("s3_object_created.json"), index, s3)
    assert report["deleted"] == 1 and f"s3://{BUCKET}/{TEXT_KEY}" not in index.list_sources()


def test_an_overwritten_object_is_updated(s3, index):
    handle(recorded("s3_object_created.json"), index, s3)
    s3.put_object(Bucket=BUCKET, Key=TEXT_KEY, Body=b"Reception now opens at 7:30.\n")
    report = handle(recorded("s3_object_created.json"), index, s3)
    assert report["updated"] == 1 and report["unchanged"] == 1


def test_a_file_that_cannot_be_converted_is_reported_not_retried(s3, index):
    s3.put_object(Bucket=BUCKET, Key=PDF_KEY, Body=build_corrupt(s3.files, "broken.pdf").read_bytes())
    report = handle(recorded("s3_object_created.json"), index, s3)
    assert report["added"] == 1 and report["skipped"] == 1
    assert report["skipped_sources"][0]["source"] == f"s3://{BUCKET}/{PDF_KEY}"
    assert report["skipped_sources"][0]["reason"]


def test_hidden_keys_and_folder_markers_are_ignored(s3, index):
    event = recorded("s3_object_created.json")
    event["Records"][0]["s3"]["object"]["key"] = "docs/.trash/old.md"
    event["Records"][1]["s3"]["object"]["key"] = "docs/new-folder/"
    assert handle(event, index, s3)["added"] == 0 and index.list_sources() == {}


def test_s3_refusing_access_raises_so_lambda_retries(s3, index, monkeypatch):
    from botocore.exceptions import ClientError

    handle(recorded("s3_object_created.json"), index, s3)
    before = index.list_sources()

    def denied(**kwargs):
        raise ClientError({"Error": {"Code": "403", "Message": "Forbidden"}}, "HeadObject")

    monkeypatch.setattr(s3, "head_object", denied)
    with pytest.raises(RuntimeError, match=f"s3://{BUCKET}/{PDF_KEY}: access denied"):
        handle(recorded("s3_object_removed.json"), index, s3)
    assert index.list_sources() == before  # nothing removed on a failure


def test_the_lambda_and_the_cli_sync_agree_on_names_and_hashes(s3, index):
    handle(recorded("s3_object_created.json"), index, s3)
    summary = sync_s3(S3Location.parse(f"s3://{BUCKET}/docs"), index, ToyEmbedder(), s3, SyncOptions())
    assert summary.count("unchanged") == 2 and summary.count("added") == 0


def test_the_lambda_entry_point_builds_everything_from_settings(s3, monkeypatch, tmp_path):
    """`handler` as Lambda calls it: settings from DOCENT_* variables, the embedded index in the data dir."""
    import index.factory

    monkeypatch.setenv("DOCENT_AWS_REGION", REGION)
    monkeypatch.setenv("DOCENT_S3_LINK_BASE_URL", "https://docs.corp.example")
    monkeypatch.setattr(index.factory, "make_embedder", lambda settings: ToyEmbedder())
    monkeypatch.setattr(ingest_handler, "_deps", None)
    report = ingest_handler.handler(copy.deepcopy(recorded("s3_object_created.json")), None)
    assert report["added"] == 2
    built = ingest_handler._deps
    assert isinstance(built.index, EmbeddedIndex)
    hits, _ = built.index.candidates("office", ToyEmbedder().embed_query("office"), 5)
    parents = built.index.get_parents([h.parent_id for h in hits]).values()
    assert any(p.url == "https://docs.corp.example/docs/office%20hours%20%28HQ%29.txt" for p in parents)
    assert ingest_handler.handler(recorded("s3_object_created.json"), None)["unchanged"] == 2
    assert ingest_handler._deps is built  # built once per container
