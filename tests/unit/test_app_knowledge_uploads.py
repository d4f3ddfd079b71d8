"""The Knowledge page's uploads (issue 12, item 3): the originals store (a folder, or S3 on moto), the
progress bar and the ingest report, under AppTest; and the actions behind them, without Streamlit."""

from __future__ import annotations

import pytest

from ingest.originals import LocalFolderOriginals, UnsafeOriginalName
from ingest.sync import Progress, SyncSummary
from tests.fixtures.app_corpus import AppBackend, app_test, install

REGION = "eu-west-1"
CANTEEN = b"# Canteen\n\nThe canteen serves lunch from 12:00 to 14:00 on the ground floor.\n"
LOCKERS = b"# Lockers\n\nLockers are assigned by the facilities desk for one year.\n"


class Upload:
    def __init__(self, name, data):
        self.name, self.data = name, data

    def getvalue(self):
        return self.data


# --- the actions (no Streamlit, no model) ------------------------------------------------------------


@pytest.fixture
def actions(monkeypatch):
    from tests.fixtures.app_corpus import APP_DIR

    monkeypatch.syspath_prepend(str(APP_DIR))
    import actions

    return actions


def test_store_uploads_keeps_safe_names_once(actions, tmp_path):
    store = LocalFolderOriginals(tmp_path / "uploads")
    names = actions.store_uploads(
        [Upload("../../evil.md", b"x"), Upload("/etc/a b.md", b"y"), Upload("evil.md", b"z")], store
    )
    assert names == ["evil.md", "a b.md"]
    assert store.list() == ["a b.md", "evil.md"] and store.get("evil.md") == b"z"
    assert not (tmp_path / "evil.md").exists()


def test_remove_document_deletes_only_an_uploaded_original(actions, tmp_path):
    class Index:
        def __init__(self):
            self.deleted = []

        def delete_source(self, source):
            self.deleted.append(source)

        def flush(self):
            pass

    store = LocalFolderOriginals(tmp_path / "uploads")
    store.put("a.md", b"x")
    index = Index()
    assert actions.remove_document(index, "a.md", store) is True
    assert actions.remove_document(index, "hr/a.md", store) is False  # from `docent ingest`, not an upload
    assert actions.remove_document(index, "../uploads/a.md", store) is False
    assert actions.remove_document(index, "s3://corp/a.md", store) is False
    assert index.deleted == ["a.md", "hr/a.md", "../uploads/a.md", "s3://corp/a.md"]
    assert store.list() == []


def test_the_store_refuses_names_the_page_did_not_clean(tmp_path):
    with pytest.raises(UnsafeOriginalName):
        LocalFolderOriginals(tmp_path).put("../x.pdf", b"x")


def test_upload_progress_counts_files_chunks_and_time_left(actions):
    clock = iter([0.0, 1.0, 2.0, 3.0, 4.0]).__next__  # read at the start and when a time is shown
    bar = actions.UploadProgress(total=2, clock=clock)
    assert bar.update(Progress("file", 1, "a.md")) == (0.0, "File 1 of 2: a.md · 0 chunks embedded")
    fraction, text = bar.update(Progress("file", 2, "b.md"))
    assert fraction == 0.25 and text == "File 2 of 2: b.md · 0 chunks embedded · about 3 s left"
    fraction, text = bar.update(Progress("embedded", 2, "b.md", chunks=1500))
    assert fraction == 0.25 and "1,500 chunks embedded" in text
    assert bar.update(Progress("committed", 2, "b.md")) == (1.0, "Done: 2 of 2 files · 1,500 chunks embedded · 3 s")
    assert bar.done()[0] == 1.0


def test_the_report_is_the_one_docent_ingest_prints(actions):
    from ingest.sync import FileOutcome

    summary = SyncSummary([FileOutcome("a.md", "added", "", 1, 3), FileOutcome("b.pdf", "skipped", "not a PDF")])
    lines = actions.ingest_report(summary, cached=2)
    assert [(line.label, line.text) for line in lines] == [
        ("Ingest", "1 added, 0 updated, 0 unchanged, 0 deleted, 1 skipped; 3 chunks embedded in 0.0 s "
         "(embedding 0.0 s, 2 cached)"),
        ("skipped", "b.pdf: not a PDF"),
    ]  # fmt: skip


def test_ingest_uploads_from_the_store_reports_progress(actions, tmp_path):
    from config.settings import load_settings
    from index.embedded import EmbeddedIndex
    from tests.fixtures.toy_embedder import ToyEmbedder

    settings = load_settings(data_dir=tmp_path / "data")
    store = LocalFolderOriginals(settings.uploads_dir)
    names = actions.store_uploads([Upload("canteen.md", CANTEEN), Upload("lockers.md", LOCKERS)], store)
    events = []
    index = EmbeddedIndex(tmp_path / "index")
    summary = actions.ingest_uploads(
        settings, index, ToyEmbedder(), names, "https://wiki.example.com", originals=store, on_progress=events.append
    )
    assert summary.count("added") == 2 and set(index.list_sources()) == {"canteen.md", "lockers.md"}
    assert [e.source for e in events if e.event == "file"] == ["canteen.md", "lockers.md"]
    assert events[-1].event == "committed" and sum(e.chunks for e in events) == summary.children
    again = actions.ingest_uploads(settings, index, ToyEmbedder(), settings.uploads_dir, "https://wiki.example.com")
    assert again.count("unchanged") == 2


# --- the page under AppTest -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def backend(tmp_path_factory, minilm):
    return AppBackend(tmp_path_factory.mktemp("knowledge-uploads") / "data", minilm)


def _page(monkeypatch, backend):
    install(monkeypatch, backend)
    at = app_test()
    at.run()
    at.switch_page("views/knowledge.py").run()
    assert not at.exception, at.exception
    return at


def _click(at, label):
    at.button[[b.label for b in at.button].index(label)].click().run()
    assert not at.exception, at.exception


def _upload(at, files, base_url=""):
    at.file_uploader(key="kb_files").set_value(files)
    if base_url:
        at.text_input(key="kb_base_url").input(base_url)
    _click(at, "Upload and index")


def _remove(at, source):
    at.selectbox(key="kb_victim").set_value(source)
    at.checkbox(key="kb_confirm").check()
    _click(at, "Remove")


def _table(at):
    return {r["source"]: r for r in at.dataframe[0].value.to_dict("records")}


@pytest.mark.slow
def test_an_upload_shows_progress_and_the_ingest_report(monkeypatch, backend):
    at = _page(monkeypatch, backend)
    _upload(at, [("canteen.md", CANTEEN, "text/markdown"), ("../junk.pdf", b"%PDF-1.4 not a pdf", "application/pdf")])
    bars = at.get("progress")
    assert bars, "no progress bar"
    assert bars[-1].proto.value == 100 and bars[-1].proto.text.startswith("Done: 2 of 2 files")
    report = next(s.value for s in at.success if s.value.startswith("Indexed:"))
    assert "1 added" in report and "1 skipped" in report and "chunks embedded in" in report and "(embedding" in report
    assert any(w.value.startswith("Skipped junk.pdf") for w in at.warning)
    at.run()
    assert _table(at)["canteen.md"]["uploaded"] is True
    assert _table(at)["parking.md"]["uploaded"] is False  # ingested from a folder, not uploaded here


@pytest.mark.slow
def test_with_s3_the_originals_live_in_the_bucket_and_a_removed_one_stays_gone(monkeypatch, backend):
    moto = pytest.importorskip("moto")
    import boto3

    bucket = "docent-uploads-apptest"
    with moto.mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        replica = backend.with_settings(
            uploads_backend="s3", uploads_s3_bucket=bucket, uploads_s3_prefix="kb/", aws_region=REGION
        )
        at = _page(monkeypatch, replica)
        assert any(f"s3://{bucket}/kb/" in c.value.replace("\\", "") for c in at.caption)  # Markdown-escaped
        _upload(at, [("lockers.md", LOCKERS, "text/markdown")], "https://wiki.example.com/a")
        assert any(s.value.startswith("Indexed: 1 added") for s in at.success)

        def keys():
            return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))

        assert keys() == ["kb/lockers.md"]
        assert not (backend.settings.uploads_dir / "lockers.md").exists()  # nothing on this replica's disk
        index = backend.chain.retriever.index
        assert "lockers.md" in index.list_sources()
        at.run()
        assert _table(at)["lockers.md"]["uploaded"] is True

        _remove(at, "lockers.md")
        assert any("deleted its uploaded file" in s.value for s in at.success)
        assert keys() == [] and "lockers.md" not in _table(at)

        _upload(at, [("canteen2.md", CANTEEN.replace(b"Canteen", b"Cafeteria"), "text/markdown")])
        assert any(s.value.startswith("Indexed: 1 added") for s in at.success)  # nothing else touched
        assert keys() == ["kb/canteen2.md"]
        assert "lockers.md" not in index.list_sources()
        answer = backend.chain.answer_sync("Who assigns the lockers?")
        assert all(r.source != "lockers.md" for r in answer.references)
