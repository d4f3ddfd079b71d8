"""The conversation list through the API (issue 12): list, search, rename, delete/undo, share/revoke, and
the owner-only rule (someone else's conversation answers 404 on every route, like an unknown one)."""

from __future__ import annotations

import pytest

from tests.api.conftest import as_user

ANA, BO = "emp@corp.com", "bo@corp.com"
A1, A2, A3 = "a" * 32, "b" * 32, "c" * 32


@pytest.fixture
def client(env):
    return env.client(api_auth="header")


def say(env, session: str, question: str, at: str, user: str = ANA) -> None:
    from feedback.records import Turn

    env.store.save_turn(Turn.new(session_id=session, user=user, created_at=at, question=question, answer="An answer."))


@pytest.fixture
def three(env):
    """Ana's A1 (two turns, newest activity) and A2; Bo's A3."""
    say(env, A1, "How many days of leave do I get?", "2026-11-20T10:00:00Z")
    say(env, A2, "Who approves expenses?", "2026-11-21T10:00:00Z")
    say(env, A3, "Bo's own question about leave?", "2026-11-22T10:00:00Z", user=BO)
    say(env, A1, "and for PARENTAL leave?", "2026-11-23T10:00:00Z")


def listed(client, user=ANA, **params) -> list[dict]:
    resp = client.get("/v1/conversations", params=params, headers=as_user(user))
    assert resp.status_code == 200, resp.text
    return resp.json()["conversations"]


def test_the_list_is_the_stores_newest_first_with_titles_and_turn_counts(client, three):
    rows = listed(client)
    assert [(r["conversation_id"], r["title"], r["turns"]) for r in rows] == [
        (A1, "How many days of leave do I get?", 2),
        (A2, "Who approves expenses?", 1),
    ]
    first = rows[0]
    assert first["first_question"] == "How many days of leave do I get?" and first["shared"] is False
    assert first["started_at"].startswith("2026-11-20T10:00:00") and first["last_at"].startswith("2026-11-23")
    assert [r["conversation_id"] for r in listed(client, BO)] == [A3]
    assert [r["conversation_id"] for r in listed(client, limit=1)] == [A1]


def test_search_and_the_last_activity_window(client, three):
    assert [r["conversation_id"] for r in listed(client, q="parental")] == [A1]  # a later question
    assert [r["conversation_id"] for r in listed(client, q="approves EXPENSES")] == [A2]
    assert listed(client, q="salary") == [] and listed(client, q="bo's") == []  # only the caller's
    assert [r["conversation_id"] for r in listed(client, until="2026-11-22")] == [A2]  # A1's last turn is later
    assert [r["conversation_id"] for r in listed(client, since="2026-11-22")] == [A1]
    assert [r["conversation_id"] for r in listed(client, since="2026-11-21", until="2026-11-21")] == [A2]
    bad = client.get("/v1/conversations", params={"since": "2026-11-23", "until": "2026-11-01"}, headers=as_user(ANA))
    assert bad.status_code == 422 and "swap" in bad.json()["detail"]


def test_rename_checks_the_title(client, env, three):
    resp = client.patch(f"/v1/conversations/{A1}", json={"title": "  Leave   questions "}, headers=as_user(ANA))
    assert resp.status_code == 200, resp.text
    assert resp.json()["title"] == "Leave questions" and resp.json()["deleted"] is False
    assert listed(client)[0]["title"] == "Leave questions"
    assert [r["conversation_id"] for r in listed(client, q="questions")] == [A1]

    for title, words in (("   ", "empty"), ("x" * 201, "201 characters")):
        bad = client.patch(f"/v1/conversations/{A1}", json={"title": title}, headers=as_user(ANA))
        assert bad.status_code == 422 and words in bad.json()["detail"], bad.text
    assert client.patch(f"/v1/conversations/{A1}", json={}, headers=as_user(ANA)).status_code == 422
    assert client.patch(f"/v1/conversations/{A1}", content="{}", headers=as_user(ANA)).status_code == 415
    assert env.store.conversation(A1, ANA).title == "Leave questions"


def test_delete_takes_it_out_of_list_chat_and_ask_and_restore_brings_it_back(client, env, three):
    resp = client.delete(f"/v1/conversations/{A1}", headers=as_user(ANA))
    assert resp.status_code == 200 and resp.json()["deleted"] is True
    assert [r["conversation_id"] for r in listed(client)] == [A2]
    assert client.get(f"/v1/conversations/{A1}", headers=as_user(ANA)).status_code == 404
    follow = client.post("/v1/ask", json={"question": "and now?", "conversation_id": A1}, headers=as_user(ANA))
    assert follow.status_code == 404 and "restore" in follow.json()["detail"]
    assert len(env.store.list_turns()) == 4  # reviewers keep the turns

    resp = client.post(f"/v1/conversations/{A1}/restore", headers=as_user(ANA))
    assert resp.status_code == 200 and resp.json()["deleted"] is False
    assert [r["conversation_id"] for r in listed(client)] == [A1, A2]
    assert len(client.get(f"/v1/conversations/{A1}", headers=as_user(ANA)).json()["turns"]) == 2


def test_a_share_link_opens_read_only_for_anyone_signed_in_until_revoked(client, three):
    resp = client.post(f"/v1/conversations/{A1}/share", headers=as_user(ANA))
    assert resp.status_code == 200, resp.text
    link = resp.json()
    token = link["token"]
    assert link["url_path"] == f"/chat?share={token}" and link["conversation_id"] == A1
    assert client.post(f"/v1/conversations/{A1}/share", headers=as_user(ANA)).json()["token"] == token
    assert listed(client)[0]["shared"] is True

    seen = client.get(f"/v1/shared/{token}", headers=as_user(BO))
    assert seen.status_code == 200, seen.text
    body = seen.json()
    assert body["owner"] == ANA and body["title"] == "How many days of leave do I get?"
    assert [t["question"] for t in body["turns"]] == ["How many days of leave do I get?", "and for PARENTAL leave?"]
    assert client.get(f"/v1/shared/{token}").status_code == 401  # signed-in callers only

    client.delete(f"/v1/conversations/{A1}", headers=as_user(ANA))  # deleting stops the link; undo restores it
    assert client.get(f"/v1/shared/{token}", headers=as_user(BO)).status_code == 404
    assert client.post(f"/v1/conversations/{A1}/share", headers=as_user(ANA)).status_code == 404
    client.post(f"/v1/conversations/{A1}/restore", headers=as_user(ANA))
    assert client.get(f"/v1/shared/{token}", headers=as_user(BO)).status_code == 200

    revoked = client.delete(f"/v1/conversations/{A1}/share", headers=as_user(ANA))
    assert revoked.status_code == 200 and revoked.json()["shared"] is False
    gone = client.get(f"/v1/shared/{token}", headers=as_user(BO))
    assert gone.status_code == 404 and "new link" in gone.json()["detail"]
    assert client.get(f"/v1/shared/{token}", headers=as_user(ANA)).status_code == 404
    again = client.post(f"/v1/conversations/{A1}/share", headers=as_user(ANA)).json()["token"]
    assert again != token and client.get(f"/v1/shared/{again}", headers=as_user(BO)).status_code == 200
    for junk in ("not-a-token", f"{A2}.{again.split('.')[1]}", again[:-4] + "AAAA"):
        assert client.get(f"/v1/shared/{junk}", headers=as_user(BO)).status_code == 404


def test_someone_elses_conversation_is_404_on_every_route_like_an_unknown_one(client, env, three):
    for cid in (A1, "d" * 32, "bad id!"):
        calls = [
            client.get(f"/v1/conversations/{cid}", headers=as_user(BO)),
            client.patch(f"/v1/conversations/{cid}", json={"title": "Mine now"}, headers=as_user(BO)),
            client.delete(f"/v1/conversations/{cid}", headers=as_user(BO)),
            client.post(f"/v1/conversations/{cid}/restore", headers=as_user(BO)),
            client.post(f"/v1/conversations/{cid}/share", headers=as_user(BO)),
            client.delete(f"/v1/conversations/{cid}/share", headers=as_user(BO)),
        ]
        assert [c.status_code for c in calls] == [404] * 6, [c.text for c in calls]
        assert all(c.json()["error"] == "not_found" for c in calls)
    conv = env.store.conversation(A1, ANA)
    assert conv.title == "How many days of leave do I get?" and not conv.deleted and not conv.shared
