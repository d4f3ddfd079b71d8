"""The Knowledge page under AppTest: upload + index, index status, delete, Q&A import."""

from __future__ import annotations

import pytest

from tests.fixtures.app_corpus import AppBackend, app_test, install

pytestmark = pytest.mark.slow

HANDBOOK = b"""# Bicycle scheme

## Joining

Employees join the bicycle lease scheme through the Benefits desk; the lease runs 36 months.
"""


@pytest.fixture(scope="module")
def backend(tmp_path_factory, minilm):
    return AppBackend(tmp_path_factory.mktemp("knowledge") / "data", minilm)


@pytest.fixture
def at(backend, monkeypatch):
    install(monkeypatch, backend)
    at = app_test()
    at.run()
    at.switch_page("views/knowledge.py").run()
    assert not at.exception, at.exception
    return at


def _click(at, label):
    at.button[[b.label for b in at.button].index(label)].click().run()
    assert not at.exception, at.exception


def test_upload_indexes_good_files_and_reports_bad_ones(at, backend):
    at.file_uploader(key="kb_files").set_value(
        [
            ("bikes.md", HANDBOOK, "text/markdown"),
            ("../../broken.pdf", b"%PDF-1.4 this is not a pdf", "application/pdf"),
        ]
    )
    at.text_input(key="kb_base_url").input("https://intranet.example.com/hr")
    _click(at, "Upload and index")
    assert any("Indexed: 1 added" in s.value for s in at.success)
    assert any("Skipped broken.pdf" in w.value for w in at.warning)
    uploads = backend.settings.data_dir / "uploads"
    assert sorted(p.name for p in uploads.iterdir()) == ["bikes.md", "broken.pdf"]  # no path escape
    assert "bikes.md" in backend.chain.retriever.index.list_sources()
    result = backend.chain.answer_sync("How do employees join the bicycle lease scheme?")
    assert "Benefits desk" in result.answer
    assert any((r.url or "").startswith("https://intranet.example.com/hr/bikes.md") for r in result.references)


def test_index_status_lists_sources_and_deletes_one(at, backend):
    assert next(m.value for m in at.metric if m.label == "Documents") == str(
        len(backend.chain.retriever.index.list_sources())
    )
    at.selectbox(key="kb_victim").set_value("parking.md")
    _click(at, "Remove")
    assert any("confirm" in w.value for w in at.warning)
    assert "parking.md" in backend.chain.retriever.index.list_sources()
    at.selectbox(key="kb_victim").set_value("parking.md")
    at.checkbox(key="kb_confirm").check()
    _click(at, "Remove")
    assert "parking.md" not in backend.chain.retriever.index.list_sources()


def test_qa_import_reports_problems_and_adds_pairs(at, backend):
    before = len(backend.store.list_qa_pairs())
    csv = (
        b"instruction,response\n"
        b"Where is the canteen?,On the second floor.\n"
        b"How do I reset my password?,Duplicate of an existing pair.\n"
        b",an answer without a question\n"
    )
    at.file_uploader(key="qa_file").set_value(("pairs.csv", csv, "text/csv"))
    _click(at, "Import")
    assert any("1 added, 1 already in the set" in s.value for s in at.success)
    assert any("pairs.csv:4" in w.value and "empty question" in w.value for w in at.warning)
    assert len(backend.store.list_qa_pairs()) == before + 1
    at.run()
    assert any("Where is the canteen?" in df.value.to_string() for df in at.dataframe)


def test_a_removed_upload_stays_gone_and_published_at_belongs_to_its_upload(at, backend):
    index = backend.chain.retriever.index
    at.file_uploader(key="kb_files").set_value(
        [
            (
                "canteen.md",
                b"# Canteen\n\nThe canteen serves lunch from 12:00 to 14:00 on the ground floor.\n",
                "text/markdown",
            ),
            ("lockers.md", b"# Lockers\n\nLockers are assigned by the facilities desk for a year.\n", "text/markdown"),
        ]
    )
    at.text_input(key="kb_base_url").input("https://wiki.example.com/first")
    _click(at, "Upload and index")
    assert {"canteen.md", "lockers.md"} <= set(index.list_sources())

    at.selectbox(key="kb_victim").set_value("canteen.md")
    at.checkbox(key="kb_confirm").check()
    _click(at, "Remove")
    assert any("deleted its uploaded file" in s.value for s in at.success)
    assert "canteen.md" not in [r["source"] for r in at.dataframe[0].value.to_dict("records")]  # refreshed
    assert not (backend.settings.data_dir / "uploads" / "canteen.md").exists()

    at.file_uploader(key="kb_files").set_value(
        [("parking2.md", b"# Bikes\n\nBike racks are behind building B.\n", "text/markdown")]
    )
    at.text_input(key="kb_base_url").input("https://wiki.example.com/second")
    _click(at, "Upload and index")
    assert any("Indexed: 1 added" in s.value for s in at.success)  # nothing else was touched
    sources = index.list_sources()
    assert "canteen.md" not in sources and "parking2.md" in sources
    lockers = backend.chain.answer_sync("Who assigns the lockers?")
    urls = [r.url or "" for r in lockers.references if r.source == "lockers.md"]
    assert urls and all(u.startswith("https://wiki.example.com/first/") for u in urls)
