"""The source viewer's logic (chain/sources.py) and its HTML (Streamlit/source_view.py), no browser."""

from __future__ import annotations

import sys

import pytest

from chain.sources import (
    answer_sentences,
    find_passage,
    highlight_spans,
    record,
    sentence_spans,
    split_highlighted,
    table_rows,
)
from chain.types import Reference
from index.embedded import EmbeddedIndex
from index.protocol import Child, Parent, SourceRecord
from tests.fixtures.app_corpus import APP_DIR
from tests.fixtures.toy_embedder import ToyEmbedder

EMB = ToyEmbedder()
PAGE_ONE = "Leave policy. Staff get 25 days of annual leave. The canteen opens at 8."
PAGE_TWO_A = "Book leave in Workday under Time Off. Your manager approves it within three days."
PAGE_TWO_B = "Leave longer than five days needs two weeks' notice."
PRICES = "Plan: Basic | Price: 10 EUR\nPlan: Pro | Price: 30 EUR\nPlan: Team | Price: 90 EUR"


def _parent(pid: str, source: str, text: str, **kw) -> Parent:
    return Parent(id=pid, source=source, title=kw.pop("title", source), text=text, **kw)


def _store(index, source: str, parents: list[Parent], kind: str = "pdf") -> None:
    children = [Child(f"{p.id}-c0", p.id, source, kind, p.title, p.section, p.text) for p in parents]
    vectors = EMB.embed_documents([c.embedding_text() for c in children])
    index.replace_source(SourceRecord(source, f"h-{source}-{len(parents)}", kind, source), parents, children, vectors)


@pytest.fixture
def index(tmp_path):
    idx = EmbeddedIndex(tmp_path / "index")
    idx.ensure_model(EMB.model_id, EMB.dim)
    _store(
        idx,
        "hr/leave.pdf",
        [
            _parent("l-0", "hr/leave.pdf", PAGE_ONE, kind="pdf", page=1, url="https://x.test/leave.pdf#page=1"),
            _parent("l-1", "hr/leave.pdf", PAGE_TWO_A, kind="pdf", page=2, url="https://x.test/leave.pdf#page=2"),
            _parent("l-2", "hr/leave.pdf", PAGE_TWO_B, kind="pdf", page=2, url="https://x.test/leave.pdf#page=2"),
        ],
    )
    _store(
        idx,
        "sales/prices.csv",
        [_parent("p-0", "sales/prices.csv", PRICES, kind="csv", headings=["prices"], rows=(2, 4))],
        kind="csv",
    )
    return idx


def _ref(source: str, locator: str, snippet: str = "", n: int = 1) -> Reference:
    return Reference(source=source, title=source, locator=locator, url=None, score=0.5, snippet=snippet, n=n)


# --- find_passage ---------------------------------------------------------------------------------
def test_a_page_is_found_whole_even_when_stored_as_several_parents(index):
    passage = find_passage(index, _ref("hr/leave.pdf", "page 2", PAGE_TWO_B[:300]))
    assert passage is not None
    assert passage.text == f"{PAGE_TWO_A}\n{PAGE_TWO_B}"
    assert (passage.locator, passage.kind, passage.url) == ("page 2", "pdf", "https://x.test/leave.pdf#page=2")
    assert not passage.changed and not passage.is_spreadsheet


def test_a_stored_dict_reference_works_too(index):
    passage = find_passage(index, _ref("hr/leave.pdf", "page 1").to_dict())
    assert passage is not None and passage.text == PAGE_ONE


def test_a_removed_document_or_a_qa_pair_gives_none(index):
    assert find_passage(index, _ref("hr/gone.pdf", "page 1")) is None
    assert find_passage(index, _ref("qa:abc", "fine-tuning pair")) is None
    assert find_passage(index, _ref("hr/leave.pdf", "page 9")) is None  # re-ingested without that page


def test_a_moved_passage_is_found_by_its_snippet(index):
    passage = find_passage(index, _ref("hr/leave.pdf", "page 7, section Old heading", PAGE_ONE))
    assert passage is not None and passage.locator == "page 1"


def test_a_changed_document_is_flagged(index):
    passage = find_passage(index, _ref("hr/leave.pdf", "page 1", "Staff get 30 days of leave, said the old version."))
    assert passage is not None and passage.changed


def test_a_spreadsheet_passage_knows_it_is_one(index):
    passage = find_passage(index, _ref("sales/prices.csv", "rows 2-4, section prices"))
    assert passage is not None and passage.is_spreadsheet and passage.rows == (2, 4)


# --- highlighting --------------------------------------------------------------------------------
def test_sentence_spans_cover_sentences_and_lines():
    text = "One two.  Three four!\nFive six\n\n  Seven."
    assert [text[a:b] for a, b in sentence_spans(text)] == ["One two.", "Three four!", "Five six", "Seven."]


def test_answer_sentences_follow_the_citation_markers():
    answer = "Staff get 25 days. [1] Book it in Workday. [2] Managers approve it. [1][2] Ask HR."
    assert answer_sentences(answer, 1) == ["Staff get 25 days.", "Managers approve it."]
    assert answer_sentences(answer, 2) == ["Book it in Workday.", "Managers approve it."]
    # nothing cites [3], or there are no markers: the whole answer
    assert len(answer_sentences(answer, 3)) == 4
    assert answer_sentences("Staff get 25 days. Ask HR.", 1) == ["Staff get 25 days.", "Ask HR."]


def test_highlight_picks_the_sentences_the_answer_used():
    text = f"{PAGE_TWO_A}\n{PAGE_TWO_B}"
    answer = "You book leave in Workday, under Time Off. [1] It needs two weeks' notice when longer than five days. [2]"
    assert [text[a:b] for a, b in highlight_spans(text, answer, 1)] == ["Book leave in Workday under Time Off."]
    assert [text[a:b] for a, b in highlight_spans(text, answer, 2)] == [PAGE_TWO_B]
    both = [text[a:b] for a, b in highlight_spans(text, answer.replace("[1]", "").replace("[2]", ""))]
    assert both == ["Book leave in Workday under Time Off.", PAGE_TWO_B]


def test_highlight_leaves_unrelated_passages_alone():
    assert highlight_spans(PAGE_ONE, "Parking permits cost 30 EUR a month. [1]", 1) == []
    assert highlight_spans(PAGE_ONE, "", 1) == []
    assert highlight_spans("", "Staff get 25 days.", 1) == []
    # one shared word of a long sentence is not enough
    assert highlight_spans(PAGE_ONE, "The canteen menu lists soups, salads and desserts every weekday.", 1) == []


def test_highlight_sees_plurals_and_prefers_the_tighter_sentence():
    text = "Claims and receipts and other paperwork and forms. Submit claims in Concur."
    spans = highlight_spans(text, "Submit your claim in Concur. [1]", 1)
    assert [text[a:b] for a, b in spans] == ["Submit claims in Concur."]


def test_split_highlighted_cuts_text_into_runs():
    assert split_highlighted("abcdef", [(1, 3), (2, 4), (5, 9)]) == [
        ("a", False),
        ("bc", True),
        ("d", True),
        ("e", False),
        ("f", True),
    ]
    assert split_highlighted("abc", []) == [("abc", False)]


# --- spreadsheets ----------------------------------------------------------------------------------
def test_only_the_rows_the_answer_used_become_table_rows():
    spans = highlight_spans(PRICES, "The Pro plan costs 30 EUR. [1]", 1)
    assert table_rows(PRICES, spans) == [{"Plan": "Pro", "Price": "30 EUR"}]
    assert len(table_rows(PRICES, [(0, len(PRICES))])) == 3


def test_records_keep_odd_cells_apart():
    assert record("Name: A | Name: B | Note: x: y") == {"Name": "A", "Name (2)": "B", "Note": "x: y"}
    assert record("Just a title row") == {"Row": "Just a title row"}


# --- the HTML the viewer shows ----------------------------------------------------------------------
@pytest.fixture
def source_view(monkeypatch):
    monkeypatch.syspath_prepend(str(APP_DIR))
    import source_view

    yield source_view
    sys.modules.pop("source_view", None)


def test_passage_html_escapes_every_piece_and_adds_only_marks(source_view):
    text = "<script>alert(1)</script> **bold** ![x](http://e.test/p.png) & <b>Staff get 25 days.</b>"
    out = source_view.passage_html(text, highlight_spans(text, "Staff get 25 days. [1]", 1))
    assert "<script" not in out and "<b>" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "**bold** ![x](http://e.test/p.png) &amp; " in out
    assert out.count("<mark ") == 1 and "Staff get 25 days." in out.split("<mark ")[1]
    assert out.startswith('<div class="docent-passage"') and out.endswith("</div>")


def test_reference_labels_are_numbered_and_escaped(source_view):
    ref = Reference("a.md", "**Evil** [x](http://e.test)", "section Setup", None, 0.3, n=2)
    label = source_view.reference_label(ref, 1)
    assert label.startswith("\\[2\\] \\*\\*Evil\\*\\*") and "· section Setup" in label
    assert "](" not in label
