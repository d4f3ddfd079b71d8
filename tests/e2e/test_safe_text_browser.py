"""Issue 11, item 2 in a real browser: Markdown typed by people (a tracking image, a phishing link,
bare URLs) is shown as text on the Chat and Review pages, and no request leaves the browser for the
attacker's host. The same holds for an approved correction shown to employees as an answer."""

from __future__ import annotations

import re

import pytest

from tests.fixtures.browser import CHROMIUM, CHROMIUM_ARGS, app_server

# The first page load imports the models in the app's process: minutes on a loaded 2-core machine.
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]

EVIL = "tracker.example"
QUESTION = (
    f"How do I book annual leave? ![beacon](https://{EVIL}/pixel.png?u=ana) "
    f"[Reset your password here](https://{EVIL}/reset) see www.{EVIL} or help@{EVIL}"
)
PAIR_QUESTION = "How do I claim travel expenses?"
CORRECTION = (
    f"Claim them in Concur within 30 days. ![x](https://{EVIL}/correction.png) "
    f"[Reset your password here](https://{EVIL}/phish) <img src=https://{EVIL}/raw.png>"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory, minilm):
    def seed(settings):
        from feedback.factory import open_store
        from feedback.records import QAPair

        store = open_store(settings)
        store.add_qa_pairs([QAPair.new(PAIR_QUESTION, CORRECTION, origin="correction")])  # an approved correction
        store.close()

    with app_server(tmp_path_factory, minilm, "e2e-safe", seed=seed) as (base, _, _):
        yield base


def _no_live_payload(page) -> None:
    assert page.locator(f'img[src*="{EVIL}"]').count() == 0
    assert page.locator(f'a[href*="{EVIL}"]').count() == 0
    assert page.locator('a[href^="mailto:"]').count() == 0


def test_payloads_render_as_text_and_fetch_nothing(server):
    from playwright.sync_api import sync_playwright

    requested: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.on("request", lambda request: requested.append(request.url))
        context.route(re.compile(rf"https?://([^/]*\.)?{re.escape(EVIL)}/.*"), lambda route: route.abort())
        page = context.new_page()
        page.set_default_timeout(120_000)  # a hang guard: a loaded 2-core machine took minutes per step
        page.goto(server + "/", timeout=120_000)
        box = page.get_by_test_id("stChatInputTextArea")
        box.wait_for(timeout=300_000)

        box.fill(QUESTION)
        box.press("Enter")
        page.get_by_test_id("stChatMessage").nth(1).get_by_text(re.compile("confidence ·")).wait_for(timeout=120_000)
        box.fill(PAIR_QUESTION)
        box.press("Enter")
        page.get_by_text("Answered from the Q&A set").wait_for(timeout=120_000)
        page.wait_for_timeout(1000)
        messages = page.get_by_test_id("stChatMessage")
        assert f"![beacon](https://{EVIL}/pixel.png?u=ana)" in messages.first.inner_text()  # shown, as typed
        answer = messages.last.inner_text()
        assert "Claim them in Concur" in answer and "Reset your password here" in answer
        _no_live_payload(page)

        page.get_by_test_id("stSidebarNav").get_by_text("Review", exact=True).click()
        page.get_by_role("heading", name="Review answers").wait_for()
        item = page.get_by_test_id("stExpander").filter(has_text="book annual leave").first
        title = item.locator("summary").inner_text()
        assert "![beacon](" in title.replace("\u2060", "")  # the expander title is text, not an image
        item.locator("summary").click()
        item.get_by_text("Severity of the problem").wait_for()
        assert "[Reset your password here](" in item.inner_text().replace("\u2060", "")
        page.get_by_test_id("stExpander").filter(has_text=PAIR_QUESTION).first.locator("summary").click()
        page.wait_for_timeout(1500)
        _no_live_payload(page)
        browser.close()

    leaked = [url for url in requested if EVIL in url.split("/")[2]]
    assert leaked == [], leaked
