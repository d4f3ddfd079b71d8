"""Issue 12, item 1: the conversation list (newest first, search, open, rename, delete with undo) and
read-only share links that the owner can revoke, under AppTest with two signed-in users."""

from __future__ import annotations

import pytest

from tests.fixtures.alb import signed_in_users
from tests.fixtures.app_corpus import AppBackend, app_test

pytestmark = pytest.mark.slow

ANA, BO = "ana@corp.com", "bo@corp.com"


@pytest.fixture(scope="module")
def base(tmp_path_factory, minilm):
    return AppBackend(tmp_path_factory.mktemp("conversations") / "data", minilm)


@pytest.fixture
def as_user(base, monkeypatch):
    """as_user(email): from now on the app sees that person signed in (tests/fixtures/alb.py)."""
    with signed_in_users(monkeypatch, base) as switch:
        yield switch


def _sid(at) -> str:
    value = at.query_params["s"]
    return value[0] if isinstance(value, list) else value


def _ask(at, question: str) -> None:
    at.chat_input[0].set_value(question).run()
    assert not at.exception, at.exception


def _listed(at) -> list[str]:
    return [b.label for b in at.sidebar.button if b.key and b.key.startswith("conversation_")]


def _click(at, label: str, where=None) -> None:
    buttons = (where or at).button
    [button] = [b for b in buttons if b.label == label]
    button.click().run()
    assert not at.exception, at.exception


def _texts(at) -> str:
    parts = [m.value for m in at.markdown] + [t.value for t in at.get("text")] + [c.value for c in at.caption]
    text = "\n".join(str(p) for p in parts) + "\n".join(e.value for e in at.error)
    return text.replace("\u2060", "")  # inline() breaks autolinks (e-mail addresses) with a word joiner


def test_the_list_opens_an_earlier_conversation_and_searches_its_questions(as_user):
    as_user(ANA)
    at = app_test()
    at.run()
    _ask(at, "How do I book annual leave?")
    first = _sid(at)
    _click(at, "New chat", at.sidebar)
    _ask(at, "Where do I get a parking permit?")
    assert _listed(at)[:2] == ["Where do I get a parking permit?", "How do I book annual leave?"]

    _click(at, "How do I book annual leave?", at.sidebar)
    assert _sid(at) == first or at.session_state["chat_session"] == first
    assert "How do I book annual leave?" in _texts(at) and "parking" not in _texts(at)

    at.sidebar.text_input(key="conversation_search").set_value("PARKING").run()
    assert _listed(at) == ["Where do I get a parking permit?"]
    at.sidebar.text_input(key="conversation_search").set_value("nothing like this").run()
    assert _listed(at) == [] and "No conversation matches." in _texts(at)


def test_rename_delete_and_undo(as_user, base):
    as_user(ANA)
    at = app_test()
    at.run()
    _ask(at, "Who approves my expenses?")
    sid = _sid(at)
    [box] = [t for t in at.text_input if t.label == "Title"]
    box.set_value("**Expenses** <b>bold</b>")
    _click(at, "Save title")
    assert "**Expenses** <b>bold</b>" in base.store.conversation(sid, ANA).title
    [label] = [label for label in _listed(at) if "Expenses" in label]
    assert "**Expenses**" not in label  # the title is data: its Markdown is escaped

    _click(at, "Delete")
    assert base.store.session_turns(sid, ANA) == []
    assert _sid(at) != sid  # a new conversation is open
    assert not any("Expenses" in label for label in _listed(at))
    assert "Deleted" in _texts(at)
    _click(at, "Undo", at.sidebar)
    assert any("Expenses" in label for label in _listed(at))
    assert [t.question for t in base.store.session_turns(sid, ANA)] == ["Who approves my expenses?"]


def test_a_share_link_is_read_only_for_others_and_dies_when_revoked(as_user, base):
    as_user(ANA)
    ana = app_test()
    ana.run()
    _ask(ana, "How do I book annual leave?")
    sid = _sid(ana)
    _click(ana, "Create a read-only link")
    [link] = [c.value for c in ana.code if "share=" in c.value]
    token = link.split("share=", 1)[1]

    as_user(BO)
    bo = app_test()
    bo.query_params["share"] = token
    bo.run()
    assert not bo.exception
    assert "How do I book annual leave?" in _texts(bo) and f"Shared by {ANA}" in _texts(bo)
    assert len(bo.chat_input) == 0  # read-only: no way to continue it
    assert not any(b.label == "Delete" for b in bo.button)
    assert base.store.session_turns(sid, ANA)[0].question == "How do I book annual leave?"

    as_user(ANA)
    ana.run()
    _click(ana, "Stop sharing")
    as_user(BO)
    again = app_test()
    again.query_params["share"] = token
    again.run()
    assert "How do I book annual leave?" not in _texts(again)
    assert any("does not open a conversation" in e.value for e in again.error)
    assert base.store.conversations(BO) == []  # opening a share link copies nothing to bo
