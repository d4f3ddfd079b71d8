"""`docent ingest s3://bucket/prefix`: the S3 sync against moto's S3 (real boto3 calls, no network)."""

from __future__ import annotations

import pytest

moto = pytest.importorskip("moto")

import boto3  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from index.embedded import EmbeddedIndex  # noqa: E402
from ingest.s3 import S3Location, S3SyncError, etag_hash, object_link, sync_s3  # noqa: E402
from ingest.sync import SyncOptions, sync_paths  # noqa: E402
from tests.fixtures.documents import (  # noqa: E402
    PDF_PAGE_SENTENCES,
    TEXT_PARAGRAPHS,
    build_corrupt,
    build_markdown,
    build_pdf,
    build_text,
)
from tests.fixtures.toy_embedder import ToyEmbedder  # noqa: E402

REGION = "eu-west-1"
BUCKET = "corp-docs"


@pytest.fixture
def s3(tmp_path):
    """A moto bucket holding a small handbook under `handbook/`, plus things a sync must ignore."""
    with moto.mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        files = tmp_path / "upload"
        files.mkdir()
        put = {
            "handbook/policies/travel-policy.pdf": build_pdf(files),
            "handbook/policies/expenses.md": build_markdown(files),
            "handbook/office hours.txt": build_text(files),
            "handbook/broken.pdf": build_corrupt(files, "broken.pdf"),
            "handbook/tool.exe": build_corrupt(files, "tool.exe", 64),
            "handbook/.drafts/secret.md": build_markdown(files, "secret.md", "# Draft\n\nNot published yet.\n"),
            "handbook2/other.md": build_markdown(files, "other.md", "# Other\n\nAnother prefix entirely.\n"),
        }
        for key, path in put.items():
            client.put_object(Bucket=BUCKET, Key=key, Body=path.read_bytes())
        client.put_object(Bucket=BUCKET, Key="handbook/empty-folder/", Body=b"")  # console "folder"
        client.fetched = []  # keys fetched with GetObject, recorded by a boto3 event hook

        def record_fetch(params, **_):
            client.fetched.append(params["Key"])

        client.meta.events.register("provide-client-params.s3.GetObject", record_fetch)
        yield client


@pytest.fixture
def index(tmp_path):
    return EmbeddedIndex(tmp_path / "index")


def run_sync(s3, index, url="s3://corp-docs/handbook", **options):
    s3.fetched.clear()
    return sync_s3(S3Location.parse(url), index, ToyEmbedder(), s3, SyncOptions(**options))


def statuses(summary):
    return {o.source: o.status for o in summary.outcomes}


def test_location_parsing_and_folder_semantics():
    loc = S3Location.parse("s3://corp-docs/handbook")
    assert (loc.bucket, loc.prefix, loc.folder) == ("corp-docs", "handbook", "handbook/")
    assert loc.contains("handbook/a.md") and not loc.contains("handbook2/a.md")
    assert loc.owns_source("s3://corp-docs/handbook/x/a.md")
    assert not loc.owns_source("s3://corp-docs/handbook2/a.md") and not loc.owns_source("handbook/a.md")
    assert not loc.owns_source("s3://other-bucket/handbook/a.md")
    whole = S3Location.parse("s3://corp-docs")
    assert whole.prefix == "" and whole.contains("anything/at/all.md")
    one = S3Location.parse("s3://corp-docs/handbook/a.md")
    assert one.contains("handbook/a.md") and not one.contains("handbook/a.md.bak")
    for bad in ("s3://", "s3:///key", "s3://bucket/*.pdf", "/local/path"):
        with pytest.raises(S3SyncError, match="s3://bucket"):
            S3Location.parse(bad)


def test_object_links_and_etag_hash():
    assert object_link("b", "a b/c#d.pdf", "us-east-2") == "https://b.s3.us-east-2.amazonaws.com/a%20b/c%23d.pdf"
    assert object_link("b", "x.md", None) == "https://b.s3.amazonaws.com/x.md"
    assert object_link("b", "hr/x.md", "eu-west-1", "https://docs.corp/") == "https://docs.corp/hr/x.md"
    assert etag_hash('"abc"', "v1") == etag_hash("abc", "v1")  # listed ETags carry quotes
    assert etag_hash("abc", "v1") != etag_hash("abd", "v1") != etag_hash("abc", "v2")


def test_first_sync_indexes_supported_objects_and_reports_the_rest(s3, index):
    summary = run_sync(s3, index)
    got = statuses(summary)
    base = "s3://corp-docs/handbook/"
    assert got == {
        base + "policies/travel-policy.pdf": "added",
        base + "policies/expenses.md": "added",
        base + "office hours.txt": "added",
        base + "broken.pdf": "skipped",
        base + "tool.exe": "skipped",
    }  # hidden keys, the folder marker and the other prefix are not part of this sync
    reasons = {o.source: o.reason for o in summary.skipped}
    assert "unsupported file type '.exe'" in reasons[base + "tool.exe"]
    assert "broken.pdf" not in reasons[base + "broken.pdf"] and reasons[base + "broken.pdf"]
    assert "handbook/tool.exe" not in s3.fetched  # unsupported objects are never downloaded
    assert set(index.list_sources()) == {
        base + "policies/travel-policy.pdf",
        base + "policies/expenses.md",
        base + "office hours.txt",
    }


def test_deep_links_point_at_the_object_and_the_place_in_it(s3, index):
    run_sync(s3, index)
    sources = index.list_sources()
    pdf = sources["s3://corp-docs/handbook/policies/travel-policy.pdf"]
    assert pdf.kind == "pdf"
    hits, _ = index.candidates(PDF_PAGE_SENTENCES[1], ToyEmbedder().embed_query(PDF_PAGE_SENTENCES[1]), 5)
    parents = index.get_parents([h.parent_id for h in hits])
    second_page = next(p for p in parents.values() if PDF_PAGE_SENTENCES[1] in p.text)
    assert second_page.url == (f"https://{BUCKET}.s3.{REGION}.amazonaws.com/handbook/policies/travel-policy.pdf#page=2")
    hits, _ = index.candidates(TEXT_PARAGRAPHS[0], ToyEmbedder().embed_query(TEXT_PARAGRAPHS[0]), 5)
    text = next(p for p in index.get_parents([h.parent_id for h in hits]).values() if p.kind == "text")
    assert text.url == f"https://{BUCKET}.s3.{REGION}.amazonaws.com/handbook/office%20hours.txt"


def test_base_url_stands_for_the_bucket_root(s3, index):
    run_sync(s3, index, url="s3://corp-docs/handbook/office hours.txt", base_url="https://docs.corp.example/")
    hits, _ = index.candidates(TEXT_PARAGRAPHS[0], ToyEmbedder().embed_query(TEXT_PARAGRAPHS[0]), 5)
    parent = next(iter(index.get_parents([h.parent_id for h in hits]).values()))
    assert parent.url == "https://docs.corp.example/handbook/office%20hours.txt"


def test_unchanged_objects_are_not_fetched_and_a_changed_one_alone_is(s3, index, tmp_path):
    run_sync(s3, index)
    again = run_sync(s3, index)
    assert again.count("unchanged") == 3 and again.count("added") == 0 and again.count("updated") == 0
    assert s3.fetched == ["handbook/broken.pdf"]  # only the one that never indexed is tried again

    s3.put_object(Bucket=BUCKET, Key="handbook/office hours.txt", Body=b"The office now opens at 7:30.\n")
    changed = run_sync(s3, index)
    assert statuses(changed)["s3://corp-docs/handbook/office hours.txt"] == "updated"
    assert changed.count("unchanged") == 2
    assert sorted(s3.fetched) == ["handbook/broken.pdf", "handbook/office hours.txt"]
    record = index.list_sources()["s3://corp-docs/handbook/office hours.txt"]
    etag = s3.head_object(Bucket=BUCKET, Key="handbook/office hours.txt")["ETag"]
    assert record.content_hash == etag_hash(etag, SyncOptions().fingerprint())


def test_delete_missing_removes_only_sources_under_the_prefix(s3, index, tmp_path):
    folder = tmp_path / "local"
    folder.mkdir()
    build_text(folder, "local.txt")
    sync_paths([folder], index, ToyEmbedder())
    run_sync(s3, index)
    run_sync(s3, index, url="s3://corp-docs/handbook2")
    s3.delete_object(Bucket=BUCKET, Key="handbook/policies/expenses.md")

    kept = run_sync(s3, index)
    assert kept.count("deleted") == 0 and "s3://corp-docs/handbook/policies/expenses.md" in index.list_sources()
    removed = run_sync(s3, index, delete_missing=True)
    assert [o.source for o in removed.outcomes if o.status == "deleted"] == [
        "s3://corp-docs/handbook/policies/expenses.md"
    ]
    remaining = set(index.list_sources())
    assert "local.txt" in remaining and "s3://corp-docs/handbook2/other.md" in remaining

    # and a folder sync with --delete-missing never removes what came from a bucket
    folder_run = sync_paths([folder], index, ToyEmbedder(), SyncOptions(delete_missing=True))
    assert folder_run.count("deleted") == 0
    assert "s3://corp-docs/handbook/office hours.txt" in index.list_sources()


def test_a_missing_bucket_is_a_clear_error_and_changes_nothing(s3, index):
    run_sync(s3, index)
    before = index.list_sources()
    with pytest.raises(S3SyncError, match="s3://no-such-bucket/docs: the bucket does not exist"):
        run_sync(s3, index, url="s3://no-such-bucket/docs", delete_missing=True)
    assert index.list_sources() == before


def test_an_empty_prefix_with_delete_missing_removes_its_sources(s3, index):
    run_sync(s3, index, url="s3://corp-docs/handbook2")
    s3.delete_object(Bucket=BUCKET, Key="handbook2/other.md")
    summary = run_sync(s3, index, url="s3://corp-docs/handbook2", delete_missing=True)
    assert statuses(summary) == {"s3://corp-docs/handbook2/other.md": "deleted"}


def test_oversized_objects_are_skipped_before_download(s3, index):
    summary = run_sync(s3, index, max_file_bytes=200)
    reasons = {o.source: o.reason for o in summary.skipped}
    assert "over the" in reasons["s3://corp-docs/handbook/policies/travel-policy.pdf"]
    assert "handbook/policies/travel-policy.pdf" not in s3.fetched
    assert "handbook/office hours.txt" in s3.fetched  # small enough


def test_s3_objects_get_the_folder_syncs_chunk_limit_batches_and_progress(s3, index):
    events = []
    summary = sync_s3(
        S3Location.parse("s3://corp-docs/handbook"),
        index,
        ToyEmbedder(),
        s3,
        SyncOptions(max_chunks_per_file=1, embed_batch=1),
        progress=events.append,
    )
    reasons = {o.source: o.reason for o in summary.skipped}
    assert "DOCENT_INGEST_MAX_CHUNKS_PER_FILE" in reasons["s3://corp-docs/handbook/policies/travel-policy.pdf"]
    indexed = {o.source for o in summary.outcomes if o.status == "added"}
    assert indexed and indexed == set(index.list_sources())  # what fits one chunk is indexed, nothing else
    kinds = [e.event for e in events]
    last = {k: len(kinds) - 1 - kinds[::-1].index(k) for k in ("embedded", "committed")}
    # every file is reported; each embedded batch is committed (a skipped last file may report after)
    assert kinds.count("file") == 5 and last["committed"] > last["embedded"]
    assert [e.files_done for e in events if e.event == "file"] == [1, 2, 3, 4, 5]


# --- the command line ---------------------------------------------------------------------------


@pytest.fixture
def cli(monkeypatch):
    """`docent` with the toy embedder (the sync is what is under test, not MiniLM)."""
    import index.factory
    from cli.main import _register_all, app

    monkeypatch.setattr(index.factory, "make_embedder", lambda settings: ToyEmbedder())
    monkeypatch.setenv("DOCENT_AWS_REGION", REGION)
    _register_all()
    runner = CliRunner()

    def run(*args):
        result = runner.invoke(app, list(args), catch_exceptions=False, env={"COLUMNS": "200"})
        return result.exit_code, " ".join(result.output.split())

    return run


def test_cli_syncs_a_prefix_next_to_a_folder(s3, cli, tmp_path):
    folder = tmp_path / "kb"
    folder.mkdir()
    build_text(folder, "local.txt")
    code, out = cli("ingest", str(folder), "s3://corp-docs/handbook")
    assert code == 0, out
    assert "4 added, 0 updated, 0 unchanged, 0 deleted, 2 skipped" in out
    assert "s3://corp-docs/handbook/tool.exe: unsupported file type '.exe'" in out

    s3.delete_object(Bucket=BUCKET, Key="handbook/policies/expenses.md")
    code, out = cli("ingest", "s3://corp-docs/handbook", "--delete-missing")
    assert code == 0 and "0 added, 0 updated, 2 unchanged, 1 deleted" in out
    assert "deleted s3://corp-docs/handbook/policies/expenses.md" in out

    code, out = cli("index", "status", "--sources")
    assert "sources: 3" in out and "local.txt" in out and "s3://corp-docs/handbook/policies/travel-policy.pdf" in out


def test_cli_reports_a_bad_url_or_bucket_without_a_traceback(s3, cli):
    code, out = cli("ingest", "s3://corp-docs/*.pdf")
    assert code == 2 and "expected s3://bucket or s3://bucket/prefix" in out
    code, out = cli("ingest", "s3://missing-bucket/docs")
    assert code == 2 and "s3://missing-bucket/docs: the bucket does not exist" in out
    assert "Traceback" not in out
