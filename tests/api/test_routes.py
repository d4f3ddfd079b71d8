"""Every route in-process (TestClient over the real ASGI app): answers, ownership, roles, bad input."""

from __future__ import annotations

import json

import pytest

from tests.api.conftest import as_user

ANA, BO, REV, ANALYST, BOSS = "ana@corp.com", "bo@corp.com", "rev@corp.com", "ana@corp.com", "boss@corp.com"
EMPLOYEE = "emp@corp.com"


@pytest.fixture
def client(env):
    return env.client(api_auth="header")


def ask(client, user, question, conversation_id=None, **kw):
    body = {"question": question} | ({"conversation_id": conversation_id} if conversation_id else {})
    return client.post("/v1/ask", json=body, headers=as_user(user), **kw)


def test_ask_returns_the_cli_json_fields_and_a_conversation_for_follow_ups(client, env):
    from feedback.session import ask_record

    resp = ask(client, EMPLOYEE, "How many days of annual leave do employees get?")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert "25 days" in body["answer"] and body["references"][0]["source"] == "hr/leave.md"
    result = env.chain.answer_sync("How many days of annual leave do employees get?")
    api_only = {"conversation_id", "turn_id", "saved"}
    assert set(ask_record(result, "s")) == set(body) - api_only  # the same fields as `docent ask --json`
    assert body["retrieved"] and body["retrieved"][0]["source"] == "hr/leave.md"
    assert body["session"] == body["conversation_id"] and body["saved"] == "saved"
    turn = env.store.get_turn(body["turn_id"])
    assert turn.user == EMPLOYEE and turn.session_id == body["conversation_id"]

    follow = ask(client, EMPLOYEE, "what about sick leave?", body["conversation_id"]).json()
    assert follow["conversation_id"] == body["conversation_id"]
    assert "annual leave" in follow["standalone_question"].lower() or "leave" in follow["standalone_question"]
    assert len(env.store.session_turns(body["conversation_id"], EMPLOYEE)) == 2


def test_a_conversation_is_only_the_owners(client, env):
    mine = ask(client, EMPLOYEE, "How do I set up the VPN?").json()["conversation_id"]
    assert ask(client, BO, "and troubleshooting?", mine).status_code == 404
    assert client.get(f"/v1/conversations/{mine}", headers=as_user(BO)).status_code == 404
    assert client.get(f"/v1/conversations/{mine}", headers=as_user(REV)).status_code == 404  # reviewers use review
    assert len(env.store.session_turns(mine, EMPLOYEE)) == 1  # nothing was added to it
    assert env.store.session_owner(mine) == EMPLOYEE
    assert ask(client, EMPLOYEE, "x", "not-a-real-conversation").status_code == 404

    got = client.get(f"/v1/conversations/{mine}", headers=as_user(EMPLOYEE)).json()
    assert [t["question"] for t in got["turns"]] == ["How do I set up the VPN?"]
    listed = client.get("/v1/conversations", headers=as_user(EMPLOYEE)).json()["conversations"]
    assert [c["conversation_id"] for c in listed] == [mine] and listed[0]["turns"] == 1
    assert client.get("/v1/conversations", headers=as_user(BO)).json()["conversations"] == []

    env.store.clear_session(mine, EMPLOYEE)  # cleared in the app: gone from the list, still the owner's
    assert client.get("/v1/conversations", headers=as_user(EMPLOYEE)).json()["conversations"] == []
    assert client.get(f"/v1/conversations/{mine}", headers=as_user(EMPLOYEE)).status_code == 404
    again = ask(client, EMPLOYEE, "How do I set up the VPN?", mine)
    assert again.status_code == 200 and again.json()["conversation_id"] == mine
    assert ask(client, BO, "and now?", mine).status_code == 404


def test_streaming_sends_route_tokens_and_final(client, env):
    with client.stream(
        "POST",
        "/v1/ask",
        json={"question": "How do I submit expense claims?"},
        headers=as_user(EMPLOYEE) | {"Accept": "text/event-stream"},
    ) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        raw = "".join(resp.iter_text())
    events = [
        (block.split("\n")[0].removeprefix("event: "), json.loads(block.split("\n")[1].removeprefix("data: ")))
        for block in raw.strip().split("\n\n")
    ]
    kinds = [k for k, _ in events]
    assert kinds[0] == "route" and kinds[-1] == "final" and "token" in kinds
    final = events[-1][1]
    assert "".join(d["text"] for k, d in events if k == "token").strip() == final["answer"]
    assert env.store.get_turn(final["turn_id"]).answer == final["answer"]


@pytest.mark.parametrize(
    "body, status, words",
    [
        ({"question": "   "}, 422, "empty"),
        ({"question": "x" * 3000}, 422, "DOCENT_MAX_QUESTION_CHARS"),
        ({"question": "hi", "sesion": "typo"}, 422, "sesion"),
        ({}, 422, "question"),
        ({"question": "hi", "conversation_id": "../../etc"}, 422, "conversation_id"),
    ],
)
def test_bad_questions_get_a_clear_4xx_and_store_nothing(client, env, body, status, words):
    resp = client.post("/v1/ask", json=body, headers=as_user(EMPLOYEE))
    assert resp.status_code == status and words in resp.json()["detail"], resp.text
    assert env.store.list_turns() == []


def test_bad_json_and_wrong_content_type(client, env):
    resp = client.post(
        "/v1/ask", content=b'{"question": "hi",', headers=as_user(EMPLOYEE) | {"Content-Type": "application/json"}
    )
    assert resp.status_code == 400 and "not valid JSON" in resp.json()["detail"]
    resp = client.post(
        "/v1/ask",
        content=b"question=hi",
        headers=as_user(EMPLOYEE) | {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert resp.status_code == 415 and "application/json" in resp.json()["detail"]
    assert env.store.list_turns() == []


def test_missing_identity_is_401_and_missing_role_403(client):
    resp = client.post("/v1/ask", json={"question": "hi"})
    assert resp.status_code == 401 and "X-Amzn-Oidc-Identity" in resp.json()["detail"]
    resp = client.get("/v1/export?what=turns", headers=as_user(EMPLOYEE))
    assert resp.status_code == 403 and "analyst" in resp.json()["detail"]
    assert client.get("/v1/documents", headers=as_user(ANALYST)).status_code == 403
    assert (
        client.post("/v1/qa", json={"pairs": [{"question": "q", "answer": "a"}]}, headers=as_user(REV)).status_code
        == 403
    )


def test_feedback_owner_thumbs_reviewer_reviews_and_approves(client, env):
    turn_id = ask(client, EMPLOYEE, "How do I set up the VPN?").json()["turn_id"]
    ok = client.post("/v1/feedback", json={"turn_id": turn_id, "thumbs": -1}, headers=as_user(EMPLOYEE))
    assert ok.status_code == 200 and ok.json()["status"] == "saved"
    assert (
        client.post("/v1/feedback", json={"turn_id": turn_id, "thumbs": 1}, headers=as_user(BO)).status_code == 404
    )  # not BO's answer
    assert (
        client.post("/v1/feedback", json={"turn_id": "nope", "thumbs": 1}, headers=as_user(EMPLOYEE)).status_code == 404
    )
    missing = client.post("/v1/feedback", json={"turn_id": turn_id}, headers=as_user(EMPLOYEE))
    assert missing.status_code == 400 and "thumbs" in missing.json()["detail"]
    denied = client.post(
        "/v1/feedback",
        json={"turn_id": turn_id, "kind": "review", "corrected_answer": "Use VPN X.", "approved": True},
        headers=as_user(EMPLOYEE),
    )
    assert denied.status_code == 403 and "reviewer" in denied.json()["detail"]
    bad = client.post(
        "/v1/feedback", json={"turn_id": turn_id, "kind": "review", "approved": True}, headers=as_user(REV)
    )
    assert bad.status_code == 422 and "corrected_answer" in bad.json()["detail"]
    review = client.post(
        "/v1/feedback",
        json={
            "turn_id": turn_id,
            "kind": "review",
            "likert": 2,
            "severity": "major",
            "corrected_answer": "Install GlobalProtect 6.",
            "approved": True,
        },
        headers=as_user(REV),
    )
    assert review.status_code == 200 and "Q&A set" in review.json()["qa"], review.text
    kinds = sorted((f.reviewer, f.kind) for f in env.store.feedback_for_turn(turn_id))
    assert kinds == [(EMPLOYEE, "thumbs"), (REV, "review")]
    assert [p.answer for p in env.store.list_qa_pairs()] == ["Install GlobalProtect 6."]


def test_export_for_analysts(client, env):
    ask(client, EMPLOYEE, "How do I set up the VPN?")
    resp = client.get("/v1/export?what=turns&format=csv", headers=as_user(ANALYST))
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    assert "attachment" in resp.headers["content-disposition"]
    assert "How do I set up the VPN?" in resp.text
    jsonl = client.get("/v1/export?what=turns&format=jsonl&since=2000-01-01", headers=as_user(ANALYST))
    assert [json.loads(line)["question"] for line in jsonl.text.splitlines()] == ["How do I set up the VPN?"]
    bad = client.get("/v1/export?what=turns&format=pdf", headers=as_user(ANALYST))
    assert bad.status_code == 422 and "format" in bad.json()["detail"]
    swapped = client.get("/v1/export?what=turns&since=2026-02-01&until=2026-01-01", headers=as_user(ANALYST))
    assert swapped.status_code == 400 and "swap" in swapped.json()["detail"]
    assert client.get("/v1/export?what=turns&since=yesterday", headers=as_user(ANALYST)).status_code == 422


GUIDE = b"# Bicycle scheme\n\n## Joining\n\nEmployees join the bicycle lease scheme at the Benefits desk.\n"


def test_upload_indexes_answers_and_delete_removes(client, env):
    resp = client.post(
        "/v1/documents",
        files=[("files", ("bikes.md", GUIDE, "text/markdown"))],
        data={"base_url": "https://wiki.corp/kb"},
        headers=as_user(BOSS),
    )
    assert resp.status_code == 200, resp.text
    assert [f["status"] for f in resp.json()["files"]] == ["added"] and "1 added" in resp.json()["summary"]
    assert (env.settings.data_dir / "uploads" / "bikes.md").read_bytes() == GUIDE
    answer = ask(client, EMPLOYEE, "How do employees join the bicycle lease scheme?").json()
    assert answer["references"][0]["source"] == "bikes.md"
    assert answer["references"][0]["url"].startswith("https://wiki.corp/kb/bikes.md")
    again = client.post(
        "/v1/documents",
        files=[("files", ("bikes.md", GUIDE, "text/markdown"))],
        data={"base_url": "https://wiki.corp/kb"},
        headers=as_user(BOSS),
    )
    assert [f["status"] for f in again.json()["files"]] == ["unchanged"]
    listed = client.get("/v1/documents", headers=as_user(BOSS)).json()
    assert "bikes.md" in [s["source"] for s in listed["sources"]]

    gone = client.delete("/v1/documents", params={"source": "bikes.md"}, headers=as_user(BOSS))
    assert gone.status_code == 200 and gone.json()["removed_upload"] is True
    assert "bikes.md" not in env.index.list_sources()
    assert not (env.settings.data_dir / "uploads" / "bikes.md").exists()
    unknown = client.delete("/v1/documents", params={"source": "bikes.md"}, headers=as_user(BOSS))
    assert unknown.status_code == 404 and "GET /v1/documents" in unknown.json()["detail"]


def _sources(env):
    return {s: r.content_hash for s, r in env.index.list_sources().items()}


def test_bad_uploads_are_refused_and_nothing_is_half_written(client, env):
    before = _sources(env)
    exe = client.post(
        "/v1/documents",
        files=[
            ("files", ("ok.md", GUIDE, "text/markdown")),
            ("files", ("setup.exe", b"MZ..", "application/octet-stream")),
        ],
        headers=as_user(BOSS),
    )
    assert exe.status_code == 415 and "setup.exe" in exe.json()["detail"]
    broken = client.post(
        "/v1/documents", files=[("files", ("scan.pdf", b"%PDF-1.4 garbage", "application/pdf"))], headers=as_user(BOSS)
    )
    assert broken.status_code == 422 and broken.json()["files"][0]["status"] == "skipped"
    assert broken.json()["files"][0]["reason"]
    as_json = client.post("/v1/documents", json={"files": "x"}, headers=as_user(BOSS))
    assert as_json.status_code == 415 and "multipart" in as_json.json()["detail"]
    assert _sources(env) == before
    assert not (env.settings.data_dir / "uploads").exists() or not any((env.settings.data_dir / "uploads").iterdir())
    assert not list(env.settings.data_dir.glob(".upload-*"))


def test_oversized_requests_are_413(env):
    client = env.client(api_auth="header", api_max_upload_bytes=4096, api_max_body_bytes=2048)
    before = _sources(env)
    big = client.post(
        "/v1/documents",
        files=[("files", ("big.md", b"# Big\n\n" + b"word " * 2000, "text/markdown"))],
        headers=as_user(BOSS),
    )
    assert big.status_code == 413 and "DOCENT_API_MAX_UPLOAD_BYTES" in big.json()["detail"]

    def chunked():  # no Content-Length: counted as it arrives
        yield b'{"question": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}'

    streamed = client.post(
        "/v1/ask", content=chunked(), headers=as_user(EMPLOYEE) | {"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413
    assert _sources(env) == before and env.store.list_turns() == []
    assert not list(env.settings.data_dir.glob(".upload-*"))


def test_qa_pairs_are_added_and_used_by_the_router(client, env):
    body = {"pairs": [{"question": "Who approves travel?", "answer": "Your line manager approves travel."}]}
    resp = client.post("/v1/qa", json=body, headers=as_user(BOSS))
    assert resp.status_code == 200 and resp.json()["added"] == 1
    assert client.post("/v1/qa", json=body, headers=as_user(BOSS)).json()["duplicates"] == 1
    routed = ask(client, EMPLOYEE, "Who approves travel?").json()
    assert routed["route"] == "finetuned" and routed["answer"] == "Your line manager approves travel."
    blank = client.post(
        "/v1/qa",
        json={"pairs": [{"question": "Fine?", "answer": "yes"}, {"question": " ", "answer": "x"}]},
        headers=as_user(BOSS),
    )
    assert blank.status_code == 422 and "question" in blank.json()["detail"]
    assert len(env.store.list_qa_pairs()) == 1  # the good pair of a refused request was not written


def test_rate_limit_per_identity(env):
    client = env.client(api_auth="header", api_rate_limit_per_minute=2)
    codes = [client.get("/v1/conversations", headers=as_user(EMPLOYEE)).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    limited = client.get("/v1/conversations", headers=as_user(EMPLOYEE))
    assert int(limited.headers["Retry-After"]) >= 1 and "DOCENT_API_RATE_LIMIT_PER_MINUTE" in limited.json()["detail"]
    assert client.get("/v1/conversations", headers=as_user(BO)).status_code == 200  # per identity


def test_health_and_readiness_need_no_credentials(client, env):
    assert client.get("/healthz").json() == {"status": "ok", "checks": {}}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"index": "ok", "store": "ok"}
    env.store.qa_version = lambda: (_ for _ in ()).throw(OSError("disk gone"))
    down = client.get("/readyz")
    assert down.status_code == 503 and down.json()["checks"]["store"].startswith("unreachable")


def test_local_mode_is_one_user_with_every_role(env):
    client = env.client()  # DOCENT_AUTH_MODE=local, api_auth=app
    assert client.get("/v1/documents").status_code == 200
    assert client.get("/v1/export?what=feedback").status_code == 200
    assert client.get("/v1/nowhere").json()["error"] == "not_found"


def test_uploads_and_removals_reach_the_s3_originals_store(client, env, monkeypatch):
    """With DOCENT_UPLOADS_BACKEND=s3 the API keeps originals where every replica sees them (moto here)."""
    moto = pytest.importorskip("moto")
    import boto3

    import ingest.originals as originals

    with moto.mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-1")
        s3.create_bucket(Bucket="kb-originals", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        store = originals.S3Originals("kb-originals", "uploads/", client=s3)
        monkeypatch.setattr(originals, "open_originals", lambda settings, client=None: store)
        resp = client.post(
            "/v1/documents", files=[("files", ("bikes.md", GUIDE, "text/markdown"))], headers=as_user(BOSS)
        )
        assert resp.status_code == 200, resp.text
        assert store.get("bikes.md") == GUIDE
        assert not (env.settings.data_dir / "uploads" / "bikes.md").exists()  # nothing left on this replica's disk
        gone = client.delete("/v1/documents", params={"source": "bikes.md"}, headers=as_user(BOSS))
        assert gone.json()["removed_upload"] is True and store.list() == []
