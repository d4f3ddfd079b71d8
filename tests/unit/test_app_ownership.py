"""Issue 11, item 1: a conversation belongs to its owner. Two signed-in users in header mode (the
load balancer's signed token checked against a loopback key server) under AppTest."""

from __future__ import annotations

import pytest

from tests.fixtures.alb import signed_in_users
from tests.fixtures.app_corpus import AppBackend, app_test

pytestmark = pytest.mark.slow

ANA, MALLORY = "ana@corp.com", "mallory@corp.com"
SECRET = "Where do I get a parking permit?"


@pytest.fixture(scope="module")
def base(tmp_path_factory, minilm):
    return AppBackend(tmp_path_factory.mktemp("owners") / "data", minilm)


@pytest.fixture
def as_user(base, monkeypatch):
    """as_user(email): from now on the app sees that person signed in (tests/fixtures/alb.py)."""
    with signed_in_users(monkeypatch, base) as switch:
        yield switch


def _sid(at) -> str:
    value = at.query_params["s"]
    return value[0] if isinstance(value, list) else value


def _page_text(at) -> str:
    parts = [m.value for m in at.markdown] + [t.value for t in at.get("text")] + [c.value for c in at.caption]
    return "\n".join(str(p) for p in parts)


def _ask(at, question: str) -> None:
    at.chat_input[0].set_value(question).run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]


def test_another_user_with_the_link_neither_reads_nor_continues_the_conversation(as_user, base):
    as_user(ANA)
    ana = app_test()
    ana.run()
    _ask(ana, SECRET)
    sid = _sid(ana)
    assert SECRET in _page_text(ana)

    as_user(MALLORY)
    mallory = app_test()
    mallory.query_params["s"] = sid
    mallory.run()
    assert not mallory.exception
    assert SECRET not in _page_text(mallory)
    assert _sid(mallory) != sid  # a fresh id made by the server
    assert any("belongs to someone else" in i.value for i in mallory.info)
    _ask(mallory, "How do I book annual leave?")
    assert [t.question for t in base.store.session_turns(sid, ANA)] == [SECRET]  # nothing added to ana's
    mallory.button[[b.label for b in mallory.button].index("Delete")].click().run()
    assert [t.question for t in base.store.session_turns(sid, ANA)] == [SECRET]  # nor cleared

    as_user(ANA)
    again = app_test()
    again.query_params["s"] = sid
    again.run()
    assert _sid(again) == sid and SECRET in _page_text(again)  # the owner still reloads it


def test_a_link_with_a_chosen_id_does_not_fix_the_victims_conversation(as_user, base):
    chosen = "attacker-chosen-0001"
    as_user(ANA)
    victim = app_test()
    victim.query_params["s"] = chosen
    victim.run()
    assert _sid(victim) != chosen
    _ask(victim, SECRET)
    assert base.store.session_owner(chosen) is None
    assert base.store.session_owner(_sid(victim)) == ANA

    as_user(MALLORY)
    sender = app_test()
    sender.query_params["s"] = chosen
    sender.run()
    assert SECRET not in _page_text(sender)
    assert base.store.session_turns(chosen, MALLORY) == []


def test_a_plain_identity_header_without_the_signed_token_is_refused(as_user, monkeypatch):
    import ui

    monkeypatch.setattr(ui, "request_headers", lambda: {"X-Amzn-Oidc-Identity": "root@corp.com"})
    at = app_test()
    at.run()
    assert not at.exception
    assert any("no signed x-amzn-oidc-data" in e.value for e in at.error)
    assert not at.chat_input
