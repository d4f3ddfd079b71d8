"""`docent api` as a real process on a free loopback port, called by a real HTTP client: every route,
bad inputs, and 50 concurrent asks plus feedback writes that must all land in the store."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.fixtures.api_server import start_api
from tests.fixtures.app_corpus import build_app_data

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EMPLOYEE, BO, REV, ANALYST, BOSS = "emp@corp.com", "bo@corp.com", "rev@corp.com", "ana@corp.com", "boss@corp.com"
UPLOAD_LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def served(tmp_path_factory, minilm):
    root = tmp_path_factory.mktemp("served")
    settings = build_app_data(root / "data", minilm)
    proc, base = start_api(
        settings.data_dir,
        root / "api.log",
        {
            "DOCENT_AUTH_MODE": "header",
            "DOCENT_AUTH_HEADER_UNSIGNED": "true",  # the test is the proxy, on loopback
            "DOCENT_ROLE_REVIEWERS": REV,
            "DOCENT_ROLE_ANALYSTS": ANALYST,
            "DOCENT_ROLE_ADMINS": BOSS,
            "DOCENT_API_RATE_LIMIT_PER_MINUTE": "0",
            "DOCENT_API_MAX_UPLOAD_BYTES": str(UPLOAD_LIMIT),
        },
    )
    yield settings, base
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture
def http(served):
    with httpx.Client(base_url=served[1], timeout=60, trust_env=False) as client:
        yield client


def who(user: str) -> dict[str, str]:
    return {"X-Amzn-Oidc-Identity": user}


def store_of(settings):
    from feedback.factory import open_store

    return open_store(settings)


def test_every_route_over_http(served, http):
    settings, _ = served
    assert http.get("/healthz").json()["status"] == "ok"
    assert http.get("/readyz").json()["checks"] == {"index": "ok", "store": "ok"}
    paths = http.get("/openapi.json").json()["paths"]
    assert {
        "/v1/ask",
        "/v1/feedback",
        "/v1/conversations",
        "/v1/conversations/{conversation_id}",
        "/v1/export",
        "/v1/documents",
        "/v1/qa",
        "/healthz",
        "/readyz",
    } <= set(paths)

    first = http.post("/v1/ask", json={"question": "How do I book annual leave?"}, headers=who(EMPLOYEE)).json()
    assert "Workday" in first["answer"] and first["references"][0]["url"].startswith("https://docs.example.com/kb")
    conv = first["conversation_id"]
    with http.stream(
        "POST",
        "/v1/ask",
        json={"question": "and the carry-over?", "conversation_id": conv},
        headers=who(EMPLOYEE) | {"Accept": "text/event-stream"},
    ) as resp:
        blocks = "".join(resp.iter_text()).strip().split("\n\n")
    kinds = [b.split("\n")[0].removeprefix("event: ") for b in blocks]
    assert kinds[0] == "route" and kinds[-1] == "final"
    final = json.loads(blocks[-1].split("\n")[1].removeprefix("data: "))
    assert final["conversation_id"] == conv and "leave" in final["standalone_question"]  # condensed from history

    listed = http.get("/v1/conversations", headers=who(EMPLOYEE)).json()["conversations"]
    assert [(c["conversation_id"], c["turns"]) for c in listed] == [(conv, 2)]
    turns = http.get(f"/v1/conversations/{conv}", headers=who(EMPLOYEE)).json()["turns"]
    assert [t["turn_id"] for t in turns] == [first["turn_id"], final["turn_id"]]
    assert http.get(f"/v1/conversations/{conv}", headers=who(BO)).status_code == 404

    rated = http.post("/v1/feedback", json={"turn_id": first["turn_id"], "thumbs": 1}, headers=who(EMPLOYEE))
    assert rated.json()["status"] == "saved"
    export = http.get("/v1/export", params={"what": "feedback", "format": "jsonl"}, headers=who(ANALYST))
    rows = [json.loads(line) for line in export.text.splitlines()]
    assert [(r["turn_id"], r["thumbs"]) for r in rows] == [(first["turn_id"], 1)]

    doc = b"# Canteen\n\n## Opening hours\n\nThe staff canteen opens at 11:30 and closes at 14:00 on weekdays.\n"
    up = http.post("/v1/documents", files={"files": ("canteen.md", doc, "text/markdown")}, headers=who(BOSS))
    assert up.status_code == 200 and up.json()["files"][0]["status"] == "added"
    sources = [s["source"] for s in http.get("/v1/documents", headers=who(BOSS)).json()["sources"]]
    assert "canteen.md" in sources
    hours = http.post("/v1/ask", json={"question": "When does the staff canteen open?"}, headers=who(EMPLOYEE)).json()
    assert "11:30" in hours["answer"]
    assert http.delete("/v1/documents", params={"source": "canteen.md"}, headers=who(BOSS)).status_code == 200
    assert "canteen.md" not in [s["source"] for s in http.get("/v1/documents", headers=who(BOSS)).json()["sources"]]

    qa = http.post(
        "/v1/qa",
        json={"pairs": [{"question": "Where is lost property?", "answer": "At reception, ground floor."}]},
        headers=who(BOSS),
    )
    assert qa.json()["added"] == 1
    routed = http.post("/v1/ask", json={"question": "Where is lost property?"}, headers=who(EMPLOYEE)).json()
    assert routed["route"] == "finetuned"


def test_bad_inputs_over_http_are_4xx_and_write_nothing(served, http):
    settings, _ = served
    store = store_of(settings)
    turns_before = len(store.list_turns())
    sources_before = http.get("/v1/documents", headers=who(BOSS)).json()["sources"]

    big = http.post(
        "/v1/documents",
        files={"files": ("big.md", b"# Big\n\n" + b"words " * 20_000, "text/markdown")},
        headers=who(BOSS),
    )
    assert big.status_code == 413 and big.json()["error"] == "too_large"
    wrong_type = http.post(
        "/v1/documents", files={"files": ("tool.exe", b"MZ", "application/octet-stream")}, headers=who(BOSS)
    )
    assert wrong_type.status_code == 415 and "tool.exe" in wrong_type.json()["detail"]
    bad_json = http.post("/v1/ask", content=b"{nope", headers=who(EMPLOYEE) | {"Content-Type": "application/json"})
    assert bad_json.status_code == 400 and "JSON" in bad_json.json()["detail"]
    not_json = http.post("/v1/ask", content=b"question", headers=who(EMPLOYEE) | {"Content-Type": "text/plain"})
    assert not_json.status_code == 415
    unknown = http.delete("/v1/documents", params={"source": "nowhere.pdf"}, headers=who(BOSS))
    assert unknown.status_code == 404 and "nowhere.pdf" in unknown.json()["detail"]
    nobody = http.post("/v1/ask", json={"question": "hi"})
    assert nobody.status_code == 401 and nobody.json()["error"] == "unauthorized"
    not_admin = http.delete("/v1/documents", params={"source": "parking.md"}, headers=who(EMPLOYEE))
    assert not_admin.status_code == 403

    assert http.get("/v1/documents", headers=who(BOSS)).json()["sources"] == sources_before
    assert len(store.list_turns()) == turns_before
    assert not list(settings.data_dir.glob(".upload-*"))
    store.close()


def test_50_concurrent_asks_and_feedback_writes_lose_nothing(served):
    settings, base = served
    questions = [
        "How do I book annual leave?",
        "How much does a parking permit cost?",
        "Who do I call when the office printer is jammed?",
        "How many leave days carry over?",
    ]

    def one(i: int) -> tuple[str, str]:
        user = f"user{i}@corp.com"
        with httpx.Client(base_url=base, timeout=120, trust_env=False) as client:
            answer = client.post("/v1/ask", json={"question": questions[i % len(questions)]}, headers=who(user))
            answer.raise_for_status()
            turn_id = answer.json()["turn_id"]
            rated = client.post(
                "/v1/feedback", json={"turn_id": turn_id, "thumbs": 1 if i % 2 else -1}, headers=who(user)
            )
            rated.raise_for_status()
            return user, turn_id

    with ThreadPoolExecutor(max_workers=50) as pool:
        done = list(pool.map(one, range(50)))
    store = store_of(settings)
    try:
        for user, turn_id in done:
            turn = store.get_turn(turn_id)
            assert turn is not None and turn.user == user
            assert [(f.reviewer, f.kind) for f in store.feedback_for_turn(turn_id)] == [(user, "thumbs")]
        assert len({t for _, t in done}) == 50
    finally:
        store.close()
