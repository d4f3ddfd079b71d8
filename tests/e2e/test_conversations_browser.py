"""Issue 12, item 1 in a real browser: the sidebar's conversation list (open, search, delete with undo)
and a read-only share link that another signed-in person opens until its owner stops sharing.

Two people: the app runs in header sign-in mode on loopback (an unsigned identity header, as behind
a trusted proxy), and each Chromium context sends its own X-Amzn-Oidc-Identity.
"""

from __future__ import annotations

import pytest

from tests.fixtures.axe import axe_source, serious_violations
from tests.fixtures.browser import CHROMIUM, CHROMIUM_ARGS, app_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]

ANA, BO = "ana@corp.com", "bo@corp.com"
FIRST, SECOND = "How do I book annual leave?", "Where do I get a parking permit?"


@pytest.fixture(scope="module")
def server(tmp_path_factory, minilm):
    env = {"DOCENT_AUTH_MODE": "header", "DOCENT_AUTH_HEADER_UNSIGNED": "true"}
    with app_server(tmp_path_factory, minilm, "conversations-e2e", env=env) as (base, _, _):
        yield base


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _person(browser, email: str):
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, extra_http_headers={"X-Amzn-Oidc-Identity": email}
    )
    page = context.new_page()
    page.set_default_timeout(120_000)
    return page


def _ask(page, question: str) -> None:
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(question)
    box.press("Enter")
    page.get_by_test_id("stChatMessage").filter(has_text=question).first.wait_for()
    page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Delete", exact=True).wait_for(
        timeout=240_000
    )  # the finished turn has its actions


def _listed(page):
    """The sidebar's conversation buttons (their keys are conversation_<id>)."""
    return page.get_by_test_id("stSidebar").locator('[class*="st-key-conversation_"] button')


def test_list_search_delete_undo_and_a_revocable_share_link(server, browser):
    from playwright.sync_api import expect

    ana = _person(browser, ANA)
    ana.goto(server + "/", timeout=60_000)
    ana.get_by_test_id("stChatInputTextArea").wait_for(timeout=300_000)  # the first start loads the models
    _ask(ana, FIRST)
    ana.get_by_test_id("stSidebar").get_by_role("button", name="New chat").click()
    expect(ana.get_by_test_id("stChatMessage")).to_have_count(0)
    _ask(ana, SECOND)
    expect(ana.get_by_test_id("stSidebar").get_by_role("button", name=FIRST)).to_be_visible()
    newest = ana.get_by_test_id("stSidebar").get_by_role("button", name=SECOND).bounding_box()
    older = ana.get_by_test_id("stSidebar").get_by_role("button", name=FIRST).bounding_box()
    assert newest["y"] < older["y"]  # newest first, titled by the first question

    # the browser's Back returns to the conversation before New chat, Forward to the new one
    ana.go_back()
    expect(ana.get_by_test_id("stChatMessage").first).to_contain_text(FIRST, timeout=60_000)
    ana.go_forward()
    expect(ana.get_by_test_id("stChatMessage").first).to_contain_text(SECOND, timeout=60_000)

    # open the earlier one from the list, then find the other by a word of it
    ana.get_by_test_id("stSidebar").get_by_role("button", name=FIRST).click()
    expect(ana.get_by_test_id("stChatMessage").first).to_contain_text(FIRST)
    expect(ana.get_by_test_id("stChatMessage").filter(has_text=SECOND)).to_have_count(0)
    assert serious_violations(ana, axe_source()) == []  # the list, the actions: nothing serious for axe-core
    search = ana.get_by_test_id("stSidebar").get_by_placeholder("Search conversations")
    search.fill("parking")
    search.press("Enter")
    expect(ana.get_by_test_id("stSidebar").get_by_role("button", name=FIRST)).to_have_count(0)
    expect(ana.get_by_test_id("stSidebar").get_by_role("button", name=SECOND)).to_be_visible()
    search.fill("")
    search.press("Enter")

    # share the open conversation (FIRST); bo reads it, cannot continue it
    ana.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Share", exact=True).click()
    ana.get_by_role("button", name="Create a read-only link").click()
    code = ana.get_by_test_id("stCode").filter(has_text="share=")
    code.wait_for()
    link = code.inner_text().strip()
    assert "/chat?share=" in link

    bo = _person(browser, BO)
    bo.goto(link, timeout=60_000)
    shared_by = bo.get_by_text("· read-only")
    expect(shared_by).to_be_visible(timeout=120_000)
    assert shared_by.inner_text().replace("\u2060", "").startswith(f"Shared by {ANA}")
    expect(bo.get_by_test_id("stChatMessage").first).to_contain_text(FIRST)
    expect(bo.get_by_test_id("stChatInputTextArea")).to_have_count(0)  # read-only
    expect(_listed(bo)).to_have_count(0)  # nothing copied into bo's own list
    assert serious_violations(bo, axe_source()) == []

    # ana stops sharing: the same link now refuses
    ana.keyboard.press("Escape")
    ana.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Share", exact=True).click()
    ana.get_by_role("button", name="Stop sharing").click()
    ana.get_by_text("Sharing stopped").wait_for()
    bo.goto(link, timeout=60_000)
    expect(bo.get_by_text("This share link does not open a conversation")).to_be_visible(timeout=120_000)
    expect(bo.get_by_text(FIRST)).to_have_count(0)

    # delete with undo
    ana.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Delete", exact=True).click()
    expect(ana.get_by_test_id("stSidebar").get_by_role("button", name=FIRST)).to_have_count(0)
    ana.get_by_test_id("stSidebar").get_by_role("button", name="Undo").click()
    expect(ana.get_by_test_id("stChatMessage").first).to_contain_text(FIRST)
    expect(ana.get_by_test_id("stSidebar").get_by_role("button", name=FIRST)).to_be_visible()


def test_without_the_identity_header_the_message_is_below_the_top_bar(server, browser):
    page = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    page.goto(server + "/", timeout=60_000)
    message = page.get_by_text("The request has no X-Amzn-Oidc-Identity header")
    message.wait_for(timeout=120_000)
    bar = page.get_by_test_id("stHeader").bounding_box()
    assert message.bounding_box()["y"] >= bar["y"] + bar["height"]  # readable, not under the logo's bar
