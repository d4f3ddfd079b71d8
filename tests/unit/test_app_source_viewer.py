"""The source viewer under AppTest: a reference button opens the cited passage, highlighted, shown literally."""

from __future__ import annotations

import uuid

import pytest

from chain.types import Reference
from feedback.records import Turn
from index.protocol import Child, Parent, SourceRecord
from tests.fixtures.app_corpus import AppBackend, app_test, install

pytestmark = pytest.mark.slow  # builds a small index with the real MiniLM once per module

HOSTILE = (
    "<script>alert('x')</script> **bold** ![x](http://e.test/p.png) [Reset](https://evil.test) "
    "Expense claims are paid within ten working days."
)
ROWS = "Plan: Basic | Price: 10 EUR\nPlan: Pro | Price: 30 EUR\nPlan: <b>Team</b> | Price: **90 EUR**"


@pytest.fixture(scope="module")
def backend(tmp_path_factory, minilm):
    backend = AppBackend(tmp_path_factory.mktemp("viewer") / "data", minilm)
    index = backend.chain.retriever.index
    for source, text, kind, extra in (
        ("finance/<b>claims</b>.md", HOSTILE, "markdown", {"headings": ["Claims"], "url": "finance/claims.md#c"}),
        ("sales/prices.csv", ROWS, "csv", {"headings": ["prices"], "rows": (2, 4)}),
    ):
        parent = Parent(id=f"{kind}-0", source=source, title=f"**{kind}** title", text=text, kind=kind, **extra)
        child = Child(f"{kind}-0-c0", parent.id, source, kind, parent.title, parent.section, text)
        index.replace_source(
            SourceRecord(source, f"h-{source}", kind, parent.title),
            [parent],
            [child],
            minilm.embed_documents([child.embedding_text()]),
        )
    index.flush()
    return backend


@pytest.fixture
def at(backend, monkeypatch):
    install(monkeypatch, backend)
    return app_test()


def _sid(at) -> str:
    sid = at.query_params["s"]
    return sid[0] if isinstance(sid, list) else sid


def _source_buttons(at):
    return [b for b in at.button if b.key and b.key.startswith("source_")]


def _dialog_html(at) -> str:
    """What st.html shows, less the app shell's own stylesheet and phone-sidebar script (assets/)."""
    bodies = [h.proto.body for h in at.get("html")]
    return "\n".join(b for b in bodies if "docent-phone-sidebar" not in b and not b.lstrip().startswith("<style>"))


def _saved_turn(backend, answer: str, refs: list[Reference]):
    """A conversation holding one answer with these references; returns the app opened on it."""
    sid = uuid.uuid4().hex
    backend.store.save_turn(Turn.new(session_id=sid, user="local", question="q?", answer=answer, references=refs))
    at = app_test()
    at.query_params["s"] = sid
    at.run()
    assert not at.exception, at.exception
    return at


def test_a_reference_opens_its_passage_with_the_used_sentences_highlighted(at, backend):
    at.run()
    at.chat_input[0].set_value("How do I book annual leave?").run()
    assert not at.exception, at.exception
    buttons = _source_buttons(at)
    assert buttons and buttons[0].label.startswith("\\[1\\] Annual leave policy")
    assert "(<https://docs.example.com/kb/leave-policy.md#" in "\n".join(m.value for m in at.markdown)
    buttons[0].click().run()
    assert not at.exception, at.exception
    shown = _dialog_html(at)
    assert "<mark " in shown and "Workday" in shown.split("<mark ", 1)[1]
    assert any(c.value == "Highlighted: the sentences the answer used." for c in at.caption)
    assert [lb.proto.url for lb in at.get("link_button")][0].startswith("https://docs.example.com/kb/leave-policy.md")


def test_document_text_shows_literally_never_as_markdown_or_html(backend, monkeypatch):
    install(monkeypatch, backend)
    ref = Reference(
        "finance/<b>claims</b>.md", "**markdown** title", "section Claims", "finance/claims.md#c", 0.4, HOSTILE, 1
    )
    at = _saved_turn(backend, "Expense claims are paid within ten working days. [1]", [ref])
    button = _source_buttons(at)[0]
    assert "\\*\\*markdown\\*\\*" in button.label  # the title is escaped in the label too
    button.click().run()
    assert not at.exception, at.exception
    shown = _dialog_html(at)
    assert "<script" not in shown and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in shown
    assert "**bold** ![x](http://e.test/p.png) [Reset](https://evil.test)" in shown
    assert "<mark " in shown and "Expense claims are paid" in shown.split("<mark ", 1)[1]
    markdown = "\n".join(m.value for m in at.markdown)
    assert "e.test/p.png" not in markdown and "<b>" not in markdown
    # a relative link is no link: say how to get one
    assert any("ask your administrator to set a base URL" in c.value for c in at.caption)
    assert not at.get("link_button")


def test_a_spreadsheet_reference_shows_only_the_rows_used(backend, monkeypatch):
    install(monkeypatch, backend)
    ref = Reference("sales/prices.csv", "Prices", "rows 2-4, section prices", None, 0.4, ROWS[:300], 1)
    at = _saved_turn(backend, "The Pro plan costs 30 EUR a month. [1]", [ref])
    _source_buttons(at)[0].click().run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert table.to_dict("records") == [{"Plan": "Pro", "Price": "30 EUR"}]
    assert any(c.value == "The rows the answer used:" for c in at.caption)


def test_a_passage_that_is_gone_says_so_and_shows_the_stored_snippet(backend, monkeypatch):
    install(monkeypatch, backend)
    ref = Reference("hr/removed.pdf", "Old handbook", "page 4", None, 0.4, "Staff get **25** days <i>off</i>.", 2)
    at = _saved_turn(backend, "Staff get 25 days. [2]", [ref])
    button = _source_buttons(at)[0]
    assert button.label.startswith("\\[2\\] Old handbook · page 4")
    button.click().run()
    assert not at.exception, at.exception
    assert any("no longer in the knowledge base" in w.value for w in at.warning)
    assert "Staff get **25** days <i>off</i>." in [t.value for t in at.get("text")]
    assert "docent-passage" not in _dialog_html(at)
