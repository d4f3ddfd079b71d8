"""One behaviour suite for every OriginalsStore backend: a local folder, and S3 on moto (real boto3 calls)."""

from __future__ import annotations

import pytest

from config.settings import ConfigError, load_settings
from ingest.originals import (
    LocalFolderOriginals,
    OriginalsStore,
    OriginalsStoreError,
    S3Originals,
    UnsafeOriginalName,
    local_files,
    open_originals,
)

moto = pytest.importorskip("moto")

REGION = "eu-west-1"
BUCKET = "docent-uploads"
UNSAFE = ["../x.pdf", "../../etc/passwd", "/etc/passwd", "C:\\evil.pdf", "hr/leave.md", ".env", "", "..", "a?b.md"]


class OriginalsStoreContract:
    """Subclass with a `store` fixture returning an empty store."""

    def test_is_an_originals_store(self, store):
        assert isinstance(store, OriginalsStore)
        assert store.where

    def test_put_get_exists_roundtrip(self, store):
        assert store.put("leave policy.pdf", b"%PDF-1.4 one") == "leave policy.pdf"
        assert store.exists("leave policy.pdf")
        assert store.get("leave policy.pdf") == b"%PDF-1.4 one"

    def test_put_replaces_an_earlier_file(self, store):
        store.put("a.md", b"old")
        store.put("a.md", b"new")
        assert store.get("a.md") == b"new"
        assert store.list() == ["a.md"]

    def test_list_is_sorted_and_only_originals(self, store):
        assert store.list() == []
        for name in ("b.md", "a.md", "c.pdf"):
            store.put(name, name.encode())
        assert store.list() == ["a.md", "b.md", "c.pdf"]

    def test_delete_says_whether_there_was_a_file(self, store):
        store.put("a.md", b"x")
        store.put("b.md", b"y")
        assert store.delete("a.md") is True
        assert store.delete("a.md") is False
        assert not store.exists("a.md")
        assert store.list() == ["b.md"]

    def test_missing_file(self, store):
        assert store.exists("nope.md") is False
        with pytest.raises(FileNotFoundError, match="nope.md"):
            store.get("nope.md")

    def test_empty_file(self, store):
        store.put("empty.txt", b"")
        assert store.get("empty.txt") == b""

    @pytest.mark.parametrize("name", UNSAFE)
    def test_unsafe_names_are_refused_everywhere(self, store, name):
        for call in (
            lambda: store.put(name, b"x"),
            lambda: store.get(name),
            lambda: store.exists(name),
            lambda: store.delete(name),
        ):
            with pytest.raises(UnsafeOriginalName, match="plain file name"):
                call()
        assert store.list() == []

    def test_local_files_hands_the_indexer_paths_with_the_same_names(self, store):
        store.put("a.md", b"# A")
        store.put("b.md", b"# B")
        with local_files(store, ["a.md", "b.md"]) as paths:
            assert [p.name for p in paths] == ["a.md", "b.md"]
            assert [p.read_bytes() for p in paths] == [b"# A", b"# B"]


class TestLocalFolder(OriginalsStoreContract):
    @pytest.fixture
    def store(self, tmp_path):
        return LocalFolderOriginals(tmp_path / "data" / "uploads")

    def test_files_stay_inside_the_folder(self, store, tmp_path):
        store.put("a.md", b"x")
        assert [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()] == ["data/uploads/a.md"]

    def test_list_ignores_what_is_not_an_original(self, store):
        store.folder.mkdir(parents=True)
        (store.folder / ".upload-abc").write_bytes(b"half-written")
        (store.folder / "sub").mkdir()
        store.put("a.md", b"x")
        assert store.list() == ["a.md"]


@pytest.fixture
def s3_client():
    import boto3

    with moto.mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        yield client


class TestS3(OriginalsStoreContract):
    @pytest.fixture
    def store(self, s3_client):
        return S3Originals(BUCKET, "docent/uploads", client=s3_client)

    def test_objects_live_under_the_prefix(self, store, s3_client):
        store.put("a.md", b"x")
        keys = [o["Key"] for o in s3_client.list_objects_v2(Bucket=BUCKET)["Contents"]]
        assert keys == ["docent/uploads/a.md"]
        assert store.where == f"s3://{BUCKET}/docent/uploads/"

    def test_list_ignores_other_prefixes_and_deeper_keys(self, store, s3_client):
        for key in ("docent/uploads2/x.md", "docent/uploads/sub/y.md", "docent/other.md", "z.md"):
            s3_client.put_object(Bucket=BUCKET, Key=key, Body=b"x")
        store.put("a.md", b"x")
        assert store.list() == ["a.md"]

    def test_a_missing_bucket_is_reported_with_the_setting_to_fix(self, s3_client):
        store = S3Originals("no-such-bucket", "uploads/", client=s3_client)
        with pytest.raises(OriginalsStoreError, match="DOCENT_UPLOADS_S3_BUCKET"):
            store.put("a.md", b"x")
        with pytest.raises(OriginalsStoreError, match="no-such-bucket"):
            store.list()

    def test_open_originals_builds_the_client_from_settings(self, s3_client, tmp_path):
        settings = load_settings(
            data_dir=tmp_path,
            uploads_backend="s3",
            uploads_s3_bucket=BUCKET,
            uploads_s3_prefix="replicas",
            aws_region=REGION,
        )
        store = open_originals(settings)
        assert isinstance(store, S3Originals)
        store.put("a.md", b"x")
        assert s3_client.get_object(Bucket=BUCKET, Key="replicas/a.md")["Body"].read() == b"x"


def test_the_local_folder_is_the_default(tmp_path):
    store = open_originals(load_settings(data_dir=tmp_path))
    assert isinstance(store, LocalFolderOriginals) and store.folder == tmp_path / "uploads"


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"uploads_backend": "s3"}, "DOCENT_UPLOADS_S3_BUCKET"),
        ({"uploads_backend": "s3", "uploads_s3_bucket": "  "}, "DOCENT_UPLOADS_S3_BUCKET"),
        ({"uploads_backend": "s3", "uploads_s3_bucket": "s3://corp/uploads"}, "DOCENT_UPLOADS_S3_BUCKET"),
        (
            {"uploads_backend": "s3", "uploads_s3_bucket": "corp", "uploads_s3_prefix": "../x"},
            "DOCENT_UPLOADS_S3_PREFIX",
        ),
        (
            {"uploads_backend": "s3", "uploads_s3_bucket": "corp", "uploads_s3_prefix": "/up"},
            "DOCENT_UPLOADS_S3_PREFIX",
        ),
        ({"uploads_backend": "ftp"}, "DOCENT_UPLOADS_BACKEND"),
    ],
)
def test_bad_upload_settings_are_refused_at_start_up(tmp_path, settings, named):
    with pytest.raises(ConfigError, match=named):
        load_settings(data_dir=tmp_path, **settings)


def test_upload_settings_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCENT_UPLOADS_BACKEND", "s3")
    monkeypatch.setenv("DOCENT_UPLOADS_S3_BUCKET", "corp-docent")
    monkeypatch.setenv("DOCENT_UPLOADS_S3_PREFIX", "docent/")
    settings = load_settings(data_dir=tmp_path)
    assert (settings.uploads_backend, settings.uploads_s3_bucket, settings.uploads_s3_prefix) == (
        "s3",
        "corp-docent",
        "docent/",
    )
