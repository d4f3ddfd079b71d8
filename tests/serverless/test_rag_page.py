"""The /rag page: served with a strict CSP, mounted into any Starlette app, and in a real browser it
shows answer, confidence and links while rendering every text as text."""

from __future__ import annotations

import json
import os
import socket
import threading
import time

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from serverless.api_handler import build_adapter, with_rag_page
from serverless.rag_page import CONTENT_SECURITY_POLICY, STATIC, rag_page_routes

CHROMIUM = "/usr/bin/chromium"
HOSTILE = '<img src=x onerror="window.pwned=1">**bold** [x](javascript:alert(1))'


def test_page_and_assets_are_served_with_security_headers():
    client = TestClient(Starlette(routes=rag_page_routes()))
    page = client.get("/rag")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY and "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert page.headers["x-content-type-options"] == "nosniff"
    assert '<script src="rag/rag.js"' in page.text and "<script>" not in page.text
    assert client.get("/rag/rag.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/rag/rag.css").headers["content-type"].startswith("text/css")
    assert client.post("/rag").status_code == 405


def test_the_script_never_writes_html():
    script = (STATIC / "rag.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script
    assert 'fetch(ASK_URL, { method: "POST"' in script and 'const ASK_URL = "v1/ask"' in script


def test_another_page_path_keeps_its_assets_beside_it():
    client = TestClient(Starlette(routes=rag_page_routes("/ask-docent")))
    assert '<script src="ask-docent/rag.js"' in client.get("/ask-docent").text
    assert client.get("/ask-docent/rag.js").status_code == 200
    for bad in ("/", "/a/b", "/rag?x", "/../x"):
        with pytest.raises(ValueError, match="one segment"):
            rag_page_routes(bad)


def test_with_rag_page_adds_it_once():
    app = with_rag_page(Starlette(routes=[Route("/healthz", lambda r: JSONResponse({"ok": True}))]))
    with_rag_page(app)
    assert [getattr(r, "path", None) for r in app.router.routes].count("/rag") == 1
    own = Starlette(routes=[Route("/rag", lambda r: JSONResponse({"mine": True}))])
    assert TestClient(with_rag_page(own)).get("/rag").json() == {"mine": True}


# --- the API Lambda's entry point over the (lazily imported) app factory ------------------------


def test_api_handler_wraps_the_app_factory_with_settings_and_the_page(monkeypatch):
    from config.settings import load_settings

    seen = {}

    def create_app(settings):
        seen["settings"] = settings

        async def ask(request: Request):
            return JSONResponse({"answer": "ok", "user": request.headers.get("x-docent-identity")})

        return Starlette(routes=[Route("/v1/ask", ask, methods=["POST"])])

    settings = load_settings(auth_mode="header", auth_header="X-Docent-Identity", auth_header_unsigned=True)
    adapter = build_adapter(settings, create_app)
    from tests.serverless.test_asgi_adapter import get, recorded

    assert seen["settings"] is settings
    answer = adapter(recorded("apigw_v2_post_jwt.json"), None)
    assert json.loads(answer["body"]) == {"answer": "ok", "user": "ana@corp.example"}
    page = adapter(get("/rag"), None)
    assert page["statusCode"] == 200 and "<title>Docent" in page["body"]
    adapter.close()


def test_api_handler_imports_the_api_package_lazily(monkeypatch):
    import sys
    import types

    from serverless import api_handler

    fake = types.ModuleType("api.app")
    fake.create_app = lambda settings: Starlette(routes=[Route("/healthz", lambda r: JSONResponse({"ok": True}))])
    monkeypatch.setitem(sys.modules, "api", types.ModuleType("api"))
    monkeypatch.setitem(sys.modules, "api.app", fake)
    monkeypatch.setattr(api_handler, "_adapter", None)
    from tests.serverless.test_asgi_adapter import get

    assert json.loads(api_handler.handler(get("/healthz"), None)["body"]) == {"ok": True}
    assert api_handler.handler(get("/rag"), None)["statusCode"] == 200
    api_handler._adapter.close()


# --- in Chromium ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served():
    """The page plus a stand-in /v1/ask on a real loopback server (uvicorn in a thread)."""
    uvicorn = pytest.importorskip("uvicorn")
    asked: list[dict] = []

    async def ask(request: Request):
        payload = await request.json()
        asked.append({"body": payload, "authorization": request.headers.get("authorization")})
        if payload["question"] == "who am i":
            return JSONResponse({"detail": "Bearer token expired: sign in again."}, status_code=401)
        return JSONResponse(
            {
                "answer": HOSTILE,
                "confidence": 0.72,
                "confidence_band": "medium",
                "conversation_id": "conv-1",
                "references": [
                    {
                        "n": 1,
                        "title": "Travel <b>Policy</b>",
                        "locator": "page 2",
                        "source": "s3://d/t.pdf",
                        "url": "https://docs.corp.example/t.pdf#page=2",
                    },
                    {"n": 2, "title": "Sneaky", "locator": "", "source": "x.html", "url": "javascript:alert(1)"},
                ],
            }
        )

    app = Starlette(routes=rag_page_routes() + [Route("/v1/ask", ask, methods=["POST"])])
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", asked
    server.should_exit = True
    thread.join(timeout=10)


@pytest.mark.e2e
def test_in_chromium_the_page_shows_answer_confidence_and_safe_links(served):
    if not os.path.exists(CHROMIUM):
        pytest.skip("needs Debian chromium at /usr/bin/chromium (make system-deps)")
    sync_api = pytest.importorskip("playwright.sync_api")
    base, asked = served
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.set_default_timeout(30_000)
        page.goto(f"{base}/rag")
        page.fill("#question", "How do I book travel?")
        page.click("#ask")
        page.wait_for_selector("#result:not([hidden])")
        assert page.text_content("#answer") == HOSTILE  # shown as typed, not rendered
        assert page.evaluate("window.pwned") is None and page.locator("#answer img").count() == 0
        assert page.text_content("#confidence") == "Confidence: 72% (medium)"
        links = page.locator("#links a")
        assert links.count() == 1 and links.first.get_attribute("href") == "https://docs.corp.example/t.pdf#page=2"
        assert links.first.text_content() == "Travel <b>Policy</b>"
        assert "Sneaky" in page.text_content("#links")  # a javascript: URL stays plain text

        page.click("summary")  # the token field sits in the collapsed "Access token" section
        page.fill("#token", "tok-123")
        page.fill("#question", "and for trains?")
        sent = len(asked)
        page.click("#ask")
        # Polled from Python: wait_for_function evaluates a string in the page, which the page's own CSP
        # (script-src 'self', no unsafe-eval) refuses whenever the condition is not already true.
        deadline = time.monotonic() + 120
        while (len(asked) == sent or page.text_content("#status") != "") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(asked) > sent and page.text_content("#status") == ""
        assert asked[-1]["body"] == {"question": "and for trains?", "conversation_id": "conv-1"}
        assert asked[-1]["authorization"] == "Bearer tok-123"

        page.fill("#question", "who am i")
        page.click("#ask")
        page.wait_for_selector("#error:not([hidden])")
        assert "Bearer token expired: sign in again." in page.text_content("#error")
        browser.close()
